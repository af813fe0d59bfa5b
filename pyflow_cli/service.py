"""``WorkflowService``: every use case, one implementation for bindings, the CLI and the HTTP API.

It validates what callers ask and hands it on: reads and writes to the store, instance control to
the engine's one entry point (``Engine.control``; the engine decides where the instance is and
what the action does, by the table in ``engine/status.py``). Without an engine running in this
process the service has a control-only engine, which runs nothing: instances are then leased by
another process's engine, or at rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyflow_cli.api import (
    EngineView,
    InstanceDetails,
    InstanceList,
    InstanceSummary,
    StatusView,
    WorkflowInfo,
    WorkflowMetrics,
)
from pyflow_cli.coalesce import CreateCoalescer
from pyflow_cli.engine import serde
from pyflow_cli.engine.admission import NO_RULES, CreationLimits, PlatformRules
from pyflow_cli.engine.changes import NewInstance
from pyflow_cli.engine.clock import Clock
from pyflow_cli.engine.control import ControlRequest, RestartFrom
from pyflow_cli.engine.errors import (
    DuplicateInstanceError,
    InstanceNotFoundError,
    InvalidInputError,
    InvalidInstanceIdError,
    NotFoundError,
    PyflowError,
    UnservedScriptError,
    WorkflowError,
)
from pyflow_cli.engine.events import LogEvent, TriggerSource
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.engine.limits import (
    MAX_BATCH_SIZE,
    MAX_EVENT_PAYLOAD_BYTES,
    MAX_PARAMS_BYTES,
    format_size,
    is_valid_instance_id,
)
from pyflow_cli.engine.processes import process_alive
from pyflow_cli.engine.retention import purge, purge_query
from pyflow_cli.engine.status import (
    STATUS_NAMES,
    ControlAction,
    InstanceStatus,
)
from pyflow_cli.engine.store import (
    FIRST_EPOCH,
    InboxEvent,
    InstanceRecord,
    LogQuery,
    Store,
    WorkflowLogEvent,
)
from pyflow_cli.engine.versions import VersionBook, VersionRecord
from pyflow_cli.engine.worker import Engine
from pyflow_cli.ids import new_instance_id
from pyflow_cli.metrics import metrics_view, metrics_window
from pyflow_cli.views import engine_views, instance_details, status_view

ENGINE_STALE_MS = 15_000.0  # an engine whose heartbeat is older than this is not running


@dataclass
class BatchResult:
    created: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


class WorkflowService:
    """The one API over the engine and the store (``WorkflowApi``, in this process)."""

    def __init__(self, store: Store, workflows: Mapping[str, WorkflowInfo], clock: Clock,
                 engine: Engine | None = None, config_name: str = "wrangler.toml",
                 rules: PlatformRules | None = None) -> None:
        self.store = store
        self.workflows = dict(workflows)
        self.clock = clock
        self.engine = engine if engine is not None else Engine(
            store, {}, clock, EngineOptions(rules=rules or NO_RULES))
        self.config_name = config_name
        self.rules = rules or self.engine.options.rules
        """The platform's limits (engine/admission.py): the engine's, unless given."""
        self.versions = VersionBook(store)
        self._creates = CreateCoalescer(self._insert)

    # -- workflows -------------------------------------------------------------------------------
    def info(self, workflow: str) -> WorkflowInfo:
        try:
            return self.workflows[workflow]
        except KeyError:
            defined = ", ".join(self.workflows) or "none"
            raise NotFoundError(
                f'Workflow "{workflow}" is not defined in {self.config_name} (defined: {defined}). '
                "Check the [[workflows]] name.") from None

    def _servable(self, workflow: str) -> WorkflowInfo:
        """The workflow's info, if instances of it can be created here: not one bound from a
        Worker this process does not serve (``project/scripts.py``)."""
        info = self.info(workflow)
        if not info.served:
            raise UnservedScriptError(workflow, info.script_name, self.config_name)
        return info

    async def list_workflows(self) -> list[WorkflowInfo]:
        return list(self.workflows.values())

    async def status_counts(self, workflow: str) -> dict[str, int]:
        self.info(workflow)
        counts = dict.fromkeys(sorted(STATUS_NAMES), 0)
        counts.update(await self.store.status_counts(workflow))
        return counts

    async def delete_workflow_instances(self, workflow: str) -> list[str]:
        """Delete every instance of ``workflow`` (``wrangler workflows delete``)."""
        self.info(workflow)
        return await self.engine.delete_all(workflow)

    # -- creating ----------------------------------------------------------------------------------
    async def create(self, workflow: str, instance_id: str | None = None, params: Any = None,
                     trigger: TriggerSource = TriggerSource.API) -> str:
        """Create an instance; returns its id. Raises for a bad or duplicate id or bad params."""
        info = self._servable(workflow)
        generated = instance_id is None
        if instance_id is None:
            instance_id = new_instance_id()
        elif not is_valid_instance_id(instance_id):
            raise InvalidInstanceIdError(instance_id)
        stored, shown = self._params_json(params, instance_id)
        new = NewInstance(workflow, instance_id, stored, self.clock.now_ms(), int(trigger),
                          info.version_id, shown)
        await self.versions.record(info.version_id, self.clock.now_ms())
        if generated:  # written with the other creates of this turn of the loop
            iid = await self._creates.insert(workflow, new)
        else:
            [iid] = await self._insert(workflow, [new])
        if iid is None:
            raise DuplicateInstanceError(instance_id)
        return instance_id

    async def _insert(self, workflow: str, news: list[NewInstance]) -> list[int | None]:
        """Store new instances; an in-process engine with room takes them at once, leased to it
        in the same transaction (no claim round trip), else the next engine to look claims them."""
        engine = self.engine
        limits = CreationLimits.of(self.rules)
        if not engine.can_adopt(workflow, len(news)):
            iids = await self.store.create_instances(news, limits=limits)
            self.engine.wake()
            return iids
        lease = engine.lease_for_new()
        iids = await self.store.create_instances(news, lease, limits)
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
        info = self._servable(workflow)
        if not items:
            raise WorkflowError("batchCreate should have at least 1 instance")
        if len(items) > MAX_BATCH_SIZE:
            raise WorkflowError("batchCreate only supports 100 instances at a time")
        result, news, positions, seen = BatchResult(), [], [], set()
        now = self.clock.now_ms()
        for index, item in enumerate(items):
            instance_id = item.get("id") or new_instance_id()
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
        await self.versions.record(info.version_id, now)
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

    async def find(self, workflow: str, instance_id: str) -> InstanceRecord | None:
        """The instance, or None: a lookup that may find it gone."""
        self.info(workflow)
        return await self.store.get_instance(workflow, instance_id)

    async def latest(self, workflow: str) -> InstanceRecord:
        """The newest instance of ``workflow`` (SPEC A9)."""
        self.info(workflow)
        record = await self.store.latest_instance(workflow)
        if record is None:
            raise NotFoundError(f'There are no instances in workflow "{workflow}"')
        return record

    async def record(self, workflow: str, instance_id: str) -> InstanceRecord:
        """``get``, with ``latest`` meaning the newest instance."""
        if instance_id == "latest":
            return await self.latest(workflow)
        return await self.get(workflow, instance_id)

    async def resolve(self, workflow: str, instance_id: str) -> InstanceSummary:
        return _summary(await self.record(workflow, instance_id))

    async def status(self, workflow: str, instance_id: str) -> StatusView:
        record = await self.get(workflow, instance_id)
        return status_view(record, await self.store.read_log(record.iid))

    async def describe(self, workflow: str, instance_id: str) -> InstanceDetails:
        if self.engine.failure is not None:
            # The engine in this process (``trigger --wait``'s) stopped on its own (its state
            # directory was deleted, say): the instance cannot get anywhere from here.
            raise PyflowError(self.engine.failure)
        record = await self.record(workflow, instance_id)
        log = await self.store.read_log(record.iid)
        ids = {record.version_id, *(row.version for row in log)} - {None}
        details = instance_details(record, log, await self.store.read_timers(record.iid),
                                   await self.versions.labels(ids))
        return {"id": record.id, **details}

    async def list_instances(self, workflow: str, *, status: str | None = None, page: int = 1,
                             per_page: int = 25, created_from_ms: float | None = None,
                             created_to_ms: float | None = None, newest_first: bool = True,
                             id_prefix: str | None = None, text: str | None = None,
                             version: str | None = None) -> InstanceList:
        """A page of instances; ``id_prefix``, ``text`` (in params, output or error) and
        ``version`` (a label such as ``v2``, or a version id) narrow it."""
        self.info(workflow)
        statuses = [InstanceStatus(status)] if status else []
        version_id = await self.versions.id_of(version) if version is not None else None
        found = await self.store.list_instances(
            workflow, statuses=statuses, created_from_ms=created_from_ms,
            created_to_ms=created_to_ms, offset=(page - 1) * per_page, limit=per_page,
            newest_first=newest_first, id_prefix=id_prefix, text=text, version_id=version_id)
        return InstanceList([_summary(record) for record in found.records], found.total)

    async def read_log(self, workflow: str, instance_id: str,
                       after_seq: int = 0) -> list[LogEvent]:
        record = await self.record(workflow, instance_id)
        return await self.store.read_log(record.iid, after_seq)

    async def engines(self) -> list[EngineView]:
        return engine_views(await self.store.list_engines(),
                            self.engine.id if self.engine.started else None)

    async def engine_attached(self) -> bool:
        if self.runs_engine_here:
            return True
        now = self.clock.now_ms()
        return any(engine.heartbeat_ms > now - ENGINE_STALE_MS
                   and process_alive(engine.pid, engine.host)
                   for engine in await self.store.list_engines())

    @property
    def runs_engine_here(self) -> bool:
        return self.engine.started

    async def list_versions(self, count: bool = True) -> list[VersionRecord]:
        """The versions of the code this store has seen, oldest first, with instance counts
        (unless not ``count``)."""
        return await self.store.list_versions(count)

    async def metrics(self, workflow: str, since: str | None = None,
                      bucket: str | None = None) -> WorkflowMetrics:
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

    # -- retention -----------------------------------------------------------------------------------
    async def count_finished_before(self, workflow: str, ended_before_ms: float,
                                    statuses: Sequence[str] = ()) -> int:
        """How many finished instances of ``workflow`` ended before ``ended_before_ms``."""
        self.info(workflow)
        return await self.store.count_purgeable(purge_query(ended_before_ms, workflow, statuses))

    async def delete_finished_before(self, workflow: str, ended_before_ms: float,
                                     statuses: Sequence[str] = ()) -> int:
        """Delete the finished instances of ``workflow`` (with ``statuses``: only those) that
        ended before ``ended_before_ms``, in bounded batches; returns how many."""
        self.info(workflow)
        return await purge(self.store, purge_query(ended_before_ms, workflow, statuses))

    # -- events --------------------------------------------------------------------------------------
    async def send_event(self, workflow: str, instance_id: str, event_type: str,
                         payload: Any = None) -> None:
        record = await self.record(workflow, instance_id)
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
        self.engine.deliver(record.iid, InboxEvent(seq, event_type, payload_json, now))
        self.engine.wake()

    # -- control -------------------------------------------------------------------------------------
    async def pause(self, workflow: str, instance_id: str) -> InstanceStatus:
        return await self._control(workflow, instance_id, ControlRequest(ControlAction.PAUSE))

    async def resume(self, workflow: str, instance_id: str) -> InstanceStatus:
        return await self._control(workflow, instance_id, ControlRequest(ControlAction.RESUME))

    async def terminate(self, workflow: str, instance_id: str,
                        rollback: bool = False) -> InstanceStatus:
        """Terminate an unfinished instance; with ``rollback``, after running the rollbacks its
        steps registered (SPEC §2.12), which needs the workflow's code in an engine."""
        return await self._control(workflow, instance_id,
                                   ControlRequest(ControlAction.TERMINATE, rollback=rollback))

    async def restart(self, workflow: str, instance_id: str,
                      from_step: RestartFrom | None = None) -> InstanceStatus:
        return await self._control(workflow, instance_id,
                                   ControlRequest(ControlAction.RESTART, from_step=from_step))

    async def delete(self, workflow: str, instance_id: str) -> None:
        await self._control(workflow, instance_id, ControlRequest(ControlAction.DELETE))

    async def _control(self, workflow: str, instance_id: str,
                       request: ControlRequest) -> InstanceStatus:
        return await self.engine.control(await self.record(workflow, instance_id), request)


def _summary(record: InstanceRecord) -> InstanceSummary:
    return InstanceSummary(record.workflow, record.id, record.status, record.created_ms,
                           record.version_id)
