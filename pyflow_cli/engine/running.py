"""Which instance the code running now belongs to: set by the engine around every lifetime, so
that what user code prints (``console.log``, outbound ``fetch`` lines) names its instance."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import Context, ContextVar, copy_context
from dataclasses import dataclass


@dataclass(frozen=True)
class RunningInstance:
    workflow: str
    id: str

    def __str__(self) -> str:
        return f"{self.workflow} {self.id}"


current_instance: ContextVar[RunningInstance | None] = ContextVar("pyflow_instance", default=None)


def context_for(workflow: str, instance_id: str) -> Context:
    """A copy of the current context in which ``current_instance`` is that instance (for a task
    that runs it)."""
    context = copy_context()
    context.run(current_instance.set, RunningInstance(workflow, instance_id))
    return context


@contextlib.contextmanager
def for_instance(workflow: str, instance_id: str) -> Iterator[None]:
    """``current_instance`` is that instance inside the block (for work done in the caller's
    task, such as rollbacks a terminate runs)."""
    token = current_instance.set(RunningInstance(workflow, instance_id))
    try:
        yield
    finally:
        current_instance.reset(token)
