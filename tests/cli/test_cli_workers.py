"""``pyflow workers list``: the engines registered in the store, as a table and as JSON."""

from __future__ import annotations

import asyncio
import json
import os
import socket

from clikit import START_MS, Project, fixed_runtime

from pyflow_cli.engine.store import EngineRecord
from pyflow_cli.storage.sqlite import SqliteStore

HOST = socket.gethostname()


def register(project: Project, *engines: EngineRecord) -> None:
    async def main() -> None:
        store = SqliteStore(project.db.parent)
        await store.open()
        try:
            for engine in engines:
                await store.register_engine(engine)
        finally:
            await store.close()

    asyncio.run(main())


def test_workers_list_shows_each_engine_newest_heartbeat_first(project: Project) -> None:
    register(project,
             EngineRecord("worker-a", os.getpid(), HOST, START_MS - 2_000, "v1", "worker",
                          ("demo", "sleeper"), START_MS - 120_000),
             EngineRecord("dev-b", 2**22 + 7, "elsewhere", START_MS - 1_000, None, "dev",
                          ("demo",), START_MS - 30_000))
    result = project.cli("workers", "list", runtime=fixed_runtime(width=200))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Showing 2 engines:"
    rows = [line for line in lines if line.startswith("│ ")][1:]
    cells = [[cell.strip() for cell in row.split("│")[1:-1]] for row in rows]
    assert [c[:2] for c in cells] == [["dev-b", "dev"], ["worker-a", "worker"]]  # last heard first
    assert "30 seconds ago" in rows[0] and "1 second ago" in rows[0]
    assert "demo, sleeper" in rows[1] and "v1" in rows[1] and "2 minutes ago" in rows[1]


def test_workers_list_json_and_an_empty_store(project: Project) -> None:
    empty = project.cli("workers", "list")
    assert empty.exit_code == 0
    assert "No engine is registered in the store" in empty.output
    gone = 2**22 + 11  # no such process on this machine
    register(project, EngineRecord("worker-a", gone, HOST, START_MS - 2_000, "v1", "worker",
                                   ("demo",), START_MS - 60_000))
    result = project.cli("workers", "list", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{
        "id": "worker-a", "kind": "worker", "host": HOST, "pid": gone, "version": "v1",
        "workflows": ["demo"], "started": "2025-12-31T23:59:00.000Z",
        "heartbeat": "2025-12-31T23:59:58.000Z", "current": False, "alive": False}]


def test_a_worker_given_an_unknown_workflow_or_no_room_says_so_in_one_line(
        project: Project) -> None:
    unknown = project.cli("worker", "--workflows", "demo,nope")
    assert unknown.exit_code == 1
    assert unknown.output.strip().splitlines() == [
        "✘ [ERROR] No workflow named 'nope' in wrangler.toml (workflows: demo, failing, "
        "sleeper)."]
    assert project.cli("worker", "--concurrency", "0").output.strip() == (
        "✘ [ERROR] --concurrency must be at least 1, got 0.")
    assert not project.db.exists()  # nothing was opened


def test_a_worker_takes_the_platform_limits_of_pyflow_dev_and_says_what_is_wrong_in_one_line(
        project: Project) -> None:
    bad_plan = project.cli("worker", "--plan", "gold")
    assert bad_plan.exit_code == 1
    assert len(bad_plan.output.strip().splitlines()) == 1
    assert "--plan" in bad_plan.output
    bad_retention = project.cli("worker", "--retention", "soon")
    assert bad_retention.exit_code == 1
    assert "--retention" in bad_retention.output
    assert not project.db.exists()  # nothing was opened
