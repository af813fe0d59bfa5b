"""Retention on SQLite: deleting finished instances in bounded batches, and giving the space
back to the file system.

A new database is created with ``auto_vacuum = INCREMENTAL`` (``sqlite.py``), so each batch
ends with an incremental vacuum: the pages it freed leave the file (in WAL mode, when the log is
next checkpointed) instead of lingering on SQLite's free list.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from pyflow_cli.engine.retention import PurgeQuery

_TABLES = ("log", "steps", "timers", "inbox", "instances")


def _where(query: PurgeQuery) -> tuple[str, list[Any]]:
    # ended_ms < ? reads the instances_by_end index (schema v8), oldest first.
    terms = ["ended_ms IS NOT NULL", "ended_ms < ?", "lease_owner IS NULL",
             f"status IN ({','.join('?' * len(query.statuses))})"]
    params: list[Any] = [query.ended_before_ms, *(s.value for s in query.statuses)]
    if query.workflow is not None:
        terms.append("workflow = ?")
        params.append(query.workflow)
    return " AND ".join(terms), params


def purge_batch(conn: sqlite3.Connection, query: PurgeQuery, limit: int) -> int:
    """Delete up to ``limit`` instances ``query`` selects, with their rows; how many."""
    where, params = _where(query)
    iids = [row[0] for row in conn.execute(
        f"SELECT iid FROM instances WHERE {where} ORDER BY ended_ms LIMIT ?", (*params, limit))]
    if not iids:
        return 0
    marks = ",".join("?" * len(iids))
    for table in _TABLES:
        conn.execute(f"DELETE FROM {table} WHERE iid IN ({marks})", iids)
    # Python's sqlite3 runs this pragma one step, one page, at a time (executescript would run
    # it through, but commits first): a step per free page, microseconds each.
    for _ in range(conn.execute("PRAGMA freelist_count").fetchone()[0]):
        conn.execute("PRAGMA incremental_vacuum")
    return len(iids)


def count_sql(query: PurgeQuery) -> tuple[str, list[Any]]:
    """The statement (and its parameters) counting what ``purge_batch`` would delete."""
    where, params = _where(query)
    return f"SELECT COUNT(*) FROM instances WHERE {where}", params


def use_incremental_vacuum(conn: sqlite3.Connection) -> None:
    """Make the database give freed pages back: set for a new file before anything else (WAL
    mode included: it writes the file's header); an older file is converted once by a
    ``VACUUM``, which is skipped (and tried again at the next open) while another connection
    is using the file."""
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:  # INCREMENTAL
        return
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    if conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0:
        return  # a new file: the setting applies as its first table is created
    timeout = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("VACUUM")
    except sqlite3.OperationalError:
        pass  # busy: left as it is for now
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")
