"""``env.BUCKET``: an R2 bucket, shaped as Cloudflare Python code sees ``R2Bucket``.

    obj = await env.BUCKET.put("a.txt", "hello", {"httpMetadata": {"contentType": "text/plain"}})
    body = await env.BUCKET.get("a.txt", range={"offset": 0, "length": 5})   # None if missing
    await body.text()
    await env.BUCKET.head("a.txt"); await env.BUCKET.delete(["a.txt", "b.txt"])
    await env.BUCKET.list(prefix="logs/", delimiter="/", limit=100)
    upload = await env.BUCKET.createMultipartUpload("big.bin")

Limits, checks and error messages are R2's, as the local runtime reports them.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from pyflow_cli.bindings import r2_store as store
from pyflow_cli.bindings.errors import R2Error
from pyflow_cli.bindings.kv import decode_cursor, encode_cursor
from pyflow_cli.bindings.r2_objects import (
    HASHES,
    Conditional,
    R2Object,
    R2ObjectBody,
    byte_range,
    custom_metadata,
    http_metadata,
)
from pyflow_cli.bindings.r2_store import ObjectRow, R2Store
from pyflow_cli.bindings.values import collect, js_string, options
from pyflow_cli.engine.serde import JsonDict

MAX_KEY_BYTES = 1024
MAX_VALUE_BYTES = 5_363_466_240
MAX_METADATA_BYTES = 8192
MAX_LIST_KEYS = 1000
MAX_LIST_KEYS_WITH_METADATA = 100
MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000
_NAMES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}
_BAD_VALUE = ("Failed to execute 'put' on 'R2Bucket': parameter 2 is not of type "
              "'ReadableStream or ArrayBuffer or ArrayBufferView or string or Blob'.")


class _Failure(Exception):
    """R2's refusal, raised inside a storage operation: (reason, v4 code)."""

    def __init__(self, reason: str, code: int) -> None:
        super().__init__(reason)
        self.reason, self.code = reason, code


NO_SUCH_UPLOAD = ("The specified multipart upload does not exist.", 10024)
INTERNAL = ("We encountered an internal error. Please try again.", 10001)
INVALID_NAME = ("The specified object name is not valid.", 10020)


class R2Bucket:
    """The object behind ``env.<BINDING>`` for one ``[[r2_buckets]]`` entry."""

    def __init__(self, r2: R2Store, binding: str, now_ms: Callable[[], float]) -> None:
        self._store = r2
        self._binding = binding
        self._now_ms = now_ms

    def __repr__(self) -> str:
        return f"<R2Bucket {self._binding}>"

    async def _run(self, method: str, operation: Callable[[sqlite3.Connection], Any]) -> Any:
        try:
            return await self._store.run(operation)
        except _Failure as failure:
            raise R2Error(method, failure.reason, failure.code) from None

    async def head(self, key: str) -> R2Object | None:
        """The object's metadata, or ``None``."""
        name = _key(key, "head")
        row = await self._run("head", lambda conn: store.find(conn, name))
        return None if row is None else R2Object(row, (0, row.size))

    async def get(self, key: str, options_: Any = None, /, **kwargs: Any) -> R2Object | None:
        """``R2ObjectBody`` (or ``None``); options ``range`` and ``onlyIf``. When ``onlyIf`` does
        not hold, the object's metadata without a body (``R2Object``)."""
        name = _key(key, "get")
        opts = options(options_, kwargs, "get")
        condition = Conditional.parse(opts.get("onlyIf"))

        def read(conn: sqlite3.Connection) -> R2Object | None:
            row = store.find(conn, name)
            if row is None:
                return None
            if condition is not None and not condition.holds(row):
                return R2Object(row, (0, row.size))
            try:
                span = byte_range(opts.get("range"), row.size) or (0, row.size)
            except ValueError:
                raise _Failure("The requested range is not satisfiable", 10039) from None
            return R2ObjectBody(row, store.read_range(conn, row, *span), span)

        result: R2Object | None = await self._run("get", read)
        return result

    async def put(self, key: str, value: Any, options_: Any = None, /, **kwargs: Any
                  ) -> R2Object | None:
        """Store ``value`` (text, bytes or a stream); options ``httpMetadata``, ``customMetadata``,
        ``md5``/``sha1``/``sha256``/``sha384``/``sha512`` and ``onlyIf``. ``None`` when ``onlyIf``
        does not hold."""
        name = _key(key, "put")
        opts = options(options_, kwargs, "put")
        expected = {algorithm: _digest(opts[algorithm], algorithm) for algorithm in HASHES
                    if opts.get(algorithm) is not None}
        condition = Conditional.parse(opts.get("onlyIf"))
        http, custom = http_metadata(opts.get("httpMetadata")), custom_metadata(opts.get("customMetadata"))
        data = b"" if value is None else await collect(value, _BAD_VALUE)
        uploaded = int(self._now_ms())

        def write(conn: sqlite3.Connection) -> R2Object | None:
            checksums = _checksums(data, expected)
            if len(data) > MAX_VALUE_BYTES:
                raise _Failure("Your proposed upload exceeds the maximum allowed object size.", 100100)
            _check_metadata_size(custom)
            if condition is not None and not condition.holds(store.find(conn, name)):
                return None
            row = ObjectRow(name, secrets.token_hex(16), len(data), hashlib.md5(data).hexdigest(),
                            uploaded, checksums, http, custom, [(store.new_blob(conn, data), len(data))])
            store.write_object(conn, row)
            return R2Object(row)

        result: R2Object | None = await self._run("put", write)
        return result

    async def delete(self, keys: str | Sequence[str]) -> None:
        """Delete one key or a list of keys; missing keys are not an error."""
        names = [_key(k, "delete") for k in keys] if _is_many(keys) else [_key(keys, "delete")]

        def remove(conn: sqlite3.Connection) -> None:
            for name in names:
                store.delete_object(conn, name)

        await self._run("delete", remove)

    async def list(self, options_: Any = None, /, **kwargs: Any) -> JsonDict:
        """``{objects, truncated, cursor?, delimitedPrefixes}``; options ``prefix``, ``delimiter``,
        ``cursor``, ``startAfter``, ``limit`` (1 to 1000) and ``include`` (``"httpMetadata"``,
        ``"customMetadata"``; at most 100 objects then)."""
        opts = options(options_, kwargs, "list")
        limit = opts.get("limit", MAX_LIST_KEYS)
        if isinstance(limit, bool) or not isinstance(limit, int | float) or not 1 <= limit <= MAX_LIST_KEYS:
            raise R2Error("list", "MaxKeys params must be positive integer <= 1000.", 10022)
        include = tuple(opts.get("include") or ())
        for item in include:
            if item not in ("httpMetadata", "customMetadata"):
                raise TypeError(f'include values must be "httpMetadata" or "customMetadata", got {item!r}.')
        count = min(int(limit), MAX_LIST_KEYS_WITH_METADATA) if include else int(limit)
        prefix = js_string(opts.get("prefix") or "", "prefix")
        delimiter = js_string(opts.get("delimiter") or "", "delimiter")
        after = opts.get("startAfter")
        cursor = decode_cursor(opts.get("cursor"))
        if cursor is not None and (after is None or cursor > after):
            after = cursor

        def read(conn: sqlite3.Connection) -> JsonDict:
            objects: list[R2Object] = []
            prefixes: list[str] = []
            last_keys: list[str] = []
            for row in store.scan(conn, prefix, after):
                rest = row.key[len(prefix):]
                if delimiter and delimiter in rest:
                    group = prefix + rest[:rest.index(delimiter) + len(delimiter)]
                    if prefixes and prefixes[-1] == group and last_keys[-1].startswith(group):
                        last_keys[-1] = row.key
                        continue
                    if len(last_keys) == count:
                        break
                    prefixes.append(group)
                else:
                    if len(last_keys) == count:
                        break
                    objects.append(R2Object(row, include=include))
                last_keys.append(row.key)
            else:
                return JsonDict(objects=objects, truncated=False, delimitedPrefixes=prefixes)
            return JsonDict(objects=objects, truncated=True, cursor=encode_cursor(last_keys[-1]),
                            delimitedPrefixes=prefixes)

        result: JsonDict = await self._run("list", read)
        return result

    async def createMultipartUpload(self, key: str, options_: Any = None, /,
                                    **kwargs: Any) -> R2MultipartUpload:
        """Start a multipart upload of ``key`` (options ``httpMetadata``, ``customMetadata``)."""
        name = _key(key, "createMultipartUpload")
        opts = options(options_, kwargs, "createMultipartUpload")
        http, custom = http_metadata(opts.get("httpMetadata")), custom_metadata(opts.get("customMetadata"))
        upload_id = secrets.token_urlsafe(96)

        def create(conn: sqlite3.Connection) -> None:
            _check_metadata_size(custom)
            conn.execute("INSERT INTO uploads (upload_id, key, http_metadata, custom_metadata) "
                         "VALUES (?, ?, ?, ?)", (upload_id, name, json.dumps(http), json.dumps(custom)))

        await self._run("createMultipartUpload", create)
        return R2MultipartUpload(self, name, upload_id)

    def resumeMultipartUpload(self, key: str, upload_id: str) -> R2MultipartUpload:
        """A handle on an upload started earlier (checked when it is used)."""
        return R2MultipartUpload(self, js_string(key, "The key"), js_string(upload_id, "uploadId"))

    create_multipart_upload = createMultipartUpload
    resume_multipart_upload = resumeMultipartUpload


class R2MultipartUpload:
    """An upload in progress: ``uploadPart``, then ``complete`` (or ``abort``)."""

    def __init__(self, bucket: R2Bucket, key: str, upload_id: str) -> None:
        self._bucket = bucket
        self.key = key
        self.uploadId = upload_id

    def __repr__(self) -> str:
        return f"<R2MultipartUpload {self.key!r}>"

    @property
    def upload_id(self) -> str:
        return self.uploadId

    async def uploadPart(self, part_number: int, value: Any, options_: Any = None) -> JsonDict:
        """Upload part ``part_number`` (1 to 10000); ``{partNumber, etag}`` for ``complete``."""
        if isinstance(part_number, bool) or not isinstance(part_number, int) \
                or not 1 <= part_number <= MAX_PART_NUMBER:
            raise TypeError(f"Part number must be between 1 and {MAX_PART_NUMBER} (inclusive). "
                            f"Actual value was: {part_number}")
        data = await collect(value, _BAD_VALUE.replace("'put'", "'uploadPart'"))
        etag = secrets.token_urlsafe(96)

        def write(conn: sqlite3.Connection) -> None:
            found = store.upload(conn, self.uploadId, self.key)
            if found is None or found[0] != store.IN_PROGRESS:
                raise _Failure(*NO_SUCH_UPLOAD)
            previous = store.parts(conn, self.uploadId).get(part_number)
            if previous is not None:
                store.drop_blobs(conn, [(previous.blob, previous.size)])
            conn.execute("INSERT OR REPLACE INTO parts (upload_id, part_number, blob, size, etag, md5) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (self.uploadId, part_number, store.new_blob(conn, data),
                                                       len(data), etag, hashlib.md5(data).hexdigest()))

        await self._bucket._run("uploadPart", write)
        return JsonDict(partNumber=part_number, etag=etag)

    async def abort(self) -> None:
        """Drop the upload and its parts (a completed upload is left as it is)."""
        def drop(conn: sqlite3.Connection) -> None:
            found = store.upload(conn, self.uploadId, self.key)
            if found is None:
                raise _Failure(*INTERNAL)
            if found[0] == store.IN_PROGRESS:
                uploaded = store.parts(conn, self.uploadId).values()
                store.drop_blobs(conn, [(p.blob, p.size) for p in uploaded])
                conn.execute("DELETE FROM parts WHERE upload_id = ?", (self.uploadId,))
                conn.execute("UPDATE uploads SET state = ? WHERE upload_id = ?",
                             (store.ABORTED, self.uploadId))

        await self._bucket._run("abortMultipartUpload", drop)

    async def complete(self, uploaded_parts: Sequence[Any]) -> R2Object:
        """Join the given parts (``{partNumber, etag}`` each) into the object."""
        chosen = [(_field(p, "partNumber"), _field(p, "etag")) for p in uploaded_parts]
        uploaded_ms = int(self._bucket._now_ms())

        def join(conn: sqlite3.Connection) -> R2Object:
            found = store.upload(conn, self.uploadId, self.key)
            if found is None:
                raise _Failure(*INTERNAL)
            if found[0] != store.IN_PROGRESS:
                raise _Failure(*NO_SUCH_UPLOAD)
            row = _joined(conn, self.uploadId, self.key, chosen, uploaded_ms, found)
            store.write_object(conn, row)
            kept = {blob for blob, _ in row.blobs}
            unused = [(p.blob, p.size) for p in store.parts(conn, self.uploadId).values()
                      if p.blob not in kept]
            store.drop_blobs(conn, unused)
            conn.execute("DELETE FROM parts WHERE upload_id = ?", (self.uploadId,))
            conn.execute("UPDATE uploads SET state = ? WHERE upload_id = ?",
                         (store.COMPLETED, self.uploadId))
            return R2Object(row)

        result: R2Object = await self._bucket._run("completeMultipartUpload", join)
        return result

    upload_part = uploadPart


def _joined(conn: sqlite3.Connection, upload_id: str, key: str, chosen: list[tuple[Any, Any]],
            uploaded_ms: int, found: tuple[int, str, str]) -> ObjectRow:
    """The object a completed upload makes, after R2's checks of the chosen parts."""
    if len({number for number, _ in chosen}) != len(chosen):
        raise _Failure(*INTERNAL)
    available = store.parts(conn, upload_id)
    selected = []
    for number, etag in chosen:
        part = available.get(number)
        if part is None or part.etag != etag:
            raise _Failure("One or more of the specified parts could not be found.", 10025)
        selected.append(part)
    if any(part.size < MIN_PART_BYTES for part in selected[:-1]):
        raise _Failure("Your proposed upload is smaller than the minimum allowed object size.", 10011)
    selected.sort(key=lambda part: part.part_number)
    sizes = {part.size for part in selected[:-1]}
    if len(sizes) > 1 or (sizes and selected[-1].size > sizes.pop()):
        raise _Failure("There was a problem with the multipart upload.", 10048)
    digest = hashlib.md5(b"".join(bytes.fromhex(part.md5) for part in selected)).hexdigest()
    return ObjectRow(key, secrets.token_hex(16), sum(p.size for p in selected),
                     f"{digest}-{len(selected)}", uploaded_ms, {}, json.loads(found[1]),
                     json.loads(found[2]), [(p.blob, p.size) for p in selected])


def _key(key: Any, method: str) -> str:
    name = js_string(key, "The key")
    if len(name.encode("utf-8")) > MAX_KEY_BYTES:
        raise R2Error(method, *INVALID_NAME)
    return name


def _check_metadata_size(custom: dict[str, str]) -> None:
    if sum(_js_length(k) + _js_length(v) for k, v in custom.items()) > MAX_METADATA_BYTES:
        raise _Failure("Your metadata headers exceed the maximum allowed metadata size.", 10012)


def _js_length(text: str) -> int:
    return len(text) * 2 if any(ord(c) >= 256 for c in text) else len(text)


def _digest(value: Any, algorithm: str) -> builtins.bytes:
    """A checksum option: hex text or bytes of the algorithm's length."""
    size = hashlib.new(algorithm).digest_size
    if isinstance(value, bytes | bytearray | memoryview):
        digest = bytes(value)
        if len(digest) != size:
            raise TypeError(f"{_NAMES[algorithm]} is {size} bytes, not {len(digest)}")
        return digest
    text = js_string(value, algorithm)
    if len(text) != size * 2:
        raise TypeError(f"{_NAMES[algorithm]} is {size * 2} hex characters, not {len(text)}")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise TypeError(f"{_NAMES[algorithm]} must be hex characters, got {text!r}") from None


def _checksums(data: bytes, expected: dict[str, bytes]) -> dict[str, str]:
    """The md5 and any checked SHA of ``data``, refusing a mismatch as R2 does."""
    checksums = {"md5": hashlib.md5(data).hexdigest()}
    for algorithm, wanted in expected.items():
        actual = hashlib.new(algorithm, data).digest()
        if actual != wanted:
            name = _NAMES[algorithm]
            raise _Failure(f"The {name} checksum you specified did not match what we received.\n"
                           f"You provided a {name} checksum with value: {wanted.hex()}\n"
                           f"Actual {name} was: {actual.hex()}", 10037)
        checksums[algorithm] = actual.hex()
    return checksums


def _field(part: Any, name: str) -> Any:
    return part.get(name) if hasattr(part, "get") else getattr(part, name, None)


def _is_many(keys: Any) -> bool:
    return isinstance(keys, Sequence) and not isinstance(keys, str | bytes | bytearray)
