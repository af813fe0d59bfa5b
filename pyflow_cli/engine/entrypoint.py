"""What user code implements and receives: ``WorkflowEntrypoint``, the ``event``, the ``ctx``.

These mirror Cloudflare Python Workflows: ``run(self, event, step)`` on a ``WorkflowEntrypoint``
subclass, ``self.env`` holding bindings and vars, and an ``event`` that is a dict with attribute
access (``event.payload``, ``event.timestamp``, ``event.instanceId``, ``event.workflowName``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pyflow_cli.engine.escapes import reraise_contained
from pyflow_cli.engine.serde import JsonDict


class ExecutionContext:
    """The ``ctx`` given to entrypoint constructors; ``wait_until`` keeps work alive after a reply."""

    def __init__(self) -> None:
        self._pending: set[asyncio.Task[Any]] = set()

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        async def _await() -> Any:
            try:
                return await awaitable
            except BaseException as error:  # a SystemExit here would stop the event loop
                reraise_contained(error)

        task = asyncio.ensure_future(_await())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    waitUntil = wait_until

    def pass_through_on_exception(self) -> None:
        """Accepted for compatibility; there is no origin to fall back to locally."""

    passThroughOnException = pass_through_on_exception


class Env(JsonDict):
    """``self.env``: workflow bindings, ``[vars]`` and secrets, by attribute or key."""


class WorkflowEntrypoint:
    """Base class of a workflow: implement ``async def run(self, event, step)``."""

    ctx: ExecutionContext
    env: Any

    def __init__(self, ctx: ExecutionContext | None = None, env: Any = None) -> None:
        self.ctx = ctx if ctx is not None else ExecutionContext()
        self.env = env if env is not None else Env()

    async def run(self, event: WorkflowEvent, step: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define async def run(self, event, step)")


class WorkerEntrypoint:
    """Base class of the Worker's default export (``class Default(WorkerEntrypoint)``)."""

    ctx: ExecutionContext
    env: Any

    def __init__(self, ctx: ExecutionContext | None = None, env: Any = None) -> None:
        self.ctx = ctx if ctx is not None else ExecutionContext()
        self.env = env if env is not None else Env()


class WorkflowEvent(JsonDict):
    """The event ``run()`` receives: ``payload``, ``timestamp``, ``instanceId``, ``workflowName``."""

    @classmethod
    def build(cls, payload: Any, timestamp: datetime, instance_id: str, workflow: str) -> WorkflowEvent:
        event = cls()
        event["payload"] = payload
        event["timestamp"] = timestamp
        event["instanceId"] = instance_id
        event["workflowName"] = workflow
        return event


IMPLICIT_DEPENDENCIES_DATE = "2026-02-25"
"""From this compatibility date on, Python ``step.do`` infers step dependencies by default."""
IMPLICIT_DEPENDENCIES_FLAG = "python_workflows_implicit_dependencies"

EnvFactory = Callable[[], Mapping[str, Any]]
RunCoroutine = Coroutine[Any, Any, Any]


@dataclass(frozen=True)
class WorkflowDefinition:
    """A workflow the engine can run: its class and the settings from the project config."""

    name: str
    cls: type[WorkflowEntrypoint]
    binding: str = ""
    class_name: str = ""
    script_name: str = ""
    step_limit: int = 10_000
    implicit_dependencies: bool = False
    preserve_non_retryable_message: bool = False
    version_id: str | None = None
    # The project's source directories: tracebacks keep frames under them, shown relative to
    # them. Empty: every frame outside pyflow, the standard library and installed packages.
    source_roots: tuple[str, ...] = ()
    # ``self.env`` of its runs, when its project is not the engine's own (several Worker
    # scripts served by one pyflow dev, ``project/scripts.py``); None: the engine's env.
    env: Callable[[], Env] | None = field(default=None, compare=False)
