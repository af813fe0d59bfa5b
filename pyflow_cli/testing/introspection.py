"""Introspection for tests (SPEC §7): Cloudflare's ``introspectWorkflowInstance`` and
``introspectWorkflow`` in Python form.

    async with introspect_workflow_instance(env.MY_WORKFLOW, "order-1") as instance:
        await instance.modify(lambda m: m.mock_step_error("charge card", ConnectionError("down"),
                                                          times=2))
        await env.MY_WORKFLOW.create(id="order-1")
        await instance.wait_for_status("complete")
        assert (await instance.get_output())["paid"]

Both are async context managers that dispose of what they introspected when the block ends (an
instance is wiped, as the reference's ``dispose()`` wipes it); ``await
introspect_workflow_instance(...)`` also works, as in ported code. Waiting helpers move the test
env's virtual clock while they wait (see ``WorkflowTestEnv``).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pyflow_cli.engine import serde
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.keys import do_key
from pyflow_cli.engine.modifiers import PREFIX, IntrospectionError
from pyflow_cli.engine.serde import JsonDict
from pyflow_cli.engine.status import STATUS_NAMES, InstanceStatus
from pyflow_cli.engine.store import InstanceRecord
from pyflow_cli.testing.modifier import InstanceModifier, Recording, StepSelector, to_selector
from pyflow_cli.testing.replay import NonDeterminismError
from pyflow_cli.testing.service import TestService

if TYPE_CHECKING:
    from pyflow_cli.testing.env import WorkflowTestEnv

Modification = Callable[[InstanceModifier], Awaitable[None] | None]

# The log row that records an instance entering each status.
_ENTERED = {
    InstanceStatus.RUNNING: EventType.WORKFLOW_RUNNING,
    InstanceStatus.WAITING: EventType.WORKFLOW_WAITING,
    InstanceStatus.PAUSED: EventType.WORKFLOW_PAUSED,
    InstanceStatus.WAITING_FOR_PAUSE: EventType.WORKFLOW_WAITING_FOR_PAUSE,
    InstanceStatus.COMPLETE: EventType.WORKFLOW_SUCCESS,
    InstanceStatus.ERRORED: EventType.WORKFLOW_FAILURE,
    InstanceStatus.TERMINATED: EventType.WORKFLOW_TERMINATED,
}


class StepFailedError(IntrospectionError):
    """``wait_for_step_result``: the step failed (``error`` is its ``{name, message}``)."""

    def __init__(self, target: str, stored: dict[str, Any]) -> None:
        self.error = {"name": stored.get("name"), "message": stored.get("message")}
        super().__init__(f"Step failed: '{target}' raised {self.error['name']}: "
                         f"{self.error['message']}")


def _service_of(binding: object, what: str) -> tuple[TestService, str]:
    service, workflow = getattr(binding, "_service", None), getattr(binding, "_workflow", None)
    if not isinstance(service, TestService) or not isinstance(workflow, str):
        raise TypeError(f"{what} needs a workflow binding of a test environment (the "
                        "workflow_env fixture's env().MY_WORKFLOW, or WorkflowTestEnv.env()'s), "
                        f"got {binding!r}")
    return service, workflow


class _Disposable:
    """Both ``async with x as y`` and ``y = await x``."""

    async def dispose(self) -> None:
        raise NotImplementedError

    def __await__(self) -> Generator[Any, None, Any]:
        return self._itself().__await__()

    async def _itself(self) -> Any:
        return self

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.dispose()


class InstanceIntrospector(_Disposable):
    """Modify one instance (before or after it is created) and wait for what it does."""

    def __init__(self, service: TestService, workflow: str, instance_id: str) -> None:
        self._service = service
        self._workflow = workflow
        self.id = instance_id

    def __repr__(self) -> str:
        return f"<InstanceIntrospector {self._workflow}/{self.id}>"

    @property
    def _env(self) -> WorkflowTestEnv:
        return self._service.test_env

    async def modify(self, fn: Modification) -> InstanceIntrospector:
        """Call ``fn`` with the instance's modifier (``fn`` may be async); returns ``self``."""
        done = fn(InstanceModifier(self._apply))
        if inspect.isawaitable(done):
            await done
        return self

    async def _apply(self, operation: Any) -> None:
        await self._service.apply(self._workflow, self.id, operation)

    async def wait_for_step_result(self, step: StepSelector) -> Any:
        """The result of the selected ``step.do`` once it has one; raises ``StepFailedError`` if
        the step fails."""
        key = do_key(*_name_index(step))

        async def check() -> tuple[bool, Any]:
            record = await self._record()
            if record is None:
                return False, None
            found = (await self._service.store.load_history(record.iid)).steps.get(key.cache_key)
            if found is not None and found.state == "done":
                return True, serde.decode(found.value_json)
            if found is not None and found.state == "failed":
                raise StepFailedError(key.target, json.loads(found.error_json or "{}"))
            if record.status.is_terminal:
                raise IntrospectionError(
                    f"{PREFIX} The Workflow instance {self.id} has reached status "
                    f"'{record.status}' without a result for step '{key.target}'.")
            return False, None

        return await self._env.wait_for(check, lambda: self._stuck(f"step '{key.target}'"))

    async def wait_for_status(self, status: str) -> None:
        """Return once the instance is in ``status`` (or enters it while this waits); raises if
        it reaches a finished status that is not ``status``. ``"queued"`` returns at once."""
        target = _status(status)
        if target is InstanceStatus.QUEUED:
            return
        start = await self._record()
        rows = await self._service.store.read_log(start.iid) if start is not None else []
        since = rows[-1].seq if rows else 0

        async def check() -> tuple[bool, None]:
            record = await self._record()
            if record is None:
                return False, None
            if record.status is target:
                return True, None
            rows = await self._service.store.read_log(record.iid, since)
            if any(row.event == _ENTERED[target] for row in rows):
                return True, None
            if record.status.is_terminal:
                raise IntrospectionError(
                    f"{PREFIX} The Workflow instance {self.id} has reached status "
                    f"'{record.status}'. This is a finite status that prevents it from ever "
                    f"reaching the expected status of '{target}'.")
            return False, None

        await self._env.wait_for(check, lambda: self._stuck(f"status '{target}'"))

    async def get_output(self) -> Any:
        """What ``run()`` returned; the instance must be complete."""
        record = await self._service.get(self._workflow, self.id)
        if record.status is not InstanceStatus.COMPLETE:
            raise IntrospectionError(
                f'Cannot retrieve output: Workflow instance is in status "{record.status}" but '
                'must be "complete" to have an output available')
        return serde.decode(record.output_json) if record.output_json is not None else None

    async def get_error(self) -> JsonDict:
        """``{name, message}`` of the error that ended the instance; it must be errored."""
        record = await self._service.get(self._workflow, self.id)
        if record.status is not InstanceStatus.ERRORED:
            raise IntrospectionError(
                f'Cannot retrieve error: Workflow instance is in status "{record.status}" but '
                'must be "errored" to have error information available')
        error: JsonDict = serde.attrify(json.loads(record.error_json or "{}"))
        return error

    async def dispose(self) -> None:
        """Wipe the instance and what the test changed about it."""
        await self._service.dispose(self._workflow, self.id)

    async def _record(self) -> InstanceRecord | None:
        """The instance as stored (None before it is created); raises ``NonDeterminismError``
        as soon as the replay-safety check has found its ``run()`` misbehaving."""
        problem = self._service.registry.problem(self._workflow, self.id)
        if problem is not None:
            raise NonDeterminismError(problem)
        return await self._service.store.get_instance(self._workflow, self.id)

    async def _stuck(self, wanted: str) -> str:
        record = await self._record()
        if record is None:
            return (f"{PREFIX} The Workflow instance {self.id} was never created: create it (for "
                    f'example env.MY_WORKFLOW.create(id="{self.id}")) before waiting for its '
                    f"{wanted}.")
        return (f"{PREFIX} The Workflow instance {self.id} is '{record.status}' and nothing is "
                f"due to happen: it cannot reach {wanted} on its own (does it wait for an event "
                "that was never sent?).")

    waitForStepResult = wait_for_step_result
    waitForStatus = wait_for_status
    getOutput = get_output
    getError = get_error


class WorkflowIntrospector(_Disposable):
    """Modifications for every instance of a workflow created from now on (by the test, by a
    Worker's ``fetch`` handler, by a cron handler...), and those instances."""

    def __init__(self, service: TestService, workflow: str) -> None:
        self._service = service
        self._workflow = workflow
        self._session = service.registry.start_session(workflow, service.info(workflow).binding)
        self._recording = Recording(self._session.operations)
        self._instances: dict[str, InstanceIntrospector] = {}
        self._disposed = False

    def __repr__(self) -> str:
        return f"<WorkflowIntrospector {self._workflow}>"

    async def modify_all(self, fn: Modification) -> None:
        """Record modifications (``fn`` gets a modifier) for every instance created from now
        on; a mistake in them raises here."""
        done = fn(InstanceModifier(self._recording.record))
        if inspect.isawaitable(done):
            await done

    async def get(self) -> list[InstanceIntrospector]:
        """An introspector for each instance created since this introspector began."""
        for instance_id in self._session.instance_ids:
            if instance_id not in self._instances:
                self._instances[instance_id] = InstanceIntrospector(self._service, self._workflow,
                                                                    instance_id)
        return list(self._instances.values())

    async def dispose(self) -> None:
        """End the session and wipe every instance created during it."""
        if self._disposed:
            return
        self._disposed = True
        try:
            await self.get()
        finally:
            self._service.registry.stop_session(self._session)
        for introspector in self._instances.values():
            await introspector.dispose()
        self._instances.clear()

    modifyAll = modify_all


def introspect_workflow_instance(workflow: Any, instance_id: str) -> InstanceIntrospector:
    """An introspector for the instance ``instance_id`` of ``workflow`` (a binding such as
    ``env.MY_WORKFLOW``); the instance need not exist yet."""
    if not workflow or not instance_id:
        raise IntrospectionError(f"{PREFIX} Workflow binding and instance id are required.")
    service, name = _service_of(workflow, "introspect_workflow_instance()")
    return InstanceIntrospector(service, name, instance_id)


def introspect_workflow(workflow: Any) -> WorkflowIntrospector:
    """An introspector for every instance of ``workflow`` (a binding such as
    ``env.MY_WORKFLOW``) created from now on; one at a time per workflow."""
    if not workflow:
        raise IntrospectionError(f"{PREFIX} Workflow binding is required.")
    service, name = _service_of(workflow, "introspect_workflow()")
    return WorkflowIntrospector(service, name)


def _name_index(step: StepSelector) -> tuple[str, int]:
    selector = to_selector(step)
    return selector.name, selector.index


def _status(status: str) -> InstanceStatus:
    try:
        return InstanceStatus(status)
    except ValueError:
        raise ValueError(f"Unknown status {status!r}: use one of {', '.join(STATUS_NAMES)}"
                         ) from None


introspectWorkflowInstance = introspect_workflow_instance
introspectWorkflow = introspect_workflow
