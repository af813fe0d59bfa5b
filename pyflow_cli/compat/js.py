"""``js`` for user code: the JavaScript globals Python Workers code reaches for, in Python.

Provided: ``fetch``, ``Object`` (``fromEntries``, ``keys``, ``values``, ``entries``,
``assign``), ``JSON`` (``parse``, ``stringify``), ``console`` (``log``, ``info``, ``warn``,
``error``, ``debug``: lines in the dev log, naming the instance), ``Date.now()``, ``Response``,
``Request`` and ``Headers`` (the same classes as ``workers``; ``.new(...)`` constructs them the
way Pyodide code does) and ``URL``. Any other name imports as a stand-in that raises
``NotAvailableLocally`` — one line naming it — when the code touches it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from pyflow_cli.compat import output
from pyflow_cli.compat.fetch import fetch
from pyflow_cli.compat.http import Headers, Request, Response
from pyflow_cli.compat.missing import module_getattr
from pyflow_cli.engine.serde import JsonDict

__all__ = ["JSON", "URL", "Date", "Headers", "Object", "Request", "Response", "console", "fetch"]


class Object:
    """The ``Object`` static methods Workers code uses, on dicts."""

    @staticmethod
    def fromEntries(entries: Iterable[Any] | Mapping[str, Any]) -> JsonDict:
        """A dict (with attribute access) of ``[key, value]`` pairs: ``to_js``'s usual
        ``dict_converter``."""
        pairs: Iterable[Any] = entries.items() if isinstance(entries, Mapping) else entries
        return JsonDict((key, value) for key, value in pairs)

    @staticmethod
    def keys(obj: Mapping[str, Any]) -> list[str]:
        return list(obj.keys())

    @staticmethod
    def values(obj: Mapping[str, Any]) -> list[Any]:
        return list(obj.values())

    @staticmethod
    def entries(obj: Mapping[str, Any]) -> list[list[Any]]:
        return [[key, value] for key, value in obj.items()]

    @staticmethod
    def assign(target: dict[str, Any], *sources: Mapping[str, Any]) -> dict[str, Any]:
        for source in sources:
            target.update(source)
        return target


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):  # as Date.prototype.toJSON writes it
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"Do not know how to serialize a {type(value).__name__}")


class JSON:
    """``JSON.parse`` and ``JSON.stringify``."""

    @staticmethod
    def parse(text: str | bytes) -> Any:
        """The value of ``text``; objects become dicts with attribute access."""
        return json.loads(text, object_hook=JsonDict)

    @staticmethod
    def stringify(value: Any, replacer: Any = None, space: int | str | None = None) -> str:
        """Compact JSON, as JavaScript writes it (``space`` indents it); a datetime is written as
        a ``Date`` is."""
        if replacer is not None:
            raise TypeError("pyflow's JSON.stringify does not take a replacer; convert the value "
                            "first.")
        separators = (",", ":") if not space else (",", ": ")
        return json.dumps(value, separators=separators, ensure_ascii=False, indent=space or None,
                          default=_json_default)


def _shown(value: Any) -> str:
    """An argument of ``console.log`` as the console shows it."""
    if isinstance(value, str):
        return value
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        return JSON.stringify(value)
    except (TypeError, ValueError):
        return repr(value)


class _Console:
    """``console``: each call is one line in the dev log (outside it, standard output/error)."""

    def log(self, *values: Any) -> None:
        output.emit("log", " ".join(_shown(v) for v in values))

    def info(self, *values: Any) -> None:
        output.emit("info", " ".join(_shown(v) for v in values))

    def warn(self, *values: Any) -> None:
        output.emit("warn", " ".join(_shown(v) for v in values))

    def error(self, *values: Any) -> None:
        output.emit("error", " ".join(_shown(v) for v in values))

    def debug(self, *values: Any) -> None:
        output.emit("debug", " ".join(_shown(v) for v in values))


console = _Console()


class Date:
    """``Date.now()``: milliseconds since the epoch, as a whole number."""

    @staticmethod
    def now() -> int:
        return int(time.time() * 1000)


class URLSearchParams:
    """A URL's query, as ``url.searchParams`` reads it."""

    def __init__(self, query: str = "") -> None:
        self._pairs = parse_qsl(query.removeprefix("?"), keep_blank_values=True)

    def get(self, name: str) -> str | None:
        return next((value for key, value in self._pairs if key == name), None)

    def getAll(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self._pairs)

    def toString(self) -> str:
        return urlencode(self._pairs)

    def __iter__(self) -> Any:
        return iter([[key, value] for key, value in self._pairs])

    __str__ = toString


class URL:
    """An absolute URL and its parts, as JavaScript's ``URL`` names them (``URL.new(url)`` or
    ``URL(url, base)``)."""

    def __init__(self, url: str, base: str | None = None) -> None:
        text = urljoin(base, url) if base is not None else url
        parts = urlsplit(text.strip())
        if not parts.scheme or (parts.scheme in ("http", "https") and not parts.hostname):
            raise TypeError(f"Invalid URL: {url!r}")
        self._parts = parts

    @classmethod
    def new(cls, url: str, base: str | None = None) -> URL:
        return cls(url, base)

    @property
    def protocol(self) -> str:
        return self._parts.scheme + ":"

    @property
    def username(self) -> str:
        return self._parts.username or ""

    @property
    def password(self) -> str:
        return self._parts.password or ""

    @property
    def hostname(self) -> str:
        return self._parts.hostname or ""

    @property
    def port(self) -> str:
        default = {"http": 80, "https": 443}.get(self._parts.scheme)
        port = self._parts.port
        return "" if port is None or port == default else str(port)

    @property
    def host(self) -> str:
        return self.hostname + (f":{self.port}" if self.port else "")

    @property
    def origin(self) -> str:
        return f"{self.protocol}//{self.host}"

    @property
    def pathname(self) -> str:
        return self._parts.path or "/"

    @property
    def search(self) -> str:
        return f"?{self._parts.query}" if self._parts.query else ""

    @property
    def hash(self) -> str:
        return f"#{self._parts.fragment}" if self._parts.fragment else ""

    @property
    def searchParams(self) -> URLSearchParams:
        return URLSearchParams(self._parts.query)

    @property
    def href(self) -> str:
        auth = self.username + (f":{self.password}" if self.password else "")
        return (f"{self.protocol}//{auth + '@' if auth else ''}{self.host}{self.pathname}"
                f"{self.search}{self.hash}")

    def toString(self) -> str:
        return self.href

    toJSON = toString
    __str__ = toString

    def __repr__(self) -> str:
        return f"URL({self.href!r})"


__getattr__ = module_getattr(
    "js", "fetch, Object, JSON, console, Date, Response, Request, Headers and URL",
    "Use it only in code that runs on Cloudflare, or a Python library that does the same.")
