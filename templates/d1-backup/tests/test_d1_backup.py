"""Runs the scheduled handler and BackupWorkflow on a virtual clock: the retry delay while the
export is not ready takes no wall time. Each test works on a copy of the project, and
``WorkflowTestEnv.from_project`` gives it its own D1 database and R2 bucket."""

import asyncio
import shutil
import sqlite3
import sys
from pathlib import Path
from types import SimpleNamespace

from pyflow_cli.testing import WorkflowTestEnv

PROJECT = Path(__file__).resolve().parents[1]
WORKFLOW = "backup-workflow"


def copy_project(tmp_path):
    target = tmp_path / "project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns(".data", ".pyflow", "__pycache__"))
    return target


def worker(env):
    """The project's Worker (``Default``), with the bindings and [vars] pyflow dev gives it."""
    module = sys.modules[env.definitions[WORKFLOW].cls.__module__]
    return module.Default(env=env.env())


def test_the_scheduled_handler_backs_the_database_up(tmp_path):
    project = copy_project(tmp_path)

    async def scenario():
        async with WorkflowTestEnv.from_project(project) as env:
            assert await env.apply_d1_migrations() == ["0001_create_customers.sql"]
            await worker(env).scheduled(SimpleNamespace(cron="0 0 * * *"))
            [instance_id] = [r.id for r in (await env.service.list_instances(WORKFLOW)).records]
            record = await env.run_until_done(WORKFLOW, instance_id)
            details = await env.service.describe(WORKFLOW, instance_id)
            stored = await env.env().BACKUP_BUCKET.get(details["output"]["filename"])
            return record, details, await stored.text()

    record, details, dump = asyncio.run(scenario())
    assert record.status == "complete", details["error"]
    assert details["params"] == {"accountId": "local-account", "databaseId": "shop-db"}
    # The export is not ready at the first check: that attempt fails and is retried.
    attempts = details["steps"][-1]["attempts"]
    assert [a["success"] for a in attempts] == [False, True]
    assert "Missing `signed_url`" in attempts[0]["error"]["message"]

    restored = sqlite3.connect(":memory:")
    restored.executescript(dump)
    names = [row[0] for row in restored.execute("SELECT name FROM customers ORDER BY id")]
    assert names == ["Ada Lovelace", "Grace Hopper", "Katherine Johnson"]


def test_each_backup_is_a_new_object_in_the_bucket(tmp_path):
    project = copy_project(tmp_path)

    async def scenario():
        async with WorkflowTestEnv.from_project(project) as env:
            await env.apply_d1_migrations()
            outputs = []
            for _ in range(2):
                params = {"accountId": "a", "databaseId": "shop-db"}
                instance_id = await env.service.create(WORKFLOW, params=params)
                await env.run_until_done(WORKFLOW, instance_id)
                outputs.append((await env.service.describe(WORKFLOW, instance_id))["output"])
            response = await worker(env).fetch(None)
            return outputs, await response.json()

    (first, second), listed = asyncio.run(scenario())
    assert first["filename"] != second["filename"]
    assert listed == {"backups": sorted([first["filename"], second["filename"]])}
