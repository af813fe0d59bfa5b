"""pyflow: durable Cloudflare-style Workflows for Python, on your own machine.

The names user code needs are importable from here as well as from ``workers`` (which pyflow
points at its compatibility module while it runs a project).
"""

from pyflow_cli.compat.http import Headers, Request, Response
from pyflow_cli.engine.entrypoint import (
    ExecutionContext,
    WorkerEntrypoint,
    WorkflowEntrypoint,
    WorkflowEvent,
)
from pyflow_cli.engine.errors import (
    NonRetryableError,
    PyflowError,
    QueueFullError,
    RateLimitedError,
    TooManyRequestsError,
    WorkflowError,
    WorkflowFatalError,
    WorkflowTimeoutError,
)
from pyflow_cli.engine.step import WorkflowStep

__version__ = "0.1.0"

__all__ = [
    "ExecutionContext",
    "Headers",
    "NonRetryableError",
    "PyflowError",
    "QueueFullError",
    "RateLimitedError",
    "Request",
    "Response",
    "TooManyRequestsError",
    "WorkerEntrypoint",
    "WorkflowEntrypoint",
    "WorkflowError",
    "WorkflowEvent",
    "WorkflowFatalError",
    "WorkflowStep",
    "WorkflowTimeoutError",
    "__version__",
]
