"""One execution of ``run()`` — a *lifetime* — and the state it shares between its primitives.

A lifetime holds the stored history it replays against, the per-lifetime key counters, and the
bookkeeping that decides the instance's status and when it may hibernate: how many step bodies
are running (``busy``) and which waits (sleeps, retry delays, event waits) are pending. When
nothing runs and something waits, the instance is ``waiting`` (SPEC A5); if the earliest wake-up
is far enough away (or hibernation is forced), the lifetime ends itself and the instance is
dropped from memory until a timer or an event wakes it.

Every write goes through ``write`` (or ``write_soon``, or ``commit_end``) and carries the
lifetime's lease as its fence: once a lifetime has ended (paused, terminated, restarted, deleted,
hibernated, engine stopped) it writes nothing more, and once another engine has claimed the
instance the store refuses its writes (``LeaseLost``) and the lifetime ends
(``EndReason.LEASE_LOST``). ``write`` and ``write_soon`` also bring the lifetime's history up to
date with what they write: the one place the history changes, but for the events taken from its
inbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pyflow_cli.engine.admission import NO_RULES, PlatformRules
from pyflow_cli.engine.changes import Change, InstanceUpdate, NewLogEvent
from pyflow_cli.engine.clock import Clock
from pyflow_cli.engine.entrypoint import WorkflowDefinition
from pyflow_cli.engine.escapes import EngineControl
from pyflow_cli.engine.events import EventType, Runner
from pyflow_cli.engine.keys import KeyCounter
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import History, InboxEvent, InstanceRecord, Lease, LeaseLost, Store

if TYPE_CHECKING:
    from pyflow_cli.engine.modifiers import TestHooks


class StateNotWritten(EngineControl):
    """The store failed to commit a write the lifetime waited for; ends the lifetime, which
    resumes later from its last committed step. A ``BaseException`` so user code lets it by."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


class EndReason(StrEnum):
    """Why a lifetime stopped before ``run()`` finished."""

    HIBERNATE = "hibernate"
    PAUSE = "pause"
    TERMINATE = "terminate"
    RESTART = "restart"
    DELETE = "delete"
    SHUTDOWN = "shutdown"
    LEASE_LOST = "lease lost"  # the store refused a write: another engine holds the instance now
    LEASE_LAPSING = "lease lapsing"  # the lease could not be renewed and may run out any moment


@dataclass(frozen=True)
class EngineOptions:
    """Tuning knobs of an engine; the defaults suit ``pyflow dev``."""

    hibernate_after_ms: float = 30_000.0  # waits longer than this drop the instance from memory
    force_hibernate: bool = False  # hibernate at every wait (tests prove replay with it)
    lease_ms: float = 15_000.0
    max_concurrent: int = 10_000
    poll_interval_s: float = 0.25
    time_scale: float = 1.0  # >1 shortens sleeps, retry delays and event timeouts (demos)
    rules: PlatformRules = NO_RULES  # the platform's limits (engine/admission.py)

    @property
    def hibernates_at_every_wait(self) -> bool:
        """Under a running limit a waiting instance gives its slot up: it hibernates."""
        return self.force_hibernate or self.rules.limits_running


@dataclass(frozen=True)
class RollbackSpec:
    """What ``step.do(..., rollback=fn, rollback_config=...)`` asked for (SPEC §2.12)."""

    fn: Callable[..., Any]
    config: Mapping[str, Any] | None = None


@dataclass
class RollbackEntry:
    """A registered rollback: its handler, the step's context and, if the step succeeded, its
    output (the handler receives both)."""

    spec: RollbackSpec
    ctx: Any
    output: Any = None


@dataclass(eq=False)
class Waiter:
    """A pending wait: resolved by its deadline, by a matching event, or by the lifetime ending."""

    deadline_ms: float
    event_type: str | None
    future: asyncio.Future[InboxEvent | None]


@dataclass
class Lifetime:
    instance: InstanceRecord
    definition: WorkflowDefinition
    history: History
    store: Store
    clock: Clock
    options: EngineOptions
    on_end: Callable[[Lifetime], None]
    lease: Lease | None = None  # the fence of every write (None: unleased, e.g. in unit tests)
    counter: KeyCounter = field(default_factory=KeyCounter)
    steps_used: int = 0
    busy: int = 0
    status: InstanceStatus = InstanceStatus.RUNNING
    waiters: list[Waiter] = field(default_factory=list)
    end_reason: EndReason | None = None
    pause_requested: bool = False
    draining: bool = False  # its engine stops: it ends once no step body runs (no new attempt)
    fatal_error: dict[str, Any] | None = None
    store_failure: Exception | None = None  # a write failed: the lifetime cannot go on
    # Rollbacks (SPEC §2.12): what each step asked for, the handlers registered so far (by cache
    # key), whether rollbacks are running (no other step may), and the replay that only
    # re-registers handlers (terminate with rollback; nothing runs, nothing is written).
    rollback_specs: dict[str, RollbackSpec] = field(default_factory=dict)
    rollbacks: dict[str, RollbackEntry] = field(default_factory=dict)
    rollback_phase: bool = False
    replay_only: bool = False
    body_tasks: set[asyncio.Future[Any]] = field(default_factory=set)
    pause_cleared: asyncio.Event = field(default_factory=asyncio.Event)
    max_inbox_seq: int = 0
    wake_at: float = 0.0  # set when hibernating: the earliest deadline of the pending waits
    # Errors raised into run() by a failed step, by id (held, so that an id is not reused): an
    # error escaping run() that came from a step is reported differently from one run() raised.
    errors_from_steps: dict[int, BaseException] = field(default_factory=dict)
    test: TestHooks | None = None  # set under pyflow_cli.testing only (engine/modifiers.py)
    runner: Runner | None = None  # the engine and code that run it, as its attempts record
    holds_lease: Callable[[], bool] | None = None  # its engine's word (engine/leases.py)
    _quiet_check_scheduled: bool = False
    _held: Change | None = None

    @property
    def iid(self) -> int:
        return self.instance.iid

    @property
    def ended(self) -> bool:
        return self.end_reason is not None

    def now(self) -> float:
        return self.clock.now_ms()

    def scaled(self, ms: float) -> float:
        """A wait of ``ms`` in wall terms, shortened by the engine's time scale."""
        return ms / self.options.time_scale

    # -- writes ------------------------------------------------------------------------------------
    async def write(self, change: Change) -> bool:
        """Commit ``change`` (with anything ``write_soon`` still holds, which goes first) unless
        this lifetime has ended (then it is dropped); the caller awaits it, so it is urgent.

        A store that cannot write raises ``StateNotWritten``, which ``except Exception`` in
        user code does not catch: ``run()`` must not go on as if the write had happened."""
        if self.ended:
            return False
        if self._held is not None:
            change = self._held.absorb(change)
            self._held = None
        change.fence = self.lease
        try:
            written = await self.store.commit(change)
        except LeaseLost as lost:
            self.on_end_request(EndReason.LEASE_LOST)
            raise StateNotWritten(lost) from lost
        except Exception as error:
            self.store_failure = error
            raise StateNotWritten(error) from error
        if written:
            self.history.apply(change)
        return written

    def write_soon(self, change: Change) -> None:
        """Commit ``change`` without anyone waiting for it. It is held until the loop's next turn:
        an urgent write in the meantime (a step that finished at once) takes it along in one
        change; otherwise it goes to the store lazily, to share the next commit there."""
        if self.ended:
            return
        self.history.apply(change)  # it is written before anything this lifetime writes later
        if self._held is None:
            self._held = change
            asyncio.get_running_loop().call_soon(self._release_held)
        else:
            self._held.absorb(change)

    def _release_held(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self.ended:
            held.fence = self.lease
            asyncio.ensure_future(self.store.commit(held, urgent=False)).add_done_callback(
                self._released)

    def _released(self, committed: asyncio.Future[bool]) -> None:
        if not committed.cancelled() and isinstance(committed.exception(), LeaseLost):
            self.on_end_request(EndReason.LEASE_LOST)

    async def commit_end(self, change: Change) -> bool:
        """Commit what this lifetime leaves behind once ended (fenced like every write of it);
        False if it was not applied, the lease lost included (``end_reason`` then says so)."""
        change.fence = self.lease
        try:
            return await self.store.commit(change)
        except LeaseLost:
            self.end_reason = EndReason.LEASE_LOST
            return False

    def change(self) -> Change:
        return Change(self.iid)

    def log(self, event: EventType, key: str | None = None, target: str | None = None, /,
            **metadata: Any) -> NewLogEvent:
        return NewLogEvent(event, self.now(), key, target, metadata)

    def set_status(self, status: InstanceStatus, change: Change | None = None) -> Change | None:
        """Record a status change (with its log row) if it is one; returns the change used."""
        if status == self.status or self.ended:
            return change
        self.status = status
        change = change or self.change()
        update = change.instance or InstanceUpdate()
        change.instance = _with_status(update, status)
        row = _STATUS_ROWS.get(status)
        if row is not None:
            change.log.append(self.log(row))
        return change

    def write_soon_status(self, status: InstanceStatus) -> None:
        """Record a status change, if it is one, without waiting for it to be written."""
        change = self.set_status(status)
        if change is not None:
            self.write_soon(change)

    def from_step(self, error: BaseException) -> BaseException:
        """Remember ``error`` as raised into ``run()`` by a failed step; returns it."""
        self.errors_from_steps[id(error)] = error
        return error

    def came_from_step(self, error: BaseException) -> bool:
        return self.errors_from_steps.get(id(error)) is error

    # -- step bodies and waits ---------------------------------------------------------------------
    def step_started(self, change: Change) -> None:
        """A step body is about to run; a status change goes into ``change``, its first write."""
        self.busy += 1
        self.set_status(InstanceStatus.RUNNING, change)

    def step_finished(self) -> None:
        self.busy -= 1
        if self.busy == 0:
            if self.draining:
                self.on_end_request(EndReason.SHUTDOWN)
            elif self.pause_requested:
                self.on_end_request(EndReason.PAUSE)
            elif self.waiters:  # with nothing waiting there is nothing to decide
                self.schedule_quiet_check()

    def add_waiter(self, deadline_ms: float, event_type: str | None = None) -> Waiter:
        waiter = Waiter(deadline_ms, event_type, asyncio.get_running_loop().create_future())
        self.waiters.append(waiter)
        self.schedule_quiet_check()
        return waiter

    def remove_waiter(self, waiter: Waiter) -> None:
        if waiter in self.waiters:
            self.waiters.remove(waiter)
            if self.waiters:  # the others may be all that is left once this branch moves on
                self.schedule_quiet_check()

    def request_pause(self) -> None:
        self.pause_requested = True
        self.pause_cleared.clear()

    def cancel_pause(self) -> None:
        self.pause_requested = False
        self.pause_cleared.set()

    def deliver(self, event: InboxEvent) -> bool:
        """Hand an arriving event to the oldest wait for its type; False if none waits."""
        if event.seq <= self.max_inbox_seq:
            return False  # already known (delivered in memory before the store told us)
        self.max_inbox_seq = event.seq
        for waiter in self.waiters:
            if waiter.event_type == event.type and not waiter.future.done():
                waiter.future.set_result(event)
                return True
        self.history.inbox.append(event)
        return False

    def take_event(self, event_type: str) -> InboxEvent | None:
        """Remove and return the oldest unconsumed event of ``event_type`` (FIFO per type)."""
        for i, event in enumerate(self.history.inbox):
            if event.type == event_type:
                return self.history.inbox.pop(i)
        return None

    def schedule_quiet_check(self) -> None:
        if not self._quiet_check_scheduled and not self.ended:
            self._quiet_check_scheduled = True
            asyncio.get_running_loop().call_soon(self._quiet_check)

    def _quiet_check(self) -> None:
        """Runs once the loop has let every branch reach its next await."""
        self._quiet_check_scheduled = False
        if self.ended or self.busy > 0 or not self.waiters:
            return
        if any(waiter.future.done() for waiter in self.waiters):
            return  # an event arrived meanwhile: its branch goes on at the loop's next turn
        if self.pause_requested:
            self.on_end_request(EndReason.PAUSE)
            return
        self.write_soon_status(InstanceStatus.WAITING)
        earliest = min(w.deadline_ms for w in self.waiters)
        left = earliest - self.now()
        if left > 0 and (self.options.hibernates_at_every_wait
                         or left >= self.options.hibernate_after_ms):
            self.wake_at = earliest
            self.on_end_request(EndReason.HIBERNATE)

    def on_end_request(self, reason: EndReason) -> None:
        """Ask the runner to end this lifetime (it cancels ``run()`` and records the outcome)."""
        if self.end_reason is None:
            self._release_held()  # written before the end: it still goes to the store
            self.end_reason = reason
            self.on_end(self)


_STATUS_ROWS = {
    InstanceStatus.RUNNING: EventType.WORKFLOW_RUNNING,
    InstanceStatus.WAITING: EventType.WORKFLOW_WAITING,
    InstanceStatus.PAUSED: EventType.WORKFLOW_PAUSED,
    InstanceStatus.WAITING_FOR_PAUSE: EventType.WORKFLOW_WAITING_FOR_PAUSE,
}


def _with_status(update: InstanceUpdate, status: InstanceStatus) -> InstanceUpdate:
    from dataclasses import replace

    return replace(update, status=status)

