"""``workers`` for user code: what ``from workers import ...`` gives under pyflow.

The real ``workers`` package only works inside Cloudflare's runtime; when pyflow loads a project it
makes ``import workers`` resolve here (see ``pyflow_cli.project.loader``).
"""

from pyflow_cli.compat import workflows
from pyflow_cli.compat.fetch import FetchResponse, fetch
from pyflow_cli.compat.http import Headers, Request, Response
from pyflow_cli.engine.entrypoint import ExecutionContext, WorkerEntrypoint, WorkflowEntrypoint
from pyflow_cli.engine.errors import NonRetryableError

__all__ = [
    "ExecutionContext",
    "FetchResponse",
    "Headers",
    "NonRetryableError",
    "Request",
    "Response",
    "WorkerEntrypoint",
    "WorkflowEntrypoint",
    "fetch",
    "workflows",
]
