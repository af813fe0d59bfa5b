"""``WorkflowService``: every use case, one implementation for bindings, the CLI and the HTTP API.

Control actions (pause, resume, terminate, restart, delete) reach an instance wherever it is:
resident in this process's engine (applied to the live lifetime), leased by an engine in another
process (asked through the store; that engine applies it), or at rest in the store (applied
directly, guarded by compare-and-set so a concurrent engine cannot be overtaken). An engine
whose process is gone (killed on this machine) is not asked: its leases are released and the
action applies at once.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyflow_cli.engine import serde
from pyflow_cli.engine.clock import Clock
from pyflow_cli.engine.errors import (
    ConflictError,
    DuplicateInstanceError,
    InstanceNotFoundError,
    InvalidInputError,
    InvalidInstanceIdError,
    NotFoundError,
    WorkflowError,
)
from pyflow_cli.engine.events import EventType, TriggerSource
from pyflow_cli.engine.keys import split_target
from pyflow_cli.engine.lifetime import EndReason, Lifetime
from pyflow_cli.engine.limits import (
    MAX_BATCH_SIZE,
    MAX_EVENT_PAYLOAD_BYTES,
    MAX_PARAMS_BYTES,
    format_size,
    is_valid_instance_id,
)
from pyflow_cli.engine.processes import process_alive
from pyflow_cli.engine.status import (
    CANNOT_TERMINATE,
    STATUS_NAMES,
    ControlAction,
    Effect,
    InstanceStatus,
    control_effect,
)
from pyflow_cli.engine.store import (
    FIRST_EPOCH,
    Change,
    InboxEvent,
    InstancePage,
    InstanceRecord,
    InstanceUpdate,
    LogQuery,
    NewInstance,
    NewLogEvent,
    Store,
    WorkflowLogEvent,
)
from pyflow_cli.engine.worker import Engine
from pyflow_cli.metrics import metrics_view, metrics_window
from pyflow_cli.views import instance_details, status_view

CONTROL_WAIT_S = 10.0
OWNER_CHECK_S = 0.5  # while waiting on another engine, how often to look whether it still lives
ROLLBACK_LEASE_MS = 600_000.0  # an instance at rest is held this long at most to roll it back
_RESTART_TYPES = {"do": EventType.STEP_START, "step": EventType.STEP_START,
                  "sleep": EventType.SLEEP_START, "waitForEvent": EventType.WAIT_START}


@dataclass(frozen=True)
class WorkflowInfo:
    """A workflow as the project config declares it."""

    name: str
    class_name: str
    script_name: str
    binding: str = ""
    version_id: str | None = None


@dataclass(frozen=True)
class RestartFrom:
    """Restart from the ``count``-th step called ``name`` of ``type`` (do, sleep, waitForEvent)."""

    name: str
    count: int = 1
    type: str = "do"

    def __post_init__(self) -> None:
        if self.type not in _RESTART_TYPES:
            raise InvalidInputError(f'Unknown step type "{self.type}": use do, sleep or waitForEvent.')
        if not isinstance(self.count, int) or self.count < 1:
            raise InvalidInputError("--from-step-count must be a positive integer")


@dataclass
class BatchResult:
    created: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


class WorkflowService:
    """The one API over the engine and the store."""

    def __init__(self, store: Store, workflows: Mapping[str, WorkflowInfo], clock: Clock,
                 engine: Engine | None = None, config_name: str = "wrangler.toml") -> None:
        self.store = store
        self.workflows = dict(workflows)
        self.clock = clock
        self.engine = engine
        self.config_name = config_name
        if engine is not None:
            engine.control_handler = self._apply_requested_control

    # -- workflows -------------------------------------------------------------------------------
    def info(self, workflow: str) -> WorkflowInfo:
        try:
            return self.workflows[workflow]
        except KeyError:
            defined = ", ".join(self.workflows) or "none"
            raise NotFoundError(
                f'Workflow "{workflow}" is not defined in {self.config_name} (defined: {defined}). '
                "Check the [[workflows]] name.") from None

    def list_workflows(self) -> list[WorkflowInfo]:
        return list(self.workflows.values())

    async def status_counts(self, workflow: str) -> dict[str, int]:
        self.info(workflow)
        counts = dict.fromkeys(sorted(STATUS_NAMES), 0)
        counts.update(await self.store.status_counts(workflow))
        return counts

    async def delete_workflow_instances(self, workflow: str) -> list[str]:
        """Delete every instance of ``workflow`` (``wrangler workflows delete``)."""
        self.info(workflow)
        page = await self.store.list_instances(workflow, limit=1_000_000)
        for record in page.records:
            await self._end_resident(record.iid, EndReason.DELETE)
        return await self.store.delete_instances(workflow, None)

    # -- creating ----------------------------------------------------------------------------------
    async def create(self, workflow: str, instance_id: str | None = None, params: Any = None,
                     trigger: TriggerSource = TriggerSource.API) -> str:
        """Create an instance; returns its id. Raises for a bad or duplicate id or bad params."""
        info = self.info(workflow)
        if instance_id is None:
            instance_id = str(uuid.uuid4())
        elif not is_valid_instance_id(instance_id):
            raise InvalidInstanceIdError(instance_id)
        stored, shown = self._params_json(params, instance_id)
        new = NewInstance(workflow, instance_id, stored, self.clock.now_ms(), int(trigger),
                          info.version_id, shown)
        [iid] = await self._insert(workflow, [new])
        if iid is None:
            raise DuplicateInstanceError(instance_id)
        return instance_id

    async def _insert(self, workflow: str, news: list[NewInstance]) -> list[int | None]:
        """Store new instances; an in-process engine with room takes them at once, leased to it
        in the same transaction (no claim round trip), else the next engine to look claims them."""
        engine = self.engine
        if engine is None or not engine.can_adopt(workflow, len(news)):
            iids = await self.store.create_instances(news)
            self._wake()
            return iids
        lease = engine.lease_for_new()
        iids = await self.store.create_instances(news, lease)
        for new, iid in zip(news, iids, strict=True):
            if iid is not None:
                engine.adopt(InstanceRecord(
                    iid, new.workflow, new.id, InstanceStatus.QUEUED, new.created_ms,
                    new.params_json, None, None, new.version_id, new.trigger, new.created_ms,
                    lease[0], lease[1], None, 0, 0, None, FIRST_EPOCH))
        return iids

    async def create_batch(self, workflow: str, items: Sequence[Mapping[str, Any]],
                           trigger: TriggerSource = TriggerSource.API) -> BatchResult:
        """Create up to 100 instances; existing or repeated ids are reported, not created."""
        info = self.info(workflow)
        if not items:
            raise WorkflowError("batchCreate should have at least 1 instance")
        if len(items) > MAX_BATCH_SIZE:
            raise WorkflowError("batchCreate only supports 100 instances at a time")
        result, news, positions, seen = BatchResult(), [], [], set()
        now = self.clock.now_ms()
        for index, item in enumerate(items):
            instance_id = item.get("id") or str(uuid.uuid4())
            if not is_valid_instance_id(instance_id):
                raise InvalidInstanceIdError(instance_id)
            if instance_id in seen:
                result.errors.append({"index": index, "id": instance_id, "code": 10415,
                                      "message": "workflows.api.error.instance.duplicate_in_batch"})
                continue
            seen.add(instance_id)
            stored, shown = self._params_json(item.get("params"), instance_id)
            news.append(NewInstance(workflow, instance_id, stored, now, int(trigger),
                                    info.version_id, shown))
            positions.append(index)
        for index, new, iid in zip(positions, news, await self._insert(workflow, news), strict=True):
            if iid is None:
                result.errors.append({"index": index, "id": new.id, "code": 10405,
                                      "message": "workflows.api.error.instance.already_exists"})
            else:
                result.created.append(new.id)
        result.errors.sort(key=lambda error: int(error["index"]))
        return result

    @staticmethod
    def _params_json(params: Any, instance_id: str) -> tuple[str, str]:
        """The params as stored, and as the log shows them."""
        try:
            encoded, shown = serde.encode_both({} if params is None else params)
        except serde.NotSerialisableError as exc:
            raise InvalidInputError(f'Params of instance "{instance_id}" cannot be stored: {exc}.'
                                    ) from exc
        size = serde.byte_size(encoded)
        if size > MAX_PARAMS_BYTES:
            raise InvalidInputError(
                f'Params of instance "{instance_id}" are {format_size(size)}, over the 1 MiB '
                "limit. Pass a reference to the data instead.")
        return encoded, shown

    # -- reading -----------------------------------------------------------------------------------
    async def get(self, workflow: str, instance_id: str) -> InstanceRecord:
        """The instance, or ``InstanceNotFoundError``; a lookup never writes (SPEC A10)."""
        self.info(workflow)
        record = await self.store.get_instance(workflow, instance_id)
        if record is None:
            raise InstanceNotFoundError(instance_id, workflow)
        return record

    async def latest(self, workflow: str) -> InstanceRecord:
        """The newest instance of ``workflow`` (SPEC A9)."""
        self.info(workflow)
        record = await self.store.latest_instance(workflow)
        if record is None:
            raise NotFoundError(f'There are no instances in workflow "{workflow}"')
        return record

    async def resolve(self, workflow: str, instance_id: str) -> InstanceRecord:
        """``get``, with ``latest`` meaning the newest instance."""
        if instance_id == "latest":
            return await self.latest(workflow)
        return await self.get(workflow, instance_id)

    async def status(self, workflow: str, instance_id: str) -> dict[str, Any]:
        record = await self.get(workflow, instance_id)
        return status_view(record, await self.store.read_log(record.iid))

    async def describe(self, workflow: str, instance_id: str) -> dict[str, Any]:
        record = await self.resolve(workflow, instance_id)
        details = instance_details(record, await self.store.read_log(record.iid),
                                   await self.store.read_timers(record.iid))
        return {"id": record.id, **details}

    async def list_instances(self, workflow: str, *, status: str | None = None, page: int = 1,
                             per_page: int = 25, created_from_ms: float | None = None,
                             created_to_ms: float | None = None, newest_first: bool = True,
                             id_prefix: str | None = None, text: str | None = None) -> InstancePage:
        """A page of instances; ``id_prefix`` and ``text`` (in params, output or error) narrow it."""
        self.info(workflow)
        statuses = [InstanceStatus(status)] if status else []
        return await self.store.list_instances(
            workflow, statuses=statuses, created_from_ms=created_from_ms,
            created_to_ms=created_to_ms, offset=(page - 1) * per_page, limit=per_page,
            newest_first=newest_first, id_prefix=id_prefix, text=text)

    async def metrics(self, workflow: str, since: str | None = None,
                      bucket: str | None = None) -> dict[str, Any]:
        """Metrics of ``workflow`` over the last ``since`` (default 24h), per ``bucket``."""
        self.info(workflow)
        window = metrics_window(since, bucket, self.clock.now_ms())
        rows = await self.store.metrics_rows(workflow, window.since_ms, window.until_ms,
                                             window.bucket_ms)
        return metrics_view(workflow, window, rows)

    async def workflow_log(self, workflow: str, query: LogQuery) -> list[WorkflowLogEvent]:
        """The event-log rows of every instance of ``workflow`` that ``query`` selects, newest
        first (the explorer's Events page)."""
        self.info(workflow)
        return await self.store.read_workflow_log(workflow, query)

    # -- events --------------------------------------------------------------------------------------
    async def send_event(self, workflow: str, instance_id: str, event_type: str,
                         payload: Any = None) -> None:
        record = await self.resolve(workflow, instance_id)
        payload_json = None
        if payload is not None:
            try:
                payload_json = serde.encode(payload)
            except serde.NotSerialisableError as exc:
                raise InvalidInputError(f'The payload of event "{event_type}" cannot be stored: '
                                        f"{exc}.") from exc
            size = serde.byte_size(payload_json)
            if size > MAX_EVENT_PAYLOAD_BYTES:
                raise InvalidInputError(f'The payload of event "{event_type}" is '
                                        f"{format_size(size)}, over the 1 MiB limit.")
        now = self.clock.now_ms()
        seq = await self.store.add_event(record.iid, event_type, payload_json, now)
        if seq is None:  # deleted since we looked it up
            raise InstanceNotFoundError(instance_id, workflow)
        if self.engine is not None:
            self.engine.deliver(record.iid, InboxEvent(seq, event_type, payload_json, now))
        self._wake()

    # -- control -------------------------------------------------------------------------------------
    async def pause(self, workflow: str, instance_id: str) -> InstanceStatus:
        return await self._control(await self.resolve(workflow, instance_id), {"action": "pause"})

    async def resume(self, workflow: str, instance_id: str) -> InstanceStatus:
        return await self._control(await self.resolve(workflow, instance_id), {"action": "resume"})

    async def terminate(self, workflow: str, instance_id: str,
                        rollback: bool = False) -> InstanceStatus:
        """Terminate an unfinished instance; with ``rollback``, after running the rollbacks its
        steps registered (SPEC §2.12), which needs the workflow's code in an engine."""
        record = await self.resolve(workflow, instance_id)
        if control_effect(record.status, ControlAction.TERMINATE) is Effect.REFUSED:
            raise _cannot_terminate()
        request: dict[str, Any] = {"action": "terminate"}
        if rollback:
            if self.engine is None:
                raise WorkflowError("Terminating with rollback runs your rollback functions, "
                                    "so it needs the workflow's code: start `pyflow dev` and "
                                    "run this again.")
            request["rollback"] = True
        return await self._control(record, request)

    async def restart(self, workflow: str, instance_id: str,
                      from_step: RestartFrom | None = None) -> InstanceStatus:
        record = await self.resolve(workflow, instance_id)
        request: dict[str, Any] = {"action": "restart"}
        if from_step is not None:
            await self._restart_keys(record, from_step)  # fails early if the step is unknown
            request["from"] = {"name": from_step.name, "count": from_step.count,
                               "type": from_step.type}
        return await self._control(record, request)

    async def delete(self, workflow: str, instance_id: str) -> None:
        record = await self.resolve(workflow, instance_id)
        await self._control(record, {"action": "delete"})

    async def _control(self, record: InstanceRecord, request: dict[str, Any]) -> InstanceStatus:
        for _ in range(50):
            life = self.engine.lifetime(record.iid) if self.engine is not None else None
            if life is not None and not life.ended:
                return await self._control_resident(life, record, request)
            if life is not None:  # ending: let it finish, then look again
                await self._end_resident(record.iid, life.end_reason or EndReason.SHUTDOWN)
            elif self._leased_elsewhere(record):
                if await self._take_over_if_gone(record):
                    pass  # its lease is released: look again, and apply the action directly
                else:
                    status = await self._ask_owner(record, request)
                    if status is not None:
                        return status
            else:
                status = await self._control_stored(record, request, owner=record.lease_owner)
                if status is not None:
                    return status
            fresh = await self.store.get_instance_by_iid(record.iid)
            if fresh is None:
                return InstanceStatus.TERMINATED
            record = fresh
        raise ConflictError(f'Instance "{record.id}" kept changing; try again.')

    def _leased_elsewhere(self, record: InstanceRecord) -> bool:
        own = self.engine.id if self.engine is not None else None
        return (record.lease_owner is not None and record.lease_owner != own
                and (record.lease_expires or 0) > self.clock.now_ms())

    async def _ask_owner(self, record: InstanceRecord,
                         request: dict[str, Any]) -> InstanceStatus | None:
        asked = await self.store.commit(Change(
            record.iid, instance=InstanceUpdate(control=json.dumps(request), bump_signal=True),
            expect_owner=record.lease_owner))
        if not asked:
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
                            f"{CONTROL_WAIT_S:.0f} s; is its pyflow process stuck?")

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

    async def _apply_requested_control(self, record: InstanceRecord) -> None:
        """Called by the engine for a control request another process left on ``record``."""
        request = json.loads(record.control or "{}")
        try:
            life = self.engine.lifetime(record.iid) if self.engine is not None else None
            if life is not None and not life.ended:
                await self._control_resident(life, record, request)
            else:
                await self._control_stored(record, request, owner=record.lease_owner)
        except (WorkflowError, InvalidInputError):
            pass  # the asking process validated already; nothing more to report here
        await self.store.commit(Change(record.iid, instance=InstanceUpdate(control=None)))

    async def _control_resident(self, life: Lifetime, record: InstanceRecord,
                                request: dict[str, Any]) -> InstanceStatus:
        action = request["action"]
        if action == "pause":
            if control_effect(life.status, ControlAction.PAUSE) is not Effect.APPLIES:
                return life.status
            change = life.set_status(InstanceStatus.WAITING_FOR_PAUSE)
            if change is not None:
                life.write_soon(change)
            if life.busy > 0:
                life.request_pause()
                return InstanceStatus.WAITING_FOR_PAUSE
            await self._end_resident(record.iid, EndReason.PAUSE)
            return InstanceStatus.PAUSED
        if action == "resume":
            if control_effect(life.status, ControlAction.RESUME) is not Effect.APPLIES:
                return life.status
            life.cancel_pause()  # a resident lifetime is never paused, only waiting for it
            change = life.set_status(InstanceStatus.RUNNING)
            if change is not None:
                life.write_soon(change)
            return InstanceStatus.RUNNING
        reason = {"terminate": EndReason.TERMINATE, "restart": EndReason.RESTART,
                  "delete": EndReason.DELETE}[action]
        await self._end_resident(record.iid, reason)
        if request.get("rollback") and self.engine is not None:
            fresh = await self.store.get_instance_by_iid(record.iid)
            if fresh is not None:
                await self.engine.roll_back(fresh, life)  # the instance is still leased to us
            request = {"action": action}
        fresh = await self.store.get_instance_by_iid(record.iid)
        status = await self._control_stored(fresh, request, owner=fresh.lease_owner) if fresh else None
        return status or InstanceStatus.TERMINATED

    async def _end_resident(self, iid: int, reason: EndReason) -> None:
        if self.engine is not None:
            await self.engine.end(iid, reason)

    async def _control_stored(self, record: InstanceRecord, request: dict[str, Any],
                              owner: Any = None) -> InstanceStatus | None:
        """Apply a control action to an instance no live engine holds; None if it changed under us."""
        action = request["action"]
        if action == "delete":
            await self.store.delete_instances(record.workflow, [record.id])
            return InstanceStatus.TERMINATED
        now = self.clock.now_ms()
        change = Change(record.iid, expect_status=record.status, expect_owner=owner)
        status = record.status
        if action in (ControlAction.PAUSE, ControlAction.RESUME) and \
                control_effect(status, action) is not Effect.APPLIES:
            return status
        if action == "pause":
            status = InstanceStatus.PAUSED
            change.logs(NewLogEvent(EventType.WORKFLOW_WAITING_FOR_PAUSE, now),
                        NewLogEvent(EventType.WORKFLOW_PAUSED, now))
            change.instance = InstanceUpdate(status=status, paused_at=now, runnable_at=None,
                                             lease_owner=None, lease_expires=None)
        elif action == "resume":
            if status is InstanceStatus.PAUSED:
                change.shift_timers_ms = now - (record.paused_at or now)
                status = InstanceStatus.QUEUED
            else:  # waiting for a pause that has not happened yet
                status = InstanceStatus.RUNNING
                change.log.append(NewLogEvent(EventType.WORKFLOW_RUNNING, now))
            change.instance = InstanceUpdate(status=status, paused_at=None, runnable_at=now,
                                             lease_owner=None, lease_expires=None)
        elif action == "terminate":
            if control_effect(status, ControlAction.TERMINATE) is Effect.REFUSED:
                raise _cannot_terminate()
            if request.get("rollback") and self.engine is not None:
                if owner != self.engine.id:
                    # Hold it while the rollbacks run, so that no engine runs it meanwhile.
                    held = await self.store.commit(Change(
                        record.iid, expect_status=record.status, expect_owner=owner,
                        instance=InstanceUpdate(lease_owner=self.engine.id,
                                                lease_expires=now + ROLLBACK_LEASE_MS)))
                    if not held:
                        return None
                    change.expect_owner = self.engine.id
                await self.engine.roll_back(record)
            status = InstanceStatus.TERMINATED
            change.log.append(NewLogEvent(EventType.WORKFLOW_TERMINATED, now,
                                          metadata={"trigger": {"source": 0}}))
            change.instance = InstanceUpdate(status=status, runnable_at=None, lease_owner=None,
                                             lease_expires=None, paused_at=None)
        else:
            status = InstanceStatus.QUEUED
            await self._restart_change(record, request.get("from"), change, now)
        if not await self.store.commit(change):
            return None
        if status is InstanceStatus.QUEUED or status is InstanceStatus.RUNNING:
            self._wake()
        return status

    async def _restart_change(self, record: InstanceRecord, from_step: Mapping[str, Any] | None,
                              change: Change, now: float) -> None:
        if from_step is None:
            change.wipe_all = True
            params = serde.shown(record.params_json)
            change.logs(NewLogEvent(EventType.WORKFLOW_QUEUED, now,
                                    metadata={"params": params, "trigger": {"source": 0}}),
                        NewLogEvent(EventType.WORKFLOW_START, now))
        else:
            keys = await self._restart_keys(record, RestartFrom(**from_step))
            change.wipe_keys = keys
            change.wipe_run_rows = True
        change.instance = InstanceUpdate(status=InstanceStatus.QUEUED, output_json=None,
                                         error_json=None, runnable_at=now, paused_at=None,
                                         lease_owner=None, lease_expires=None,
                                         lifetime=record.lifetime + 1)

    async def _restart_keys(self, record: InstanceRecord, from_step: RestartFrom) -> list[str]:
        """Cache keys of the named step and of every step started after it (SPEC §2.13)."""
        start_event = _RESTART_TYPES[from_step.type]
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

    def _wake(self) -> None:
        if self.engine is not None:
            self.engine.wake()


def _cannot_terminate() -> WorkflowError:
    return WorkflowError(CANNOT_TERMINATE, "instance.cannot_terminate")
