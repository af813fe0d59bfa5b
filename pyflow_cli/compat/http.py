"""``Request``, ``Response`` and ``Headers`` as Cloudflare Python Workers show them, in plain Python.

On Cloudflare these wrap the runtime's JavaScript objects. Here a body is whole bytes, so the dev
server can translate to and from ASGI without a JS engine. What user code can observe follows the
real ``workers`` SDK, down to its exception types: what the runtime raises as a JS ``TypeError`` or
``RangeError`` arrives as a Python ``TypeError`` or ``ValueError``, and reading a body twice raises
``OSError``. Worker code catches those, so they are deliberately not ``PyflowError``s.
"""

from __future__ import annotations

import builtins
import copy
import json
import re
from collections.abc import Callable, Coroutine, Mapping
from http import HTTPMethod, HTTPStatus
from typing import Any, ClassVar, Self, TypeAlias, overload
from urllib.parse import urlsplit, urlunsplit

from pyflow_cli.compat.headers import Headers, HeadersInit

__all__ = ["BodyInit", "Headers", "HeadersInit", "Request", "Response"]

_PLAIN_TEXT = "text/plain;charset=UTF-8"
_JSON = "application/json"
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f]")
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_NULL_BODY_STATUSES = frozenset({101, 204, 205, 304})


BodyInit: TypeAlias = str | bytes | None


def _parse_url(url: str, problem: str) -> str:
    """Serialises an absolute URL as the runtime shows it: lower-case host, "/" for no path.

    A relative URL is an error because a Worker has no base URL to resolve it against.
    """
    candidate = url.strip()
    error = TypeError(f"{problem}: {url!r}. Give an absolute URL such as https://example.com/path.")
    if _CONTROL_CHARACTER.search(candidate):
        raise error
    try:
        parts = urlsplit(candidate)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise error from None
    special = parts.scheme in ("http", "https")
    if not parts.scheme or (special and not parts.hostname):
        raise error
    userinfo, at, host_port = parts.netloc.rpartition("@")
    path = parts.path or ("/" if special else "")
    return urlunsplit(parts._replace(netloc=userinfo + at + host_port.lower(), path=path))


def _parse_method(method: str) -> HTTPMethod:
    # Under every compatibility date Python Workers can use, workerd upper-cases any method; the
    # SDK then returns it as http.HTTPMethod, so only methods that enum knows can exist.
    try:
        return HTTPMethod(method.upper())
    except ValueError:
        raise TypeError(
            f"Invalid HTTP method string: {method}. Use one of: {', '.join(HTTPMethod)}."
        ) from None


def _encode(body: BodyInit, headers: Headers) -> builtins.bytes | None:
    """The body as bytes; text without a declared content type is labelled, as JS bodies are."""
    if isinstance(body, str):
        if "content-type" not in headers:
            headers.set("content-type", _PLAIN_TEXT)
        return body.encode()
    if body is not None and not isinstance(body, builtins.bytes):
        raise TypeError(
            f"Unsupported body type: {type(body).__name__}. Pass str or bytes; "
            "for JSON use Response.json(data) or json.dumps(data)."
        )
    return body


class _Message:
    """What a request and a response share: headers and a body that can be read once.

    Reading twice fails, as on Cloudflare, so code that works under pyflow does not break there.
    """

    _KIND: ClassVar[str]
    _USED_MESSAGE: ClassVar[str]

    def __init__(self, headers: Headers, body: builtins.bytes | None) -> None:
        self._headers = headers
        self._body = body
        self._body_used = False

    @property
    def headers(self) -> Headers:
        """The message's headers."""
        return self._headers

    @property
    def body(self) -> builtins.bytes | None:
        """The raw body, or ``None`` when there is none; looking does not consume it.

        On Cloudflare this is a JS ``ReadableStream``; pyflow holds whole bodies, so it is bytes.
        """
        return self._body

    @property
    def body_used(self) -> bool:
        """Whether ``bytes()``, ``text()`` or ``json()`` has consumed the body."""
        return self._body_used

    async def bytes(self) -> builtins.bytes:
        """The body as bytes (empty when there is no body); consumes it."""
        return self._consume()

    async def text(self) -> str:
        """The body decoded like JS ``text()``: UTF-8, any BOM dropped, bad bytes replaced."""
        return self._consume().decode("utf-8-sig", errors="replace")

    def clone(self) -> Self:
        """An independent copy, so the body can be read once from each."""
        if self._body_used:
            raise OSError(self._USED_MESSAGE)
        twin = copy.copy(self)
        twin._headers = Headers(self._headers)
        return twin

    async def _parse_json(self, **kwargs: Any) -> Any:
        text = await self.text()
        try:
            return json.loads(text, **kwargs)
        except json.JSONDecodeError as exc:
            # Still a JSONDecodeError (so a ValueError), which is what the SDK raises.
            raise json.JSONDecodeError(
                f"{self._KIND} body is not valid JSON ({exc.msg})", exc.doc, exc.pos
            ) from exc

    def _consume(self) -> builtins.bytes:
        if self._body_used:
            raise OSError(self._USED_MESSAGE)
        if self._body is None:
            return b""  # a null body never becomes "used", as in JS
        self._body_used = True
        return self._body


class Request(_Message):
    """An HTTP request, as a Python Worker's ``fetch(self, request)`` receives it.

    Built like the SDK's ``Request(input, **options)``: ``input`` is a URL or a request to copy,
    the rest are keyword-only.
    """

    _KIND = "Request"
    _USED_MESSAGE = "Body already used. Call clone() first to read a body more than once."

    def __init__(
        self,
        input: Request | str,
        *,
        method: HTTPMethod | str | None = None,
        headers: HeadersInit | None = None,
        body: BodyInit = None,
    ) -> None:
        if isinstance(input, Request):
            self._url = input.url
            self._method = input.method
            base_headers: HeadersInit = input.headers
            inherited = input._transfer_body() if body is None else None
        else:
            self._url = _parse_url(input, "Invalid URL")
            self._method = HTTPMethod.GET
            base_headers = []
            inherited = None
        if method is not None:
            self._method = _parse_method(method)
        request_headers = Headers(headers if headers is not None else base_headers)
        content = _encode(body, request_headers) if body is not None else inherited
        # As in workerd, a copied GET request may keep its body unless method or body is changed.
        rewritten = method is not None or body is not None
        if rewritten and self._method in (HTTPMethod.GET, HTTPMethod.HEAD) and content is not None:
            raise TypeError("Request with a GET or HEAD method cannot have a body.")
        super().__init__(request_headers, content)

    @classmethod
    def new(cls, input: Request | str, init: Mapping[str, Any] | None = None,
            **options: Any) -> Request:
        """``js.Request.new(url, {"method": ..., "headers": ..., "body": ...})``: the JavaScript
        constructor as Pyodide code calls it (options may also be keywords)."""
        given = {**(init or {}), **options}
        return cls(input, method=given.get("method"), headers=given.get("headers"),
                   body=given.get("body"))

    @property
    def url(self) -> str:
        """The absolute URL, normalised as the runtime shows it (``https://a.example/``)."""
        return self._url

    @property
    def method(self) -> HTTPMethod:
        """The method; an ``http.HTTPMethod``, which compares equal to its name (``"GET"``)."""
        return self._method

    async def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON (keyword arguments go to ``json.loads``); consumes it."""
        return await self._parse_json(**kwargs)

    def __repr__(self) -> str:
        return f"Request(method={str(self._method)!r}, url={self._url!r})"

    def _transfer_body(self) -> builtins.bytes | None:
        # A new Request made from this one takes its body; as in JS, this one is then used up.
        if self._body_used:
            raise TypeError("Cannot reconstruct a Request with a used body.")
        self._body_used = self._body is not None
        return self._body


class _JsonAccessor:
    """Makes ``Response.json`` two things, as in the SDK.

    On the class it builds a JSON response (``Response.json({"ok": True})``, i.e. ``from_json``);
    on an instance it parses the body (``await response.json()``).
    """

    @overload
    def __get__(self, instance: None, owner: type[Response]) -> Callable[..., Response]: ...

    @overload
    def __get__(
        self, instance: Response, owner: type[Response]
    ) -> Callable[..., Coroutine[Any, Any, Any]]: ...

    def __get__(self, instance: Response | None, owner: type[Response]) -> Callable[..., Any]:
        if instance is None:
            return owner.from_json
        return instance._parse_json


class Response(_Message):
    """An HTTP response, as a Python Worker's ``fetch`` returns it."""

    _KIND = "Response"
    _USED_MESSAGE = "Response body is already used. Call clone() first to read it more than once."

    json = _JsonAccessor()

    def __init__(
        self,
        body: BodyInit = None,
        status: HTTPStatus | int | None = None,
        status_text: str = "",
        headers: HeadersInit | None = None,
    ) -> None:
        if not isinstance(body, str | builtins.bytes) and body is not None:
            raise TypeError(
                f"Unsupported type in Response: {type(body).__name__}. Pass str or bytes, "
                "or use Response.json(data) to send JSON."
            )
        code = int(status) if status else HTTPStatus.OK  # the SDK treats 0 as "not given"
        if not 200 <= code <= 599:
            raise ValueError(
                "Responses may only be constructed with status codes in the range 200 to 599, "
                f"inclusive (got {code})."
            )
        if _CONTROL_CHARACTER.search(status_text):
            raise TypeError(f"Invalid statusText: {status_text!r} contains a control character.")
        response_headers = Headers(headers)
        if code in _NULL_BODY_STATUSES:
            if body:
                raise TypeError("Response with null body status (101, 204, 205, or 304) cannot have a body.")
            encoded = None  # workerd tolerates an empty body here and treats it as none
        else:
            encoded = _encode(body, response_headers)
        super().__init__(response_headers, encoded)
        self._status = code
        self._status_text = status_text

    @classmethod
    def new(cls, body: BodyInit = None, init: Mapping[str, Any] | None = None,
            **options: Any) -> Response:
        """``js.Response.new(body, {"status": ..., "statusText": ..., "headers": ...})``: the
        JavaScript constructor as Pyodide code calls it (options may also be keywords)."""
        given = {**(init or {}), **options}
        return cls(body, given.get("status"), given.get("statusText", ""), given.get("headers"))

    @classmethod
    def received(cls, status: int, status_text: str, headers: Headers,
                 body: builtins.bytes | None) -> Self:
        """A response that came over the network (outbound ``fetch``): any status a server
        sends, kept as it is; no body for statuses that have none."""
        response = cls.__new__(cls)
        _Message.__init__(response, headers, None if status in _NULL_BODY_STATUSES else body)
        response._status = status
        response._status_text = status_text
        return response

    @property
    def status(self) -> int:
        """The status code."""
        return self._status

    @property
    def status_text(self) -> str:
        """The reason phrase: the one given, else the standard one for the status (``"OK"``)."""
        if self._status_text:
            return self._status_text
        try:
            return HTTPStatus(self._status).phrase
        except ValueError:
            return ""

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self._status <= 299

    @staticmethod
    def from_json(
        data: Any,
        status: HTTPStatus | int = HTTPStatus.OK,
        status_text: str = "",
        headers: HeadersInit | None = None,
    ) -> Response:
        """A response whose body is ``data`` as JSON; ``Response.json(data)`` is the same call.

        Serialised with ``json.dumps`` defaults, as the SDK does (``{"ok": true}``, spaces and
        ASCII escapes included), and typed ``application/json`` unless ``headers`` say otherwise.
        """
        response_headers = Headers(headers)
        if "content-type" not in response_headers:
            response_headers.set("content-type", _JSON)
        return Response(json.dumps(data), status, status_text, response_headers)

    @staticmethod
    def redirect(url: str, status: HTTPStatus | int = HTTPStatus.FOUND) -> Response:
        """An empty response sending the client to ``url`` with a 301/302/303/307/308 status."""
        code = int(status)
        if code not in _REDIRECT_STATUSES:
            raise ValueError(
                f"{code} is not a redirect status code. It must be one of: 301, 302, 303, 307, or 308."
            )
        location = _parse_url(url, "Unable to parse URL")
        return Response(None, code, headers={"location": location})

    def __repr__(self) -> str:
        content_type = self._headers.get("content-type")
        shown = f", content_type={content_type!r}" if content_type else ""
        return f"Response(status={self._status}{shown})"
