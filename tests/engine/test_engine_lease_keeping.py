"""The engine's side of its leases: it stops running an instance before the lease can run out
when it cannot renew it, at once when a renewal says it is not its own any more; a lease it
could not release is released once the store answers; a stopping engine lets attempts under way
finish and starts no new one."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from pyflow_cli.engine.changes import Change, InstanceUpdate
from pyflow_cli.engine.clock import SystemClock
from pyflow_cli.engine.entrypoint import WorkflowDefinition, WorkflowEntrypoint
from pyflow_cli.engine.errors import StorageError
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.engine.worker import Engine
from pyflow_cli.service import WorkflowInfo, WorkflowService
from pyflow_cli.storage.sqlite import SqliteStore

seen: dict[str, Any] = {}


class Held(WorkflowEntrypoint):
    """A step whose body waits until the test lets it go (or is cancelled)."""

    async def run(self, event: Any, step: Any) -> Any:
        async def body() -> str:
            seen["started"].set()
            try:
                await seen["release"].wait()
            except asyncio.CancelledError:
                seen["cancelled_ms"] = SystemClock().now_ms()
                raise
            return "done"

        # An attempt cut short counts as failed (SPEC A6): retried at once here.
        first = await step.do("held", body, config={"retries": {"limit": 5, "delay": 0}})
        await step.do("next", lambda: seen.setdefault("next ran", True))
        return first


class Stalling(SqliteStore):
    """A real store whose lease renewals stop being answered (the server went away, the network
    dropped) while ``stalled`` is set."""

    stalled = False

    async def renew_leases(self, owner: str, until_ms: float, iids: Sequence[int]) -> list[int]:
        while self.stalled:
            await asyncio.sleep(0.01)
        return await super().renew_leases(owner, until_ms, iids)


class Failing(SqliteStore):
    """A real store whose commits fail (a full disk) while ``failing`` is set."""

    failing = False

    def commit(self, change: Change, urgent: bool = True) -> Any:
        if self.failing:
            future = asyncio.get_running_loop().create_future()
            future.set_exception(StorageError("disk full"))
            return future
        return super().commit(change, urgent)


def _fresh() -> None:
    seen.clear()
    seen["started"] = asyncio.Event()
    seen["release"] = asyncio.Event()


@asynccontextmanager
async def _running(store: SqliteStore, lease_ms: float,
                   workflow: type[WorkflowEntrypoint] = Held
                   ) -> AsyncIterator[tuple[Engine, WorkflowService]]:
    """``store`` opened and an engine running ``workflow`` (as "wf") on it, on the real clock,
    with leases of ``lease_ms`` and ``seen`` fresh; the engine stopped and the store closed
    afterwards."""
    _fresh()
    await store.open()
    clock = SystemClock()
    engine = Engine(store, {"wf": WorkflowDefinition("wf", workflow)}, clock,
                    EngineOptions(lease_ms=lease_ms, poll_interval_s=0.02))
    service = WorkflowService(store, {"wf": WorkflowInfo("wf", workflow.__name__, "wf")}, clock,
                              engine)
    try:
        await engine.start()
        yield engine, service
    finally:
        await engine.stop()
        await store.close()


async def _start_held(service: WorkflowService) -> None:
    """Create instance "x" of "wf" (``Held``) and wait until its step body has started."""
    await service.create("wf", "x")
    await asyncio.wait_for(seen["started"].wait(), 10)


async def _until(condition: Any, timeout_s: float = 10.0) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), timeout_s)


async def _until_complete(store: SqliteStore, timeout_s: float) -> None:
    """Wait until instance "x" of "wf" is complete (a TimeoutError after ``timeout_s``)."""
    async def complete() -> bool:
        found = await store.get_instance("wf", "x")
        return found is not None and found.status.value == "complete"

    async def wait() -> None:
        while not await complete():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout_s)


async def test_an_engine_that_cannot_renew_stops_running_before_its_lease_can_run_out(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = Stalling(tmp_path)
    async with _running(store, lease_ms=1000.0) as (engine, service):
        try:
            await _start_held(service)
            await asyncio.sleep(0.5)  # a few renewals
            store.stalled = True
            await _until(lambda: "cancelled_ms" in seen)
            record = await store.get_instance("wf", "x")
            assert record is not None and record.lease_expires is not None
            # The body stopped while the lease, as last renewed, still ran: nobody else could
            # have been running it yet.
            assert seen["cancelled_ms"] < record.lease_expires
            assert "next ran" not in seen
            lines = [r.getMessage() for r in caplog.records if "could not renew" in r.getMessage()]
            assert len(lines) == 1
            assert lines[0].endswith("it stops running 1 instance before their leases can run "
                                     "out: they resume from their last committed step, here or "
                                     "on another engine")
            store.stalled = False
            seen["release"].set()  # once the store answers again, the instance runs to its end
            await _until(lambda: engine.running_count == 0 and "next ran" in seen)
        finally:
            store.stalled = False  # or the engine could not stop


async def test_a_renewal_that_leaves_an_instance_out_ends_its_lifetime_at_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SqliteStore(tmp_path)
    async with _running(store, lease_ms=60_000.0) as (engine, service):
        await _start_held(service)
        record = await store.get_instance("wf", "x")
        assert record is not None
        # Another engine took the instance over (this one stalled past its lease, say).
        assert await store.commit(Change(record.iid, instance=InstanceUpdate(
            lease_owner="engine-b", lease_expires=record.lease_expires)))
        await _until(lambda: "cancelled_ms" in seen)
        await _until(lambda: engine.running_count == 0)
        log = await store.read_log(record.iid)
        assert EventType.STEP_SUCCESS not in [row.event for row in log]
        assert (await store.get_instance("wf", "x")).lease_owner == "engine-b"  # type: ignore[union-attr]
        assert any("is no longer leased to this engine" in r.getMessage() for r in caplog.records)


async def test_a_lease_an_outage_kept_from_being_released_is_released_when_the_store_answers(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    store = Failing(tmp_path)
    async with _running(store, lease_ms=600_000.0) as (engine, service):
        try:
            await _start_held(service)
            store.failing = True
            seen["release"].set()  # its result cannot be written: the lifetime ends
            await _until(lambda: engine.running_count == 0)
            record = await store.get_instance("wf", "x")
            assert record is not None and record.lease_owner == engine.id  # not released
            _fresh()
            seen["release"].set()
            store.failing = False
            # Released at a heartbeat, the instance runs again at once: not in ten minutes,
            # when its lease would have run out.
            await _until(lambda: "next ran" in seen)
        finally:
            store.failing = False  # or the engine could not hand its lease back


async def test_a_stopping_engine_lets_the_attempt_under_way_finish_and_starts_no_other(
        tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    async with _running(store, lease_ms=60_000.0) as (engine, service):
        await _start_held(service)
        asyncio.get_running_loop().call_later(0.2, seen["release"].set)
        await engine.stop(grace_s=10.0)
        record = await store.get_instance("wf", "x")
        assert record is not None and record.lease_owner is None  # handed back
        history = await store.load_history(record.iid)
        assert [(s.target, s.state) for s in history.steps.values()] == [("held-1", "done")]
        assert "next ran" not in seen and "cancelled_ms" not in seen


class Waits(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        # Shorter than an engine keeps a waiting instance in memory: it stays resident.
        found = await step.wait_for_event("go", "go", timeout="20 seconds")
        return found["payload"]


class InboxOnceUnanswered(SqliteStore):
    """A real store whose first read of an inbox fails (the connection dropped just then)."""

    failed = False

    async def load_inbox(self, iid: int) -> Any:
        if not self.failed:
            self.failed = True
            raise StorageError("the connection dropped")
        return await super().load_inbox(iid)


async def test_an_event_whose_first_look_failed_is_delivered_at_the_next(tmp_path: Path) -> None:
    store = InboxOnceUnanswered(tmp_path)
    other = SqliteStore(tmp_path)  # another process's store on the same file
    await other.open()
    try:
        async with _running(store, lease_ms=1500.0, workflow=Waits) as (engine, service):
            await service.create("wf", "x")
            await _until(lambda: engine.running_count == 1)
            record = await store.get_instance("wf", "x")
            assert record is not None
            await asyncio.sleep(0.1)  # it waits
            now = SystemClock().now_ms()
            assert await other.add_event(record.iid, "go", '{"n":1}', now) is not None
            await _until_complete(store, timeout_s=6.0)
            assert store.failed
    finally:
        await other.close()


class Frozen(WorkflowEntrypoint):
    """A step, then the whole process frozen past its lease (as SIGSTOP would), then another
    step, started at once when the process wakes up."""

    async def run(self, event: Any, step: Any) -> Any:
        seen["runs"] = seen.get("runs", 0) + 1
        run = seen["runs"]
        first = await step.do("first", lambda: "one")
        if "froze" not in seen:
            seen["froze"] = True
            time.sleep(1.5)  # the event loop stops too: no heartbeat, no guard
        await step.do("next", lambda: seen.setdefault("next ran in run", run))
        return first


async def test_an_engine_frozen_past_its_lease_starts_no_attempt_when_it_wakes(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SqliteStore(tmp_path)
    async with _running(store, lease_ms=1000.0, workflow=Frozen) as (_, service):
        await service.create("wf", "x")
        await _until_complete(store, timeout_s=10.0)
        woke = [r for r in caplog.records if "could not renew its leases" in r.getMessage()]
        assert len(woke) == 1  # it stopped the instance on waking, before its next attempt
        # The second step started only once the instance was taken up again, in a new run.
        assert seen["next ran in run"] == 2


class FrozenBeside(WorkflowEntrypoint):
    """Two steps at once: the first body freezes the whole process past its lease before the
    second body's task has taken its first step."""

    async def run(self, event: Any, step: Any) -> Any:
        seen["runs"] = seen.get("runs", 0) + 1
        run = seen["runs"]

        async def freeze() -> str:
            if "froze" not in seen:
                seen["froze"] = True
                time.sleep(1.5)  # the event loop stops too
            return "thawed"

        async def beside() -> int:
            seen.setdefault("beside ran in run", run)
            return run

        return await asyncio.gather(step.do("freeze", freeze), step.do("beside", beside))


async def test_a_body_whose_task_first_runs_after_a_freeze_past_the_lease_never_starts(
        tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    async with _running(store, lease_ms=1000.0, workflow=FrozenBeside) as (_, service):
        await service.create("wf", "x")
        await _until(lambda: "beside ran in run" in seen)
        assert seen["beside ran in run"] == 2  # not in the run that was frozen
