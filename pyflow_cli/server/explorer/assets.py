"""The explorer's files, shipped in the package under ``static/``, and the headers they go out with.

The page is plain ES modules, no build step: ``index.html`` carries an import map (the vendored
Preact modules find each other by name; every module is sent to an address versioned by its
content) and preloads the modules of the view asked for, so the browser fetches them at once.
Its Content-Security-Policy allows the explorer's own scripts and styles only, the import map by
its hash, and no HTML sinks at all (Trusted Types with no policy): user text can only ever reach
the page as text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
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
    """The explorer's one HTML page, as served for one of its views, and its policy."""

    body: bytes
    etag: str
    csp: str


VIEWS = ("home", "workflow", "metrics", "events", "instance", "kv", "r2", "d1", "crons")
"""The page's views; each is ``static/pages/<view>.js``, loaded by ``app.js`` when shown."""
_STATIC_IMPORT = re.compile(r'^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"', re.MULTILINE)


@cache
def page(view: str) -> Page:
    """``index.html`` for ``view``: every file of the app under a versioned address (an import
    map sends each module's plain address there), so a browser keeps them until they change;
    and the modules ``view`` needs preloaded, so they are fetched at once rather than import by
    import."""
    html = (_root() / "index.html").read_text(encoding="utf-8")
    found = _IMPORT_MAP.search(html)
    if found is None:
        raise RuntimeError("the explorer's index.html has no import map")
    names = json.loads(found.group(1))["imports"]
    mapped = {name: target.removeprefix(BASE + STATIC_PREFIX) for name, target in names.items()}
    versioned = {name: versioned_url(target) for name, target in mapped.items()}
    versioned.update({f"{BASE}{STATIC_PREFIX}{module}": versioned_url(module) for module in modules()})
    import_map = json.dumps({"imports": versioned}, separators=(",", ":"))
    needed = dict.fromkeys(imports("boot.js", mapped) + imports("app.js", mapped)
                           + imports(f"pages/{view}.js", mapped))
    links = "\n    ".join(f'<link rel="modulepreload" href="{versioned_url(module)}">'
                         for module in needed)
    html = html.replace(found.group(0), f'<script type="importmap">{import_map}</script>')
    html = re.sub(r'(href|src)="' + re.escape(BASE + STATIC_PREFIX) + r'([^"?]+)"',
                  lambda m: f'{m.group(1)}="{versioned_url(m.group(2))}"', html)
    body = html.replace(_PRELOAD_MARK, links).encode()
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    return Page(body, _etag(body), content_security_policy(digest))


def versioned_url(path: str) -> str:
    """The address of static file ``path`` that changes whenever its content does."""
    found = asset(path)
    if found is None:
        raise RuntimeError(f"the explorer's {path} is missing")
    return f"{BASE}{STATIC_PREFIX}{path}?v={found.etag.strip(chr(34))[:12]}"


def imports(module: str, mapped: dict[str, str]) -> list[str]:
    """``module`` and every module it imports statically, directly or not (paths under
    ``static/``; bare names through the import map ``mapped``)."""
    seen: dict[str, None] = {}
    pending = [module]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen[current] = None
        found = asset(current)
        if found is None:
            raise RuntimeError(f"the explorer's {current} is missing")
        folder = posixpath.dirname(current)
        for target in _STATIC_IMPORT.findall(found.body.decode("utf-8")):
            if target.startswith("."):
                pending.append(posixpath.normpath(posixpath.join(folder, target)))
            elif target in mapped:
                pending.append(mapped[target])
    return list(seen)


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
