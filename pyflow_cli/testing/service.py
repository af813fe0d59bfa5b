"""The ``WorkflowService`` of a test environment: what introspection adds to creating instances.

An instance created while its workflow is introspected (``introspect_workflow``) receives the
session's modifications before its first lifetime runs, and events mocked before an instance
exists are sent to it as soon as it is created — whichever way it is created: the test's own
calls, a binding in the Worker's ``fetch`` handler, a cron handler.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pyflow_cli.engine.errors import NotFoundError
from pyflow_cli.engine.events import TriggerSource
from pyflow_cli.service import BatchResult, WorkflowService
from pyflow_cli.testing.registry import MockedEvent, Operation, Registry

if TYPE_CHECKING:
    from pyflow_cli.testing.env import WorkflowTestEnv


class TestService(WorkflowService):
    __test__ = False  # not a pytest test class, whatever its name

    registry: Registry
    test_env: WorkflowTestEnv  # whose clock the introspectors' waiting helpers move

    async def create(self, workflow: str, instance_id: str | None = None, params: Any = None,
                     trigger: TriggerSource = TriggerSource.API) -> str:
        created = await super().create(workflow, instance_id, params, trigger)
        await self._created(workflow, [created])
        return created

    async def create_batch(self, workflow: str, items: Sequence[Mapping[str, Any]],
                           trigger: TriggerSource = TriggerSource.API) -> BatchResult:
        result = await super().create_batch(workflow, items, trigger)
        await self._created(workflow, result.created)
        return result

    async def _created(self, workflow: str, instance_ids: list[str]) -> None:
        # The new instances have not run yet: the engine only starts them at the loop's next
        # turn, and nothing here waits before their modifiers are in place.
        session = self.registry.session(workflow)
        for instance_id in instance_ids:
            state = self.registry.state(workflow, instance_id)
            if session is not None:
                session.instance_ids.append(instance_id)
                for operation in session.operations:
                    if isinstance(operation, MockedEvent):
                        state.pending_events.append(operation)
                    else:
                        operation(state.modifiers)
        for instance_id in instance_ids:
            state = self.registry.state(workflow, instance_id)
            events, state.pending_events = state.pending_events, []
            for event in events:
                await self.send_event(workflow, instance_id, event.type, event.payload)

    async def apply(self, workflow: str, instance_id: str, operation: Operation) -> None:
        """Apply one modification to an instance, created or not yet."""
        state = self.registry.state(workflow, instance_id)
        if not isinstance(operation, MockedEvent):
            operation(state.modifiers)
        elif await self.store.get_instance(workflow, instance_id) is None:
            state.pending_events.append(operation)
        else:
            await self.send_event(workflow, instance_id, operation.type, operation.payload)

    async def dispose(self, workflow: str, instance_id: str) -> None:
        """Wipe an instance and what the test changed about it."""
        self.registry.forget(workflow, instance_id)
        with contextlib.suppress(NotFoundError):
            await self.delete(workflow, instance_id)
