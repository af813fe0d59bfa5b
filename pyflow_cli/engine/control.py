"""Instance control — pause, resume, terminate (with or without rollback), restart (from the
start or from a step), delete — wherever the instance is.

- **Resident** in this process's engine: applied to the live lifetime.
- **Leased by an engine in another process**: asked through the store (``Store.request_control``,
  which that engine's heartbeat picks up and applies here, in its own process). An engine whose
  process is gone (killed on this machine) is not asked: its leases are released and the action
  applies at once.
- **At rest** in the store: applied directly, guarded by compare-and-set so that a concurrent
  engine cannot be overtaken.

What each action does in each status is ``status.TRANSITIONS``; this module only carries it out.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyflow_cli.engine import serde
from pyflow_cli.engine.changes import Change, InstanceUpdate, NewLogEvent
from pyflow_cli.engine.entrypoint import WorkflowDefinition
from pyflow_cli.engine.errors import (
    ConflictError,
    InvalidInputError,
    NeedsCodeError,
    WorkflowError,
)
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.keys import split_target
from pyflow_cli.engine.lifetime import EndReason, Lifetime, StateNotWritten
from pyflow_cli.engine.processes import process_alive
from pyflow_cli.engine.replay import replay_for_rollbacks
from pyflow_cli.engine.rollback import TERMINATED, Terminated, run_rollbacks
from pyflow_cli.engine.running import for_instance
from pyflow_cli.engine.status import (
    CANNOT_TERMINATE,
    ControlAction,
    Effect,
    InstanceStatus,
    control_effect,
)
from pyflow_cli.engine.store import InstanceRecord

if TYPE_CHECKING:
    from pyflow_cli.engine.worker import Engine

_log = logging.getLogger("pyflow")

CONTROL_WAIT_S = 10.0
OWNER_CHECK_S = 0.5  # while waiting on another engine, how often to look whether it still lives
ROLLBACK_LEASE_MS = 600_000.0  # an instance at rest is held this long at most to roll it back
RESTART_TYPES = {"do": EventType.STEP_START, "step": EventType.STEP_START,
                 "sleep": EventType.SLEEP_START, "waitForEvent": EventType.WAIT_START}
_ATTEMPTS = 50  # looks at an instance that keeps changing under a control action


@dataclass(frozen=True)
class RestartFrom:
    """Restart from the ``count``-th step called ``name`` of ``type`` (do, sleep, waitForEvent)."""

    name: str
    count: int = 1
    type: str = "do"

    def __post_init__(self) -> None:
        if self.type not in RESTART_TYPES:
            raise InvalidInputError(f'Unknown step type "{self.type}": use do, sleep or waitForEvent.')
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 1:
            raise InvalidInputError(f"The step count to restart from must be a positive integer, "
                                    f"not {self.count!r}.")


@dataclass(frozen=True)
class ControlRequest:
    """One control action and its options, as another process reads it from the store."""

    action: ControlAction
    rollback: bool = False
    from_step: RestartFrom | None = None

    def to_json(self) -> str:
        request: dict[str, Any] = {"action": self.action.value}
        if self.rollback:
            request["rollback"] = True
        if self.from_step is not None:
            request["from"] = {"name": self.from_step.name, "count": self.from_step.count,
                               "type": self.from_step.type}
        return json.dumps(request)

    @classmethod
    def from_json(cls, text: str) -> ControlRequest:
        request = json.loads(text)
        start = request.get("from")
        return cls(ControlAction(request["action"]), bool(request.get("rollback")),
                   RestartFrom(**start) if start else None)


def cannot_terminate() -> WorkflowError:
    return WorkflowError(CANNOT_TERMINATE, "instance.cannot_terminate")


class Control:
    """The engine's control entry point (``Engine.control``); the engine may not be started
    (a CLI command with no engine running): then every instance is elsewhere or at rest."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self.clock = engine.clock  # the engine's, which never change after construction

    async def apply(self, record: InstanceRecord, request: ControlRequest) -> InstanceStatus:
        """Carry out ``request`` on the instance ``record``; the status it is left in
        (``terminated`` once deleted)."""
        if request.action is ControlAction.TERMINATE:
            if control_effect(record.status, ControlAction.TERMINATE) is Effect.REFUSED:
                raise cannot_terminate()
            if request.rollback and record.workflow not in self.engine.workflows:
                raise NeedsCodeError("Terminating with rollback runs your rollback functions, "
                                     "so it needs the workflow's code, which this process does "
                                     "not run.")
        if request.from_step is not None:
            await self.restart_keys(record, request.from_step)  # fails early if it is unknown
        for _ in range(_ATTEMPTS):
            life = self.engine.lifetime(record.iid)
            if life is not None and not life.ended:
                return await self._resident(life, record, request)
            if life is not None:  # ending: let it finish, then look again
                await self.engine.end(record.iid, life.end_reason or EndReason.SHUTDOWN)
            elif self._leased_elsewhere(record):
                if not await self._take_over_if_gone(record):
                    status = await self._ask_owner(record, request)
                    if status is not None:
                        return status
                # else: its lease is released; look again, and apply the action directly
            else:
                status = await self._stored(record, request, owner=record.lease_owner)
                if status is not None:
                    return status
            fresh = await self.store.get_instance_by_iid(record.iid)
            if fresh is None:
                return InstanceStatus.TERMINATED
            record = fresh
        raise ConflictError(f'Instance "{record.id}" kept changing; try again.')

    async def apply_requested(self, record: InstanceRecord) -> None:
        """Carry out the request another process left on ``record`` (leased to this engine)."""
        try:
            request: ControlRequest | None = ControlRequest.from_json(record.control or "{}")
        except (ValueError, KeyError, TypeError, InvalidInputError):
            request = None  # not a request this pyflow understands: dropped
        try:
            life = self.engine.lifetime(record.iid)
            if request is None:
                pass
            elif life is not None and not life.ended:
                await self._resident(life, record, request)
            else:
                await self._stored(record, request, owner=record.lease_owner)
        except (WorkflowError, InvalidInputError):
            pass  # the asking process validated already; nothing more to report here
        await self.store.commit(Change(record.iid, instance=InstanceUpdate(control=None)))

    async def delete_all(self, workflow: str) -> list[str]:
        """Delete every instance of ``workflow``, ending those that run here first."""
        page = await self.store.list_instances(workflow, limit=1_000_000)
        for record in page.records:
            await self.engine.end(record.iid, EndReason.DELETE)
        return await self.store.delete_instances(workflow, None)

    # -- where the instance is -------------------------------------------------------------------
    def _leased_elsewhere(self, record: InstanceRecord) -> bool:
        return (record.lease_owner is not None and record.lease_owner != self.engine.id
                and (record.lease_expires or 0) > self.clock.now_ms())

    async def _ask_owner(self, record: InstanceRecord,
                         request: ControlRequest) -> InstanceStatus | None:
        owner = record.lease_owner
        assert owner is not None
        if not await self.store.request_control(record.iid, owner, request.to_json()):
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONTROL_WAIT_S
        next_check = loop.time() + OWNER_CHECK_S
        while loop.time() < deadline:
            await asyncio.sleep(0.05)
            fresh = await self.store.get_instance_by_iid(record.iid)
            if fresh is None:
                return InstanceStatus.TERMINATED
            if fresh.control is None:
                return fresh.status
            if loop.time() >= next_check:  # the owner may have died since it was asked
                next_check = loop.time() + OWNER_CHECK_S
                if await self._take_over_if_gone(fresh):
                    return None
        raise ConflictError(f'The engine running instance "{record.id}" did not answer within '
                            f"{CONTROL_WAIT_S:.0f} s; is its process stuck?")

    async def _take_over_if_gone(self, record: InstanceRecord) -> bool:
        """If the engine leasing ``record`` runs in a process that is gone, release its leases
        (and any request left for it) and say so; its instances are then at rest."""
        owner = record.lease_owner
        engines = {engine.id: engine for engine in await self.store.list_engines()}
        engine = engines.get(owner or "")
        # An engine holds leases only while registered: a lease without its engine is stale.
        if engine is not None and process_alive(engine.pid, engine.host):
            return False
        if engine is not None:
            await self.store.unregister_engine(engine.id)  # releases all its leases at once
        await self.store.commit(Change(record.iid, instance=InstanceUpdate(
            control=None, lease_owner=None, lease_expires=None), expect_owner=owner))
        return True

    # -- resident ------------------------------------------------------------------------------
    async def _resident(self, life: Lifetime, record: InstanceRecord,
                        request: ControlRequest) -> InstanceStatus:
        action = request.action
        if action is ControlAction.PAUSE:
            if control_effect(life.status, action) is not Effect.APPLIES:
                return life.status
            life.write_soon_status(InstanceStatus.WAITING_FOR_PAUSE)
            if life.busy > 0:
                life.request_pause()
                return InstanceStatus.WAITING_FOR_PAUSE
            await self.engine.end(record.iid, EndReason.PAUSE)
            return InstanceStatus.PAUSED
        if action is ControlAction.RESUME:
            if control_effect(life.status, action) is not Effect.APPLIES:
                return life.status
            life.cancel_pause()  # a resident lifetime is never paused, only waiting for it
            life.write_soon_status(InstanceStatus.RUNNING)
            return InstanceStatus.RUNNING
        reason = {ControlAction.TERMINATE: EndReason.TERMINATE,
                  ControlAction.RESTART: EndReason.RESTART,
                  ControlAction.DELETE: EndReason.DELETE}[action]
        await self.engine.end(record.iid, reason)
        if request.rollback:
            fresh = await self.store.get_instance_by_iid(record.iid)
            if fresh is not None:
                await self.roll_back(fresh, life)  # the instance is still leased to us
            request = ControlRequest(action)
        fresh = await self.store.get_instance_by_iid(record.iid)
        status = await self._stored(fresh, request, owner=fresh.lease_owner) if fresh else None
        return status or InstanceStatus.TERMINATED

    # -- rollbacks -----------------------------------------------------------------------------
    async def roll_back(self, record: InstanceRecord, ended: Lifetime | None = None) -> None:
        """Run the rollbacks due on an instance being terminated with ``rollback`` (SPEC §2.12):
        with the handlers ``ended`` (its lifetime, just ended) registered, else with those a
        replay of ``run()`` registers. The caller holds the instance (lease or lifetime).

        As in the reference, the termination goes on whatever happens here: a failure is one
        log line, never an instance left held by a rollback that could not finish."""
        definition = self.engine.workflows.get(record.workflow)
        if definition is None:
            _log.error('pyflow: cannot roll back %s/%s: this engine does not run workflow "%s"',
                       record.workflow, record.id, record.workflow)
            return
        with self.engine.holding(record.iid):  # its lease is renewed while the rollbacks run
            try:
                with for_instance(record.workflow, record.id):
                    await self._roll_back(record, definition, ended)
            except (Exception, StateNotWritten) as failure:
                _log.error("pyflow: the rollback of %s/%s stopped (%s: %s); terminating it "
                           "anyway", record.workflow, record.id, type(failure).__name__, failure)

    async def _roll_back(self, record: InstanceRecord, definition: WorkflowDefinition,
                         ended: Lifetime | None) -> None:
        history = await self.store.load_history(record.iid)
        held = await self.store.get_instance_by_iid(record.iid)  # under the caller's lease
        # Counted as running throughout: its rollback steps change no status.
        life = Lifetime(record, definition, history, self.store, self.clock, self.engine.options,
                        lambda _: None, lease=held.lease if held is not None else None,
                        status=InstanceStatus.RUNNING)
        if ended is not None and ended.rollbacks:
            life.rollback_specs, life.rollbacks = ended.rollback_specs, ended.rollbacks
        else:
            await replay_for_rollbacks(life, (definition.env or self.engine.env_factory)())
        await run_rollbacks(life, Terminated(TERMINATED["message"]))

    # -- at rest -------------------------------------------------------------------------------
    async def _stored(self, record: InstanceRecord, request: ControlRequest,
                      owner: Any = None) -> InstanceStatus | None:
        """Apply a control action to an instance no live engine holds; None if it changed under us."""
        action = request.action
        if action is ControlAction.DELETE:
            await self.store.delete_instances(record.workflow, [record.id])
            return InstanceStatus.TERMINATED
        now = self.clock.now_ms()
        change = Change(record.iid, expect_status=record.status, expect_owner=owner)
        status = record.status
        if action in (ControlAction.PAUSE, ControlAction.RESUME) and \
                control_effect(status, action) is not Effect.APPLIES:
            return status
        if action is ControlAction.PAUSE:
            status = InstanceStatus.PAUSED
            change.logs(NewLogEvent(EventType.WORKFLOW_WAITING_FOR_PAUSE, now),
                        NewLogEvent(EventType.WORKFLOW_PAUSED, now))
            change.instance = InstanceUpdate(status=status, paused_at=now, runnable_at=None,
                                             lease_owner=None, lease_expires=None)
        elif action is ControlAction.RESUME:
            if status is InstanceStatus.PAUSED:
                change.shift_timers_ms = now - (record.paused_at or now)
                status = InstanceStatus.QUEUED
            else:  # waiting for a pause that has not happened yet
                status = InstanceStatus.RUNNING
                change.log.append(NewLogEvent(EventType.WORKFLOW_RUNNING, now))
            change.instance = InstanceUpdate(status=status, paused_at=None, runnable_at=now,
                                             lease_owner=None, lease_expires=None)
        elif action is ControlAction.TERMINATE:
            if control_effect(status, ControlAction.TERMINATE) is Effect.REFUSED:
                raise cannot_terminate()
            if request.rollback and record.workflow in self.engine.workflows:
                if owner != self.engine.id:
                    # Hold it while the rollbacks run, so that no engine runs it meanwhile.
                    held = await self.store.commit(Change(
                        record.iid, expect_status=record.status, expect_owner=owner,
                        instance=InstanceUpdate(lease_owner=self.engine.id,
                                                lease_expires=now + ROLLBACK_LEASE_MS)))
                    if not held:
                        return None
                    change.expect_owner = self.engine.id
                await self.roll_back(record)
            status = InstanceStatus.TERMINATED
            change.log.append(NewLogEvent(EventType.WORKFLOW_TERMINATED, now,
                                          metadata={"trigger": {"source": 0}}))
            change.instance = InstanceUpdate(status=status, runnable_at=None, lease_owner=None,
                                             lease_expires=None, paused_at=None)
        else:
            status = InstanceStatus.QUEUED
            await self._restart_change(record, request.from_step, change, now)
        if not await self.store.commit(change):
            return None
        if status is InstanceStatus.QUEUED or status is InstanceStatus.RUNNING:
            self.engine.wake()
        return status

    async def _restart_change(self, record: InstanceRecord, from_step: RestartFrom | None,
                              change: Change, now: float) -> None:
        if from_step is None:
            change.wipe_all = True
            params = serde.shown(record.params_json)
            change.logs(NewLogEvent(EventType.WORKFLOW_QUEUED, now,
                                    metadata={"params": params, "trigger": {"source": 0}}))
            if not self.engine.options.rules.limits_running:  # else its admission writes START
                change.logs(NewLogEvent(EventType.WORKFLOW_START, now))
        else:
            change.wipe_keys = await self.restart_keys(record, from_step)
            change.wipe_run_rows = True
        # It runs on the current code and records it (None where no code is loaded: the engine
        # that runs it records its own).
        definition = self.engine.workflows.get(record.workflow)
        change.instance = InstanceUpdate(status=InstanceStatus.QUEUED, output_json=None,
                                         error_json=None, runnable_at=now, paused_at=None,
                                         lease_owner=None, lease_expires=None,
                                         lifetime=record.lifetime + 1,
                                         version_id=definition.version_id if definition else None)

    async def restart_keys(self, record: InstanceRecord, from_step: RestartFrom) -> list[str]:
        """Cache keys of the named step and of every step started after it (SPEC §2.13)."""
        start_event = RESTART_TYPES[from_step.type]
        log = await self.store.read_log(record.iid)
        seen, first_seq = 0, None
        for row in log:
            if row.event is start_event and split_target(row.target or "")[0] == from_step.name:
                seen += 1
                if seen == from_step.count:
                    first_seq = row.seq
                    break
        if first_seq is None:
            raise WorkflowError(f'Step "{from_step.name}" not found in execution history',
                                "instance.cannot_restart")
        return list(dict.fromkeys(
            row.group_key for row in log
            if row.seq >= first_seq and row.group_key is not None and row.event in
            (EventType.STEP_START, EventType.SLEEP_START, EventType.WAIT_START)))

