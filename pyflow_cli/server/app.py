"""The dev server's Starlette app: pyflow's reserved ``/cdn-cgi/`` paths, and the user's Worker
for every other request.

    /cdn-cgi/local/explorer/...              the Local Explorer: page, files, live stream, metrics
    /cdn-cgi/local/explorer/api/...          local API (Host/Origin-checked): workflows, and the
                                             explorer's KV, R2, D1, crons, engines, events
    /cdn-cgi/handler/scheduled?cron=...      run a cron now (also /cdn-cgi/local/scheduled)
    /cdn-cgi/<anything else>                 404: never the Worker
    anything else                            the user's fetch handler
"""

from __future__ import annotations

import time
from http import HTTPStatus

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyflow_cli.server.api import WorkflowRoutes
from pyflow_cli.server.auth import ApiToken, TokenGuard
from pyflow_cli.server.cron_runs import asked_time_ms
from pyflow_cli.server.envelope import FAILED, failure
from pyflow_cli.server.explorer.handlers import Routes
from pyflow_cli.server.explorer.local_api import engines_json
from pyflow_cli.server.explorer.routes import (
    CDN_CGI,
    EXPLORER_PATH,
    AnyMethod,
    binding_routes,
    cdn_cgi_fallback,
    explorer_routes,
    live_routes,
)
from pyflow_cli.server.logs import DevLog
from pyflow_cli.server.routes import LocalApi
from pyflow_cli.server.runtime import DevRuntime
from pyflow_cli.server.security import LocalOnly

SCHEDULED_PATHS = ("/cdn-cgi/handler/scheduled", "/cdn-cgi/local/scheduled", "/cdn-cgi/mf/scheduled")


def create_app(runtime: DevRuntime, policy: LocalOnly | None = None,
               log: DevLog | None = None, token: ApiToken | None = None) -> ASGIApp:
    """The ASGI app for one dev session; with ``token``, everything under ``/cdn-cgi/`` needs
    it (``auth.TokenGuard``).

    A request for the Worker goes to it straight (after the access log), not through ~40 pyflow
    route patterns and Starlette's middleware first: on a busy server that is most requests.
    Only ``/cdn-cgi/`` paths go through pyflow's Starlette app (``pyflow_app``)."""
    log = log or runtime.log

    async def worker(scope: Scope, receive: Receive, send: Send) -> None:
        response = await runtime.worker.fetch(Request(scope, receive))
        await response(scope, receive, send)

    return AccessLog(PyflowOrWorker(pyflow_app(runtime, policy, log, token), worker), log)


def pyflow_app(runtime: DevRuntime, policy: LocalOnly | None = None,
               log: DevLog | None = None, token: ApiToken | None = None) -> Starlette:
    """pyflow's own app: the local API, the explorer, the cron trigger, the rest of
    ``/cdn-cgi/``."""
    policy = policy or LocalOnly(token_guarded=token is not None)
    log = log or runtime.log

    async def scheduled(request: Request) -> Response:
        refusal = policy.check(request, changes_state=True)  # even a GET fires the cron
        if refusal is not None:
            return PlainTextResponse(refusal, status_code=403)
        cron = request.query_params.get("cron", "")
        time_param = request.query_params.get("time", "")
        as_json = request.query_params.get("format") == "json"
        try:
            scheduled_ms = float(asked_time_ms(time_param)) if time_param else time.time() * 1000
        except ValueError as exc:  # as JSON: the local API's envelope, as its other errors
            if as_json:
                return failure(400, [{"code": FAILED, "message": str(exc)}])
            return PlainTextResponse(str(exc), status_code=400)
        outcome = (await runtime.fire(cron, scheduled_ms)).outcome
        status = 200 if outcome == "ok" else 500
        if as_json:
            return JSONResponse({"outcome": outcome, "noRetry": False}, status_code=status)
        return PlainTextResponse(outcome, status_code=status)

    fallback = cdn_cgi_fallback()

    async def every_other_request(scope: Scope, receive: Receive, send: Send) -> None:
        # A /cdn-cgi/ path no route matched (a path route misses some, e.g. one with a
        # newline): it stays pyflow's.
        await fallback.handle(scope, receive, send)

    local_api = LocalApi([*WorkflowRoutes(runtime.service, log.warn).routes(),
                          *live_routes(lambda: runtime.service, runtime.live, log.warn),
                          *binding_routes(runtime, Routes(log.warn))], policy)
    runtime.live.engines = lambda: engines_json(runtime)
    routes = [*explorer_routes(policy), local_api]
    routes += [Route(path, AnyMethod(scheduled)) for path in SCHEDULED_PATHS]
    routes.append(fallback)
    middleware = [Middleware(TokenGuard, token=token)] if token is not None else []
    app = Starlette(routes=routes, middleware=middleware)
    app.router.default = every_other_request
    app.router.redirect_slashes = False  # a path is answered as it was sent, never redirected
    return app


class PyflowOrWorker:
    """Requests under ``/cdn-cgi/`` (and every other kind of scope) to pyflow's app, every other
    HTTP request to the Worker."""

    def __init__(self, pyflow: ASGIApp, worker: ASGIApp) -> None:
        self.pyflow = pyflow
        self.worker = worker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(CDN_CGI):
            await self.worker(scope, receive, send)
        else:
            await self.pyflow(scope, receive, send)


class AccessLog:
    """One line per request once it is answered: ``GET / 200 OK (3ms)``; the local API's and the
    explorer's at ``debug``, the rest at ``info``."""

    def __init__(self, app: ASGIApp, log: DevLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.log.enabled("info"):  # no line at this level
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, note_status)
        finally:
            path: str = scope["path"]
            level = "debug" if path.startswith(EXPLORER_PATH) else "info"
            if self.log.enabled(level):
                elapsed = (time.perf_counter() - started) * 1000
                getattr(self.log, level)(
                    f"{scope['method']} {path} {status} {_phrase(status)} ({elapsed:.0f}ms)")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
