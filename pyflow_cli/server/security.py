"""What keeps the local API local: Host, Origin and fetch-metadata checks, and body limits.

A browser page on any site can send requests to ``http://127.0.0.1:8787``. These checks stop it
from driving pyflow's own routes (the local API, the cron trigger, later the explorer):

* the ``Host`` header must name this machine (a DNS-rebinding attack arrives with the attacker's
  host name);
* an ``Origin`` header, when a browser sends one, must be a local origin (a cross-site request
  carries the other site's origin);
* ``Sec-Fetch-Site: cross-site``, which browsers send with every request a page of another site
  makes, even one with no Origin such as an ``<img>``, is refused;
* a request that changes state must come from this very origin: ``Sec-Fetch-Site`` may only be
  ``same-origin`` or ``none`` (typed into the address bar), and an Origin must be this server's
  own, so a page on another port of localhost (``same-site``) cannot change anything either.

Command-line clients (wrangler, pyflow, curl) send a local Host and neither Origin nor
``Sec-Fetch-Site``, so they pass.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request

from pyflow_cli.engine.limits import MIB, format_size

API_BODY_LIMIT = MIB + 64 * 1024
"""Largest local API request body: the 1 MiB params / event payload limit plus JSON overhead."""
WORKER_BODY_LIMIT = 100 * MIB
"""Largest request body for the user's Worker (Cloudflare's default plan limit)."""
API_JSON_DEPTH_LIMIT = 256
"""Deepest nesting of arrays and objects in a local API request body. Deeper values are refused
before they are parsed: Python walks nested values recursively, and no real params or event
payload comes near this."""
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(rb"[\[\]{}]")

_LOCAL_NAMES = frozenset({"localhost"})
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})


class BodyTooLarge(Exception):
    """A request body is over its limit; the message says how big it was and the limit."""

    def __init__(self, size: int | None, limit: int) -> None:
        shown = f"{format_size(size)}" if size is not None else f"more than {format_size(limit)}"
        super().__init__(f"Request body is {shown}, over the {format_size(limit)} limit. "
                         "Send less data, or pass a reference to it instead.")
        self.size = size
        self.limit = limit


@dataclass(frozen=True)
class LocalOnly:
    """The policy for one server: which Host names count as this machine.

    Loopback names and addresses always do. ``bound_ip``, the address the user chose to listen
    on, does too (an IP literal cannot be DNS-rebound); a wildcard (``0.0.0.0``) adds nothing, so
    binding to every interface does not open the API to the network.

    ``token_guarded``: an API token guards the server (``pyflow serve``, ``auth.py``), so any
    Host name is accepted — a DNS-rebinding page cannot present the token, and the explorer's
    cookie is never sent to another site — and a web page's Origin may also be the server's own
    name as the request's Host gives it (the explorer behind a reverse proxy).
    """

    bound_ip: str = "127.0.0.1"
    extra_hosts: frozenset[str] = frozenset()
    token_guarded: bool = False

    def host_allowed(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        return self.token_guarded or self._names_this_machine(host_header)

    def _names_this_machine(self, host_header: str) -> bool:
        host = _strip_port(host_header).lower()
        if host in _LOCAL_NAMES or host.endswith(".localhost") or host in self.extra_hosts:
            return True
        address = _ip(host)
        if address is None:
            return False
        if address.is_loopback:
            return True
        return self.bound_ip not in _WILDCARDS and address == _ip(self.bound_ip)

    def origin_allowed(self, origin: str | None, host_header: str | None = None) -> bool:
        if origin is None:
            return True
        if origin == "null":
            return False  # sandboxed frames and file:// pages
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False
        if self.token_guarded and host_header and _same_origin(origin, host_header):
            return True
        return self._names_this_machine(parts.netloc)

    def check(self, request: Request, *, changes_state: bool = False) -> str | None:
        """None if the request may use pyflow's routes, else why not (for a 403).

        ``changes_state``: the route writes (any method of the cron trigger; every method but
        GET, HEAD and OPTIONS of the API), so only this server's own origin may call it."""
        host = request.headers.get("host")
        if not self.host_allowed(host):
            return (f'Host "{host}" is not this machine; the local API only answers requests '
                    "addressed to localhost or 127.0.0.1.")
        origin = request.headers.get("origin")
        if not self.origin_allowed(origin, host):
            return (f'Origin "{origin}" is not local; the local API refuses cross-site requests '
                    "from web pages.")
        site = request.headers.get("sec-fetch-site")
        if site == "cross-site" or (changes_state and site not in (None, "same-origin", "none")):
            return (f"A web page on another {'site' if site == 'cross-site' else 'origin'} sent "
                    f"this request (Sec-Fetch-Site: {site}); only this server's own pages and "
                    "command-line clients may " + ("change state." if changes_state else
                                                   "use the local API."))
        if changes_state and origin is not None and not _same_origin(origin, host or ""):
            return (f'Origin "{origin}" is not this server (http://{host}); only its own pages '
                    "and command-line clients may change state.")
        return None


def request_refusal(policy: LocalOnly, request: Request) -> tuple[int, str] | None:
    """Every check a request to the local API and the explorer passes, in this one place:
    ``(HTTP status, why)`` to refuse it, else None. A request that may change state (any
    method but GET, HEAD and OPTIONS) must come from this server's own origin, and from a web
    page only as JSON. (A server's API token is checked before any of this, by ``auth.py``'s
    middleware in front of the whole app.)"""
    refusal = policy.check(request, changes_state=changes_state(request.method))
    if refusal is not None:
        return 403, refusal
    not_json = form_write_refusal(request)
    if not_json is not None:
        return 415, not_json
    return None


def changes_state(method: str) -> bool:
    """Whether a request with this method may change state (a GET or HEAD must not)."""
    return method not in ("GET", "HEAD", "OPTIONS")


def _same_origin(origin: str, host: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def form_write_refusal(request: Request) -> str | None:
    """None unless ``request`` is a state change from a web page that is not declared JSON.

    A plain HTML form can send a cross-site POST without a CORS preflight, but only as
    ``text/plain``, ``application/x-www-form-urlencoded`` or ``multipart/form-data``. Browsers send
    ``Origin`` with every such request, so one that carries an Origin must be
    ``application/json``; command-line clients (no Origin) are not affected.
    """
    if not changes_state(request.method) or "origin" not in request.headers:
        return None
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type == "application/json":
        return None
    shown = content_type or "none"
    return (f"A {request.method} from a web page must send JSON (Content-Type: application/json, "
            f"not {shown}).")


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def is_loopback_bind(ip: str) -> bool:
    """Whether binding to ``ip`` keeps the server on this machine (no warning needed)."""
    if ip in _LOCAL_NAMES:
        return True
    address = _ip(ip)
    return address is not None and address.is_loopback


def json_depth_over(raw: bytes, limit: int) -> bool:
    """Whether the JSON text ``raw`` nests arrays and objects more than ``limit`` levels deep
    (brackets inside strings do not count)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub(b'""', raw)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


async def read_body(request: Request, limit: int) -> bytes:
    """The whole request body, refusing (``BodyTooLarge``) once it passes ``limit`` bytes.

    A declared Content-Length over the limit is refused before anything is read.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(None, limit)
        chunks.append(chunk)
    return b"".join(chunks)
