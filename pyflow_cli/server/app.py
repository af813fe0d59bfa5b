"""The dev server's Starlette app: the local explorer API, on-demand cron triggers, and the user's
Worker for every other request.

    /cdn-cgi/local/explorer/api/...          local API (Host/Origin-checked)
    /cdn-cgi/handler/scheduled?cron=...      run a cron now (also /cdn-cgi/local/scheduled)
    anything else                            the user's fetch handler
"""

from __future__ import annotations

import time
from http import HTTPStatus

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from pyflow_cli.server.api import ExplorerApi
from pyflow_cli.server.logs import DevLog
from pyflow_cli.server.openapi import API_PATH
from pyflow_cli.server.runtime import DevRuntime
from pyflow_cli.server.security import LocalOnly

SCHEDULED_PATHS = frozenset({"/cdn-cgi/handler/scheduled", "/cdn-cgi/local/scheduled",
                             "/cdn-cgi/mf/scheduled"})


def create_app(runtime: DevRuntime, policy: LocalOnly | None = None,
               log: DevLog | None = None) -> Starlette:
    """The ASGI app for one dev session."""
    policy = policy or LocalOnly()
    log = log or runtime.log
    api = ExplorerApi(runtime.service, policy, warn=log.warn)

    async def scheduled(request: Request) -> Response:
        refusal = policy.check(request, changes_state=True)  # even a GET fires the cron
        if refusal is not None:
            return PlainTextResponse(refusal, status_code=403)
        cron = request.query_params.get("cron", "")
        time_param = request.query_params.get("time", "")
        scheduled_ms = float(int(time_param)) if time_param.lstrip("-").isdigit() else time.time() * 1000
        ok = await runtime.fire(cron, scheduled_ms)
        status = 200 if ok else 500
        outcome = "ok" if ok else "exception"
        if request.query_params.get("format") == "json":
            return JSONResponse({"outcome": outcome, "noRetry": False}, status_code=status)
        return PlainTextResponse(outcome, status_code=status)

    async def dispatch(request: Request) -> Response:
        started = time.perf_counter()
        path = request.url.path
        if path == API_PATH or path.startswith(API_PATH + "/"):
            response = await api(request)
            level = log.debug
        elif path in SCHEDULED_PATHS:
            response = await scheduled(request)
            level = log.info
        else:
            response = await runtime.worker.fetch(request)
            level = log.info
        elapsed = (time.perf_counter() - started) * 1000
        level(f"{request.method} {path} {response.status_code} {_phrase(response.status_code)} "
              f"({elapsed:.0f}ms)")
        return response

    async def every_request(scope: Scope, receive: Receive, send: Send) -> None:
        response = await dispatch(Request(scope, receive))
        await response(scope, receive, send)

    app = Starlette()
    # Every method and every path (a path route would miss some, e.g. one with a newline).
    app.router.default = every_request
    return app


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
