"""What R2 hands back (``R2Object``, ``R2ObjectBody``, ``R2Checksums``) and the options it reads
(``httpMetadata``, ``onlyIf`` conditions, ``range``), as Cloudflare Python code sees them.

Dates are ``datetime`` (UTC), metadata maps are dicts readable by key or attribute, checksums are
bytes, and a body is a ``ByteStream`` (bytes that also read as a stream).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from pyflow_cli.bindings.r2_store import ObjectRow
from pyflow_cli.bindings.values import ByteStream, from_json_text
from pyflow_cli.engine.serde import JsonDict

HASHES = ("md5", "sha1", "sha256", "sha384", "sha512")
MIN_DATE_MS = -62_135_596_800_000
MAX_DATE_MS = 253_402_300_799_999
HTTP_FIELDS = {"contentType": "content-type", "contentLanguage": "content-language",
               "contentDisposition": "content-disposition", "contentEncoding": "content-encoding",
               "cacheControl": "cache-control", "cacheExpiry": "expires"}
BODY_USED = ("Body has already been used. It can only be used once. Use tee() first if you need to "
             "read it twice.")


def to_datetime(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC)


def to_ms(value: Any, what: str) -> int:
    """A date option (``datetime``, epoch milliseconds, or an ISO 8601 / HTTP date string) in ms,
    within the years 1 to 9999 (a ``datetime`` holds no other)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not MIN_DATE_MS <= value <= MAX_DATE_MS:
            raise TypeError(f"{what} must be a date between the years 1 and 9999, got {value!r}.")
        return int(value)
    if isinstance(value, str):
        try:
            return to_ms(datetime.fromisoformat(value.replace("Z", "+00:00")), what)
        except ValueError:
            try:
                return to_ms(parsedate_to_datetime(value), what)
            except (TypeError, ValueError):
                pass
    raise TypeError(f"{what} must be a datetime, epoch milliseconds or a date string, got {value!r}.")


class R2Checksums:
    """The object's checksums: ``md5`` (unless multipart), and any SHA the upload was checked with,
    as bytes (``None`` when absent); ``toJSON()`` gives them as hex strings."""

    def __init__(self, hexes: Mapping[str, str]) -> None:
        self._hexes = {name: hexes[name] for name in HASHES if name in hexes}
        for name in HASHES:
            setattr(self, name, bytes.fromhex(hexes[name]) if name in hexes else None)

    def toJSON(self) -> JsonDict:
        return JsonDict(self._hexes)

    to_json = toJSON

    def __repr__(self) -> str:
        return f"R2Checksums({self._hexes!r})"


class R2Object:
    """An object's metadata: what ``head``, ``put`` and ``list`` return."""

    def __init__(self, row: ObjectRow, range_: tuple[int, int] | None = None,
                 include: tuple[str, ...] = ("httpMetadata", "customMetadata")) -> None:
        self.key = row.key
        self.version = row.version
        self.size = row.size
        self.etag = row.etag
        self.httpEtag = f'"{row.etag}"'
        self.uploaded = to_datetime(row.uploaded_ms)
        self.httpMetadata = _http_metadata(row.http_metadata) if "httpMetadata" in include else JsonDict()
        self.customMetadata = JsonDict(row.custom_metadata) if "customMetadata" in include else JsonDict()
        self.checksums = R2Checksums(row.checksums)
        self.range = None if range_ is None else JsonDict(offset=range_[0], length=range_[1])
        self.storageClass = "Standard"
        self.ssecKeyMd5: str | None = None

    def writeHttpMetadata(self, headers: Any) -> None:
        """Set the object's HTTP metadata as headers (``Content-Type``, ``Cache-Control``,
        ``Expires``...) on ``headers`` (``Headers`` or a dict)."""
        for name, header in HTTP_FIELDS.items():
            value = self.httpMetadata.get(name)
            if value is None:
                continue
            text = format_datetime(value, usegmt=True) if isinstance(value, datetime) else str(value)
            if isinstance(headers, MutableMapping):
                headers[header] = text
            else:
                headers.set(header, text)

    write_http_metadata = writeHttpMetadata
    http_etag = property(lambda self: self.httpEtag)
    http_metadata = property(lambda self: self.httpMetadata)
    custom_metadata = property(lambda self: self.customMetadata)
    storage_class = property(lambda self: self.storageClass)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r} size={self.size} etag={self.etag}>"


class R2ObjectBody(R2Object):
    """An object with its content: what ``get`` returns. The body can be read once."""

    def __init__(self, row: ObjectRow, data: bytes, range_: tuple[int, int]) -> None:
        super().__init__(row, range_)
        self._data = ByteStream(data)
        self.bodyUsed = False

    @property
    def body(self) -> ByteStream:
        """The content (bytes that also read as a stream)."""
        return self._data

    def _consume(self) -> builtins.bytes:
        if self.bodyUsed:
            raise TypeError(BODY_USED)
        self.bodyUsed = True
        return bytes(self._data)

    async def arrayBuffer(self) -> memoryview:
        return memoryview(self._consume())

    async def bytes(self) -> builtins.bytes:
        return self._consume()

    async def text(self) -> str:
        return self._consume().decode("utf-8", errors="replace")

    async def json(self) -> Any:
        return from_json_text(await self.text())

    array_buffer = arrayBuffer
    body_used = property(lambda self: self.bodyUsed)


def _http_metadata(stored: Mapping[str, Any]) -> JsonDict:
    shown = JsonDict(stored)
    if "cacheExpiry" in shown:
        shown["cacheExpiry"] = to_datetime(shown["cacheExpiry"])
    return shown


def http_metadata(value: Any) -> dict[str, Any]:
    """``httpMetadata`` as stored: a dict of R2's fields, or HTTP headers (``Headers``, or a dict
    keyed by header names) read into them."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) and hasattr(value, "items"):
        value = dict(value.items())
    if not isinstance(value, Mapping):
        raise TypeError(f"httpMetadata must be a dict or Headers, got {type(value).__name__}.")
    lowered = {str(k).lower(): v for k, v in value.items()}
    stored: dict[str, Any] = {}
    for name, header in HTTP_FIELDS.items():
        found = value.get(name, lowered.get(header))
        if found is None:
            continue
        stored[name] = to_ms(found, f"httpMetadata.{name}") if name == "cacheExpiry" else str(found)
    return stored


def custom_metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"customMetadata must be a dict of strings, got {type(value).__name__}.")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(f"customMetadata must map strings to strings; {key!r} has a value of "
                            f"type {type(item).__name__}.")
    return dict(value)


@dataclass(frozen=True)
class Conditional:
    """``onlyIf``: etag and upload-time conditions (an ``R2Conditional`` dict, or ``If-*`` headers)."""

    etag_matches: tuple[str, ...] | None = None
    etag_does_not_match: tuple[str, ...] | None = None
    uploaded_before_ms: int | None = None
    uploaded_after_ms: int | None = None
    seconds_granularity: bool = False

    @classmethod
    def parse(cls, value: Any) -> Conditional | None:
        if value is None:
            return None
        if not isinstance(value, Mapping) and hasattr(value, "items"):
            value = dict(value.items())
        if not isinstance(value, Mapping):
            raise TypeError(f"onlyIf must be a dict or Headers, got {type(value).__name__}.")
        lowered = {str(k).lower(): v for k, v in value.items()}
        before = value.get("uploadedBefore", lowered.get("if-unmodified-since"))
        after = value.get("uploadedAfter", lowered.get("if-modified-since"))
        return cls(_etags(value.get("etagMatches", lowered.get("if-match"))),
                   _etags(value.get("etagDoesNotMatch", lowered.get("if-none-match"))),
                   None if before is None else to_ms(before, "onlyIf.uploadedBefore"),
                   None if after is None else to_ms(after, "onlyIf.uploadedAfter"),
                   bool(value.get("secondsGranularity", False)))

    def holds(self, row: ObjectRow | None) -> bool:
        """Whether the condition holds for the current object (``None``: there is none)."""
        if row is None:
            return self.etag_matches is None and self.uploaded_after_ms is None
        def truncate(ms: int) -> int:
            return ms // 1000 * 1000 if self.seconds_granularity else ms

        modified = truncate(row.uploaded_ms)
        match = self.etag_matches is None or _includes(self.etag_matches, row.etag)
        none_match = self.etag_does_not_match is None or not _includes(self.etag_does_not_match, row.etag)
        since = (self.uploaded_after_ms is None or truncate(self.uploaded_after_ms) < modified
                 or (self.etag_does_not_match is not None and none_match))
        unmodified = (self.uploaded_before_ms is None or modified < truncate(self.uploaded_before_ms)
                      or (self.etag_matches is not None and match))
        return match and none_match and since and unmodified


def _etags(value: Any) -> tuple[str, ...] | None:
    """Etags as an ``If-Match`` header lists them: ``"abc"``, ``abc``, ``W/"abc"``, ``*``."""
    if value is None:
        return None
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    etags = []
    for item in items:
        text = str(item).strip()
        if text.startswith("W/"):
            text = text[2:]
        etags.append(text.strip('"'))
    return tuple(e for e in etags if e) or None


def _includes(etags: tuple[str, ...], etag: str) -> bool:
    return any(e == "*" or e == etag for e in etags)


def byte_range(value: Any, size: int) -> tuple[int, int] | None:
    """``range`` as (offset, length): ``{offset, length}``, ``{suffix}``, or a ``Range`` header;
    ``None`` for the whole object; raises ``ValueError`` when it cannot be satisfied."""
    if value is None:
        return None
    if not isinstance(value, Mapping) and hasattr(value, "get"):
        header = value.get("range")
        return _range_header(header, size) if header else None
    if not isinstance(value, Mapping):
        raise TypeError(f"range must be a dict or Headers, got {type(value).__name__}.")
    offset, length, suffix = value.get("offset"), value.get("length"), value.get("suffix")
    if suffix is not None:
        if suffix <= 0:
            raise ValueError("unsatisfiable")
        suffix = min(int(suffix), size)
        offset, length = size - suffix, suffix
    offset = 0 if offset is None else int(offset)
    length = size - offset if length is None else int(length)
    if offset < 0 or offset > size or length <= 0:
        raise ValueError("unsatisfiable")
    return offset, min(length, size - offset)


def _range_header(header: str, size: int) -> tuple[int, int] | None:
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    if not first:
        return byte_range({"suffix": int(last)}, size) if last.isdigit() else None
    if not first.isdigit() or (last and not last.isdigit()):
        return None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return byte_range({"offset": start, "length": end - start + 1}, size)
