"""Engines on a shared PostgreSQL database: a control request sent from elsewhere reaches the
owning engine by LISTEN/NOTIFY at once (not at its next heartbeat), and connections the server
drops are made again, with one line for the outage and no instance lost or stuck."""

from __future__ import annotations

import asyncio
import logging
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pgcluster import Server

from pyflow_cli.engine.entrypoint import WorkflowDefinition, WorkflowEntrypoint
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.engine.store import Store
from pyflow_cli.engine.worker import Engine
from pyflow_cli.service import WorkflowInfo, WorkflowService
from pyflow_cli.storage.factory import open_store, store_clock
from pyflow_cli.storage.url import parse_store_url

held = asyncio.Event()


class Held(WorkflowEntrypoint):
    """A step that runs until the test lets it finish."""

    async def run(self, event: Any, step: Any) -> Any:
        async def body() -> str:
            await held.wait()
            return "done"

        return await step.do("held", body)


class Busy(WorkflowEntrypoint):
    """Steps, a short sleep and a retried step: many writes while the connections drop."""

    async def run(self, event: Any, step: Any) -> Any:
        total = 0
        for k in range(6):
            total += await step.do(f"s{k}", _body(k))
            if k == 2:
                await step.sleep("nap", "200 ms")
        return total


def _body(k: int) -> Callable[[], Any]:
    async def body() -> int:
        await asyncio.sleep(0.02)
        return k

    return body


async def _store(url: str) -> Store:
    return await open_store(parse_store_url(url, Path.cwd()))


async def _until(condition: Callable[[], Any], timeout_s: float = 30.0) -> None:
    async def wait() -> None:
        while not await condition():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(wait(), timeout_s)


async def test_a_pause_sent_from_elsewhere_reaches_the_owning_engine_at_once(
        postgres: Server) -> None:
    held.clear()
    url = postgres.location()
    mine, theirs = await _store(url), await _store(url)  # no connection in common
    clock = store_clock(mine)
    defs = {"wf": WorkflowDefinition("wf", Held)}
    infos = {"wf": WorkflowInfo("wf", "Held", "wf")}
    # Polling and heartbeats as slow as they get (a second): only a note arrives sooner.
    engine = Engine(mine, defs, clock, EngineOptions(lease_ms=60_000, poll_interval_s=5.0))
    elsewhere = WorkflowService(theirs, infos, store_clock(theirs), None)
    ids = [f"i{n}" for n in range(7)]
    try:
        await engine.start()
        for instance_id in ids:
            await elsewhere.create("wf", instance_id)

        async def all_running() -> bool:
            return (await mine.status_counts("wf")) == {"running": len(ids)}

        await _until(all_running)
        delays = []
        for instance_id in ids:
            record = await mine.get_instance("wf", instance_id)
            assert record is not None
            life = engine.lifetime(record.iid)
            assert life is not None
            sent = asyncio.get_running_loop().time()
            # Its request is written for the owner; the call returns once the owner acted.
            pausing = asyncio.ensure_future(elsewhere.pause("wf", instance_id))
            while not life.pause_requested:
                await asyncio.sleep(0.001)
            delays.append(asyncio.get_running_loop().time() - sent)
            await pausing
        # A heartbeat (every second) would take half a second on average.
        assert statistics.median(delays) < 0.1, delays
    finally:
        held.set()
        await engine.stop()
        await mine.close()
        await theirs.close()


async def test_connections_the_server_drops_come_back_with_one_line_and_nothing_lost(
        postgres: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="pyflow")
    url = postgres.location(application_name="pyflow-terminated")
    store = await _store(url)
    clock = store_clock(store)
    engine = Engine(store, {"busy": WorkflowDefinition("busy", Busy)}, clock,
                    EngineOptions(lease_ms=3000, poll_interval_s=0.2))
    service = WorkflowService(store, {"busy": WorkflowInfo("busy", "Busy", "busy")}, clock, engine)
    try:
        await engine.start()
        for n in range(40):
            await service.create("busy", f"b{n}")

        async def some_done() -> bool:
            return (await store.status_counts("busy")).get("complete", 0) >= 5

        await _until(some_done)
        with postgres.connect() as conn:  # every connection of this store, listener included
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                "application_name = 'pyflow-terminated' AND pid <> pg_backend_pid()").fetchone()
        assert killed is not None and killed[0] >= 3  # the writer, a reader, the listener

        async def all_done() -> bool:
            return (await store.status_counts("busy")) == {"complete": 40}

        await _until(all_done, 60.0)
        for n in range(40):
            record = await store.get_instance("busy", f"b{n}")
            assert record is not None and record.output_json == "15"
            log = await store.read_log(record.iid)
            assert [row.seq for row in log] == list(range(1, len(log) + 1))  # gap-free
    finally:
        await engine.stop()
        await store.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "pyflow"]
    assert len(lines) == 2, lines  # the outage: when it started, when it was over
    assert lines[0].startswith("pyflow: lost the connection to PostgreSQL at 127.0.0.1:")
    assert lines[1].startswith("pyflow: connected to PostgreSQL at 127.0.0.1:")
