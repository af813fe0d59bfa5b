"""The one API description: ``WorkflowApi``, which ``WorkflowService`` (in this process) and
``DevClient`` (a running ``pyflow dev``, over HTTP) both implement, so the CLI is written once
against it; and the read models its methods return.

Read models are typed: dataclasses for what pyflow itself builds and reads (``WorkflowInfo``,
``InstanceSummary``, ``InstanceList``), ``TypedDict``s for the JSON shapes the local API also
serves (``StatusView``, ``InstanceDetails``, ``WorkflowMetrics``), so each is one value from the
projection (``views.py``, ``metrics.py``) to the renderer, in either process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, Protocol, TypedDict

from pyflow_cli.engine.control import RestartFrom
from pyflow_cli.engine.events import LogEvent, TriggerSource
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.versions import VersionRecord


@dataclass(frozen=True)
class WorkflowInfo:
    """A workflow as the project config declares it."""

    name: str
    class_name: str
    script_name: str
    binding: str = ""
    version_id: str | None = None
    served: bool = True  # False: bound from a Worker (script_name) this process does not serve


@dataclass(frozen=True)
class InstanceSummary:
    """An instance as lists show it, and what resolving an id (``latest`` too) gives."""

    workflow: str
    id: str
    status: InstanceStatus
    created_ms: float
    version_id: str | None = None  # the version of the code it records (engine/versions.py)


@dataclass(frozen=True)
class InstanceList:
    """One page of a workflow's instances, and how many match in all."""

    instances: list[InstanceSummary]
    total: int


# -- the local API's JSON shapes (SPEC §3.4, §5.1) -----------------------------------------------

class EngineView(TypedDict):
    """An engine registered in the store (``pyflow workers list``, ``GET .../local/engines``):
    ``kind`` is the process it runs in (``dev``, ``serve``, ``worker``, ``cli``; None when an
    older pyflow registered it), ``version`` the version id of the user's code it runs."""

    id: str
    kind: str | None
    host: str
    pid: int
    version: str | None
    workflows: list[str]
    started: str | None
    heartbeat: str
    current: bool  # the engine of the process that answers
    alive: bool  # False: its process on this machine is gone (elsewhere: its heartbeat says)


StatusView = TypedDict("StatusView", {
    "status": str,
    "__LOCAL_DEV_STEP_OUTPUTS": list[Any],
    "output": Any,
    "error": NotRequired[dict[str, Any]],
})
"""What ``instance.status()`` returns (a binding's ``status()``)."""


class Attempt(TypedDict):
    """One attempt of a ``do`` step."""

    start: str | None
    end: str | None
    success: bool | None
    error: dict[str, Any] | None
    retryDelayMs: NotRequired[float]
    traceback: NotRequired[dict[str, Any]]
    versionId: NotRequired[str]  # the version of the code it ran on (pyflow's addition)
    version: NotRequired[str | None]  # and its label (v2)
    engine: NotRequired[str]  # the engine that ran it (pyflow's addition)


class StepView(TypedDict):
    """One step of an instance: a ``do`` (``type`` "step"), a ``sleep`` or a ``waitForEvent``;
    the keys after ``type`` belong to one kind or another."""

    name: str | None
    start: str | None
    end: str | None
    type: str
    success: NotRequired[bool | None]  # step
    output: NotRequired[Any]  # step (when it returned a value), waitForEvent
    config: NotRequired[Any]  # step
    attempts: NotRequired[list[Attempt]]  # step
    retryAt: NotRequired[str]  # step, while a retry is due
    finished: NotRequired[bool]  # sleep, waitForEvent
    error: NotRequired[dict[str, Any] | None]  # sleep, waitForEvent
    durationMs: NotRequired[Any]  # sleep
    wakeAt: NotRequired[str]  # sleep, while unfinished
    eventType: NotRequired[Any]  # waitForEvent


class InstanceDetails(TypedDict):
    """An instance in full: the local API's details shape (SPEC §5.1, with pyflow's additions),
    and ``describe``'s (which adds ``id``)."""

    id: NotRequired[str]
    status: str
    params: Any
    queued: str | None
    start: str | None
    end: str | None
    output: Any
    error: dict[str, Any] | None
    steps: list[StepView]
    step_count: int
    versionId: str | None
    version: NotRequired[str | None]  # the label (v2) of versionId
    trigger: dict[str, Any]
    success: bool | None
    created_on: str
    traceback: NotRequired[dict[str, Any]]


class MetricsPoint(TypedDict):
    start: str
    started: int
    succeeded: int
    failed: int
    terminated: int
    wall_time_p50_ms: float | None
    wall_time_p95_ms: float | None


class StepMetrics(TypedDict):
    name: str
    started: int
    failed: int
    failed_attempts: int
    retries: int


class WorkflowMetrics(TypedDict):
    """A workflow's metrics over a time window (``metrics.py``)."""

    workflow: str
    since: str
    until: str
    bucket_ms: float
    totals: dict[str, Any]
    series: list[MetricsPoint]
    steps: list[StepMetrics]


class WorkflowApi(Protocol):
    """Everything a caller asks of pyflow's workflows. Instance ids may be ``latest`` wherever
    an instance is named (the newest instance)."""

    async def list_workflows(self) -> list[WorkflowInfo]: ...

    async def status_counts(self, workflow: str) -> dict[str, int]:
        """Instances per status, every status named."""
        ...

    async def metrics(self, workflow: str, since: str | None = None,
                      bucket: str | None = None) -> WorkflowMetrics: ...

    async def delete_workflow_instances(self, workflow: str) -> list[str]:
        """Delete every instance of ``workflow``; the ids that existed."""
        ...

    async def create(self, workflow: str, instance_id: str | None = None, params: Any = None,
                     trigger: TriggerSource = TriggerSource.API) -> str:
        """Create an instance; its id (generated unless given)."""
        ...

    async def resolve(self, workflow: str, instance_id: str) -> InstanceSummary: ...

    async def status(self, workflow: str, instance_id: str) -> StatusView: ...

    async def describe(self, workflow: str, instance_id: str) -> InstanceDetails: ...

    async def list_instances(self, workflow: str, *, status: str | None = None, page: int = 1,
                             per_page: int = 25, created_from_ms: float | None = None,
                             created_to_ms: float | None = None, newest_first: bool = True,
                             version: str | None = None) -> InstanceList:
        """A page of instances; ``version`` (a label such as ``v2``, or an id) narrows it."""
        ...

    async def list_versions(self, count: bool = True) -> list[VersionRecord]:
        """The versions of the code the store has seen, oldest first, with instance counts
        (0 unless ``count``: counting reads every instance's version)."""
        ...

    async def count_finished_before(self, workflow: str, ended_before_ms: float,
                                    statuses: Sequence[str] = ()) -> int:
        """How many finished instances (with ``statuses``: only those) ended before then."""
        ...

    async def delete_finished_before(self, workflow: str, ended_before_ms: float,
                                     statuses: Sequence[str] = ()) -> int:
        """Delete those instances with all their state, in bounded batches; how many went."""
        ...

    async def read_log(self, workflow: str, instance_id: str,
                       after_seq: int = 0) -> list[LogEvent]:
        """The instance's event-log rows numbered above ``after_seq``, in order."""
        ...

    async def send_event(self, workflow: str, instance_id: str, event_type: str,
                         payload: Any = None) -> None: ...

    async def pause(self, workflow: str, instance_id: str) -> InstanceStatus: ...

    async def resume(self, workflow: str, instance_id: str) -> InstanceStatus: ...

    async def terminate(self, workflow: str, instance_id: str,
                        rollback: bool = False) -> InstanceStatus: ...

    async def restart(self, workflow: str, instance_id: str,
                      from_step: RestartFrom | None = None) -> InstanceStatus: ...

    async def delete(self, workflow: str, instance_id: str) -> None: ...

    async def engines(self) -> list[EngineView]:
        """The engines registered in the store, the answering process's own first, then the
        most recently heard from."""
        ...

    async def engine_attached(self) -> bool:
        """Whether some engine (``pyflow dev``, or one in this process) will run what is
        pending now."""
        ...

    @property
    def runs_engine_here(self) -> bool:
        """Whether an engine runs in this process (``trigger --wait`` without ``pyflow dev``)."""
        ...
