"""Values that cross a durable boundary: params, step results, event payloads, outputs.

The conversion table (docs/compatibility.md shows it to users). Cloudflare Python Workflows pass
these values through JavaScript, and what comes back is what comes back here too:

============================  =============================================  ==========================
Python value                  comes back as (first run and every replay)     in logs and describe
============================  =============================================  ==========================
None, bool, str               the same (None stays None inside containers)    null, true/false, "..."
int, float (finite)           the same                                        a number
list                          list                                            an array
dict with str keys            dict with attribute access (``JsonDict``)       an object
set, frozenset                set (a JavaScript Set)                          an array
datetime                      datetime, to the millisecond (a JS Date); an     "2026-01-02T03:04:05.678Z"
                              aware one in UTC, a naive one naive (UTC)
bytes                         bytes (a Uint8Array)                            "[Uint8Array(<n> bytes)]"
============================  =============================================  ==========================

Anything else — tuple, bytearray, date, time, timedelta, NaN/infinity, dicts with other keys,
callables, other objects — raises ``NotSerialisableError``, whose message names the type, where
in the value it sits, and what is allowed.

Storage form: JSON, with the values JSON has no type for written as ``{"$py": <kind>, "v": ...}``
(and a dict of the user's that has a ``"$py"`` key wrapped as kind ``dict``, so it cannot be
mistaken for one). A value with none of those is stored as plain JSON, exactly as logs show it.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime
from typing import Any

TAG = "$py"
ALLOWED = "None, bool, int, float, str, list, dict with str keys, set, datetime, bytes"


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
        hint = _HINTS.get(kind, "")
        super().__init__(f"a value of type {kind}{where} is not serialisable{hint} (allowed: "
                         f"{ALLOWED})")
        self.path = path
        self.type_name = kind
        self.value = value

    def within(self, step: str) -> NotSerialisableError:
        """The same error, one level further out: ``step`` is ``[0]`` or ``['key']``."""
        return NotSerialisableError(step + self.path, self.value)


_HINTS = {"tuple": "; use a list", "bytearray": "; use bytes", "date": "; use a datetime",
          "float": " (NaN and infinity have no JSON form)"}


def to_storable(value: Any, path: str = "") -> Any:
    """``value`` as storable JSON data (tagged where JSON lacks the type), or raise
    ``NotSerialisableError``."""
    try:
        return _store(value, [])
    except NotSerialisableError as exc:
        raise exc.within(path) if path else exc from None


def _store(value: Any, tagged: list[bool]) -> Any:
    """The storable form of ``value``; appends to ``tagged`` when a tag was needed."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotSerialisableError("", value)
        return float(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotSerialisableError(f"[{key!r}] (key)", key)
            try:
                out[key] = _store(item, tagged)
            except NotSerialisableError as exc:
                raise exc.within(f"[{key!r}]") from None
        if TAG in out:
            tagged.append(True)
            return {TAG: "dict", "v": out}
        return out
    if isinstance(value, list):
        return _store_items(value, tagged)
    if isinstance(value, set | frozenset):
        tagged.append(True)
        return {TAG: "set", "v": _store_items(value, tagged)}
    if isinstance(value, datetime):
        tagged.append(True)
        return {TAG: "datetime", "v": _datetime_text(value)}
    if isinstance(value, bytes):
        tagged.append(True)
        return {TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
    raise NotSerialisableError("", value)


def _store_items(items: Any, tagged: list[bool]) -> list[Any]:
    out = []
    for index, item in enumerate(items):
        try:
            out.append(_store(item, tagged))
        except NotSerialisableError as exc:
            raise exc.within(f"[{index}]") from None
    return out


def _datetime_text(value: datetime) -> str:
    """ISO 8601 to the millisecond, as a JavaScript ``Date`` keeps it; ``Z`` marks an aware
    value (converted to UTC), its absence a naive one."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds")


class NestedTooDeeplyError(NotSerialisableError):
    """A value that contains itself, or is nested deeper than the conversion can follow."""

    def __init__(self, value: object) -> None:
        kind = type(value).__name__
        TypeError.__init__(self, f"a value of type {kind} contains itself or is nested too deeply "
                                 "to be stored")
        self.path = ""
        self.type_name = kind
        self.value = value


def encode(value: Any) -> str:
    """Compact storage JSON of ``value`` (raises ``NotSerialisableError``)."""
    try:
        return _ENCODER.encode(_store(value, []))
    except RecursionError:  # a cycle, or thousands of levels: either way it cannot be stored
        raise NestedTooDeeplyError(value) from None


def encode_both(value: Any) -> tuple[str, str]:
    """``(stored, shown)``: the storage JSON of ``value`` and the JSON logs and views show for
    it. They are the same text unless the value holds a type JSON lacks (raises
    ``NotSerialisableError``)."""
    tagged: list[bool] = []
    try:
        data = _store(value, tagged)
        stored = _ENCODER.encode(data)
        return stored, (_ENCODER.encode(_shown(data)) if tagged else stored)
    except RecursionError:  # a cycle, or thousands of levels: either way it cannot be stored
        raise NestedTooDeeplyError(value) from None


def encode_plain(value: Any) -> str:
    """Compact JSON of data that is already storable (log metadata the engine builds itself)."""
    return _ENCODER.encode(value)


_DECODER = json.JSONDecoder(object_hook=JsonDict)
_PLAIN_DECODER = json.JSONDecoder()
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_TAG_TEXT = f'"{TAG}"'


def decode(text: str | None) -> Any:
    """Stored JSON back into Python values: tagged values restored, dicts as ``JsonDict``."""
    if text is None:
        return None
    if _TAG_TEXT not in text:  # nearly always: nothing needs restoring
        return _DECODER.decode(text)
    return _restore(_PLAIN_DECODER.decode(text))


def _restore(data: Any) -> Any:
    if isinstance(data, list):
        return [_restore(item) for item in data]
    if not isinstance(data, dict):
        return data
    kind = data.get(TAG) if len(data) == 2 and "v" in data else None
    if kind == "dict":
        return JsonDict((key, _restore(item)) for key, item in data["v"].items())
    if kind == "set":
        return {_restore(item) for item in data["v"]}
    if kind == "datetime":
        return datetime.fromisoformat(data["v"])
    if kind == "bytes":
        return base64.b64decode(data["v"])
    return JsonDict((key, _restore(item)) for key, item in data.items())


def parse_shown(text: str) -> Any:
    """Parse JSON in its display form (``encode_both``'s second part): nothing is restored."""
    return _DECODER.decode(text)


def shown(text: str | None) -> Any:
    """Stored JSON as logs and views show it (tagged values in their display form)."""
    if text is None:
        return None
    data = _DECODER.decode(text)
    return _shown(data) if _TAG_TEXT in text else data


def shown_json(text: str) -> str:
    """Stored JSON text as logs show it (the same text when nothing in it is tagged)."""
    return text if _TAG_TEXT not in text else _ENCODER.encode(_shown(_PLAIN_DECODER.decode(text)))


def _shown(data: Any) -> Any:
    if isinstance(data, list):
        return [_shown(item) for item in data]
    if not isinstance(data, dict):
        return data
    kind = data.get(TAG) if len(data) == 2 and "v" in data else None
    if kind == "dict":
        return JsonDict((key, _shown(item)) for key, item in data["v"].items())
    if kind == "set":
        return [_shown(item) for item in data["v"]]
    if kind == "datetime":
        text: str = data["v"]
        return text if text.endswith("Z") else text + "Z"
    if kind == "bytes":
        return f"[Uint8Array({len(base64.b64decode(data['v']))} bytes)]"
    return JsonDict((key, _shown(item)) for key, item in data.items())


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
