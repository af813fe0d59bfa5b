"""Values crossing into and out of the storage bindings, converted as Cloudflare Python converts them.

On Cloudflare, Python calls the JavaScript binding directly: options arrive as a dict or as keyword
arguments (which Pyodide turns into the trailing options object), numbers become JS numbers (so a
key ``42`` is the key ``"42"``), and what comes back is converted again (a whole JS number is a
Python ``int``, an object reads as a dict, an ``ArrayBuffer`` as a buffer). These helpers do the same
for the local bindings. Any ``Mapping`` / ``Sequence`` is accepted where Cloudflare takes a JS
object / array, so converted values (``to_js``) and plain Python values both work.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from pyflow_cli.engine.serde import JsonDict, attrify

MAX_SAFE_INTEGER = 2**53 - 1


def options(given: Any, keywords: Mapping[str, Any], method: str) -> dict[str, Any]:
    """The options of a call: a dict (or ``None``) and/or keyword arguments, keywords winning."""
    if given is None:
        merged: dict[str, Any] = {}
    elif isinstance(given, Mapping):
        merged = dict(given)
    else:
        raise TypeError(f"{method}() options must be a dict (or keyword arguments), "
                        f"got {type(given).__name__}.")
    merged.update(keywords)
    return merged


def js_string(value: Any, what: str) -> str:
    """``value`` as JS would make it a string (``42`` -> ``"42"``, ``True`` -> ``"true"``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return js_number_text(value)
    raise TypeError(f"{what} must be a string, got {type(value).__name__}.")


def js_number_text(value: float) -> str:
    """A float as JS prints a number: ``1.0`` -> ``1``, ``nan`` -> ``NaN``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)


def js_number(value: Any) -> Any:
    """A number as Pyodide hands a JS number to Python: whole numbers are ``int``."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_SAFE_INTEGER:
        return int(value)
    return value


def number(value: Any, what: str) -> float | None:
    """An optional numeric option (``None`` when absent); numeric strings are accepted as in JS."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"{what} must be a number, got {type(value).__name__}.")
    try:
        return float(value)
    except ValueError:
        raise TypeError(f"{what} must be a number, got {value!r}.") from None


def plain(value: Any) -> Any:
    """``json.dumps``'s ``default``: any other mapping is a JSON object, any other sequence an
    array (values converted for JavaScript are accepted where Cloudflare takes JS values)."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def from_json_text(text: str) -> Any:
    """Parsed JSON with objects readable by key or attribute, as a JS object reads in Python."""
    return attrify(json.loads(text))


def bytes_of(value: Any) -> bytes | None:
    """``value`` as bytes if it is text or a bytes-like object, else ``None``."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return None


async def collect(value: Any, refuse: str) -> bytes:
    """The whole content of a body: text, bytes-like, or an (async) iterable of text/bytes chunks
    (a stream). ``refuse`` is the TypeError message for anything else."""
    whole = bytes_of(value)
    if whole is not None:
        return whole
    if isinstance(value, AsyncIterable):
        return b"".join([_chunk(part, refuse) async for part in value])
    if isinstance(value, Iterable) and not isinstance(value, Mapping | str):
        return b"".join(_chunk(part, refuse) for part in value)
    raise TypeError(refuse)


def _chunk(part: Any, refuse: str) -> bytes:
    data = bytes_of(part)
    if data is None:
        raise TypeError(refuse)
    return data


class ByteStream(bytes):
    """A body read from storage, where Cloudflare hands back a ``ReadableStream``.

    pyflow holds whole bodies (as ``Request.body`` does), so this is the bytes themselves, and
    ``Response(obj.body)`` works as it does on Cloudflare. It can also be read like a stream:
    ``async for chunk in stream`` or ``stream.getReader()``.
    """

    CHUNK = 64 * 1024

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self), self.CHUNK):
            yield bytes(self[start:start + self.CHUNK])

    def getReader(self) -> StreamReader:
        """A reader whose ``await read()`` gives ``{"done": False, "value": chunk}`` until
        ``{"done": True, "value": None}``."""
        return StreamReader(self)

    get_reader = getReader


class StreamReader:
    """``stream.getReader()``: reads a ``ByteStream`` chunk by chunk."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    async def read(self) -> JsonDict:
        if self._offset >= len(self._data):
            return JsonDict(done=True, value=None)
        chunk = self._data[self._offset:self._offset + ByteStream.CHUNK]
        self._offset += len(chunk)
        return JsonDict(done=False, value=bytes(chunk))

    def releaseLock(self) -> None:
        """Accepted for compatibility; nothing is locked."""

    release_lock = releaseLock
