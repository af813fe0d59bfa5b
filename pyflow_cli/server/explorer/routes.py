"""The explorer's HTTP routes (Starlette routing): its page, its files, and the rest of
``/cdn-cgi/``, which belongs to pyflow and never reaches the Worker; and the local API routes the
page reads, which ``server.routes`` serves under ``/cdn-cgi/local/explorer/api``.

    /cdn-cgi/local/explorer/                          the page (also each of its own paths)
    /cdn-cgi/local/explorer/static/<file>             its scripts, styles and vendored libraries
    /cdn-cgi/explorer, /cdn-cgi/local/explorer        redirect to the page
    /cdn-cgi/<anything else>                          404
    API /stream                                       Server-Sent Events (``live``)
    API /workflows/:wf/metrics                        metrics over a window (``pyflow_cli.metrics``)
    API /storage/kv/..., r2/..., d1/..., local/..., workflows/:wf/events
                                                      local data (``kv_api``, ``r2_api``,
                                                      ``d1_api``, ``local_api``)

Every route answers only requests that pass the local API's Host/Origin checks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from pyflow_cli.engine.errors import InvalidInputError, NotFoundError
from pyflow_cli.server.envelope import FAILED, NOT_FOUND, failure, success
from pyflow_cli.server.explorer.assets import BASE, COMMON_HEADERS, STATIC_PREFIX, Page, asset, page
from pyflow_cli.server.explorer.d1_api import d1_routes
from pyflow_cli.server.explorer.handlers import Routes
from pyflow_cli.server.explorer.kv_api import kv_routes
from pyflow_cli.server.explorer.live import LiveHub
from pyflow_cli.server.explorer.local_api import local_routes
from pyflow_cli.server.explorer.platform_api import platform_routes
from pyflow_cli.server.explorer.r2_api import r2_routes
from pyflow_cli.server.routes import Answers, ApiRoute
from pyflow_cli.server.security import LocalOnly, request_refusal
from pyflow_cli.service import WorkflowService

if TYPE_CHECKING:
    from pyflow_cli.server.runtime import DevRuntime

CDN_CGI = "/cdn-cgi/"
EXPLORER_PATH = BASE
PAGE_PATHS = {"": "home", "workflows/{workflow}": "workflow", "workflows/{workflow}/metrics": "metrics",
              "workflows/{workflow}/events": "events",
              "workflows/{workflow}/instances/{instance_id}": "instance",
              "kv/{namespace}": "kv", "r2/{bucket}": "r2", "d1/{database}": "d1", "crons": "crons"}
"""The page's own paths under ``EXPLORER_PATH`` and their views (the page routes itself); any
other path there is a 404."""

Endpoint = Callable[[Request], Awaitable[Response]]


def explorer_routes(policy: LocalOnly) -> list[BaseRoute]:
    """The page's routes (its views, its files, the short paths that redirect to it)."""

    def local(endpoint: Endpoint) -> Endpoint:
        async def checked(request: Request) -> Response:
            refused = request_refusal(policy, request)
            if refused is None:
                return await endpoint(request)
            return PlainTextResponse(refused[1], status_code=refused[0])

        return checked

    def explorer_page(view: str) -> Endpoint:
        async def serve(request: Request) -> Response:
            return page_response(request, page(view))

        return serve

    def page_response(request: Request, shown: Page) -> Response:
        headers = {**COMMON_HEADERS, "Content-Security-Policy": shown.csp,
                   "Cache-Control": "no-cache", "ETag": shown.etag}
        if request.headers.get("if-none-match") == shown.etag:
            return Response(status_code=304, headers=headers)
        return Response(shown.body, media_type="text/html; charset=utf-8", headers=headers)

    async def static(request: Request) -> Response:
        found = asset(request.path_params["path"])
        if found is None:
            return PlainTextResponse("Not found", status_code=404, headers=COMMON_HEADERS)
        current = request.query_params.get("v") == found.etag.strip('"')[:12]
        # A versioned address (what the page uses) never changes content: keep it for good.
        cache = "public, max-age=31536000, immutable" if current else "no-cache"
        headers = {**COMMON_HEADERS, "Cache-Control": cache, "ETag": found.etag}
        if request.headers.get("if-none-match") == found.etag:
            return Response(status_code=304, headers=headers)
        return Response(found.body, media_type=found.content_type, headers=headers)

    async def to_explorer(request: Request) -> Response:
        return RedirectResponse(EXPLORER_PATH, status_code=302)

    reading = ["GET", "HEAD"]
    routes: list[BaseRoute] = [
        Route(f"{EXPLORER_PATH}{STATIC_PREFIX}{{path:path}}", local(static), methods=reading)]
    routes += [Route(EXPLORER_PATH + path, local(explorer_page(view)), methods=reading)
               for path, view in PAGE_PATHS.items()]
    routes += [Route(path, local(to_explorer), methods=reading)
               for path in ("/cdn-cgi/explorer", "/cdn-cgi/explorer/", EXPLORER_PATH.rstrip("/"))]
    return routes


def live_routes(service: Callable[[], WorkflowService], hub: LiveHub,
                warn: Callable[[str], None]) -> list[ApiRoute]:
    """The local API routes of the page's live views: the event stream and workflow metrics;
    ``service`` gives the current service (reloads swap it)."""

    async def stream(request: Request) -> Response:
        workflow = request.query_params.get("workflow") or None
        instance_id = request.query_params.get("instance") or None
        if instance_id is not None and workflow is None:
            return failure(400, [{"code": FAILED, "message": "instance: needs workflow as well"}])
        if workflow is not None and workflow not in service().workflows:
            return failure(404, [{"code": NOT_FOUND, "message": f"Workflow '{workflow}' not found."}])
        instances = request.query_params.get("session") != "1"
        return StreamingResponse(
            hub.stream(workflow, instance_id, lambda name: service().status_counts(name), instances),
            media_type="text/event-stream",
            headers={**COMMON_HEADERS, "Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def metrics(request: Request) -> Response:
        workflow = request.path_params["workflow_name"]
        try:
            result = await service().metrics(workflow, request.query_params.get("since"),
                                             request.query_params.get("bucket"))
        except InvalidInputError as exc:
            return failure(400, [{"code": FAILED, "message": exc.message}])
        except NotFoundError:
            return failure(404, [{"code": NOT_FOUND, "message": f"Workflow '{workflow}' not found."}])
        return success(result)

    answers = Answers(warn)
    return [ApiRoute("/stream", {"GET": stream}, answers, include_in_schema=False),
            ApiRoute("/workflows/{workflow_name}/metrics", {"GET": metrics}, answers)]


def binding_routes(runtime: DevRuntime, routes: Routes) -> list[ApiRoute]:
    """The API routes of the explorer's other pages: KV, R2, D1, crons, engines, events, versions
    and purges."""
    return [*kv_routes(runtime, routes), *r2_routes(runtime, routes), *d1_routes(runtime, routes),
            *local_routes(runtime, routes), *platform_routes(runtime, routes)]


class AnyMethod:
    """An endpoint as an ASGI app, so that its route takes every method (``TRACE`` included)
    and the endpoint answers each itself."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.endpoint(Request(scope, receive))
        await response(scope, receive, send)


def cdn_cgi_fallback() -> Route:
    """The last ``/cdn-cgi/`` route: whatever pyflow does not serve there is a 404."""

    async def not_found(request: Request) -> Response:
        return PlainTextResponse(f"No pyflow route for {request.url.path}. Paths under /cdn-cgi/ "
                                 "belong to pyflow and never reach your Worker.", status_code=404)

    return Route(CDN_CGI + "{path:path}", AnyMethod(not_found))
