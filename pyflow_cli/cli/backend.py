"""The one seam between the CLI and pyflow: a ``Backend`` the commands call, chosen in ``connect``.

Commands never know what they talk to. Today there is one implementation, ``LocalBackend``: the
project's state store opened in this process (with an in-process engine for ``trigger --wait``).
Changes it writes are picked up by whichever engine runs on that store — a ``pyflow dev`` started
before or after, or the engine of a later ``trigger --wait``.

The seam for the dev server's HTTP client: ``connect`` finds a live dev session with
``read_session(project.root)`` (``.pyflow/dev.json``, its pid checked). That is the single place
to yield the client (``pyflow_cli.client.DevClient``, which has ``WorkflowService``'s methods plus
``read_log`` and ``engine_attached``) instead of a ``LocalBackend``. Nothing else changes.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pyflow_cli.engine.errors import PyflowError
from pyflow_cli.engine.events import LogEvent, TriggerSource
from pyflow_cli.engine.processes import process_alive
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import InstancePage, InstanceRecord

if TYPE_CHECKING:
    from pyflow_cli.engine.control import RestartFrom
    from pyflow_cli.engine.lifetime import EngineOptions
    from pyflow_cli.project.config import ProjectConfig
    from pyflow_cli.service import WorkflowService
    from pyflow_cli.storage.url import StoreLocation
    from pyflow_cli.workspace import Workspace

ENGINE_STALE_MS = 15_000.0  # an engine whose heartbeat is older than this is not running


class Backend(Protocol):
    """Everything the CLI asks of pyflow: ``WorkflowService``'s methods (which ``DevClient``, the
    dev server's HTTP client, also has), plus the event log and whether an engine is attached.
    Instance ids may be ``latest`` everywhere."""

    async def status_counts(self, workflow: str) -> dict[str, int]: ...

    async def delete_workflow_instances(self, workflow: str) -> list[str]: ...

    async def metrics(self, workflow: str, since: str | None = None,
                      bucket: str | None = None) -> dict[str, Any]: ...

    async def create(self, workflow: str, instance_id: str | None = None, params: Any = None,
                     trigger: TriggerSource = TriggerSource.API) -> str: ...

    async def resolve(self, workflow: str, instance_id: str) -> InstanceRecord: ...

    async def describe(self, workflow: str, instance_id: str) -> dict[str, Any]: ...

    async def list_instances(self, workflow: str, *, status: str | None = None, page: int = 1,
                             per_page: int = 25, created_from_ms: float | None = None,
                             created_to_ms: float | None = None,
                             newest_first: bool = True) -> InstancePage: ...

    async def pause(self, workflow: str, instance_id: str) -> InstanceStatus: ...

    async def resume(self, workflow: str, instance_id: str) -> InstanceStatus: ...

    async def terminate(self, workflow: str, instance_id: str,
                        rollback: bool = False) -> InstanceStatus: ...

    async def restart(self, workflow: str, instance_id: str,
                      from_step: RestartFrom | None = None) -> InstanceStatus: ...

    async def send_event(self, workflow: str, instance_id: str, event_type: str,
                         payload: Any = None) -> None: ...

    async def delete(self, workflow: str, instance_id: str) -> None: ...

    async def read_log(self, workflow: str, instance_id: str, after_seq: int = 0) -> list[LogEvent]: ...

    async def engine_attached(self) -> bool:
        """Whether some engine (``pyflow dev``, this process) will run what is pending now."""
        ...


class LocalBackend:
    """``Backend`` over the project's state store, opened in this process."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.service: WorkflowService = workspace.service
        self.in_process_engine = workspace.engine is not None

    async def status_counts(self, workflow: str) -> dict[str, int]:
        return await self.service.status_counts(workflow)

    async def delete_workflow_instances(self, workflow: str) -> list[str]:
        return await self.service.delete_workflow_instances(workflow)

    async def metrics(self, workflow: str, since: str | None = None,
                      bucket: str | None = None) -> dict[str, Any]:
        return await self.service.metrics(workflow, since, bucket)

    async def create(self, workflow: str, instance_id: str | None = None, params: Any = None,
                     trigger: TriggerSource = TriggerSource.API) -> str:
        return await self.service.create(workflow, instance_id, params, trigger)

    async def resolve(self, workflow: str, instance_id: str) -> InstanceRecord:
        return await self.service.resolve(workflow, instance_id)

    async def describe(self, workflow: str, instance_id: str) -> dict[str, Any]:
        engine = self.workspace.engine
        if engine is not None and engine.failure is not None:
            # The engine of `trigger --wait` stopped on its own (its state directory was
            # deleted, say): the instance cannot get anywhere, so following it ends here.
            raise PyflowError(engine.failure)
        return await self.service.describe(workflow, instance_id)

    async def list_instances(self, workflow: str, *, status: str | None = None, page: int = 1,
                             per_page: int = 25, created_from_ms: float | None = None,
                             created_to_ms: float | None = None,
                             newest_first: bool = True) -> InstancePage:
        return await self.service.list_instances(
            workflow, status=status, page=page, per_page=per_page, created_from_ms=created_from_ms,
            created_to_ms=created_to_ms, newest_first=newest_first)

    async def pause(self, workflow: str, instance_id: str) -> InstanceStatus:
        return await self.service.pause(workflow, instance_id)

    async def resume(self, workflow: str, instance_id: str) -> InstanceStatus:
        return await self.service.resume(workflow, instance_id)

    async def terminate(self, workflow: str, instance_id: str,
                        rollback: bool = False) -> InstanceStatus:
        return await self.service.terminate(workflow, instance_id, rollback)

    async def restart(self, workflow: str, instance_id: str,
                      from_step: RestartFrom | None = None) -> InstanceStatus:
        return await self.service.restart(workflow, instance_id, from_step)

    async def send_event(self, workflow: str, instance_id: str, event_type: str,
                         payload: Any = None) -> None:
        await self.service.send_event(workflow, instance_id, event_type, payload)

    async def delete(self, workflow: str, instance_id: str) -> None:
        await self.service.delete(workflow, instance_id)

    async def read_log(self, workflow: str, instance_id: str, after_seq: int = 0) -> list[LogEvent]:
        record = await self.service.resolve(workflow, instance_id)
        return await self.service.store.read_log(record.iid, after_seq)

    async def engine_attached(self) -> bool:
        if self.in_process_engine:
            return True
        now = self.service.clock.now_ms()
        return any(engine.heartbeat_ms > now - ENGINE_STALE_MS and process_alive(engine.pid, engine.host)
                   for engine in await self.service.store.list_engines())


def runs_engine_here(backend: Backend) -> bool:
    """Whether this process runs the backend's engine (``trigger --wait`` without ``pyflow dev``)."""
    return bool(getattr(backend, "in_process_engine", False))


    return True


@contextlib.asynccontextmanager
async def connect(project: ProjectConfig, persist_to: Path | None = None, *, creates: bool = False,
                  engine_options: EngineOptions | None = None,
                  store: StoreLocation | None = None) -> AsyncIterator[Backend]:
    """The backend for ``project`` and its store (``store``, else the project's SQLite file);
    closed on exit.

    ``engine_options`` asks for an engine in this process (``trigger --wait``), loading the user's
    code first, so a broken module fails before anything is written. Unless the command
    ``creates`` instances, a project without a SQLite state database yet is read as an empty one,
    without creating the file (a lookup never writes).
    """
    from pyflow_cli.server.session import read_session
    from pyflow_cli.storage.url import SqliteLocation
    from pyflow_cli.workspace import open_workspace, store_location

    location = store_location(project, persist_to, store)
    session = read_session(project.root)
    if session is not None and session.serves(location):
        # A live `pyflow dev` runs this store: go through its local API, so its engine (the one
        # that holds the instances) applies every change at once.
        from pyflow_cli.client import DevClient

        async with DevClient.from_session(session, config_name=project.config_path.name) as client:
            yield client
        return
    with_engine = engine_options is not None
    with contextlib.ExitStack() as stack:
        if isinstance(location, SqliteLocation) and not creates and not location.path.exists():
            empty = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pyflow-empty-")))
            location = SqliteLocation(empty / location.path.name)
        # An engine's failure ends the command (describe says it), not logged here.
        workspace = await open_workspace(project, persist_to=persist_to, location=location,
                                         with_engine=with_engine, options=engine_options,
                                         on_engine_failure=lambda message: None)
        try:
            yield LocalBackend(workspace)
        finally:
            await workspace.close()
