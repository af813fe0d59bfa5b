"""``js`` and ``pyodide`` as user code imports them under pyflow."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from pyflow_cli.compat import output
from pyflow_cli.compat.missing import NotAvailableLocally
from pyflow_cli.engine.running import for_instance
from pyflow_cli.project.imports import install_workers_alias


@pytest.fixture
def lines() -> Iterator[list[tuple[str, str]]]:
    captured: list[tuple[str, str]] = []
    output.set_sink(lambda level, text: captured.append((level, text)))
    yield captured
    output.set_sink(None)


@pytest.fixture
def aliases() -> None:
    """The modules user code imports, as pyflow installs them when it loads a project."""
    install_workers_alias()


def test_user_code_imports_resolve_to_pyflow(aliases: None) -> None:
    import pyodide
    from js import JSON, Date, Headers, Object, Request, Response, console, fetch  # noqa: F401
    from pyodide.ffi import JsProxy, create_once_callable, create_proxy, to_js  # noqa: F401
    from pyodide.http import pyfetch  # noqa: F401
    from workers import Response as WorkersResponse
    from workers import fetch as workers_fetch

    assert Response is WorkersResponse
    assert fetch is workers_fetch
    assert pyodide.ffi is importlib.import_module("pyodide.ffi")


def test_to_js_with_object_from_entries_gives_plain_values_with_attribute_access(
        aliases: None) -> None:
    from js import Object
    from pyodide.ffi import JsProxy, to_js

    value = to_js({"id": "a", "params": {"nested": {"n": 7}, "list": (1, 2)}, "tags": {"x"},
                   "raw": bytearray(b"hi")}, dict_converter=Object.fromEntries)
    assert value == {"id": "a", "params": {"nested": {"n": 7}, "list": [1, 2]}, "tags": {"x"},
                     "raw": b"hi"}
    assert value.params.nested.n == 7
    assert not isinstance(value, JsProxy)
    assert to_js({"a": 1}) == {"a": 1}
    assert to_js({"a": {"b": 1}}, depth=1) == {"a": {"b": 1}}
    when = datetime(2026, 1, 1, tzinfo=UTC)
    assert to_js([when], default_converter=lambda v, convert, cache: v.isoformat()) == [
        "2026-01-01T00:00:00+00:00"]


def test_to_js_values_are_accepted_where_plain_values_are(aliases: None) -> None:
    from js import Object, Response
    from pyodide.ffi import to_js

    response = Response.json(to_js({"ok": True, "items": (1, 2)}, dict_converter=Object.fromEntries))
    assert response.headers.get("content-type") == "application/json"
    assert response.body == b'{"ok": true, "items": [1, 2]}'
    assert Response.new("made", {"status": 201}).status == 201


def test_object_and_json_helpers() -> None:
    from pyflow_cli.compat.js import JSON, Date, Object

    assert Object.fromEntries([["a", 1], ("b", 2)]) == {"a": 1, "b": 2}
    assert Object.keys({"a": 1}) == ["a"] and Object.entries({"a": 1}) == [["a", 1]]
    parsed = JSON.parse('{"user": {"name": "ada"}, "n": [1, null]}')
    assert parsed.user.name == "ada" and parsed.n == [1, None]
    assert JSON.stringify({"a": [1, None], "é": datetime(2026, 1, 1, tzinfo=UTC)}) == (
        '{"a":[1,null],"é":"2026-01-01T00:00:00.000Z"}')
    assert JSON.stringify({"a": 1}, None, 2) == '{\n  "a": 1\n}'
    assert abs(Date.now() - datetime.now(UTC).timestamp() * 1000) < 60_000


def test_url_parts() -> None:
    from pyflow_cli.compat.js import URL

    url = URL.new("https://Example.com:8443/a/b?x=1&x=2&y=#top")
    assert (url.protocol, url.hostname, url.port, url.host) == ("https:", "example.com", "8443",
                                                                "example.com:8443")
    assert (url.pathname, url.search, url.hash) == ("/a/b", "?x=1&x=2&y=", "#top")
    assert url.searchParams.getAll("x") == ["1", "2"] and url.searchParams.get("y") == ""
    assert url.origin == "https://example.com:8443"
    assert URL("/c", "https://example.com/a/b").href == "https://example.com/c"
    with pytest.raises(TypeError, match="Invalid URL"):
        URL("/relative")


def test_console_lines_go_to_the_dev_log_naming_the_instance(lines: list[tuple[str, str]]) -> None:
    from pyflow_cli.compat.js import console

    console.log("hello", {"n": 1}, None, True)
    with for_instance("orders", "abc-1"):
        console.warn("careful")
        console.error("broken", 42)
        console.info("fyi")
    assert lines == [("log", 'hello {"n":1} undefined true'), ("warn", "orders abc-1: careful"),
                     ("error", "orders abc-1: broken 42"), ("info", "orders abc-1: fyi")]


def test_names_pyflow_lacks_import_but_fail_with_one_clear_line(aliases: None) -> None:
    from js import HTMLRewriter  # a Cloudflare global pyflow has no equivalent for
    from pyodide.ffi import run_sync

    for missing, name in ((HTMLRewriter, "js.HTMLRewriter"), (run_sync, "pyodide.ffi.run_sync")):
        with pytest.raises(NotAvailableLocally) as caught:
            missing.new("x")
        assert str(caught.value).startswith(f"{name} is not provided by pyflow")
        assert "\n" not in str(caught.value)
        with pytest.raises(NotAvailableLocally):
            missing()
    import js

    with pytest.raises(NotAvailableLocally, match=r"js\.crypto is not provided by pyflow \(its js "
                                                  r"module has fetch, Object, JSON, console"):
        js.crypto.randomUUID()
    with pytest.raises(AttributeError):
        js.__path__  # noqa: B018  (the import system's probes get a normal AttributeError)


def test_proxies_keep_pyodide_lifetimes() -> None:
    from pyflow_cli.compat.pyodide_ffi import (
        JsException,
        create_once_callable,
        create_proxy,
        destroy_proxies,
    )

    calls: list[Any] = []
    proxy = create_proxy(calls.append)
    proxy(1)
    destroy_proxies([proxy])
    with pytest.raises(JsException, match="already been destroyed"):
        proxy(2)
    once = create_once_callable(calls.append)
    once(3)
    with pytest.raises(JsException, match="called once"):
        once(4)
    assert calls == [1, 3]
