"""Outbound ``fetch`` for user code: real HTTP (httpx) with Cloudflare's shapes.

``await fetch(url_or_request, method=..., headers=..., body=...)`` — as ``from workers import
fetch`` takes it — or ``await js.fetch(url, {"method": ..., ...})`` — as JavaScript's ``fetch``
takes its init object — both answer a ``FetchResponse``: ``status``, ``ok``, ``status_text``,
``headers``, ``url``, ``redirected`` and ``await text()`` / ``json()`` / ``bytes()``. Redirects
are followed unless ``redirect="manual"``. A request that gets no answer raises ``FetchError``,
both an ``OSError`` (what ``workers.fetch`` raises) and a ``JsException`` (what ``js.fetch``
raises). Every request is a ``debug`` line in the dev log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from http import HTTPMethod
from typing import Any

from pyflow_cli.compat import output
from pyflow_cli.compat.http import Headers, Request, Response
from pyflow_cli.compat.pyodide_ffi import JsException
from pyflow_cli.engine.serde import JsonDict

TIMEOUT_S = 300.0  # no answer within five minutes ends the request
_REDIRECT_MODES = ("follow", "manual", "error")
_in_flight = 0


def in_flight() -> int:
    """How many outbound requests are waiting for their answer right now (a test clock must
    not skip ahead past a step's timeout while real I/O is under way)."""
    return _in_flight


class FetchError(OSError, JsException):
    """An outbound request that got no response (refused, unresolvable, timed out...)."""

    def __init__(self, message: str) -> None:
        OSError.__init__(self, message)
        self.message = message
        self.js_name = "TypeError"  # what JavaScript's fetch rejects with


class HttpStatusError(OSError):
    """``raise_for_status()`` on a 4xx or 5xx response."""


class FetchResponse(Response):
    """A response to an outbound ``fetch``: a ``Response`` plus where it came from."""

    url: str = ""
    redirected: bool = False

    async def _parse_json(self, **kwargs: Any) -> Any:
        # Objects read with attribute access too, as from JavaScript's fetch (``data.name``).
        kwargs.setdefault("object_hook", JsonDict)
        return await super()._parse_json(**kwargs)

    def raise_for_status(self) -> None:
        """Raise ``HttpStatusError`` if the status is 4xx or 5xx, as Pyodide's response does."""
        if 400 <= self.status < 600:
            kind = "Client" if self.status < 500 else "Server"
            raise HttpStatusError(f"{self.status} {kind} Error: {self.status_text} for url: "
                                  f"{self.url}")


async def fetch(resource: Request | str | Any, init: Mapping[str, Any] | None = None, /,
                **options: Any) -> FetchResponse:
    """Send the request and return the response (see the module docstring)."""
    given = {**(init or {}), **options}
    redirect = given.get("redirect") or "follow"
    if redirect not in _REDIRECT_MODES:
        raise TypeError(f'Invalid redirect value {redirect!r}: use "follow", "manual" or "error".')
    request = _request(resource, given)
    return await _send(request, redirect)


def _request(resource: Any, given: Mapping[str, Any]) -> Request:
    if not isinstance(resource, Request | str):
        href = getattr(resource, "href", None)  # a URL object
        if not isinstance(href, str):
            raise TypeError(f"fetch needs a URL string or a Request, got {type(resource).__name__}.")
        resource = href
    method = given.get("method")
    if isinstance(method, HTTPMethod):
        method = method.value
    body = given.get("body")
    if body is not None and not isinstance(body, str | bytes):
        raise TypeError(f"Unsupported body type: {type(body).__name__}. Pass str or bytes; for "
                        "JSON, pass json.dumps(data) with a content-type header.")
    return Request(resource, method=method, headers=given.get("headers"), body=body)


async def _send(request: Request, redirect: str) -> FetchResponse:
    import httpx  # only code that fetches pays for the import

    global _in_flight
    # Yield once before httpx runs. The engine starts a step body eagerly, in the task that
    # called step.do, and carries it on in a task of its own at its first suspension; httpx's
    # cancel scopes (anyio) must be entered and left in one task, so all of httpx's work must
    # come after that hand-over.
    await asyncio.sleep(0)
    method = str(request.method)
    started = time.perf_counter()
    body = await request.bytes() if request.body is not None else None
    _in_flight += 1
    try:
        async with httpx.AsyncClient(follow_redirects=redirect == "follow",
                                     timeout=TIMEOUT_S) as client:
            answer = await client.request(method, request.url, headers=list(request.headers.items()),
                                          content=body)
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        output.emit("debug", f"fetch {method} {request.url} failed: {reason}")
        raise FetchError(f"fetch {method} {request.url} failed: {reason}") from exc
    finally:
        _in_flight -= 1
    elapsed = (time.perf_counter() - started) * 1000
    output.emit("debug", f"fetch {method} {request.url} → {answer.status_code} "
                         f"{answer.reason_phrase} ({elapsed:.0f}ms)")
    if redirect == "error" and answer.is_redirect:
        raise FetchError(f"fetch {method} {request.url} was redirected, and redirect is "
                         '"error"')
    response = FetchResponse.received(answer.status_code, answer.reason_phrase,
                                      _headers(answer.headers.multi_items()),
                                      None if method == "HEAD" else answer.content)
    response.url = str(answer.url)
    response.redirected = bool(answer.history)
    return response


def _headers(pairs: list[tuple[str, str]]) -> Headers:
    headers = Headers()
    for name, value in pairs:
        try:
            headers.append(name, value)
        except TypeError:
            continue  # a header a browser would not accept either
    return headers
