"""Runs the scheduled handler and BackupWorkflow on a virtual clock: the retry delay while the
export is not ready takes no wall time. Each test works on a copy of the project, so its .data/
is its own."""

import asyncio
import shutil
import sqlite3
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

from pyflow_cli.testing import WorkflowTestEnv

PROJECT = Path(__file__).resolve().parents[1]
WORKFLOW = "backup-workflow"


def copy_project(tmp_path):
    target = tmp_path / "project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns(".data", ".pyflow", "__pycache__"))
    return target


class Binding:
    """What ``self.env.BACKUP_WORKFLOW.create`` does, over the test environment's service."""

    def __init__(self, env, workflow):
        self.env, self.workflow, self.created = env, workflow, []

    async def create(self, params=None):
        instance_id = await self.env.service.create(self.workflow, params=params)
        self.created.append(instance_id)
        return SimpleNamespace(id=instance_id)


def worker(env, project, binding):
    """The project's Worker (``Default``), with the config's [vars] and the binding."""
    module = sys.modules[env.definitions[WORKFLOW].cls.__module__]
    config = tomllib.loads((project / "wrangler.toml").read_text())
    return module.Default(env=SimpleNamespace(**config["vars"], BACKUP_WORKFLOW=binding))


def test_the_scheduled_handler_backs_the_database_up(tmp_path):
    project = copy_project(tmp_path)

    async def scenario():
        async with WorkflowTestEnv.from_project(project) as env:
            binding = Binding(env, WORKFLOW)
            await worker(env, project, binding).scheduled(SimpleNamespace(cron="0 0 * * *"))
            [instance_id] = binding.created
            record = await env.run_until_done(WORKFLOW, instance_id)
            return record, await env.service.describe(WORKFLOW, instance_id)

    record, details = asyncio.run(scenario())
    assert record.status == "complete", details["error"]
    assert details["params"] == {"accountId": "local-account", "databaseId": "shop-db"}
    # The export is not ready at the first check: that attempt fails and is retried.
    attempts = details["steps"][-1]["attempts"]
    assert [a["success"] for a in attempts] == [False, True]
    assert "Missing `signed_url`" in attempts[0]["error"]["message"]

    backup = project / ".data" / "backups" / details["output"]["filename"]
    restored = sqlite3.connect(":memory:")
    restored.executescript(backup.read_text())
    names = [row[0] for row in restored.execute("SELECT name FROM customers ORDER BY id")]
    assert names == ["Ada Lovelace", "Grace Hopper", "Katherine Johnson"]


def test_each_backup_is_a_new_file(tmp_path):
    project = copy_project(tmp_path)

    async def scenario():
        async with WorkflowTestEnv.from_project(project) as env:
            outputs = []
            for _ in range(2):
                params = {"accountId": "a", "databaseId": "shop-db"}
                instance_id = await env.service.create(WORKFLOW, params=params)
                await env.run_until_done(WORKFLOW, instance_id)
                outputs.append((await env.service.describe(WORKFLOW, instance_id))["output"])
            return outputs

    first, second = asyncio.run(scenario())
    assert first["filename"] != second["filename"]
    assert sorted(p.name for p in (project / ".data" / "backups").iterdir()) == sorted(
        [first["filename"], second["filename"]]
    )
