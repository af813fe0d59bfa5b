"""The API token of a served pyflow (``pyflow serve --api-token`` / ``PYFLOW_API_TOKEN``): who
may use the local API, the explorer, its event stream and the rest of ``/cdn-cgi/``.

``TokenGuard`` is one ASGI middleware in front of the whole app, so no route can forget it.
Every path under ``/cdn-cgi/`` needs one of:

* ``Authorization: Bearer <token>`` — the CLI (``PYFLOW_API_TOKEN``), scripts, curl;
* the explorer's session cookie — a browser signs in once on the login page
  (``/cdn-cgi/local/explorer/login``, a plain form with no script) and gets an ``HttpOnly``,
  ``SameSite=Strict`` cookie for ``/cdn-cgi/`` (``Secure`` over HTTPS, as a reverse proxy that
  sends ``X-Forwarded-Proto`` makes it). The cookie holds an HMAC of the token, not the token,
  so it cannot be turned back into a token for the API, and a new token signs every browser out.

Both are compared in constant time (``hmac.compare_digest``). Every other path is the user's
Worker, which stays public. The Host/Origin checks of ``security.py`` still run after this one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import string
from dataclasses import dataclass
from urllib.parse import parse_qs, quote

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pyflow_cli.engine.errors import InvalidInputError
from pyflow_cli.server.explorer.assets import BASE as EXPLORER_PATH
from pyflow_cli.server.explorer.assets import COMMON_HEADERS

TOKEN_ENV = "PYFLOW_API_TOKEN"
MIN_TOKEN_LENGTH = 16
GUARDED_PREFIX = "/cdn-cgi/"
LOGIN_PATH = EXPLORER_PATH + "login"
COOKIE = "pyflow_explorer"
_TOKEN_CHARACTERS = frozenset(string.ascii_letters + string.digits + string.punctuation)
_COOKIE_CONTEXT = b"pyflow explorer session v1"
_LOGIN_BODY_LIMIT = 4096
_API_PATH = EXPLORER_PATH + "api"


@dataclass(frozen=True)
class ApiToken:
    """A server's token; ``repr`` never shows it."""

    secret: str

    def __repr__(self) -> str:
        return "ApiToken(***)"

    @classmethod
    def parse(cls, text: str) -> ApiToken:
        """The token from ``--api-token`` or the environment (surrounding whitespace, such as the
        newline of a file it was read from, is dropped); refused if too short to resist guessing
        or not fit for an HTTP header."""
        token = text.strip()
        if len(token) < MIN_TOKEN_LENGTH:
            raise InvalidInputError(
                f"The API token has {len(token)} characters; use at least {MIN_TOKEN_LENGTH} "
                "random ones, e.g. from `python -c \"import secrets; "
                "print(secrets.token_urlsafe(32))\"`.")
        if not set(token) <= _TOKEN_CHARACTERS:
            raise InvalidInputError("The API token may hold only printable ASCII characters and "
                                    "no spaces (it is sent in an HTTP header).")
        return cls(token)

    def matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self.secret.encode())

    @property
    def cookie_value(self) -> str:
        """What the explorer's session cookie holds: an HMAC of the token."""
        return hmac.new(self.secret.encode(), _COOKIE_CONTEXT, hashlib.sha256).hexdigest()

    def cookie_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self.cookie_value.encode())

    def admits(self, headers: Headers) -> bool:
        """Whether a request with these headers carries the token or the session cookie."""
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.matches(credentials.strip()):
            return True
        cookie = _cookie(headers.get("cookie", ""), COOKIE)
        return cookie is not None and self.cookie_matches(cookie)


class TokenGuard:
    """Refuses every request that does not carry the token (401), and serves the explorer's
    login page. It wraps pyflow's own app, which answers ``/cdn-cgi/`` (``app.py`` sends every
    other path to the Worker)."""

    def __init__(self, app: ASGIApp, token: ApiToken) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if scope["path"] == LOGIN_PATH:
            response = await self._login(request)
        elif self.token.admits(request.headers):
            await self.app(scope, receive, send)
            return
        else:
            response = _unauthorized(request)
        await response(scope, receive, send)

    async def _login(self, request: Request) -> Response:
        target = _safe_next(request.query_params.get("next", ""))
        if request.method in ("GET", "HEAD"):
            return _login_page(target)
        if request.method != "POST":
            return PlainTextResponse("Use GET or POST.", status_code=405,
                                     headers={"Allow": "GET, HEAD, POST"})
        refusal = _cross_site(request)
        if refusal is not None:
            return PlainTextResponse(refusal, status_code=403, headers=COMMON_HEADERS)
        body = await _small_body(request)
        if body is None:
            return PlainTextResponse("The login form is larger than it can be.", status_code=413)
        fields = parse_qs(body.decode("utf-8", "replace"))
        target = _safe_next((fields.get("next") or [target])[0])
        if not self.token.matches((fields.get("token") or [""])[0].strip()):
            # The form again, with why: a 200, as a form shown again is (a 401 would read to
            # the browser as a failed resource, and the refusal is on the page).
            return _login_page(target, "That is not this server's API token.")
        response = RedirectResponse(target, status_code=303, headers=COMMON_HEADERS)
        response.set_cookie(COOKIE, self.token.cookie_value, path=GUARDED_PREFIX, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        return response


def _unauthorized(request: Request) -> Response:
    headers = {**COMMON_HEADERS, "WWW-Authenticate": 'Bearer realm="pyflow"'}
    message = ("This pyflow server needs its API token: send `Authorization: Bearer <token>` "
               f"(pyflow's commands send ${TOKEN_ENV}), or sign in at {LOGIN_PATH}.")
    path = request.url.path
    if path == _API_PATH or path.startswith(_API_PATH + "/"):
        error = {"code": 10000, "message": f"Authentication error: {message}",
                 "pyflow_code": "pyflow.unauthorized"}
        return JSONResponse({"success": False, "errors": [error], "messages": [], "result": None},
                            status_code=401, headers=headers)
    if request.method in ("GET", "HEAD") and "text/html" in request.headers.get("accept", ""):
        # A browser opening an explorer page: to the login form, and back here after.
        target = path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='/')}", status_code=303,
                                headers=headers)
    return PlainTextResponse(message, status_code=401, headers=headers)


def _cross_site(request: Request) -> str | None:
    """Why a login POST is refused as sent from another site's page, or None: it must come from
    this server's own login page (or a client that is not a browser)."""
    site = request.headers.get("sec-fetch-site")
    if site not in (None, "same-origin", "none"):
        return f"A page on another site sent this login (Sec-Fetch-Site: {site})."
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin is not None and origin.partition("://")[2].lower() != host.lower():
        return f'A page on another origin ("{origin}") sent this login.'
    return None


async def _small_body(request: Request) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _LOGIN_BODY_LIMIT:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _safe_next(target: str) -> str:
    """Where to go after signing in: an explorer page of this server, never another site."""
    if target.startswith(EXPLORER_PATH) and "//" not in target and "\\" not in target \
            and not target.startswith(LOGIN_PATH):
        return target
    return EXPLORER_PATH


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


_STYLE = ("body{font:16px system-ui,sans-serif;max-width:26rem;margin:12vh auto;padding:0 1rem}"
          "input{font:inherit;width:100%;box-sizing:border-box;margin:.5rem 0;padding:.4rem}"
          "button{font:inherit;padding:.4rem 1rem}.error{color:#b00020}")
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_LOGIN_CSP = ("default-src 'none'; style-src 'sha256-" + _STYLE_HASH + "'; form-action 'self'; "
              "base-uri 'none'; frame-ancestors 'none'")


def _login_page(target: str, error: str = "") -> HTMLResponse:
    shown_error = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>pyflow — sign in</title><style>{_STYLE}</style></head><body>"
        "<h1>pyflow</h1><p>This server needs its API token.</p>" + shown_error +
        f'<form method="post" action="{html.escape(LOGIN_PATH)}">'
        f'<input type="hidden" name="next" value="{html.escape(target)}">'
        '<label for="token">API token</label>'
        '<input id="token" name="token" type="password" autocomplete="current-password" '
        "required autofocus><button type=\"submit\">Sign in</button></form></body></html>")
    # same-origin, not the explorer's no-referrer: under no-referrer a browser sends the form's
    # POST with "Origin: null", which the check against other sites' pages must refuse.
    headers = {**COMMON_HEADERS, "Content-Security-Policy": _LOGIN_CSP, "Cache-Control": "no-store",
               "Referrer-Policy": "same-origin"}
    return HTMLResponse(body, headers=headers)
