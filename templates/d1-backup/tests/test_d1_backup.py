"""Tests of the scheduled handler and BackupWorkflow. pyflow's pytest plugin (installed with
pyflow, nothing to configure) runs the project on a virtual clock (``workflow_env``): the retry
delay while the export is not ready takes no wall time. ``introspect`` reaches the instances the
cron handler starts, and can make the export fail. Each test runs a copy of the project (the
``pyflow_project`` fixture below), so the exports written to .data/ are its own; its D1 database
and R2 bucket are the env's."""

import shutil
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from pyflow_cli import Request

PROJECT = Path(__file__).resolve().parents[1]
WORKFLOW = "backup-workflow"
STORE = "Check backup status and store it on R2"


@pytest.fixture
def pyflow_project(tmp_path):
    """The project workflow_env runs: a copy, in this test's own folder."""
    target = tmp_path / "project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns(".data", ".pyflow", "__pycache__"))
    return target


async def test_the_scheduled_handler_backs_the_database_up(workflow_env, introspect):
    assert await workflow_env.apply_d1_migrations() == ["0001_create_customers.sql"]
    backups = introspect("BACKUP_WORKFLOW")  # every instance created from now on
    await workflow_env.worker().scheduled(SimpleNamespace(cron="0 0 * * *"))
    [instance] = await backups.get()

    await instance.wait_for_status("complete")
    output = await instance.get_output()
    stored = await workflow_env.env().BACKUP_BUCKET.get(output["filename"])
    restored = sqlite3.connect(":memory:")
    restored.executescript(await stored.text())
    names = [row[0] for row in restored.execute("SELECT name FROM customers ORDER BY id")]
    assert names == ["Ada Lovelace", "Grace Hopper", "Katherine Johnson"]

    # The export is not ready at the first check: that attempt fails and is retried.
    details = await workflow_env.service.describe(WORKFLOW, instance.id)
    assert details["params"] == {"accountId": "local-account", "databaseId": "shop-db"}
    attempts = details["steps"][-1]["attempts"]
    assert [a["success"] for a in attempts] == [False, True]
    assert "Missing `signed_url`" in attempts[0]["error"]["message"]


async def test_an_export_that_keeps_failing_errors_the_backup(workflow_env, introspect):
    await workflow_env.apply_d1_migrations()
    instance = introspect(workflow_env.env().BACKUP_WORKFLOW, "broken")

    async def broken(m):
        await m.mock_step_error(STORE, RuntimeError("D1 export API unavailable"))
        await m.disable_retry_delays()

    await instance.modify(broken)
    start = workflow_env.clock.now_ms()
    await workflow_env.env().BACKUP_WORKFLOW.create(
        id="broken", params={"accountId": "a", "databaseId": "shop-db"}
    )
    await instance.wait_for_status("errored")
    assert await instance.get_error() == {"name": "RuntimeError", "message": "D1 export API unavailable"}
    assert workflow_env.clock.now_ms() == start  # no retry delay was waited for
    assert (await workflow_env.env().BACKUP_BUCKET.list()).objects == []


async def test_each_backup_is_a_new_object_in_the_bucket(workflow_env, introspect):
    await workflow_env.apply_d1_migrations()
    names = []
    for backup in ("monday", "tuesday"):
        instance = introspect(workflow_env.env().BACKUP_WORKFLOW, backup)
        await workflow_env.env().BACKUP_WORKFLOW.create(
            id=backup, params={"accountId": "a", "databaseId": "shop-db"}
        )
        await instance.wait_for_status("complete")
        names.append((await instance.get_output())["filename"])

    response = await workflow_env.worker().fetch(Request("http://localhost:8787/"))
    assert names[0] != names[1]
    assert await response.json() == {"backups": sorted(names)}
