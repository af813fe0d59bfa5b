"""Runs the user's Worker: ``class Default(WorkerEntrypoint)`` with ``fetch`` / ``scheduled``, or the
legacy module-level ``on_fetch(request, env)`` / ``on_scheduled(controller, env, ctx)``.

Requests and responses are translated between ASGI (Starlette) and Cloudflare Python's
``Request`` / ``Response`` (``pyflow_cli.compat.http``). An exception in user code becomes a 500
for the client and a traceback of the user's own frames in the terminal.
"""

from __future__ import annotations

import functools
import inspect
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pyflow_cli.compat import http
from pyflow_cli.engine.entrypoint import Env, ExecutionContext, WorkerEntrypoint
from pyflow_cli.engine.escapes import UserBaseException, reraise_contained
from pyflow_cli.project.imports import is_project_file
from pyflow_cli.server.logs import DevLog
from pyflow_cli.server.security import WORKER_BODY_LIMIT, BodyTooLarge, read_body

_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection"})


class ScheduledController:
    """What ``scheduled(controller)`` receives: ``cron``, ``scheduledTime`` (epoch ms)."""

    def __init__(self, cron: str, scheduled_time_ms: float) -> None:
        self.cron = cron
        self.scheduledTime = scheduled_time_ms
        self.scheduled_time = scheduled_time_ms

    def noRetry(self) -> None:
        """Accepted for compatibility; local cron runs are never retried."""

    no_retry = noRetry

    def __repr__(self) -> str:
        return f"ScheduledController(cron={self.cron!r}, scheduledTime={self.scheduledTime!r})"


@dataclass(frozen=True)
class WorkerHandlers:
    """The handlers one version of the user's module exports."""

    default: type[WorkerEntrypoint] | None
    on_fetch: Callable[..., Any] | None
    on_scheduled: Callable[..., Any] | None

    @classmethod
    def from_module(cls, module: ModuleType) -> WorkerHandlers:
        default = getattr(module, "Default", None)
        if not (isinstance(default, type) and issubclass(default, WorkerEntrypoint)):
            default = None
        on_fetch = getattr(module, "on_fetch", None)
        on_scheduled = getattr(module, "on_scheduled", None)
        return cls(default, on_fetch if callable(on_fetch) else None,
                   on_scheduled if callable(on_scheduled) else None)

    @property
    def has_scheduled(self) -> bool:
        return self.on_scheduled is not None or (
            self.default is not None and callable(getattr(self.default, "scheduled", None)))


class NoHandlerError(Exception):
    """The module has no handler for an event; the message says what to define."""


class WorkerRunner:
    """Calls the current version's handlers; ``handlers`` is swapped on hot reload."""

    def __init__(self, handlers: WorkerHandlers, env: Callable[[], Env], log: DevLog,
                 project_dirs: Sequence[Path], main_path: str = "the entry module") -> None:
        self.handlers = handlers
        self.env = env
        self.log = log
        self.project_dirs = tuple(project_dirs)
        self.main_path = main_path

    async def fetch(self, request: Request) -> Response:
        try:
            body = await read_body(request, WORKER_BODY_LIMIT)
        except BodyTooLarge as exc:
            return PlainTextResponse(str(exc), status_code=413)
        try:
            compat_request = to_compat_request(request, body)
        except TypeError as exc:
            return PlainTextResponse(f"Bad request: {exc}", status_code=400)
        try:
            result = await self._call("fetch", compat_request)
        except NoHandlerError as exc:
            self.log.error(str(exc))
            return PlainTextResponse(str(exc), status_code=500)
        except Exception as exc:
            self.report(exc, f"{request.method} {request.url.path}")
            name = exc.name if isinstance(exc, UserBaseException) else type(exc).__name__
            return PlainTextResponse(f"{name}: {exc}\n", status_code=500)
        if not isinstance(result, http.Response):
            message = (f"The fetch handler returned {type(result).__name__}, not a Response. "
                       "Return Response(...) or Response.json(...).")
            self.log.error(message)
            return PlainTextResponse(message, status_code=500)
        return to_starlette_response(result)

    async def scheduled(self, cron: str, scheduled_ms: float) -> None:
        """Run the ``scheduled`` handler; errors are reported here and re-raised."""
        try:
            await self._call("scheduled", ScheduledController(cron, scheduled_ms))
        except NoHandlerError:
            raise
        except Exception as exc:
            self.report(exc, f'scheduled handler (cron "{cron}")')
            raise

    async def _call(self, event: str, argument: Any) -> Any:
        handlers = self.handlers
        env, ctx = self.env(), ExecutionContext()
        function: Callable[..., Any] | None
        if handlers.default is not None and callable(getattr(handlers.default, event, None)):
            function = getattr(handlers.default(ctx, env), event)
        else:
            function = handlers.on_fetch if event == "fetch" else handlers.on_scheduled
        if function is None:
            raise NoHandlerError(
                f"The Worker has no {event} handler. Define `class Default(WorkerEntrypoint)` with "
                f"`async def {event}(self, {'request' if event == 'fetch' else 'controller'})` in "
                f"{self.main_path}.")
        try:
            result = function(*_arguments(function, (argument, env, ctx)))
            if inspect.isawaitable(result):
                result = await result
        except BaseException as error:  # sys.exit() in a handler is the handler's failure
            reraise_contained(error)
        return result

    def report(self, exc: BaseException, where: str) -> None:
        """Log an uncaught user exception with the user's own frames only."""
        if isinstance(exc, UserBaseException):
            exc = exc.original
        lines = [f"Uncaught exception in {where}: {type(exc).__name__}: {exc}",
                 *user_traceback(exc, self.project_dirs)]
        self.log.error("\n".join(lines))


def _arguments(function: Callable[..., Any], candidates: tuple[Any, ...]) -> tuple[Any, ...]:
    """As many of (event, env, ctx) as the handler accepts."""
    if inspect.ismethod(function):  # a new bound method per request: its function is the key
        underlying, bound = function.__func__, True
    else:
        underlying, bound = function, False
    try:
        return candidates[:_accepted(underlying, bound)]
    except TypeError:  # an unhashable callable object
        return candidates[:_accepted.__wrapped__(underlying, bound)]


@functools.lru_cache(maxsize=256)
def _accepted(function: Callable[..., Any], bound: bool) -> int:
    """How many positional arguments ``function`` takes (its signature, read once per function:
    reading it on every request cost an eighth of the Worker's own time per request)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())[int(bound):]
    except (TypeError, ValueError):
        return 1
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return 3
    positional = [p for p in parameters
                  if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    return max(1, len(positional))


def user_traceback(exc: BaseException, dirs: Sequence[Path]) -> list[str]:
    """``  File "src/entry.py", line 12, in fetch`` lines for the frames in the project."""
    lines: list[str] = []
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if not is_project_file(path, dirs):
            continue
        shown = next((path.relative_to(d).as_posix() for d in dirs if path.is_relative_to(d)),
                     frame.filename)
        lines.append(f'  File "{shown}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    return lines


def to_compat_request(request: Request, body: bytes) -> http.Request:
    """A Cloudflare-style ``Request`` for a Starlette request whose body was read already."""
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]]
    method = request.method.upper()
    content = body if body and method not in ("GET", "HEAD") else None
    return http.Request(str(request.url), method=method, headers=headers, body=content)


def to_starlette_response(response: http.Response) -> Response:
    """The user's ``Response`` as a Starlette response (repeated headers such as
    ``set-cookie`` kept apart)."""
    result = Response(content=response.body or b"", status_code=response.status)
    result.raw_headers.extend(
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in response.headers.items() if name not in _HOP_BY_HOP)
    return result
