"""``env.MY_WORKFLOW``: the workflow binding user code calls, shaped like Cloudflare Python's.

    instance = await self.env.MY_WORKFLOW.create(params={"email": "a@b.c"})   # or create({...})
    details = await instance.status()
    await instance.send_event({"type": "approved", "payload": {...}})

Every method is a thin call into ``WorkflowService``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyflow_cli.engine.control import RestartFrom
from pyflow_cli.engine.errors import WorkflowError
from pyflow_cli.engine.events import TriggerSource
from pyflow_cli.engine.limits import is_reserved_instance_id
from pyflow_cli.engine.serde import JsonDict, attrify
from pyflow_cli.service import WorkflowService


class WorkflowInstance:
    """A handle on one instance (``instance.id``, ``await instance.status()``, ...)."""

    def __init__(self, service: WorkflowService, workflow: str, instance_id: str) -> None:
        self._service = service
        self._workflow = workflow
        self.id = instance_id

    def __repr__(self) -> str:
        return f"<WorkflowInstance {self._workflow}/{self.id}>"

    async def status(self) -> JsonDict:
        """``{status, output, error?, __LOCAL_DEV_STEP_OUTPUTS}``, as the local reference returns."""
        result: JsonDict = attrify(await self._service.status(self._workflow, self.id))
        return result

    async def pause(self) -> None:
        await self._service.pause(self._workflow, self.id)

    async def resume(self) -> None:
        await self._service.resume(self._workflow, self.id)

    async def terminate(self, options: Mapping[str, Any] | None = None) -> None:
        """Terminate; ``terminate({"rollback": True})`` runs the registered rollbacks first."""
        await self._service.terminate(self._workflow, self.id,
                                      bool((options or {}).get("rollback", False)))

    async def restart(self, options: Mapping[str, Any] | None = None) -> None:
        """Restart from the beginning, or ``restart({"from": {"name": ..., "count": ..., "type": ...}})``."""
        start = (options or {}).get("from")
        await self._service.restart(self._workflow, self.id,
                                    RestartFrom(**start) if start else None)

    async def send_event(self, event: Mapping[str, Any] | None = None, *, type: str | None = None,
                         payload: Any = None) -> None:
        """``send_event({"type": "approved", "payload": {...}})`` or ``send_event(type=..., payload=...)``."""
        if event is not None:
            type, payload = event.get("type"), event.get("payload")
        if not isinstance(type, str):
            raise TypeError('send_event needs an event type: send_event({"type": "...", "payload": ...})')
        await self._service.send_event(self._workflow, self.id, type, payload)

    async def delete(self) -> None:
        await self._service.delete(self._workflow, self.id)

    sendEvent = send_event


class WorkflowBinding:
    """The object behind ``env.<BINDING>`` for one workflow."""

    def __init__(self, service: WorkflowService, workflow: str,
                 trigger: TriggerSource = TriggerSource.BINDING) -> None:
        self._service = service
        self._workflow = workflow
        self._trigger = trigger

    def __repr__(self) -> str:
        return f"<WorkflowBinding {self._workflow}>"

    async def create(self, options: Mapping[str, Any] | None = None, *, id: str | None = None,
                     params: Any = None) -> WorkflowInstance:
        """Start an instance: ``create()``, ``create({"id": ..., "params": ...})`` or keywords."""
        if options is not None:
            id, params = options.get("id", id), options.get("params", params)
        instance_id = await self._service.create(self._workflow, id, params, self._trigger)
        return WorkflowInstance(self._service, self._workflow, instance_id)

    async def create_batch(self, batch: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> Any:
        """The legacy list form returns handles; ``{"instances": [...]}`` / ``{"count": n}`` return
        ``{"created": [...], "errors": [...]}`` as the reference's newer form does."""
        if isinstance(batch, Mapping):
            items = self._new_style_items(batch)
            result = await self._service.create_batch(self._workflow, items, self._trigger)
            return JsonDict(created=[self._handle(i) for i in result.created],
                            errors=[attrify(e) for e in result.errors])
        result = await self._service.create_batch(self._workflow, list(batch), self._trigger)
        return [self._handle(i) for i in result.created]

    @staticmethod
    def _new_style_items(batch: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        if "instances" in batch:
            instances = batch["instances"]
            if not isinstance(instances, list) or not 1 <= len(instances) <= 100:
                raise WorkflowError("Batch size exceeds maximum allowed", "body")
            for item in instances:
                if isinstance(item.get("id"), str) and is_reserved_instance_id(item["id"]):
                    raise WorkflowError("Instance ID is invalid", "instance.invalid_id")
            return instances
        if "count" in batch:
            count = batch["count"]
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise WorkflowError("count must be a positive integer", "body")
            if count > 100:
                raise WorkflowError("batchCreate only supports 100 instances at a time", "body")
            return [{"params": batch.get("params")} for _ in range(count)]
        raise WorkflowError("Provided argument is invalid", "body")

    async def get(self, instance_id: str) -> WorkflowInstance:
        """A handle on an existing instance; ``InstanceNotFoundError`` (``instance.not_found``)."""
        await self._service.get(self._workflow, instance_id)
        return self._handle(instance_id)

    def _handle(self, instance_id: str) -> WorkflowInstance:
        return WorkflowInstance(self._service, self._workflow, instance_id)

    createBatch = create_batch
