"""A KV namespace's storage: one SQLite file, one row per key.

    entries(key TEXT PRIMARY KEY, value BLOB, expiration INTEGER ms | NULL, metadata TEXT JSON | NULL)

Keys sort as Cloudflare sorts them (by their UTF-8 bytes: SQLite's binary collation). An expired
key is invisible to every read at once and its row is removed by a later write. This class is
the namespace's whole read and write API: the ``KVNamespace`` binding, the ``pyflow kv`` commands
and the explorer use it alike.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyflow_cli.bindings.sqlitefile import BindingFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expiration INTEGER,
    metadata TEXT
);
CREATE INDEX IF NOT EXISTS entries_expiration ON entries (expiration) WHERE expiration IS NOT NULL;
"""
_LIVE = "(expiration IS NULL OR expiration > ?)"


@dataclass(frozen=True)
class KvEntry:
    """A stored key: its value, expiry (epoch ms) and metadata (JSON text)."""

    key: str
    value: bytes
    expiration_ms: int | None
    metadata_json: str | None


@dataclass(frozen=True)
class KvKey:
    """A key as a listing shows it (without the value)."""

    key: str
    expiration_ms: int | None
    metadata_json: str | None


@dataclass(frozen=True)
class KvPage:
    """One page of a listing: its keys, in order, and whether more follow."""

    keys: list[KvKey]
    more: bool


class KvStore:
    """The storage of one namespace, in ``<state>/kv/<id>.sqlite``."""

    def __init__(self, path: Path, now_ms: Callable[[], float]) -> None:
        self.file = BindingFile(path, SCHEMA)
        self._now_ms = now_ms

    async def get(self, key: str) -> KvEntry | None:
        found = await self.get_many([key])
        return found[key]

    async def get_many(self, keys: Sequence[str]) -> dict[str, KvEntry | None]:
        now = int(self._now_ms())

        def read(conn: sqlite3.Connection) -> dict[str, KvEntry | None]:
            result: dict[str, KvEntry | None] = {}
            for key in keys:
                row = conn.execute(f"SELECT value, expiration, metadata FROM entries WHERE key = ? "
                                   f"AND {_LIVE}", (key, now)).fetchone()
                result[key] = None if row is None else KvEntry(key, bytes(row[0]), row[1], row[2])
            return result

        return await self.file.run(read)

    async def put(self, key: str, value: bytes, expiration_ms: int | None,
                  metadata_json: str | None) -> None:
        now = int(self._now_ms())

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM entries WHERE expiration <= ?", (now,))
            conn.execute("INSERT OR REPLACE INTO entries (key, value, expiration, metadata) "
                         "VALUES (?, ?, ?, ?)", (key, value, expiration_ms, metadata_json))

        await self.file.run(write)

    async def delete(self, key: str) -> None:
        await self.file.run(lambda conn: conn.execute("DELETE FROM entries WHERE key = ?", (key,)))

    async def list(self, prefix: str = "", limit: int = 1000, after: str | None = None) -> KvPage:
        """Up to ``limit`` live keys starting with ``prefix``, after the key ``after``."""
        now = int(self._now_ms())

        def read(conn: sqlite3.Connection) -> KvPage:
            # substr() compares whole characters exactly, where LIKE would treat % and _ as wildcards.
            found = conn.execute(
                f"SELECT key, expiration, metadata FROM entries WHERE key >= ? AND "
                f"substr(key, 1, length(?)) = ? AND key > coalesce(?, '') AND {_LIVE} "
                "ORDER BY key LIMIT ?", (prefix, prefix, prefix, after, now, limit + 1)).fetchall()
            return KvPage([KvKey(*row) for row in found[:limit]], len(found) > limit)

        return await self.file.run(read)

    def close(self) -> None:
        self.file.close()
