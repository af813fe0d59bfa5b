"""The engine: claims due instances (leases), runs their lifetimes, and recovers after crashes.

One engine per process. It leases an instance before running it, renews its leases while it
runs, and releases them when an instance finishes, hibernates or pauses. Its lifetimes write
under their lease (a fence): if another engine claims an instance meanwhile (this one stalled
past its lease), the store refuses the stale lifetime's writes and it stops. Taking back its own
expired lease, which nobody else took meanwhile, is a renewal: its lifetime goes on. When it
starts, engines on this machine whose process is gone have their leases released at once, so their instances
resume without waiting for the leases to expire (SPEC A6). Instances whose lease simply expired
(an engine on another machine, later) are claimed like any due instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyflow_cli.engine.bodies import cancel_body
from pyflow_cli.engine.changes import Change, InstanceUpdate
from pyflow_cli.engine.clock import Clock
from pyflow_cli.engine.collector import tune_for_engine
from pyflow_cli.engine.control import Control, ControlRequest
from pyflow_cli.engine.engine_rules import EngineRules
from pyflow_cli.engine.entrypoint import Env, WorkflowDefinition
from pyflow_cli.engine.errors import StateLostError
from pyflow_cli.engine.events import Runner
from pyflow_cli.engine.leases import LeaseKeeper
from pyflow_cli.engine.lifetime import EndReason, EngineOptions, Lifetime, StateNotWritten
from pyflow_cli.engine.modifiers import ObservedLifetime, TestHooks
from pyflow_cli.engine.presence import Presence
from pyflow_cli.engine.replay import record_end, run_lifetime
from pyflow_cli.engine.running import context_for
from pyflow_cli.engine.signals import Signals
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import (
    History,
    InboxEvent,
    InstanceRecord,
    Lease,
    Store,
)
from pyflow_cli.engine.supervisor import Outage, Supervised, report_error, report_warning

_log = logging.getLogger("pyflow")

@dataclass
class _Running:
    life: Lifetime
    task: asyncio.Task[None]
    run_task: list[asyncio.Task[Any]] = field(default_factory=list)


class Engine:
    """Runs workflow instances from a store, with at most one engine per instance at a time."""

    def __init__(
        self,
        store: Store,
        workflows: Mapping[str, WorkflowDefinition],
        clock: Clock,
        options: EngineOptions | None = None,
        env_factory: Callable[[], Env] | None = None,
        engine_id: str | None = None,
        version: str | None = None,
        on_failure: Callable[[str], None] | None = None,
        test_hooks: Callable[[ObservedLifetime], TestHooks] | None = None,
        kind: str | None = None,
    ) -> None:
        self.store = store
        self.workflows = dict(workflows)
        self.clock = clock
        self.options = options or EngineOptions()
        self.env_factory = env_factory or Env
        self.id = engine_id or f"engine-{uuid.uuid4()}"
        self.version = version
        """The version of the user's code it runs, as its registration shows (a reload sets it)."""
        self.kind = kind  # the kind of process it runs in, as registered (``worker``, ``dev``...)
        self._on_failure = on_failure  # told when the engine gives up (else it is logged)
        self.failure: str | None = None  # why the engine stopped on its own, if it did
        self._test_hooks = test_hooks  # ``pyflow_cli.testing``'s: each lifetime's test modifiers
        self._running: dict[int, _Running] = {}
        self._held: set[int] = set()  # instances held outside a lifetime (being rolled back)
        self._wake = asyncio.Event()
        self._parked = False  # the scheduler waits for work (nothing it knows of is due)
        self._stopping = False
        self._loops: list[Supervised] = []
        self._control = Control(self)
        self._rules = EngineRules(store, clock, self.options.rules)
        self._leases = LeaseKeeper(self)
        self.signals = Signals(self, self._control.apply_requested)
        self._presence = Presence(self, self._leases, self.signals, self._rules)

    # -- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Register, take over the instances of dead engines, and start scheduling."""
        tune_for_engine()
        await self._presence.register()
        loops = [("engine's scheduler", self._schedule),
                 ("engine's heartbeat", self._presence.heartbeat),
                 ("engine's lease guard", self._leases.guard),
                 ("engine's signal watch", self.signals.watch), *self._rules.loops()]
        feed = self.store.wakeups()
        if feed is not None:
            loops.append(("engine's wake-up listener", lambda: self.signals.follow(feed)))
        self._loops = [Supervised(name, run, report_error, self._gave_up) for name, run in loops]
        for loop in self._loops:
            loop.start()

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop claiming; give running step bodies ``grace_s`` to finish (starting no other
        attempt); release every lease."""
        self._stopping = True
        self._wake.set()
        for running in list(self._running.values()):
            if grace_s > 0 and running.life.busy:
                running.life.draining = True  # ends as its attempts under way finish
            else:
                self._end(running.life, EndReason.SHUTDOWN)
        if grace_s > 0 and self._running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._steps_idle(), grace_s)
        for running in list(self._running.values()):
            self._end(running.life, EndReason.SHUTDOWN)
        pending = [r.task for r in self._running.values()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for loop in self._loops:
            await loop.stop()
        try:
            await self.store.unregister_engine(self.id)
        except Exception as error:  # its leases expire instead
            if self.failure is None:
                report_error(f"the engine could not unregister itself ({type(error).__name__}: "
                              f"{error}); its instances are taken over when their leases expire")

    async def _steps_idle(self) -> None:
        while any(r.life.busy for r in self._running.values()):
            await asyncio.sleep(0.05)

    def can_adopt(self, workflow: str, count: int) -> bool:
        """Whether this engine can take ``count`` new instances of ``workflow`` right away."""
        return (not self._stopping and self._claiming and workflow in self.workflows
                and len(self._running) + count <= self.options.max_concurrent
                and not self._rules.limits_running)  # then only a claim admits

    def lease_for_new(self) -> tuple[str, float]:
        return self.id, self.clock.now_ms() + self.options.lease_ms

    def adopt(self, record: InstanceRecord) -> None:
        """Run an instance created already leased to this engine (see ``can_adopt``); it is new,
        so it has no history to read."""
        self._launch(record, History({}, {}, []))
        if record.lease_expires is not None:
            self._leases.confirm_expiry(record.iid, record.lease_expires)

    def replace_workflows(self, workflows: Mapping[str, WorkflowDefinition],
                          version: str | None = None) -> None:
        """Run new code (of ``version``) from now on (hot reload): lifetimes that are running
        keep the code they started with; every later lifetime, replays included, uses
        ``workflows``."""
        self.workflows = dict(workflows)
        self.version = version
        self.wake()

    def wake(self) -> None:
        """Look for runnable instances now (something was created, resumed or signalled)."""
        self._wake.set()

    @property
    def scheduler_idle(self) -> bool:
        """Whether the scheduler is parked, with nothing due that it knows of. While it claims
        or reads, an instance that is due shows up nowhere else (not on the clock, not in the
        store's writes): a harness moving a manual clock must wait for this."""
        return not self._claiming or (self._parked and not self._wake.is_set())

    @property
    def _claiming(self) -> bool:
        return bool(self._loops) and not self._stopping and self.failure is None

    @property
    def started(self) -> bool:
        """Whether this engine runs instances (it was started, and has not stopped)."""
        return self._claiming

    @property
    def running_count(self) -> int:
        return len(self._running)

    def running_iids(self) -> list[int]:
        return list(self._running)

    def held_iids(self) -> list[int]:
        """Instances whose lease this engine keeps while no lifetime runs them."""
        return list(self._held)

    def lease_gone(self, iid: int) -> None:
        """A renewal left ``iid`` out: it is not this engine's any more (``leases.py``)."""
        life = self.lifetime(iid)
        if life is not None and not life.ended:
            self._end(life, EndReason.LEASE_LOST)

    def lease_lapsed(self, iid: int) -> Lease | None:
        """Stop running ``iid``, whose lease may run out any moment (``leases.py``); the lease
        it ran under."""
        life = self.lifetime(iid)
        if life is None or life.ended:
            return None
        self._end(life, EndReason.LEASE_LAPSING)
        return life.lease

    def lifetime(self, iid: int) -> Lifetime | None:
        running = self._running.get(iid)
        return running.life if running is not None else None

    async def end(self, iid: int, reason: EndReason) -> None:
        """End a resident lifetime and wait until its runner has stopped."""
        running = self._running.get(iid)
        if running is None:
            return
        self._end(running.life, reason)
        await asyncio.gather(running.task, return_exceptions=True)

    @contextlib.contextmanager
    def holding(self, iid: int) -> Iterator[None]:
        """Keep renewing this engine's lease on ``iid`` while no lifetime runs it (its rollbacks
        run, say)."""
        self._held.add(iid)
        try:
            yield
        finally:
            self._held.discard(iid)

    async def control(self, record: InstanceRecord, request: ControlRequest) -> InstanceStatus:
        """The one entry point of instance control (``engine/control.py``): carry out
        ``request`` on ``record``'s instance wherever it is; the status it is left in."""
        return await self._control.apply(record, request)

    async def delete_all(self, workflow: str) -> list[str]:
        """Delete every instance of ``workflow`` (ending those running here); their ids."""
        return await self._control.delete_all(workflow)

    def deliver(self, iid: int, event: InboxEvent) -> None:
        life = self.lifetime(iid)
        if life is not None and not life.ended:
            life.deliver(event)

    # -- scheduling ---------------------------------------------------------------------------------
    async def _schedule(self) -> None:
        outage = Outage("engine's scheduler (claiming instances from the store)", report_error,
                        report_warning)
        while self._claiming:
            try:
                busy = await self._claim_due()
                if not busy:
                    await self._idle_wait(list(self.workflows))
            except StateLostError as lost:
                self.fail(lost.message)
                return
            except Exception as error:  # the store failed: try again, and again
                await asyncio.sleep(outage.failed(error))
                continue
            outage.succeeded()
            if busy:
                await asyncio.sleep(0)

    async def _claim_due(self) -> bool:
        """Claim and launch what is due; True if there may be more to claim right away."""
        names = list(self.workflows)
        self._wake.clear()
        free = self.options.max_concurrent - len(self._running)
        if free <= 0 or not names:
            return False
        # Leases this engine stopped running under but still holds count against the limit.
        running = self._rules.running_limit(len(self._running) + len(self._held)
                                            + self._leases.unreleased_count())
        sent = asyncio.get_running_loop().time()
        claimed = await self.store.claim_runnable(
            self.id, self.clock.now_ms(), self.options.lease_ms, min(free, 500), names, running)
        self._leases.confirm([r.iid for r in claimed], sent)
        histories = await self.store.load_histories([r.iid for r in claimed])
        for record in claimed:
            # An expired lease of our own on an instance we still run (a clock that jumped) is
            # only renewed by the claim: never run an instance twice.
            if record.iid not in self._running:
                self._launch(record, histories[record.iid])
        return bool(claimed) and len(claimed) == min(free, 500)

    async def _idle_wait(self, names: list[str]) -> None:
        next_due = await self.store.next_runnable_ms(names) if names else None
        waits = [asyncio.ensure_future(self._wake.wait()),
                 asyncio.ensure_future(asyncio.sleep(self.options.poll_interval_s))]
        if next_due is not None and not self._rules.waits_for_a_slot(next_due):
            waits.append(asyncio.ensure_future(self.clock.sleep_until(next_due)))
        self._parked = True
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._parked = False
            for waiting in waits:
                waiting.cancel()

    def _launch(self, record: InstanceRecord, history: History) -> None:
        definition = self.workflows[record.workflow]
        holder: list[asyncio.Task[Any]] = []
        task = asyncio.create_task(self._run(record, holder), name=f"pyflow-instance-{record.id}",
                                   context=context_for(record.workflow, record.id))
        life = Lifetime(record, definition, history, self.store, self.clock, self.options,
                        self._on_end, lease=record.lease, status=record.status,
                        runner=Runner(self.id, definition.version_id),
                        holds_lease=lambda: self._leases.holds(record.iid))
        life.max_inbox_seq = max((e.seq for e in history.inbox), default=0)
        life.test = self._test_hooks(life) if self._test_hooks is not None else None
        # Registered before the task first runs, so control calls see it at once.
        self._running[record.iid] = _Running(life, task, holder)

    async def _run(self, record: InstanceRecord, holder: list[asyncio.Task[Any]]) -> None:
        running = self._running[record.iid]
        try:
            life = running.life
            if record.control:
                await self._control.apply_requested(record)
            if life.ended:
                await record_end(life)
            else:
                await run_lifetime(life, (life.definition.env or self.env_factory)(), holder)
        except asyncio.CancelledError:
            if not running.life.ended:
                raise
        except (Exception, StateNotWritten) as failure:  # the store failed: leave it for later
            if running.life.end_reason is EndReason.LEASE_LOST:
                return  # said below
            error = failure.cause if isinstance(failure, StateNotWritten) else failure
            if isinstance(error, StateLostError):
                self.fail(error.message)  # one message for the engine, not one per instance
            elif not getattr(error, "reported", False):  # else the store said it, once
                _log.error("pyflow: instance %s/%s stopped, its state could not be written "
                           "(%s: %s); it resumes from its last committed step", record.workflow,
                           record.id, type(error).__name__, error)
            running.life.on_end_request(EndReason.SHUTDOWN)  # stops branches still running
            try:
                await self.store.commit(Change(record.iid, fence=running.life.lease,
                                               instance=InstanceUpdate(lease_owner=None,
                                                                       lease_expires=None)))
            except Exception:
                if running.life.lease is not None:  # released once the store answers
                    self._leases.unreleased(record.iid, running.life.lease)
        finally:
            if running.life.end_reason is EndReason.LEASE_LOST:
                _log.warning("pyflow: instance %s/%s is no longer leased to this engine (another "
                             "engine claimed it, or its lease was released); this engine stops "
                             "running it", record.workflow, record.id)
            full = len(self._running) >= self.options.max_concurrent or self._rules.limits_running
            self._running.pop(record.iid, None)
            self._leases.forget(record.iid)
            # A finished run leaves nothing to schedule, unless it frees a slot others wait for;
            # a lifetime that ended early (hibernated, restarted...) may be due again soon.
            if not self._stopping and (full or running.life.ended):
                self._wake.set()

    def _on_end(self, life: Lifetime) -> None:
        running = self._running.get(life.iid)
        if running is None:
            return
        if life.end_reason in (EndReason.TERMINATE, EndReason.RESTART, EndReason.DELETE,
                               EndReason.SHUTDOWN, EndReason.LEASE_LOST,
                               EndReason.LEASE_LAPSING):
            for body in list(life.body_tasks):
                cancel_body(body)
        for run_task in running.run_task:
            run_task.cancel()

    def _end(self, life: Lifetime, reason: EndReason) -> None:
        life.on_end_request(reason)

    # -- failure ---------------------------------------------------------------------------------------
    def _gave_up(self, what: str) -> None:
        self.fail(f"pyflow's engine stopped: {what}. Restart the process; every unfinished "
                   "instance resumes from its last committed step.")

    def fail(self, message: str) -> None:
        """Stop claiming for good, and tell the host (which ends the process)."""
        if self.failure is not None:
            return
        self.failure = message
        for loop in self._loops:
            loop.cancel()
        if self._on_failure is not None:
            self._on_failure(message)
        else:
            report_error(message)
