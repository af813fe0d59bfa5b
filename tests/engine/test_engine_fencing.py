"""Fencing, engine side: an engine that stalled past its lease while another engine took the
instance over finds its late writes refused, stops running the instance (one log line), and
nothing it wrote after losing the lease is stored."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pyflow_cli.engine.clock import ManualClock
from pyflow_cli.engine.entrypoint import WorkflowDefinition, WorkflowEntrypoint
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.engine.store import Store
from pyflow_cli.engine.worker import Engine
from pyflow_cli.service import WorkflowInfo, WorkflowService
from pyflow_cli.storage.factory import build_store
from pyflow_cli.storage.url import StoreLocation, parse_store_url

started: Counter[str] = Counter()
gates: list[asyncio.Event] = []  # the running test's gate (an Event belongs to one event loop)


class Slow(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        async def body() -> str:
            started["body"] += 1
            run = started["body"]
            await gates[-1].wait()
            return f"run-{run}"

        first = await step.do("slow", body)
        await step.sleep("nap", "1 second")
        return first


DEFS = {"wf": WorkflowDefinition("wf", Slow)}
OPTIONS = EngineOptions(poll_interval_s=0.01, lease_ms=10_000)


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> StoreLocation:
    """Where the engines' shared store lives: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return parse_store_url(str(tmp_path / "shared.sqlite"), tmp_path)
    server = request.getfixturevalue("postgres")
    return parse_store_url(server.location(), tmp_path)


async def _until(condition: Any, tries: int = 500) -> None:
    for _ in range(tries):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_a_stalled_engine_s_late_result_is_refused_and_it_stops_running_the_instance(
        location: StoreLocation, caplog: pytest.LogCaptureFixture) -> None:
    started.clear()
    gates.append(asyncio.Event())
    clock = ManualClock()
    stores: list[Store] = [build_store(location, "normal") for _ in range(2)]
    for store in stores:
        await store.open()
    stalled = Engine(stores[0], DEFS, clock, OPTIONS, engine_id="engine-a")
    await WorkflowService(stores[0], {"wf": WorkflowInfo("wf", "Slow", "wf")}, clock).create(
        "wf", "x")
    await stalled.start()
    await _until(lambda: _true(started["body"] == 1))
    # engine-a stalls (a GC pause, SIGSTOP, a partition): it renews nothing, claims nothing...
    for loop in stalled._loops:
        loop.cancel()
    clock.advance(OPTIONS.lease_ms + 1)  # ... past its lease, and engine-b takes the instance
    # (engine-b's lease is long: the test moves the clock faster than its heartbeat renews.)
    taker = Engine(stores[1], DEFS, clock, EngineOptions(poll_interval_s=0.01, lease_ms=3.6e6),
                   engine_id="engine-b")
    await taker.start()
    # engine-b counts engine-a's attempt as interrupted, and retries after the step's delay.
    await _until(lambda: _advanced(clock, started["body"] == 2))
    with caplog.at_level(logging.WARNING, logger="pyflow"):
        gates[-1].set()  # both bodies finish: engine-a's result comes late
        await _until(lambda: _true(stalled.running_count == 0))
        await _until(lambda: _step_done(stores[1]))
    [step] = [s for s in (await stores[1].load_history((await _record(stores[1])).iid)
                          ).steps.values() if s.kind == "do"]
    assert step.value_json == '"run-2"'
    log = await stores[1].read_log((await _record(stores[1])).iid)
    assert [r.event for r in log].count(EventType.STEP_SUCCESS) == 1
    assert [r.seq for r in log] == list(range(1, len(log) + 1))
    lost = [r.getMessage() for r in caplog.records if "no longer leased" in r.getMessage()]
    assert lost == ["pyflow: instance wf/x is no longer leased to this engine (another engine "
                    "claimed it, or its lease was released); this engine stops running it"]
    record = await _record(stores[1])
    assert record.lease_owner == "engine-b"
    clock.advance(2000)  # through the sleep: engine-b finishes it
    await _until(lambda: _status(stores[1], "complete"))
    await taker.stop()
    await stalled.stop()
    for store in stores:
        await store.close()
    assert started["body"] == 2


async def _record(store: Store) -> Any:
    record = await store.get_instance("wf", "x")
    assert record is not None
    return record


async def _step_done(store: Store) -> bool:
    history = await store.load_history((await _record(store)).iid)
    return any(s.kind == "do" and s.state == "done" for s in history.steps.values())


async def _status(store: Store, status: str) -> bool:
    return (await _record(store)).status.value == status


async def _advanced(clock: ManualClock, done: bool) -> bool:
    clock.advance(1000)
    return done


async def _true(value: bool) -> bool:
    return value
