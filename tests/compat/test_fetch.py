"""Outbound ``fetch`` (``workers.fetch``, ``js.fetch``, ``pyodide.http.pyfetch``): real HTTP
against a local server this test starts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http import HTTPMethod

import pytest
from echo import echo_server

from pyflow_cli.compat import output
from pyflow_cli.compat.fetch import FetchError, HttpStatusError, fetch
from pyflow_cli.compat.http import Request
from pyflow_cli.compat.js import URL, Object
from pyflow_cli.compat.js import fetch as js_fetch
from pyflow_cli.compat.pyodide_ffi import JsException, to_js
from pyflow_cli.compat.pyodide_http import pyfetch
from pyflow_cli.engine.running import for_instance


@pytest.fixture
def lines() -> Iterator[list[tuple[str, str]]]:
    captured: list[tuple[str, str]] = []
    output.set_sink(lambda level, text: captured.append((level, text)))
    yield captured
    output.set_sink(None)


async def test_workers_fetch_sends_method_headers_and_body(echo_url: str) -> None:
    response = await fetch(f"{echo_url}/orders", method=HTTPMethod.POST,
                           headers={"X-Trace": "t1"}, body='{"n": 1}')
    assert (response.status, response.ok, response.status_text) == (200, True, "OK")
    assert response.headers.get("x-echo") == "yes"
    assert response.url == f"{echo_url}/orders" and response.redirected is False
    seen = await response.json()
    assert seen.method == "POST" and seen.path == "/orders" and seen.body == '{"n": 1}'
    assert seen.headers["x-trace"] == "t1"
    assert seen.headers["content-type"] == "text/plain;charset=UTF-8"  # as JS labels text


async def test_js_fetch_takes_an_init_object_and_reads_text_and_bytes(echo_url: str) -> None:
    init = to_js({"method": "PUT", "headers": {"content-type": "application/json"},
                  "body": json.dumps({"a": 1})}, dict_converter=Object.fromEntries)
    response = await js_fetch(f"{echo_url}/put", init)
    copy = response.clone()
    assert json.loads(await response.text())["method"] == "PUT"
    assert (await copy.bytes()).startswith(b"{")


async def test_fetch_takes_a_request_or_a_url_object(echo_url: str) -> None:
    request = Request(f"{echo_url}/from-request", method="DELETE", headers={"x-a": "1"})
    seen = await (await fetch(request)).json()
    assert (seen["method"], seen["headers"]["x-a"]) == ("DELETE", "1")
    seen = await (await pyfetch(URL(f"{echo_url}/from-url").href)).json()
    assert seen["path"] == "/from-url"
    assert (await (await fetch(URL(f"{echo_url}/u"))).json())["path"] == "/u"


async def test_redirects_are_followed_unless_manual(echo_url: str) -> None:
    followed = await fetch(f"{echo_url}/redirect")
    assert followed.redirected and followed.url == f"{echo_url}/landed"
    manual = await fetch(f"{echo_url}/redirect", redirect="manual")
    assert manual.status == 302 and manual.headers.get("location") == "/landed"
    with pytest.raises(FetchError, match='redirect is "error"'):
        await fetch(f"{echo_url}/redirect", redirect="error")


async def test_error_statuses_are_responses_and_raise_for_status_says_so(echo_url: str) -> None:
    response = await fetch(f"{echo_url}/missing")
    assert (response.status, response.ok) == (404, False)
    with pytest.raises(HttpStatusError, match=r"404 Client Error: Not Found for url: .*/missing"):
        response.raise_for_status()


async def test_head_responses_have_no_body(echo_url: str) -> None:
    response = await fetch(f"{echo_url}/h", method="HEAD")
    assert response.status == 200 and response.body is None and await response.text() == ""


async def test_a_request_that_gets_no_answer_fails_as_workers_and_js_code_expect() -> None:
    with echo_server() as url:
        pass  # the port is free again: nothing listens there now
    with pytest.raises(OSError, match=r"^fetch GET .* failed: "):
        await fetch(url)
    with pytest.raises(JsException):
        await js_fetch(url)


async def test_bad_arguments_are_clear_type_errors(echo_url: str) -> None:
    with pytest.raises(TypeError, match="Unsupported body type: dict"):
        await fetch(echo_url, method="POST", body={"a": 1})
    with pytest.raises(TypeError, match="Give an absolute URL"):
        await fetch("/relative")
    with pytest.raises(TypeError, match="GET or HEAD method cannot have a body"):
        await fetch(echo_url, body="x")


async def test_each_request_is_a_debug_line_naming_the_instance(
        echo_url: str, lines: list[tuple[str, str]]) -> None:
    with for_instance("orders", "o-1"):
        await fetch(f"{echo_url}/a")
    await fetch(f"{echo_url}/missing", method="POST", body="x")
    assert [level for level, _ in lines] == ["debug", "debug"]
    assert lines[0][1].startswith(f"orders o-1: fetch GET {echo_url}/a → 200 OK (")
    assert lines[1][1].startswith(f"fetch POST {echo_url}/missing → 404 Not Found (")
