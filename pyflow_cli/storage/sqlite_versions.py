"""Versions of the user's code on SQLite: numbered in the order first recorded (schema v8)."""

from __future__ import annotations

import sqlite3

from pyflow_cli.engine.versions import VersionRecord


def list_versions_sql(count: bool) -> str:
    """Every version, oldest first; with ``count``, how many instances record each (a range of
    the ``instances_by_version`` index per version)."""
    instances = "(SELECT COUNT(*) FROM instances i WHERE i.version_id = v.id)" if count else "0"
    return f"SELECT v.id, v.number, v.first_seen_ms, {instances} FROM versions v ORDER BY v.number"


def record_version(conn: sqlite3.Connection, version_id: str, seen_ms: float) -> VersionRecord:
    row = conn.execute("SELECT id, number, first_seen_ms FROM versions WHERE id = ?",
                       (version_id,)).fetchone()
    if row is None:
        number = conn.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM versions").fetchone()[0]
        conn.execute("INSERT INTO versions (id, number, first_seen_ms) VALUES (?, ?, ?)",
                     (version_id, number, seen_ms))
        row = (version_id, number, seen_ms)
    return VersionRecord(row[0], int(row[1]), float(row[2]))
