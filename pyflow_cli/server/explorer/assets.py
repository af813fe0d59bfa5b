"""The explorer's files, shipped in the package under ``static/``, and the headers they go out with.

The page is plain ES modules, no build step: ``index.html`` carries an import map (so the vendored
Preact modules find each other by name) and preloads every module, so the browser fetches the
whole app at once. Its Content-Security-Policy allows the explorer's own scripts and styles only,
the import map by its hash, and no HTML sinks at all (Trusted Types with no policy): user text can
only ever reach the page as text.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

BASE = "/cdn-cgi/local/explorer/"
STATIC_PREFIX = "static/"
_TYPES = {".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
          ".json": "application/json", ".html": "text/html; charset=utf-8"}
_IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.DOTALL)
_PRELOAD_MARK = "<!-- modulepreload -->"
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def content_security_policy(import_map_hash: str) -> str:
    return "; ".join([
        "default-src 'none'",
        f"script-src 'self' 'sha256-{import_map_hash}'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ])


def _root() -> resources.abc.Traversable:
    return resources.files(__package__) / "static"


@cache
def asset(path: str) -> Asset | None:
    """The static file at ``path`` (relative to ``static/``), or None; never outside it."""
    parts = path.split("/")
    if not path or any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    suffix = "." + parts[-1].rpartition(".")[2]
    if suffix not in _TYPES:
        return None
    node = _root()
    for part in parts:
        node = node / part
    if not node.is_file():
        return None
    body = node.read_bytes()
    return Asset(body, _TYPES[suffix], _etag(body))


@dataclass(frozen=True)
class Page:
    """The explorer's one HTML page and its policy."""

    body: bytes
    etag: str
    csp: str


@cache
def page() -> Page:
    """``index.html``, with every module preloaded."""
    html = (_root() / "index.html").read_text(encoding="utf-8")
    found = _IMPORT_MAP.search(html)
    if found is None:
        raise RuntimeError("the explorer's index.html has no import map")
    digest = base64.b64encode(hashlib.sha256(found.group(1).encode()).digest()).decode()
    links = "\n    ".join(f'<link rel="modulepreload" href="{BASE}{STATIC_PREFIX}{module}">'
                         for module in modules())
    body = html.replace(_PRELOAD_MARK, links).encode()
    return Page(body, _etag(body), content_security_policy(digest))


def modules() -> list[str]:
    """Every JavaScript module of the app, as paths under ``static/``."""
    found: list[str] = []

    def walk(node: resources.abc.Traversable, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith((".js", ".mjs")):
                found.append(prefix + child.name)

    walk(_root(), "")
    return found


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
