"""The local API's routing, sent as raw paths to the real ASGI app: every path parameter is one
segment of the path as sent, percent-decoded (an instance id ``a/b`` arrives as ``a%2Fb`` and
stays one id), and the route table lists exactly what the served OpenAPI document lists."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest
from serverkit import API

from pyflow_cli.server.app import create_app, pyflow_app
from pyflow_cli.server.routes import ApiRoute, LocalApi
from pyflow_cli.server.runtime import DevRuntime

WF = f"{API}/workflows/steps"
Answer = tuple[int, dict[str, str], bytes]


async def send_raw(runtime: DevRuntime, method: str, raw_path: str, body: bytes = b"",
                   origin: str | None = None) -> Answer:
    """One request to a fresh app, its path exactly as written (httpx would normalise ``..``),
    the way uvicorn hands it over: ``raw_path`` as sent, ``path`` percent-decoded."""
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": unquote(raw_path), "raw_path": raw_path.encode("latin-1"),
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8787),
        "headers": [(b"host", b"127.0.0.1:8787"), (b"content-type", b"application/json"),
                    *([(b"origin", origin.encode())] if origin else [])],
    }
    received = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return received.pop(0) if received else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await create_app(runtime)(scope, receive, send)
    start = sent[0]
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def not_found(instance_id: str) -> dict[str, Any]:
    return {"code": 10501, "message": f"Workflow instance '{instance_id}' not found.",
            "pyflow_code": "instance.not_found"}


@pytest.mark.parametrize(("method", "path", "error"), [
    ("GET", f"{WF}/instances/a%2Fb", not_found("a/b")),
    ("GET", f"{WF}/instances/a%2fb/log", not_found("a/b")),
    ("DELETE", f"{WF}/instances/a%2F..%2Fb", not_found("a/../b")),
    ("POST", f"{WF}/instances/a%2Fb/events/go%2Fnow", not_found("a/b")),
    ("GET", f"{WF}/instances/a%25b", not_found("a%b")),
    ("GET", f"{WF}/instances/a%b", not_found("a%b")),  # not an escape: kept as it is
    ("GET", f"{WF}/instances/%C3%A9t%C3%A9-%E2%9C%93", not_found("été-✓")),
    ("GET", f"{WF}/instances/..", not_found("..")),
    ("GET", f"{WF}/instances/%2E%2E/log", not_found("..")),
    ("GET", f"{WF}/instances/.", not_found(".")),
    ("GET", f"{WF}/instances/", not_found("")),
    ("GET", f"{API}/workflows/steps%2Fx", {
        "code": 10501, "message": "Workflow 'steps/x' not found.", "pyflow_code": "workflow.not_found"}),
    ("GET", f"{API}/workflows/%73teps/instances/a%2Fb", not_found("a/b")),
    ("GET", f"{WF}/instances/a/b", {
        "code": 10000, "message": f"No local API route for GET {WF}/instances/a/b.",
        "pyflow_code": "pyflow.not_found"}),
    ("GET", f"{WF}/instances/../..", {
        "code": 10000, "message": f"No local API route for GET {WF}/instances/../...",
        "pyflow_code": "pyflow.not_found"}),
])
async def test_an_instance_id_is_one_decoded_segment_of_the_path(
        runtime: DevRuntime, method: str, path: str, error: dict[str, Any]) -> None:
    body = b'{"status": "pause"}' if method == "PATCH" else b""
    status, headers, answer = await send_raw(runtime, method, path, body)
    assert status == 404, answer
    assert headers["content-type"] == "application/json"
    assert json.loads(answer) == {"success": False, "errors": [error], "messages": [], "result": None}


async def test_a_percent_encoded_id_reaches_the_instance_it_names(runtime: DevRuntime) -> None:
    status, _, answer = await send_raw(runtime, "POST", f"{WF}/instances", b'{"id": "abc"}')
    assert status == 200, answer
    status, _, answer = await send_raw(runtime, "GET", f"{WF}/instances/%61b%63")
    assert status == 200, answer
    assert json.loads(answer)["result"]["status"] in ("queued", "running", "complete")
    status, _, answer = await send_raw(runtime, "GET", f"{API}/workflows/st%65ps/instances/abc/log")
    assert status == 200, answer


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("POST", f"{WF}/instances/batch%2Fdelete", "GET, HEAD, DELETE"),  # an id, not the batch route
    ("GET", f"{WF}/instances/batch/delete", "POST"),
    ("POST", f"{WF}/instances/%C3%A9/log", "GET, HEAD"),
    ("PATCH", f"{API}/storage/kv/namespaces/ns/values/a%2Fb/c", "GET, HEAD, PUT, DELETE"),
])
async def test_a_method_the_route_does_not_take_names_the_path_as_sent(
        runtime: DevRuntime, method: str, path: str, allowed: str) -> None:
    status, headers, answer = await send_raw(runtime, method, path)
    assert status == 405, answer
    assert headers["allow"] == allowed
    assert json.loads(answer)["errors"][0]["message"] == (
        f"Method {method} is not allowed on {path}; it accepts {allowed}.")


async def test_the_route_table_and_the_served_openapi_document_list_the_same_operations(
        runtime: DevRuntime) -> None:
    app = pyflow_app(runtime)  # create_app's, behind the access log and the Worker's shortcut
    local_api = next(route for route in app.routes if isinstance(route, LocalApi))
    table = {(route.path_format, method.lower())
             for route in local_api.router.routes
             if isinstance(route, ApiRoute) and route.include_in_schema
             for method in route.handlers}
    status, _, answer = await send_raw(runtime, "GET", API)
    assert status == 200
    document = {(path, method) for path, operations in json.loads(answer)["paths"].items()
                for method in operations if method != "parameters"}
    assert table == document
    unlisted = {route.path_format for route in local_api.router.routes
                if isinstance(route, ApiRoute) and not route.include_in_schema}
    assert unlisted == {"/", "/stream"}  # the document itself, and the page's event stream


@pytest.mark.parametrize(("path", "shared"), [
    (f"{API}/workflows", True), (f"{WF}/instances/nope", True), (f"{API}/nope", True),
    (f"{API}/storage/kv/namespaces", False), (f"{API}/local/crons", False),
    (f"{WF}/metrics", False),
])
async def test_a_local_page_of_another_origin_reads_workflows_answers_but_not_local_data(
        runtime: DevRuntime, path: str, shared: bool) -> None:
    origin = "http://localhost:5173"
    status, headers, answer = await send_raw(runtime, "GET", path, origin=origin)
    assert status in (200, 404), answer
    assert headers.get("access-control-allow-origin") == (origin if shared else None)
