"""Admission on SQLite: claims in admission order under a running limit, and the checks a create
makes under the queued limit and the creation rate (the rules: ``engine/admission.py``).

Everything here runs on the writer thread, inside its ``BEGIN IMMEDIATE`` transaction. That
transaction holds SQLite's one write lock on the database file from its first statement to its
commit, so claims and creates of every process on the file are serialised: a count taken here
stays true until the claim or create that took it commits. Two engines racing for the last slot
each count inside their own transaction, one after the other; the second sees the first's lease.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from pyflow_cli.engine.admission import (
    CreationLimits,
    RunningLimit,
    admissible,
    creation_refusal,
)
from pyflow_cli.engine.changes import NewInstance
from pyflow_cli.engine.events import EventType

_IID, _STATUS = 0, 3  # positions in the store's instance columns

# One statement per admission class, each through its own partial index (schema v2, v8); the
# unary ``+`` keeps SQLite from picking the (workflow, created) index instead, which would read
# every instance of the workflow at every claim.
_WAKING = ("SELECT {columns} FROM instances WHERE runnable_at IS NOT NULL "
           "AND lease_owner IS NULL AND status <> 'queued' AND runnable_at <= ? "
           "AND +workflow IN ({marks}) ORDER BY runnable_at, iid LIMIT ?")
_EXPIRED = ("SELECT {columns} FROM instances WHERE lease_owner IS NOT NULL "
            "AND lease_expires < ? AND runnable_at <= ? AND +workflow IN ({marks}) "
            "ORDER BY lease_expires LIMIT ?")
_QUEUED = ("SELECT {columns} FROM instances WHERE runnable_at IS NOT NULL "
           "AND lease_owner IS NULL AND status = 'queued' AND runnable_at <= ? "
           "AND +workflow IN ({marks}) ORDER BY runnable_at, iid LIMIT ?")
_OTHERS_RUNNING = ("SELECT COUNT(*) FROM instances WHERE lease_owner IS NOT NULL "
                   "AND lease_expires >= ? AND lease_owner <> ?")
_NEXT_DUE = ("SELECT MIN(due) FROM (SELECT MIN(runnable_at) AS due FROM instances "
             "WHERE runnable_at IS NOT NULL AND lease_owner IS NULL AND status <> 'queued' "
             "AND +workflow IN ({marks}) UNION ALL SELECT MIN(runnable_at) FROM instances "
             "WHERE runnable_at IS NOT NULL AND lease_owner IS NULL AND status = 'queued' "
             "AND +workflow IN ({marks}))")


def claimable_rows(conn: sqlite3.Connection, columns: str, owner: str, now_ms: float,
                   limit: int, workflows: Sequence[str], running: RunningLimit | None
                   ) -> list[Any]:
    """The instance rows (the store's instance ``columns``) ``owner`` may lease now, in
    admission order (not leased yet)."""
    if running is not None:
        others = conn.execute(running_sql(), (now_ms, owner)).fetchone()[0]
        limit = admissible(others, running, limit)
    rows: list[Any] = []
    for sql, bounds in zip(claim_sql(columns, len(workflows)),
                           ((now_ms,), (now_ms, now_ms), (now_ms,)), strict=True):
        if len(rows) >= limit:
            break
        rows += conn.execute(sql, (*bounds, *workflows, limit - len(rows))).fetchall()
    return rows


def claim_sql(columns: str, workflows: int) -> tuple[str, str, str]:
    """The statements of a claim, one per admission class, in order: waking instances (due,
    not queued), expired leases, queued instances. Parameters: the time (twice for expired
    leases), the workflows, the most rows to read."""
    marks = ",".join("?" * workflows)
    waking, expired, queued = (sql.format(columns=columns, marks=marks)
                               for sql in (_WAKING, _EXPIRED, _QUEUED))
    return waking, expired, queued


def running_sql() -> str:
    """Counts the instances under other owners' live leases (parameters: now, owner)."""
    return _OTHERS_RUNNING


def starting(conn: sqlite3.Connection, rows: Sequence[Any]) -> list[int]:
    """The admitted instances (of ``rows``) that still need their ``WORKFLOW_START`` row: queued
    ones created (or restarted) under a running limit, which start when they are admitted.
    Such a row is among an instance's first two, so looking at those two is enough."""
    return [row[_IID] for row in rows if row[_STATUS] == "queued" and not conn.execute(
        "SELECT 1 FROM (SELECT event FROM log WHERE iid = ? ORDER BY seq LIMIT 2) "
        "WHERE event = ?", (row[_IID], int(EventType.WORKFLOW_START))).fetchone()]


def next_due_sql(workflows: int) -> str:
    """The earliest ``runnable_at`` of unleased instances, read through both claim indexes."""
    return _NEXT_DUE.format(marks=",".join("?" * workflows))


def refuse_if_over(conn: sqlite3.Connection, limits: CreationLimits,
                   instances: Sequence[NewInstance]) -> None:
    """Raise the 429 error if creating ``instances`` would break ``limits``."""
    if not instances:
        return
    now_ms = max(new.created_ms for new in instances)
    recent: list[float] = []
    if limits.rate is not None:
        recent = [row[0] for row in conn.execute(
            "SELECT created_ms FROM instances WHERE created_ms > ? ORDER BY created_ms",
            (now_ms - limits.rate.window_ms,))]
    queued = 0
    if limits.max_queued is not None:
        queued = conn.execute("SELECT COALESCE(SUM(n), 0) FROM status_counts "
                              "WHERE status = 'queued'").fetchone()[0]
    refusal = creation_refusal(limits, len(instances), queued, recent, now_ms)
    if refusal is not None:
        raise refusal
