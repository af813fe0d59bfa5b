"""An R2 bucket's storage: one SQLite file holding objects, their bytes and multipart uploads.

    objects(key PK, version, size, etag, uploaded ms, checksums, http_metadata, custom_metadata,
            blobs JSON [[blob, size], ...])      -- one blob, or one per part of a multipart upload
    chunks(blob, seq, data)                      -- a blob's bytes, CHUNK_BYTES per row
    uploads(upload_id PK, key, http_metadata, custom_metadata, state)
    parts(upload_id, part_number, blob, size, etag, md5)

Bytes live in the same file as the metadata, so a put is one transaction: after a crash an object
is there whole or not at all, and nothing is left to clean up. Reading a range reads only the
chunks it covers. Every method is a function of a connection, run on the bucket file's thread by
``R2Store``; ``R2Bucket`` (the binding), ``pyflow r2`` and the explorer all use ``R2Store``.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pyflow_cli.bindings.sqlitefile import BindingFile

T = TypeVar("T")
CHUNK_BYTES = 1024 * 1024
SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY, version TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    uploaded INTEGER NOT NULL, checksums TEXT NOT NULL, http_metadata TEXT NOT NULL,
    custom_metadata TEXT NOT NULL, blobs TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    blob TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (blob, seq)
);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY, key TEXT NOT NULL, http_metadata TEXT NOT NULL,
    custom_metadata TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, blob TEXT NOT NULL,
    size INTEGER NOT NULL, etag TEXT NOT NULL, md5 TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
"""
IN_PROGRESS, COMPLETED, ABORTED = 0, 1, 2
_OBJECT_COLUMNS = "key, version, size, etag, uploaded, checksums, http_metadata, custom_metadata, blobs"


@dataclass
class ObjectRow:
    """An object's metadata as stored (metadata maps are decoded JSON)."""

    key: str
    version: str
    size: int
    etag: str
    uploaded_ms: int
    checksums: dict[str, str]
    http_metadata: dict[str, Any]
    custom_metadata: dict[str, str]
    blobs: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: sqlite3.Row | tuple[Any, ...]) -> ObjectRow:
        return cls(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), json.loads(row[6]),
                   json.loads(row[7]), [(b, s) for b, s in json.loads(row[8])])


@dataclass
class PartRow:
    """An uploaded part of a multipart upload."""

    part_number: int
    blob: str
    size: int
    etag: str
    md5: str


class R2Store:
    """The storage of one bucket, in ``<state>/r2/<bucket_name>.sqlite``."""

    def __init__(self, path: Path) -> None:
        self.file = BindingFile(path, SCHEMA)

    async def run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        return await self.file.run(operation)

    async def head(self, key: str) -> ObjectRow | None:
        return await self.run(lambda conn: find(conn, key))

    async def list_keys(self, prefix: str = "", after: str | None = None, limit: int = 1000
                        ) -> list[ObjectRow]:
        """Up to ``limit`` objects starting with ``prefix`` after the key ``after``, in key order
        (the explorer's paging)."""
        return await self.run(lambda conn: list(_take(scan(conn, prefix, after), limit)))

    def close(self) -> None:
        self.file.close()


def find(conn: sqlite3.Connection, key: str) -> ObjectRow | None:
    row = conn.execute(f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE key = ?", (key,)).fetchone()
    return None if row is None else ObjectRow.from_row(row)


def scan(conn: sqlite3.Connection, prefix: str, after: str | None) -> Iterator[ObjectRow]:
    """Objects whose key starts with ``prefix`` and sorts after ``after``, in key order."""
    cursor = conn.execute(
        f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE key >= ? AND substr(key, 1, length(?)) = ? "
        "AND (? IS NULL OR key > ?) ORDER BY key", (prefix, prefix, prefix, after, after))
    while batch := cursor.fetchmany(256):
        for row in batch:
            yield ObjectRow.from_row(row)


def _take(rows: Iterator[ObjectRow], limit: int) -> Iterator[ObjectRow]:
    for n, row in enumerate(rows):
        if n >= limit:
            return
        yield row


def new_blob(conn: sqlite3.Connection, data: bytes) -> str:
    """Store ``data`` as a new blob; its id."""
    blob = uuid.uuid4().hex
    conn.executemany("INSERT INTO chunks (blob, seq, data) VALUES (?, ?, ?)",
                     ((blob, n, data[start:start + CHUNK_BYTES])
                      for n, start in enumerate(range(0, len(data), CHUNK_BYTES))))
    return blob


def drop_blobs(conn: sqlite3.Connection, blobs: list[tuple[str, int]]) -> None:
    conn.executemany("DELETE FROM chunks WHERE blob = ?", ((blob,) for blob, _ in blobs))


def write_object(conn: sqlite3.Connection, row: ObjectRow) -> None:
    """Insert or replace an object, dropping the bytes of the object it replaces."""
    previous = find(conn, row.key)
    if previous is not None:
        drop_blobs(conn, previous.blobs)
    conn.execute(f"INSERT OR REPLACE INTO objects ({_OBJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (row.key, row.version, row.size, row.etag, row.uploaded_ms,
                  json.dumps(row.checksums), json.dumps(row.http_metadata),
                  json.dumps(row.custom_metadata), json.dumps(row.blobs)))


def delete_object(conn: sqlite3.Connection, key: str) -> None:
    previous = find(conn, key)
    if previous is not None:
        drop_blobs(conn, previous.blobs)
        conn.execute("DELETE FROM objects WHERE key = ?", (key,))


def read_range(conn: sqlite3.Connection, row: ObjectRow, start: int, length: int) -> bytes:
    """``length`` bytes of the object from ``start``, reading only the chunks they are in."""
    out = bytearray()
    base = 0
    end = start + length
    for blob, size in row.blobs:
        if base + size > start and base < end:
            lo, hi = max(start - base, 0), min(end - base, size)
            first, last = lo // CHUNK_BYTES, (hi - 1) // CHUNK_BYTES
            data = b"".join(r[0] for r in conn.execute(
                "SELECT data FROM chunks WHERE blob = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                (blob, first, last)))
            out += data[lo - first * CHUNK_BYTES:hi - first * CHUNK_BYTES]
        base += size
    return bytes(out)


def upload(conn: sqlite3.Connection, upload_id: str, key: str) -> tuple[int, str, str] | None:
    """(state, http_metadata, custom_metadata) of an upload of ``key``, or None."""
    found = conn.execute("SELECT state, http_metadata, custom_metadata FROM uploads "
                         "WHERE upload_id = ? AND key = ?", (upload_id, key)).fetchone()
    return None if found is None else (found[0], found[1], found[2])


def parts(conn: sqlite3.Connection, upload_id: str) -> dict[int, PartRow]:
    return {r[0]: PartRow(*r) for r in conn.execute(
        "SELECT part_number, blob, size, etag, md5 FROM parts WHERE upload_id = ?", (upload_id,))}
