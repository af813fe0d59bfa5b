"""Leases: one engine runs an instance at a time; a dead engine's instances are taken over."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from pyflow_cli.engine.clock import ManualClock, SystemClock
from pyflow_cli.engine.entrypoint import WorkflowDefinition, WorkflowEntrypoint
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.engine.worker import Engine
from pyflow_cli.service import WorkflowInfo, WorkflowService
from pyflow_cli.storage.sqlite import SqliteStore

executions: Counter[str] = Counter()


class Work(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        for k in range(5):
            async def body(k: int = k) -> int:
                executions[f"{event.instanceId}/{k}"] += 1
                await asyncio.sleep(0.001)
                return k
            await step.do(f"s{k}", body)
        return "done"


DEFS = {"wf": WorkflowDefinition("wf", Work)}
INFOS = {"wf": WorkflowInfo("wf", "Work", "wf")}


async def test_two_engines_on_one_store_never_run_an_instance_twice(tmp_path: Path) -> None:
    executions.clear()
    clock = SystemClock()
    stores = [SqliteStore(tmp_path, durability="normal") for _ in range(2)]
    for store in stores:
        await store.open()
    engines = [Engine(store, DEFS, clock, EngineOptions(poll_interval_s=0.01)) for store in stores]
    service = WorkflowService(stores[0], INFOS, clock, engines[0])
    ids = [await service.create("wf", f"i{n}") for n in range(20)]
    await asyncio.gather(*(engine.start() for engine in engines))
    for _ in range(500):
        counts = await stores[0].status_counts("wf")
        if counts.get("complete") == 20:
            break
        await asyncio.sleep(0.02)
    for engine in engines:
        await engine.stop()
    for store in stores:
        await store.close()
    assert counts == {"complete": 20}
    assert len(executions) == 100 and set(executions.values()) == {1}
    assert ids


gate = asyncio.Event()


class Held(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        async def hold() -> str:
            executions["hold"] += 1
            await gate.wait()
            return "held"
        return await step.do("hold", hold)


async def test_a_dead_engines_instances_are_taken_over_when_its_lease_expires(tmp_path: Path) -> None:
    executions.clear()
    gate.clear()
    clock = ManualClock()
    store = SqliteStore(tmp_path, durability="normal")
    await store.open()
    defs = {"wf": WorkflowDefinition("wf", Held)}
    options = EngineOptions(poll_interval_s=0.01, lease_ms=10_000)
    first = Engine(store, defs, clock, options, engine_id="engine-a")
    await WorkflowService(store, INFOS, clock, None).create("wf", "x")
    await first.start()
    while executions["hold"] == 0:
        await asyncio.sleep(0.01)
    assert await store.claim_runnable("engine-b", clock.now_ms(), 10_000, 10, ["wf"]) == []
    # engine-a "dies" mid-step: its tasks stop and nothing is released
    for loop in first._loops:
        loop.cancel()
    for running in first._running.values():
        running.task.cancel()
    await asyncio.sleep(0.05)
    gate.set()
    second = Engine(store, defs, clock, options, engine_id="engine-b")
    await second.start()
    await asyncio.sleep(0.05)
    assert executions["hold"] == 1  # engine-a's lease still holds
    clock.advance(20_000)  # ... until it runs out
    record = await store.get_instance("wf", "x")
    for _ in range(300):
        record = await store.get_instance("wf", "x")
        if record is not None and record.status.value == "complete":
            break
        await asyncio.sleep(0.01)
        clock.advance(1000)  # through the retry delay of the interrupted attempt
    await second.stop()
    await store.close()
    assert record is not None and record.status.value == "complete"
    assert executions["hold"] == 2  # the interrupted attempt, then engine-b's retry


def test_claims_read_only_claimable_rows_whatever_the_number_of_instances(tmp_path: Path) -> None:
    """A claim goes through the partial indexes of due-and-unleased rows (one per admission
    class) and of leases; the (workflow, created) index would make every claim read every
    instance of the workflow. So does the count of running instances under a limit."""
    import sqlite3

    from pyflow_cli.storage.schema import migrate
    from pyflow_cli.storage.sqlite_admission import claim_sql, next_due_sql, running_sql
    from pyflow_cli.storage.sqlite_reads import INSTANCE_COLUMNS

    conn = sqlite3.connect(tmp_path / "plan.sqlite", isolation_level=None)
    migrate(conn)
    conn.executemany(
        "INSERT INTO instances (workflow, id, status, created_ms, params, runnable_at) "
        "VALUES ('w', ?, ?, 0, '{}', ?)",
        [(f"i{k}", "waiting" if k % 2 else "queued", float(k)) for k in range(2000)])
    conn.execute("ANALYZE")  # the plan must hold with statistics, too
    waking, expired, queued = claim_sql(INSTANCE_COLUMNS, 2)
    for sql, params, index in (
            (waking, (1.0, "w", "v", 10), "instances_claimable_waking"),
            (expired, (1.0, 1.0, "w", "v", 10), "instances_by_lease_expiry"),
            (queued, (1.0, "w", "v", 10), "instances_claimable_queued"),
            (next_due_sql(2), ("w", "v", "w", "v"), "instances_claimable_queued"),
            (next_due_sql(2), ("w", "v", "w", "v"), "instances_claimable_waking"),
            (running_sql(), (1.0, "e"), "instances_by_lease_expiry")):
        plan = " ".join(str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
        assert index in plan, plan
        assert "instances_by_created" not in plan and "SCAN instances" not in plan, plan
        assert "TEMP B-TREE" not in plan, plan  # no sort: rows come in index order


async def test_an_engine_process_collects_garbage_rarely(tmp_path: Path) -> None:
    """Young collections every 20,000 allocations, not 700 (see engine/collector.py)."""
    import gc

    from pyflow_cli.engine.collector import YOUNG_THRESHOLD

    store = SqliteStore(tmp_path)
    await store.open()
    engine = Engine(store, {}, SystemClock(), EngineOptions())
    try:
        await engine.start()
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    finally:
        await engine.stop()
        await store.close()
