"""Values that cross a durable boundary: params, step results, event payloads, outputs (SPEC A13).

Accepted: ``None, bool, int, float`` (finite), ``str``, ``list``, ``dict`` with ``str`` keys, ``set``
/ ``frozenset`` (stored as a list), ``datetime`` (stored as its ISO 8601 string) and ``bytes``
(stored as a base64 string). Anything else — tuples, bytearrays, callables, arbitrary objects — is
"not serialisable". A value is always handed back in its stored form, on the first run as on every
replay, so code behaves the same either way; dicts come back as ``JsonDict`` (attribute access).
"""

from __future__ import annotations

import base64
import json
import math
from datetime import datetime
from typing import Any


class JsonDict(dict[str, Any]):
    """A dict whose keys can also be read as attributes: ``event.payload.email``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None


class NotSerialisableError(TypeError):
    """A value (or a part of it, named by ``path``) cannot be stored."""

    def __init__(self, path: str, value: object) -> None:
        kind = type(value).__name__
        where = f" at {path}" if path else ""
        super().__init__(
            f"a value of type {kind}{where} is not serialisable (allowed: None, bool, int, float, "
            "str, list, dict with str keys, set, datetime, bytes)"
        )
        self.path = path
        self.type_name = kind


def to_storable(value: Any, path: str = "") -> Any:
    """Convert ``value`` to plain JSON data, or raise ``NotSerialisableError``."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotSerialisableError(path, value)
        return value
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotSerialisableError(f"{path}[{key!r}] (key)", key)
            out[key] = to_storable(item, f"{path}[{key!r}]")
        return out
    if isinstance(value, list):
        return [to_storable(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        return [to_storable(item, f"{path}{{}}") for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise NotSerialisableError(path, value)


def encode(value: Any) -> str:
    """Compact JSON text of ``value`` (raises ``NotSerialisableError``)."""
    return _ENCODER.encode(to_storable(value))


def encode_plain(value: Any) -> str:
    """Compact JSON of data that is already storable (log metadata the engine builds itself)."""
    return _ENCODER.encode(value)


_DECODER = json.JSONDecoder(object_hook=JsonDict)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def decode(text: str | None) -> Any:
    """Parse stored JSON back into Python values, with ``JsonDict`` for objects."""
    if text is None:
        return None
    return _DECODER.decode(text)


def byte_size(text: str) -> int:
    """Size of ``text`` in UTF-8 (without encoding it when it is plain ASCII)."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def attrify(value: Any) -> Any:
    """Give plain decoded data attribute access, recursively (dicts become ``JsonDict``)."""
    if isinstance(value, dict):
        return JsonDict((k, attrify(v)) for k, v in value.items())
    if isinstance(value, list):
        return [attrify(v) for v in value]
    return value
