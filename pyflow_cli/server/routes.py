"""The local API's routing: one Starlette ``Router`` for every route under ``API_PATH``
(workflows, the explorer's stream and metrics, local data), matched on the path as it was sent.

Starlette matches the percent-decoded ``path``, in which an instance id ``a/b`` (sent as ``a%2Fb``)
would be two segments. The local API matches the raw path instead and decodes each parameter on
its own: ``{name}`` is exactly one segment (``a%2Fb`` is the id ``a/b``; ``..`` is an id too),
``{name:rest}`` the rest of the path (a KV key or R2 object key may hold slashes).

Every request passes the checks of ``security`` first; ``OPTIONS`` is the CORS preflight on any
path. A path no route has is a 404, a method its route does not take a 405 naming the methods it
takes (``HEAD`` wherever ``GET`` is); both in the API's envelope.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

from pyflow_cli.engine.errors import error_code
from pyflow_cli.server.envelope import (
    FAILED,
    UNHANDLED,
    ApiError,
    MethodNotAllowed,
    failure,
)
from pyflow_cli.server.openapi import API_PATH
from pyflow_cli.server.security import BodyTooLarge, LocalOnly, request_refusal
from pyflow_cli.server.validation import ValidationFailed

Handler = Callable[[Request], Awaitable[Response]]
_CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "86400",
}
_PLAIN_PARAM = re.compile(r"\{(\w+)\}")


class Segment(Convertor[str]):
    """One segment of the raw path, possibly empty, percent-decoded."""

    regex = "[^/]*"

    def convert(self, value: str) -> str:
        return unquote(value)

    def to_string(self, value: str) -> str:
        return quote(value, safe="")


class Rest(Convertor[str]):
    """The rest of the raw path (at least one character), percent-decoded."""

    regex = ".+"

    def convert(self, value: str) -> str:
        return unquote(value)

    def to_string(self, value: str) -> str:
        return quote(value, safe="/")


register_url_convertor("segment", Segment())
register_url_convertor("rest", Rest())


def _no_mistake(exc: Exception) -> ApiError | None:
    return None


@dataclass(frozen=True)
class Answers:
    """How one group of routes answers: the error boundary, and whether a local page of another
    origin may read the answers (``cors``: the workflows routes, not the local data).

    A handler returns a response or raises ``ApiError``, ``ValidationFailed`` (400) or
    ``BodyTooLarge`` (413); ``mistake`` turns what else a group's caller may cause into an
    ``ApiError``; anything left is a 500 that ``warn`` reports."""

    warn: Callable[[str], None]
    cors: bool = False
    mistake: Callable[[Exception], ApiError | None] = _no_mistake

    async def answer(self, request: Request, handler: Handler) -> Response:
        try:
            response = await handler(request)
        except ApiError as exc:
            response = error_response(exc)
        except ValidationFailed as exc:
            response = failure(400, [{"code": FAILED, "message": m} for m in exc.issues])
        except BodyTooLarge as exc:
            response = failure(413, [{"code": FAILED, "message": str(exc)}])
        except Exception as exc:
            known = self.mistake(exc)
            if known is not None:
                response = error_response(known)
            else:
                self.warn(f"Local API: {request.method} {request.url.path} failed: "
                          f"{type(exc).__name__}: {exc}")
                response = failure(500, [{"code": UNHANDLED, "message": str(exc),
                                          "pyflow_code": error_code(exc)}])
        return shared(request, response) if self.cors else response


class ApiRoute(Route):
    """A local API route: a handler per method (the one for ``GET`` answers ``HEAD``), answered
    through its group's ``Answers``. ``path`` is relative to ``API_PATH``; a plain ``{name}`` in
    it is one segment (``Segment``)."""

    def __init__(self, path: str, handlers: Mapping[str, Handler], answers: Answers, *,
                 include_in_schema: bool = True) -> None:
        self.handlers = dict(handlers)
        self.answers = answers
        self.allowed = allowed_methods(list(handlers))
        super().__init__(_PLAIN_PARAM.sub(r"{\1:segment}", path), self.dispatch,
                         methods=list(handlers), include_in_schema=include_in_schema)

    async def dispatch(self, request: Request) -> Response:
        handler = self.handlers.get("GET" if request.method == "HEAD" else request.method)
        if handler is None:
            exc = MethodNotAllowed(request.method, sent_path(request.scope), self.allowed)
            return shared(request, error_response(exc))
        return await self.answers.answer(request, handler)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.dispatch(Request(scope, receive))
        await response(scope, receive, send)


class LocalApi(BaseRoute):
    """Every request under ``API_PATH``, whatever its method and path (one with a newline too,
    which a ``Mount``'s path pattern does not take), routed by ``router`` on its raw path."""

    def __init__(self, routes: Sequence[BaseRoute], policy: LocalOnly) -> None:
        self.router = Router(routes=list(routes), redirect_slashes=False, default=_no_route)
        self.policy = policy

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            path: str = scope["path"]
            prefix = scope.get("root_path", "") + API_PATH
            if path == prefix or path.startswith(prefix + "/"):
                return Match.FULL, {}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        refused = request_refusal(self.policy, request)
        if refused is not None:
            status, why = refused
            response: Response = failure(status, [{"code": UNHANDLED if status == 403 else FAILED,
                                                   "message": why}])
        elif request.method == "OPTIONS":
            response = Response(status_code=204, headers={
                "Access-Control-Allow-Origin": request.headers.get("origin") or "*", **_CORS_HEADERS})
        else:
            await self.router(_raw_scope(scope), receive, send)
            return
        await response(scope, receive, send)


def allowed_methods(methods: Sequence[str]) -> tuple[str, ...]:
    """A route's methods as an ``Allow`` header lists them: ``HEAD`` right after ``GET``."""
    shown: list[str] = []
    for method in methods:
        shown.append(method)
        if method == "GET":
            shown.append("HEAD")
    return tuple(shown)


def error_response(exc: ApiError) -> JSONResponse:
    """The envelope for ``exc``, with its headers (``Allow`` for a 405, ``Retry-After`` for a
    429)."""
    response = failure(exc.status, [{"code": exc.code, "message": exc.message,
                                     "pyflow_code": exc.reason}])
    response.headers.update(exc.headers)
    if isinstance(exc, MethodNotAllowed):
        response.headers["Allow"] = ", ".join(exc.allowed)
    return response


def shared(request: Request, response: Response) -> Response:
    """``response`` readable by the page that asked (its Origin passed the local API's checks)."""
    origin = request.headers.get("origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
    return response


def sent_path(scope: Scope) -> str:
    """The request's path as it was sent: escapes kept, no query."""
    raw: bytes | None = scope.get("raw_path")
    return raw.decode("latin-1").partition("?")[0] if raw else quote(scope["path"])


def _raw_scope(scope: Scope) -> Scope:
    """``scope`` with the API's part of the path as sent, for routes to match segment by
    segment (the prefix is counted in segments: it may be sent escaped too)."""
    root = scope.get("root_path", "") + API_PATH
    rest = sent_path(scope).split("/")[root.count("/") + 1:]
    return {**scope, "root_path": root, "path": root + "/" + "/".join(rest)}


async def _no_route(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    message = f"No local API route for {request.method} {sent_path(scope)}."
    await shared(request, error_response(ApiError(404, UNHANDLED, message)))(scope, receive, send)
