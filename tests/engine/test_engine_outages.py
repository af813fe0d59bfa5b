"""The engine's background loops against a failing store: they survive an outage (one line when
it starts, one when it ends), instances stranded by it are picked up again, a loop that dies is
started again, and a state database that disappears stops the engine with one message."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from pyflow_cli.engine import supervisor
from pyflow_cli.engine.changes import Change, InstanceUpdate
from pyflow_cli.engine.clock import ManualClock
from pyflow_cli.engine.entrypoint import WorkflowDefinition, WorkflowEntrypoint
from pyflow_cli.engine.errors import StateLostError
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.engine.supervisor import Supervised
from pyflow_cli.engine.worker import Engine
from pyflow_cli.service import WorkflowInfo, WorkflowService
from pyflow_cli.storage.sqlite import SqliteStore

INFOS = {"wf": WorkflowInfo("wf", "Held", "wf", "WF", None)}
gate = asyncio.Event()
runs: list[int] = []


class Held(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        async def hold(ctx: Any) -> int:
            runs.append(ctx.attempt)
            if ctx.attempt == 1:
                await gate.wait()
            return int(ctx.attempt)
        return await step.do("hold", hold, config={"retries": {"limit": 3, "delay": 0}})


class DiskFull(SqliteStore):
    """Every write fails while ``full`` (as SQLite's do when the disk is full); reads work."""

    full = False

    def __init__(self, state_dir: Path) -> None:
        super().__init__(state_dir, durability="normal")
        submit = self._writer.submit

        def failing_submit(operation: Any, lazy: bool = False) -> asyncio.Future[Any]:
            if not self.full:
                return submit(operation, lazy)
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(OSError(28, "No space left on device"))
            return failed

        self._writer.submit = failing_submit  # type: ignore[method-assign]


async def heartbeat_ms(store: SqliteStore, engine_id: str) -> float:
    return next(e.heartbeat_ms for e in await store.list_engines() if e.id == engine_id)


async def until(check: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_an_outage_is_survived_and_its_stranded_instance_is_picked_up_again(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    runs.clear()
    gate.clear()
    caplog.set_level(logging.WARNING, "pyflow")
    clock = ManualClock()
    store = DiskFull(tmp_path)
    await store.open()
    engine = Engine(store, {"wf": WorkflowDefinition("wf", Held)}, clock,
                    EngineOptions(poll_interval_s=0.02, lease_ms=300), engine_id="engine-a")
    service = WorkflowService(store, INFOS, clock, engine)
    await engine.start()
    try:
        await service.create("wf", "x")
        await until(lambda: _true(runs == [1]))
        store.full = True
        gate.set()  # the step finishes, its result cannot be written: the instance stops
        await until(lambda: _true(engine.running_count == 0))
        await asyncio.sleep(1.0)  # several heartbeats and claims fail meanwhile
        store.full = False
        await until(lambda: _true("engine's heartbeat (renewing leases in the store) works "
                                  "again" in caplog.text))
        clock.advance(100)
        await until(lambda: _advanced(store, clock))  # the heartbeat moves on again
        # The lease the instance kept (it could not be released) is not renewed any more,
        # although the heartbeat renews the engine's leases more often than they run out: it
        # runs out and the scheduler claims the instance again.
        for _ in range(300):
            record = await service.get("wf", "x")
            if record.status.value == "complete":
                break
            clock.advance(10)
            await asyncio.sleep(0.01)
        assert record.status.value == "complete"
    finally:
        await engine.stop()
        await store.close()
    assert runs[0] == 1 and runs[-1] >= 2
    for loop in ("scheduler (claiming instances from the store)",
                 "heartbeat (renewing leases in the store)"):
        failed = f"the engine's {loop} failed (OSError: [Errno 28] No space left on device)"
        assert caplog.text.count(failed) == 1, caplog.text


async def _true(value: bool) -> bool:
    return value


async def _advanced(store: SqliteStore, clock: ManualClock) -> bool:
    return await heartbeat_ms(store, "engine-a") == clock.now_ms()


async def test_a_deleted_state_directory_stops_the_engine_with_one_message(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SqliteStore(tmp_path / "state", durability="normal")
    await store.open()
    failures: list[str] = []
    engine = Engine(store, {"wf": WorkflowDefinition("wf", Held)}, ManualClock(),
                    EngineOptions(poll_interval_s=0.02, lease_ms=300), on_failure=failures.append)
    await engine.start()
    try:
        shutil.rmtree(tmp_path / "state")
        with pytest.raises(StateLostError, match="was deleted or replaced while pyflow was using"):
            await store.commit(Change(1, instance=InstanceUpdate(lease_owner=None)))
        await until(lambda: _true(bool(failures)))
        assert failures == [engine.failure]
        assert failures[0].startswith(f"The state database {tmp_path / 'state'}/pyflow.sqlite "
                                      "was deleted or replaced")
        assert not engine.can_adopt("wf", 1)
    finally:
        await engine.stop()
        await store.close()


async def test_a_replaced_database_file_is_refused(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path, durability="normal")
    await store.open()
    try:
        (tmp_path / "pyflow.sqlite").rename(tmp_path / "moved.sqlite")
        shutil.copy(tmp_path / "moved.sqlite", tmp_path / "pyflow.sqlite")
        with pytest.raises(StateLostError):
            await store.commit(Change(1, instance=InstanceUpdate(lease_owner=None)))
    finally:
        await store.close()


async def test_a_loop_that_dies_is_started_again(caplog: pytest.LogCaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "OUTAGE_FIRST_PAUSE_S", 0.01)
    starts: list[int] = []
    reports: list[str] = []

    async def flaky() -> None:
        starts.append(1)
        if len(starts) < 3:
            raise RuntimeError(f"bug {len(starts)}")
        await asyncio.Event().wait()

    loop = Supervised("flaky loop", flaky, reports.append, lambda what: None)
    loop.start()
    for _ in range(100):
        if len(starts) == 3:
            break
        await asyncio.sleep(0.01)
    await loop.stop()
    assert len(starts) == 3
    assert reports == ["the flaky loop stopped unexpectedly (RuntimeError: bug 1); starting it "
                       "again in 0.01 s",
                       "the flaky loop stopped unexpectedly (RuntimeError: bug 2); starting it "
                       "again in 0.02 s"]


async def test_a_loop_that_keeps_dying_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "OUTAGE_FIRST_PAUSE_S", 0.001)
    given_up: list[str] = []

    async def broken() -> None:
        raise RuntimeError("always")

    loop = Supervised("broken loop", broken, lambda message: None, given_up.append)
    loop.start()
    for _ in range(200):
        if given_up:
            break
        await asyncio.sleep(0.01)
    assert given_up == ["the broken loop stopped 5 times within 60 s (last: RuntimeError: always)"]
    assert loop.task is None


async def test_an_engine_whose_heartbeat_keeps_dying_stops_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "OUTAGE_FIRST_PAUSE_S", 0.001)
    store = SqliteStore(tmp_path, durability="normal")
    await store.open()
    failures: list[str] = []
    engine = Engine(store, {"wf": WorkflowDefinition("wf", Held)}, ManualClock(),
                    EngineOptions(poll_interval_s=0.02), on_failure=failures.append)

    monkeypatch.setattr(engine.signals, "check_all", lambda: _raise_base())
    await engine.start()
    try:
        await until(lambda: _true(bool(failures)))
    finally:
        await engine.stop()
        await store.close()
    assert failures == ["pyflow's engine stopped: the engine's heartbeat stopped 5 times within "
                        "60 s (last: _Bug: a bug). Restart the process; every unfinished "
                        "instance resumes from its last committed step."]


class _Bug(BaseException):
    """Not an ``Exception``: the loop's outage handling does not catch it."""


async def _raise_base() -> None:
    raise _Bug("a bug")
