"""``workers.workflows`` for user code: the names Cloudflare Python Workflows exports there."""

from pyflow_cli.engine.entrypoint import WorkflowEntrypoint, WorkflowEvent
from pyflow_cli.engine.errors import NonRetryableError
from pyflow_cli.engine.step import WorkflowStep

__all__ = ["NonRetryableError", "WorkflowEntrypoint", "WorkflowEvent", "WorkflowStep"]
