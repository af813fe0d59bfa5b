"""The storage port: what the engine and the service need from a backend, and nothing more.

Writes are expressed as ``Change`` values (``changes.py``) — everything one use case writes about
one instance — and handed to ``Store.commit``; the backend applies each change atomically and
may group many changes from many instances into one transaction (group commit). ``commit``
enqueues at once and returns an awaitable that resolves when the change is durable, so the
engine can choose to wait (a step result must be durable before ``step.do`` returns) or not (an
``ATTEMPT_START`` row rides along with the next commit).

Nothing here knows SQL; the backends (SQLite, PostgreSQL) live in ``pyflow_cli/storage/``.
What every implementation must do is stated on ``Store`` and checked, for each backend, by the
contract suite in ``tests/storage/``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

from pyflow_cli.engine.admission import CreationLimits, RunningLimit
from pyflow_cli.engine.events import EventType, LogEvent
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store_cluster import ClusterStore
from pyflow_cli.engine.store_rules import RulesStore

if TYPE_CHECKING:
    from pyflow_cli.engine.changes import Change, NewInstance


@dataclass(frozen=True)
class InstanceRecord:
    """An instance row as stored."""

    iid: int
    workflow: str
    id: str
    status: InstanceStatus
    created_ms: float
    params_json: str
    output_json: str | None
    error_json: str | None
    version_id: str | None
    trigger: int
    runnable_at: float | None
    lease_owner: str | None
    lease_expires: float | None
    paused_at: float | None
    lifetime: int
    signal: int  # changes whenever the instance is signalled; compare it, do not count it
    control: str | None
    lease_epoch: int = 0  # increases when a claim changes the holder: (owner, epoch) fences writes

    @property
    def lease(self) -> Lease | None:
        """The lease as a fence for the holder's writes (None if nobody holds it)."""
        return Lease(self.lease_owner, self.lease_epoch) if self.lease_owner is not None else None


class Lease(NamedTuple):
    """Who holds an instance, and since which claim: a change carrying it as its ``fence`` is
    applied only while the instance's lease is still exactly this one."""

    owner: str
    epoch: int


FIRST_EPOCH = 1
"""The lease epoch of an instance created already leased (``create_instances(lease=...)``)."""


class LeaseLost(Exception):
    """A change's fence no longer matches its instance's lease: another engine claimed the
    instance since (or the lease was released). Nothing of the change was written."""

    def __init__(self, iid: int, fence: Lease) -> None:
        super().__init__(f"instance #{iid} is no longer leased to {fence.owner} "
                         f"(claim {fence.epoch})")
        self.iid = iid
        self.fence = fence


class StepRecord(NamedTuple):
    """Everything stored about one step primitive (a ``do``, a sleep or an event wait). A tuple:
    a lifetime makes one per step it writes, and a claimed batch loads many."""

    cache_key: str
    kind: str  # "do" | "sleep" | "wait"
    target: str
    state: str  # "started" | "done" | "failed"
    value_json: str | None
    error_json: str | None
    config_json: str | None
    attempts: int
    attempt_open: bool  # an ATTEMPT_START without an end: the process stopped mid-attempt


@dataclass(frozen=True)
class TimerRecord:
    cache_key: str
    kind: str  # "sleep" | "retry" | "timeout"
    due_ms: float


@dataclass(frozen=True)
class InboxEvent:
    seq: int
    type: str
    payload_json: str | None
    timestamp_ms: float


@dataclass(frozen=True)
class History:
    """What a lifetime needs to replay ``run()``: step states, pending timers, unconsumed events."""

    steps: dict[str, StepRecord]
    timers: dict[tuple[str, str], TimerRecord]
    inbox: list[InboxEvent]

    def apply(self, change: Change) -> None:
        """Update the steps and timers as writing ``change`` does (its lifetime's own write);
        the inbox is left to the lifetime, which takes events from it as it consumes them."""
        for write in change.steps:
            self.steps[write.cache_key] = write.applied_to(self.steps.get(write.cache_key))
        for timer in change.set_timers:
            self.timers[timer.cache_key, timer.kind] = timer
        for cleared in change.clear_timers:
            self.timers.pop(cleared, None)


@dataclass(frozen=True)
class InstancePage:
    records: list[InstanceRecord]
    total: int


@dataclass(frozen=True)
class MetricsRows:
    """The log rows of one workflow in a time window, counted per bucket (``(ts - since) //
    bucket``), from which its metrics are computed."""

    outcomes: list[tuple[EventType, int, int]]
    """(WORKFLOW_QUEUED / SUCCESS / FAILURE / TERMINATED, bucket, rows)"""
    wall_times: list[tuple[int, float]]
    """(bucket, ms from the run's queueing to its end) for every run that succeeded or failed"""
    steps: list[tuple[str, EventType, int, int]]
    """(step target, STEP_START / STEP_FAILURE / ATTEMPT_FAILURE, rows, of which retried)"""


@dataclass(frozen=True)
class EngineRecord:
    """An engine in the store; ``kind`` (``dev``, ``worker``, ``cli``...) and on: unset if old."""

    id: str
    pid: int
    host: str
    heartbeat_ms: float
    version: str | None = None
    kind: str | None = None
    workflows: tuple[str, ...] = ()
    started_ms: float | None = None


@dataclass(frozen=True)
class LogQuery:
    """Which event-log rows of a workflow to read (``Store.read_workflow_log``): newest first,
    at most ``limit``; every set bound narrows it."""

    events: tuple[EventType, ...] = ()
    """only these events (all when empty)"""
    step: str | None = None
    """only rows whose target (step name) contains this text, ASCII case ignored"""
    since_ms: float | None = None
    until_ms: float | None = None
    """``since_ms <= timestamp < until_ms``"""
    after: int | None = None
    before: int | None = None
    """``after < position < before`` (read on from the newest row seen, or page back)"""
    limit: int = 100


@dataclass(frozen=True)
class WorkflowLogEvent:
    """A row of a workflow's event log, with the id of its instance and its position: the
    rows of the whole store in the order they were written, never reused (an instance's own
    ``row.seq`` counts that instance's rows only). With one writing process (SQLite) positions
    increase in commit order; on PostgreSQL they are given out at insert, so with several
    writing processes a row may become visible after a higher position was read: reading on
    from a position is exact for one instance's ``seq``, best effort across instances."""

    instance_id: str
    row: LogEvent
    position: int


class Store(RulesStore, ClusterStore, Protocol):
    """The storage port. Every method is safe to call from the event loop.

    The contract (``tests/storage/`` checks it for every backend):

    - **One order.** Writes are applied in the order they reach the store: ``commit`` at its
      call, the other write methods (``request_control``, ``create_instances``,
      ``delete_instances``, ``add_event``, ``claim_runnable``, ``renew_leases``, the engines'
      and roles' writes) when their coroutine starts. A write sees the effect of every write
      before it, even one in the same group transaction: a guard is checked against that state.
    - **Atomic changes, grouped.** Each change is applied whole or not at all. Many changes of
      many instances may share one transaction; one the backend cannot apply fails alone (its
      awaitable raises) and the others are applied. A group leaves exactly the state its changes
      leave applied one at a time, and so does a run merged by ``Change.absorb``.
    - **Durable when resolved.** A write's awaitable resolves only once the write is committed
      durably (visible to every other store on the same data, and kept by a crash); cancelling
      it does not cancel the write. A write that cannot be committed raises (``StorageError``
      once the store is closed).
    - **Log order.** Each instance numbers its own log rows 1, 2, 3... in the order they are
      committed, without gaps (only rows a restart wiped leave holes; the numbering goes on
      after them, never back). A row never becomes visible after a later-numbered row of the
      same instance, so reading on from the last number seen (``read_log(after_seq=...)``)
      misses nothing, however many processes write. An instance's rows from one change stand
      together, in the change's order.
    - **Ids.** An iid is never reused, not even after its instance is deleted, so a write still
      on its way for a deleted instance cannot land on a new one.
    - **Leases.** A lease is live while ``now <= lease_expires``; an instance may be claimed when
      it is due and unleased or its lease is no longer live. A claim that gives the instance
      to a new holder increases its ``lease_epoch`` (an engine taking back its own expired lease,
      which nobody took or released meanwhile, keeps it: it never stopped holding it). A change
      whose ``fence`` (owner, epoch) is not the instance's lease any more writes nothing and its
      ``commit`` raises ``LeaseLost``, so an engine that lost an instance (stalled past its
      lease, partitioned) cannot change it, even if it claims it again later. Engine ids must
      be unique per process. Times are the
      caller's (``now_ms``, ``lease_expires``): an engine on a shared database uses the
      database's clock (see ``storage/clock.py``).
    """

    async def open(self) -> None:
        """Open (creating or migrating) the store; ``StorageError`` if it cannot."""
        ...

    async def close(self) -> None:
        """Apply every write already made (their awaitables resolve), then close. A write made
        after ``close`` fails with ``StorageError``."""
        ...

    # -- writes -----------------------------------------------------------------------------------
    def commit(self, change: Change, urgent: bool = True) -> Awaitable[bool]:
        """Enqueue ``change``; the awaitable resolves once it is durable: True, or False if it
        was dropped (a guard failed, or its instance does not exist); it raises ``LeaseLost``
        if the change's fence does not hold (nothing written). A change nobody waits for
        may be ``urgent=False``: the backend may then hold it back a few milliseconds to share a
        commit with the next urgent one; it is still committed (at the latest by ``close``)."""
        ...

    async def request_control(self, iid: int, owner: str, request_json: str) -> bool:
        """Leave a control request for the engine ``owner`` that leases instance ``iid``: the
        row's ``control`` becomes ``request_json`` and its signal changes, so that engine's next
        look at what it was signalled (``signalled``) finds it; a backend may also notify it.
        False, and nothing written, unless ``owner`` holds the instance's lease. The engine
        clears ``control`` once it has carried the request out."""
        ...

    async def create_instances(self, instances: Sequence[NewInstance],
                               lease: tuple[str, float] | None = None,
                               limits: CreationLimits | None = None) -> list[int | None]:
        """Insert new instances (status queued, runnable at ``created_ms``) with their
        ``WORKFLOW_QUEUED`` and ``WORKFLOW_START`` rows; returns their new iids in order. An id
        its workflow has already (or twice in ``instances``) yields ``None`` at its position and
        leaves the existing instance alone. ``lease`` (owner, expiry) hands them straight to that
        engine, sparing it a claim: their lease epoch is then ``FIRST_EPOCH`` (0 otherwise).

        With ``limits``, in the same transaction: the instances queued in the whole store and
        those created within the creation rate's window before the new ones are counted, and if
        the new ones do not fit (``engine.admission.creation_refusal``) nothing is created and
        that error (HTTP 429) is raised. Under ``limits.start_on_admission`` (a running limit)
        they get no ``WORKFLOW_START`` row yet: the claim that admits them writes it."""
        ...

    async def delete_instances(self, workflow: str, ids: Sequence[str] | None) -> list[str]:
        """Delete the given instances (every one of the workflow if ``ids`` is None) and all their
        rows; returns the ids that existed."""
        ...

    async def add_event(self, iid: int, event_type: str, payload_json: str | None,
                        timestamp_ms: float) -> int | None:
        """Durably queue an event for an instance, wake it if it is active (``runnable_at``
        becomes ``timestamp_ms`` unless it is due earlier; a paused or finished one stays as it
        is), and change its signal; returns the event's sequence number, which increases with
        every event of the store. ``None``, and nothing stored, if the instance does not exist."""
        ...

    async def load_inbox(self, iid: int) -> list[InboxEvent]:
        """The instance's unconsumed events, oldest first."""
        ...

    async def claim_runnable(
        self, owner: str, now_ms: float, lease_ms: float, limit: int, workflows: Sequence[str],
        running: RunningLimit | None = None,
    ) -> list[InstanceRecord]:
        """Lease up to ``limit`` instances of ``workflows`` that are due (``runnable_at <=
        now_ms``) and not leased by a live owner, to ``owner`` until ``now_ms + lease_ms``, in
        admission order (``engine/admission.py``): due instances that are not queued (waking
        from a sleep, a retry delay or an event) earliest due first, then ones whose lease
        expired (``lease_expires < now_ms``; an engine may so take back its own), then queued
        ones earliest runnable first (creation order for new ones). A claim by a new holder
        increases the instance's lease epoch. Returns their records as they now are, leased to
        ``owner``; status and ``runnable_at`` are left alone. Claims by stores of several
        processes at once never hand one instance to two of them.

        With ``running`` (a running limit), the claim first counts the instances under other
        owners' live leases in the whole store, in the same transaction, and leases at most
        what that and the claimant's own count (``running.own_running``) leave of the limit
        (``admission.admissible``): however many engines claim at once, no more than the limit
        are ever leased. It writes the ``WORKFLOW_START`` row of each queued instance it admits
        that has none yet."""
        ...

    async def renew_leases(self, owner: str, until_ms: float, iids: Sequence[int]) -> list[int]:
        """``owner``'s leases on ``iids`` (only those) now expire at ``until_ms``; returns the
        iids renewed: one missing is not ``owner``'s any more (taken over, released, deleted)."""
        ...

    async def register_engine(self, engine: EngineRecord) -> None:
        """Record an engine, or its heartbeat if it is known already."""

    async def unregister_engine(self, engine_id: str) -> None:
        """Forget an engine and release every lease and role it holds."""
        ...

    # -- reads ------------------------------------------------------------------------------------
    async def list_engines(self) -> list[EngineRecord]: ...

    async def get_instance(self, workflow: str, instance_id: str) -> InstanceRecord | None: ...

    async def get_instance_by_iid(self, iid: int) -> InstanceRecord | None: ...

    async def latest_instance(self, workflow: str) -> InstanceRecord | None:
        """The instance created last (the highest ``created_ms``; the later created on a tie)."""
        ...

    async def list_instances(
        self,
        workflow: str,
        *,
        statuses: Sequence[InstanceStatus] = (),
        created_from_ms: float | None = None,
        created_to_ms: float | None = None,
        offset: int = 0,
        limit: int = 25,
        newest_first: bool = True,
        id_prefix: str | None = None,
        text: str | None = None,
        version_id: str | None = None,
    ) -> InstancePage:
        """A page of the workflow's instances with any of ``statuses`` (all if empty), created
        within the bounds (inclusive), ordered by creation (then by creation order on a tie);
        ``total`` counts every match, not only the page. ``id_prefix`` keeps ids that start with
        it; ``text`` keeps instances whose params, output or error contain it; ``version_id``
        those that record that version of the code."""
        ...

    async def status_counts(self, workflow: str) -> dict[str, int]:
        """The number of the workflow's instances in each status they are in (kept as writes
        happen: no count of every row)."""
        ...

    async def metrics_rows(self, workflow: str, since_ms: float, until_ms: float,
                           bucket_ms: float) -> MetricsRows:
        """The log rows metrics need, of ``since_ms <= ts < until_ms``, aggregated; step rows of
        instances queued or ended in the window, or unfinished."""
        ...

    async def read_log(self, iid: int, after_seq: int = 0) -> list[LogEvent]:
        """The instance's log rows numbered above ``after_seq``, in order (see "Log order")."""
        ...

    async def read_workflow_log(self, workflow: str, query: LogQuery) -> list[WorkflowLogEvent]:
        """The log rows of every instance of ``workflow`` that ``query`` selects, newest
        (highest ``seq``) first."""
        ...

    async def read_timers(self, iid: int) -> list[TimerRecord]:
        """The instance's pending timers (sleeps, retries, event timeouts) with the wall-clock
        times the engine acts on them: shifted by pauses, shortened by a time scale."""
        ...

    async def load_history(self, iid: int) -> History:
        """Its steps, timers and unconsumed events (oldest first); empty for an unknown iid."""
        ...

    async def load_histories(self, iids: Sequence[int]) -> dict[int, History]:
        """``load_history`` of many instances at once (a claimed batch)."""
        ...

    async def signalled(self, owner: str) -> list[tuple[int, int]]:
        """``(iid, signal)`` of every instance leased by ``owner`` (to spot outside signals)."""
        ...

    async def next_runnable_ms(self, workflows: Sequence[str]) -> float | None:
        """The earliest ``runnable_at`` among unleased instances, for the scheduler's sleep
        (expired leases are left to the engines' periodic claims)."""
        ...
