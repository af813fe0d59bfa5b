"""The lifetime's bookkeeping: when an instance counts as waiting and may hibernate."""

from __future__ import annotations

import asyncio
from typing import Any

from pyflow_cli.engine.changes import Change
from pyflow_cli.engine.clock import ManualClock
from pyflow_cli.engine.entrypoint import WorkflowDefinition, WorkflowEntrypoint
from pyflow_cli.engine.lifetime import EngineOptions, Lifetime
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import History, InboxEvent, InstanceRecord


class _Writes:
    """Collects what the lifetime hands to the store (all this unit test needs of one)."""

    def __init__(self) -> None:
        self.changes: list[Change] = []

    def commit(self, change: Change, urgent: bool = True) -> Any:
        self.changes.append(change)
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        done.set_result(True)
        return done


def _lifetime(writes: _Writes) -> Lifetime:
    record = InstanceRecord(1, "wf", "a", InstanceStatus.RUNNING, 0.0, "null", None, None, None,
                            0, None, "engine", None, None, 0, 0, None)
    definition = WorkflowDefinition(name="wf", cls=WorkflowEntrypoint, class_name="W",
                                    script_name="wf")
    ended: list[Lifetime] = []
    return Lifetime(record, definition, History({}, {}, []), writes,  # type: ignore[arg-type]
                    ManualClock(), EngineOptions(force_hibernate=True), ended.append)


async def test_an_event_delivered_before_the_quiet_check_keeps_the_lifetime_going() -> None:
    # The wait is added, and in the same turn of the loop its event arrives: the branch is about
    # to go on, so the instance is not waiting and must not hibernate with the event in hand
    # (the event would then sit in the inbox until the wait's timeout replays the instance).
    writes = _Writes()
    life = _lifetime(writes)
    waiter = life.add_waiter(life.now() + 86_400_000, "go")
    assert life.deliver(InboxEvent(1, "go", None, life.now()))
    await asyncio.sleep(0)
    assert waiter.future.done()
    assert life.end_reason is None
    assert life.status is InstanceStatus.RUNNING


async def test_a_lifetime_with_only_pending_waits_hibernates() -> None:
    writes = _Writes()
    life = _lifetime(writes)
    life.add_waiter(life.now() + 86_400_000, "go")
    await asyncio.sleep(0)
    assert life.end_reason is not None and life.end_reason.value == "hibernate"
    assert life.status is InstanceStatus.WAITING


async def test_a_lifetime_left_with_other_waits_after_an_event_still_hibernates() -> None:
    writes = _Writes()
    life = _lifetime(writes)
    first = life.add_waiter(life.now() + 86_400_000, "go")
    life.add_waiter(life.now() + 86_400_000, "later")
    life.deliver(InboxEvent(1, "go", None, life.now()))
    await asyncio.sleep(0)
    assert life.end_reason is None
    life.remove_waiter(first)  # its branch took the event and ended; the other still waits
    await asyncio.sleep(0)
    assert life.end_reason is not None and life.end_reason.value == "hibernate"
