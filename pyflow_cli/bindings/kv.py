"""``env.KV``: a KV namespace, shaped as Cloudflare Python code sees ``KVNamespace``.

    await env.KV.put("greeting", "hello", expirationTtl=3600, metadata={"by": "me"})
    await env.KV.get("greeting")                      # "hello" (None when missing)
    await env.KV.get("config", "json")                # parsed JSON; also {"type": "json"}
    await env.KV.get(["a", "b"])                      # {"a": "...", "b": None}
    await env.KV.getWithMetadata("greeting")          # {value, metadata, cacheStatus}
    await env.KV.list(prefix="user:", limit=10)       # {keys, list_complete, cursor?, cacheStatus}
    await env.KV.delete("greeting")

Limits and error messages are Cloudflare's (as the local runtime reports them).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any

from pyflow_cli.bindings.errors import KVError
from pyflow_cli.bindings.kv_store import KvEntry, KvStore
from pyflow_cli.bindings.values import (
    ByteStream,
    collect,
    from_json_text,
    js_string,
    number,
    options,
    plain,
)
from pyflow_cli.engine.serde import JsonDict

MAX_KEY_BYTES = 512
MAX_VALUE_BYTES = 25 * 1024 * 1024
MAX_METADATA_BYTES = 1024
MIN_TTL_S = 60
MIN_CACHE_TTL_S = 30
MAX_LIST_KEYS = 1000
MAX_BULK_KEYS = 100
TYPES = ("text", "arrayBuffer", "json", "stream")
_BAD_TYPE = 'Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".'
_BAD_VALUE = "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values."


class KVNamespace:
    """The object behind ``env.<BINDING>`` for one ``[[kv_namespaces]]`` entry."""

    def __init__(self, store: KvStore, binding: str, now_ms: Callable[[], float]) -> None:
        self._store = store
        self._binding = binding
        self._now_ms = now_ms

    def __repr__(self) -> str:
        return f"<KVNamespace {self._binding}>"

    async def get(self, key: str | Sequence[str], type_or_options: Any = None, /, **kwargs: Any) -> Any:
        """The value of ``key`` (``None`` if missing), or a dict of values for a list of keys."""
        value_type = _read_options(type_or_options, kwargs, "get")
        if _is_many(key):
            values = await self._get_many(key, value_type)
            return {name: None if entry is None else _decode(entry, value_type, bulk=True)
                    for name, entry in values.items()}
        entry = await self._store.get(_key(key, "GET"))
        return None if entry is None else _decode(entry, value_type)

    async def getWithMetadata(self, key: str | Sequence[str], type_or_options: Any = None, /,
                              **kwargs: Any) -> Any:
        """``{value, metadata, cacheStatus}`` (``None`` values when missing), or a dict of
        ``{value, metadata}`` (or ``None``) per key for a list of keys."""
        value_type = _read_options(type_or_options, kwargs, "getWithMetadata")
        if _is_many(key):
            values = await self._get_many(key, value_type)
            return {name: None if entry is None else
                    JsonDict(value=_decode(entry, value_type, bulk=True), metadata=_metadata(entry))
                    for name, entry in values.items()}
        entry = await self._store.get(_key(key, "GET"))
        if entry is None:
            return JsonDict(value=None, metadata=None, cacheStatus=None)
        return JsonDict(value=_decode(entry, value_type), metadata=_metadata(entry), cacheStatus=None)

    async def _get_many(self, keys: Sequence[Any], value_type: str) -> dict[str, KvEntry | None]:
        if value_type not in ("text", "json"):
            raise KVError("GET_BULK", 400, f'"{value_type}" is not a valid type. Use "json" or "text"')
        if not keys:
            raise KVError("GET_BULK", 400, "You must request a minimum of 1 key")
        if len(keys) > MAX_BULK_KEYS:
            raise KVError("GET_BULK", 400, f"You can request a maximum of {MAX_BULK_KEYS} keys")
        names = [_key(k, "GET_BULK") for k in keys]
        found = await self._store.get_many(names)
        if sum(len(e.value) for e in found.values() if e is not None) > MAX_VALUE_BYTES:
            raise KVError("GET_BULK", 413, "Total size of request exceeds the limit of 25MB")
        return found

    async def put(self, key: str, value: Any, options_: Any = None, /, **kwargs: Any) -> None:
        """Store ``value`` (text, bytes or a stream) under ``key``; options (a dict or keywords):
        ``expirationTtl`` (seconds, at least 60), ``expiration`` (epoch seconds), ``metadata``."""
        name = _key(key, "PUT")
        opts = options(options_, kwargs, "put")
        data = await _value(value)
        now_s = int(self._now_ms() // 1000)
        expiration_s = _expiration(opts, now_s)
        metadata_json = _metadata_json(opts.get("metadata"))
        if len(data) > MAX_VALUE_BYTES:
            raise KVError("PUT", 413, f"Value length of {len(data)} exceeds limit of {MAX_VALUE_BYTES}.")
        await self._store.put(name, data, None if expiration_s is None else expiration_s * 1000,
                              metadata_json)

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        await self._store.delete(_key(key, "DELETE"))

    async def list(self, options_: Any = None, /, **kwargs: Any) -> JsonDict:
        """``{keys: [{name, expiration?, metadata?}], list_complete, cursor?, cacheStatus}`` in
        key order; options: ``prefix``, ``limit`` (1 to 1000, default 1000), ``cursor``."""
        opts = options(options_, kwargs, "list")
        prefix = "" if opts.get("prefix") is None else js_string(opts["prefix"], "prefix")
        _check_length(prefix, "GET")
        limit = number(opts.get("limit"), "limit")
        if limit is None or limit == 0:  # JS treats a 0 limit as no limit
            count = MAX_LIST_KEYS
        elif limit < 1:
            raise KVError("GET", 400, f"Invalid key_count_limit of {_shown(limit)}. Please specify an "
                                      "integer greater than 0.")
        elif limit > MAX_LIST_KEYS:
            raise KVError("GET", 400, f"Invalid key_count_limit of {_shown(limit)}. Please specify an "
                                      f"integer less than {MAX_LIST_KEYS}.")
        else:
            count = int(limit)
        page = await self._store.list(prefix, count, decode_cursor(opts.get("cursor")))
        keys = []
        for item in page.keys:
            shown = JsonDict(name=item.key)
            if item.expiration_ms is not None:
                shown["expiration"] = item.expiration_ms // 1000
            if item.metadata_json is not None:
                shown["metadata"] = from_json_text(item.metadata_json)
            keys.append(shown)
        result = KVListResult(keys=keys, list_complete=not page.more)
        if page.more:
            result["cursor"] = encode_cursor(page.keys[-1].key)
        result["cacheStatus"] = None
        return result

    get_with_metadata = getWithMetadata


class KVListResult(JsonDict):
    """What ``list()`` returns. ``result.keys`` is the list of keys, as on Cloudflare (where the
    result is a JS object), not ``dict.keys``; ``result["keys"]`` works too. A step's stored
    result is a plain dict again: read it with ``["keys"]``."""

    @property
    def keys(self) -> Any:
        return self["keys"]


def encode_cursor(key: str) -> str:
    """An opaque cursor for "after this key"."""
    return base64.b64encode(key.encode("utf-8")).decode("ascii")


def decode_cursor(cursor: Any) -> str | None:
    if cursor is None or cursor == "":
        return None
    text = js_string(cursor, "cursor")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4)).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return text


def _is_many(key: Any) -> bool:
    return isinstance(key, Sequence) and not isinstance(key, str | bytes | bytearray)


def _read_options(type_or_options: Any, kwargs: dict[str, Any], method: str) -> str:
    """The value type of a read (``"text"`` by default); checks ``cacheTtl`` as KV does."""
    given = type_or_options
    opts = options(None if isinstance(given, str) else given, kwargs, method)
    value_type = given if isinstance(given, str) else opts.get("type", "text")
    if value_type is None:
        value_type = "text"
    if value_type not in TYPES:
        raise TypeError(_BAD_TYPE)
    cache_ttl = number(opts.get("cacheTtl"), "cacheTtl")
    if cache_ttl is not None and cache_ttl < MIN_CACHE_TTL_S:
        raise KVError("GET", 400, f"Invalid cache_ttl of {_shown(cache_ttl)}. Cache TTL must be at "
                                  f"least {MIN_CACHE_TTL_S}.")
    return str(value_type)


def _key(key: Any, operation: str) -> str:
    name = js_string(key, "The key")
    if name == "":
        raise TypeError("Key name cannot be empty.")
    if name in (".", ".."):
        raise TypeError(f'"{name}" is not allowed as a key name.')
    _check_length(name, operation)
    return name


def _check_length(name: str, operation: str) -> None:
    size = len(name.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise KVError(operation, 414, f"UTF-8 encoded length of {size} exceeds key length limit of "
                                      f"{MAX_KEY_BYTES}.")


async def _value(value: Any) -> bytes:
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int | float):
        return js_string(value, "value").encode()
    return await collect(value, _BAD_VALUE)


def _expiration(opts: dict[str, Any], now_s: int) -> int | None:
    ttl = number(opts.get("expirationTtl"), "expirationTtl")
    if ttl is not None:
        if int(ttl) <= 0:
            raise KVError("PUT", 400, f"Invalid expiration_ttl of {int(ttl)}. Please specify integer "
                                      "greater than 0.")
        if ttl < MIN_TTL_S:
            raise KVError("PUT", 400, f"Invalid expiration_ttl of {int(ttl)}. Expiration TTL must be "
                                      f"at least {MIN_TTL_S}.")
        return now_s + int(ttl)
    at = number(opts.get("expiration"), "expiration")
    if at is None:
        return None
    if int(at) <= now_s:
        raise KVError("PUT", 400, f"Invalid expiration of {int(at)}. Please specify integer greater "
                                  "than the current number of seconds since the UNIX epoch.")
    if at < now_s + MIN_TTL_S:
        raise KVError("PUT", 400, f"Invalid expiration of {int(at)}. Expiration times must be at "
                                  f"least {MIN_TTL_S} seconds in the future.")
    return int(at)


def _metadata_json(metadata: Any) -> str | None:
    if metadata is None:
        return None
    try:
        text = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                          default=plain)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"KV metadata must be JSON-serialisable: {exc}.") from None
    size = len(text.encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise KVError("PUT", 413, f"Metadata length of {size} exceeds limit of {MAX_METADATA_BYTES}.")
    return text


def _metadata(entry: KvEntry) -> Any:
    return None if entry.metadata_json is None else from_json_text(entry.metadata_json)


def _decode(entry: KvEntry, value_type: str, bulk: bool = False) -> Any:
    if value_type == "arrayBuffer":
        return memoryview(entry.value)
    if value_type == "stream":
        return ByteStream(entry.value)
    text = entry.value.decode("utf-8", errors="replace")
    if value_type == "text":
        return text
    try:
        return from_json_text(text)
    except json.JSONDecodeError:
        if bulk:
            raise KVError("GET_BULK", 400, "At least one of the requested keys corresponds to a "
                                           "non-json value") from None
        raise


def _shown(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)
