"""The SQLite schema, as named, ordered migrations (recorded in ``schema_migrations``).

A migration is never edited once released: a change to the schema is a new entry at the end.
"""

from __future__ import annotations

import re
import sqlite3
import time

from pyflow_cli.engine.errors import StorageError
from pyflow_cli.engine.status import TERMINAL_STATUSES

FINISHED_SQL = ", ".join(f"'{status.value}'" for status in sorted(TERMINAL_STATUSES))
"""The finished statuses as a SQL list (``engine/status.py`` says which they are)."""

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "initial", """
CREATE TABLE instances (
    iid INTEGER PRIMARY KEY,
    workflow TEXT NOT NULL,
    id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_ms REAL NOT NULL,
    params TEXT NOT NULL,
    output TEXT,
    error TEXT,
    version_id TEXT,
    trigger INTEGER NOT NULL DEFAULT 0,
    runnable_at REAL,
    lease_owner TEXT,
    lease_expires REAL,
    paused_at REAL,
    lifetime INTEGER NOT NULL DEFAULT 0,
    signal INTEGER NOT NULL DEFAULT 0,
    control TEXT,
    UNIQUE (workflow, id)
);
CREATE INDEX instances_by_created ON instances (workflow, created_ms);
CREATE INDEX instances_by_status ON instances (workflow, status, created_ms);
CREATE INDEX instances_runnable ON instances (runnable_at) WHERE runnable_at IS NOT NULL;
CREATE INDEX instances_by_owner ON instances (lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE steps (
    iid INTEGER NOT NULL,
    cache_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT,
    value TEXT,
    error TEXT,
    config TEXT,
    attempts INTEGER,
    attempt_open INTEGER,
    PRIMARY KEY (iid, cache_key)
) WITHOUT ROWID;

CREATE TABLE timers (
    iid INTEGER NOT NULL,
    cache_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    due_ms REAL NOT NULL,
    PRIMARY KEY (iid, cache_key, kind)
) WITHOUT ROWID;

CREATE TABLE log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    iid INTEGER NOT NULL,
    ts REAL NOT NULL,
    event INTEGER NOT NULL,
    group_key TEXT,
    target TEXT,
    metadata TEXT NOT NULL
);
CREATE INDEX log_by_instance ON log (iid, seq);

CREATE TABLE inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    iid INTEGER NOT NULL,
    type TEXT NOT NULL,
    payload TEXT,
    ts REAL NOT NULL,
    consumed_by TEXT
);
CREATE INDEX inbox_pending ON inbox (iid, seq) WHERE consumed_by IS NULL;

CREATE TABLE engines (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    heartbeat_ms REAL NOT NULL
);
"""),
    (2, "claim indexes", """
-- A claim looks for due instances nobody leases, and for leases that ran out, separately: with
-- one index over every runnable instance it had to step over all the leased (running) ones.
DROP INDEX instances_runnable;
CREATE INDEX instances_claimable ON instances (runnable_at)
    WHERE runnable_at IS NOT NULL AND lease_owner IS NULL;
CREATE INDEX instances_by_lease_expiry ON instances (lease_expires) WHERE lease_owner IS NOT NULL;
"""),
    (3, "instance ids are never reused", """
-- A plain INTEGER PRIMARY KEY gives a new row the largest iid + 1: deleting the newest instance
-- handed its iid to the next one, which then received any write still on its way for the old one.
-- AUTOINCREMENT never reuses an iid, and it starts above every iid any table has seen.
CREATE TABLE instances_v3 (
    iid INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow TEXT NOT NULL,
    id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_ms REAL NOT NULL,
    params TEXT NOT NULL,
    output TEXT,
    error TEXT,
    version_id TEXT,
    trigger INTEGER NOT NULL DEFAULT 0,
    runnable_at REAL,
    lease_owner TEXT,
    lease_expires REAL,
    paused_at REAL,
    lifetime INTEGER NOT NULL DEFAULT 0,
    signal INTEGER NOT NULL DEFAULT 0,
    control TEXT,
    UNIQUE (workflow, id)
);
INSERT INTO instances_v3 SELECT * FROM instances;
DROP TABLE instances;
ALTER TABLE instances_v3 RENAME TO instances;
DELETE FROM sqlite_sequence WHERE name = 'instances';
INSERT INTO sqlite_sequence (name, seq) SELECT 'instances', MAX(
    COALESCE((SELECT MAX(iid) FROM instances), 0), COALESCE((SELECT MAX(iid) FROM log), 0),
    COALESCE((SELECT MAX(iid) FROM steps), 0), COALESCE((SELECT MAX(iid) FROM timers), 0),
    COALESCE((SELECT MAX(iid) FROM inbox), 0));
CREATE INDEX instances_by_created ON instances (workflow, created_ms);
CREATE INDEX instances_by_status ON instances (workflow, status, created_ms);
CREATE INDEX instances_by_owner ON instances (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX instances_claimable ON instances (runnable_at)
    WHERE runnable_at IS NOT NULL AND lease_owner IS NULL;
CREATE INDEX instances_by_lease_expiry ON instances (lease_expires) WHERE lease_owner IS NOT NULL;
"""),
    (4, "explorer counts and metrics", """
-- Instance counts per status, kept by triggers in the writes' own transactions: the explorer's
-- status strip and page totals read a few rows instead of counting every instance.
CREATE TABLE status_counts (
    workflow TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (workflow, status)
) WITHOUT ROWID;
INSERT INTO status_counts SELECT workflow, status, COUNT(*) FROM instances GROUP BY workflow, status;
CREATE TRIGGER status_counts_insert AFTER INSERT ON instances BEGIN
    INSERT INTO status_counts VALUES (new.workflow, new.status, 1)
        ON CONFLICT (workflow, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER status_counts_delete AFTER DELETE ON instances BEGIN
    UPDATE status_counts SET n = n - 1 WHERE workflow = old.workflow AND status = old.status;
END;
CREATE TRIGGER status_counts_update AFTER UPDATE OF status ON instances
    WHEN old.status IS NOT new.status BEGIN
    UPDATE status_counts SET n = n - 1 WHERE workflow = old.workflow AND status = old.status;
    INSERT INTO status_counts VALUES (new.workflow, new.status, 1)
        ON CONFLICT (workflow, status) DO UPDATE SET n = n + 1;
END;
-- The workflow-level log rows metrics read, by time: queued, success, failure, terminated (0, 2,
-- 3, 4). Step rows stay out of it (an index entry per step would slow every step down), and the
-- condition is a range, not an IN list, which SQLite would evaluate through a temporary table
-- at every insert into the log.
CREATE INDEX log_metrics ON log (ts) WHERE event <= 4 AND event <> 1;
"""),
    (5, "tracebacks", """
-- The user's traceback of a failed attempt or instance, beside its log row: the row's metadata
-- keeps the reference's shape.
ALTER TABLE log ADD COLUMN traceback TEXT;
"""),
    (6, "engine versions", """
-- The version of the user's code each engine runs, for the explorer's list of engines.
ALTER TABLE engines ADD COLUMN version TEXT;
"""),
    (7, "fenced leases, log numbered per instance", """
-- Every claim by a new holder increases lease_epoch, and a lease holder's writes carry (owner,
-- epoch) and are refused once another claim has happened. Each instance numbers its own log
-- 1, 2, 3... without gaps: a new row takes the instance's highest number + 1, and log_floor (the
-- highest number a restart wiped) keeps the numbering from ever going back. pos orders the
-- rows of the whole store (a workflow's log across its instances), in commit order, never
-- reused. Rows written before keep their (store-wide) numbers, as seq and as pos.
ALTER TABLE instances ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN log_floor INTEGER NOT NULL DEFAULT 0;
CREATE TABLE log_v7 (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    iid INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    ts REAL NOT NULL,
    event INTEGER NOT NULL,
    group_key TEXT,
    target TEXT,
    metadata TEXT NOT NULL,
    traceback TEXT,
    UNIQUE (iid, seq)
);
INSERT INTO log_v7 (pos, iid, seq, ts, event, group_key, target, metadata, traceback)
    SELECT seq, iid, seq, ts, event, group_key, target, metadata, traceback FROM log;
-- pos goes on above every number the old log gave out, deleted rows' included.
INSERT INTO sqlite_sequence (name, seq) SELECT 'log_v7', 0
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'log_v7');
UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE(
    (SELECT MAX(seq) FROM sqlite_sequence WHERE name = 'log'), 0)) WHERE name = 'log_v7';
DROP TABLE log;
ALTER TABLE log_v7 RENAME TO log;
CREATE INDEX log_metrics ON log (ts) WHERE event <= 4 AND event <> 1;
-- As v3 did: no new iid below one that rows of a deleted instance still hold.
UPDATE sqlite_sequence SET seq = MAX(seq,
    COALESCE((SELECT MAX(iid) FROM log), 0), COALESCE((SELECT MAX(iid) FROM steps), 0),
    COALESCE((SELECT MAX(iid) FROM timers), 0), COALESCE((SELECT MAX(iid) FROM inbox), 0))
    WHERE name = 'instances';
"""),
    (8, "platform rules: admission order, retention, versions", """
-- Admission order (engine/admission.py): instances waking up before queued ones. A claim reads
-- each class through its own partial index, earliest runnable first (creation order for new
-- instances: their runnable_at is their creation time, ties in iid order).
DROP INDEX instances_claimable;
CREATE INDEX instances_claimable_waking ON instances (runnable_at)
    WHERE runnable_at IS NOT NULL AND lease_owner IS NULL AND status <> 'queued';
CREATE INDEX instances_claimable_queued ON instances (runnable_at)
    WHERE runnable_at IS NOT NULL AND lease_owner IS NULL AND status = 'queued';
-- The creation rate counts the instances created in the last seconds, in every workflow.
CREATE INDEX instances_by_creation ON instances (created_ms);
-- Retention: when an instance reached a finished status, kept by triggers from the time of its
-- last log row (the WORKFLOW_SUCCESS / FAILURE / TERMINATED row written with the status).
ALTER TABLE instances ADD COLUMN ended_ms REAL;
UPDATE instances SET ended_ms = COALESCE(
    (SELECT MAX(l.ts) FROM log l WHERE l.iid = instances.iid AND l.event IN (2, 3, 4)), created_ms)
    WHERE status IN ({finished});
CREATE INDEX instances_by_end ON instances (ended_ms) WHERE ended_ms IS NOT NULL;
CREATE TRIGGER instances_ended AFTER UPDATE OF status ON instances
    WHEN new.status IN ({finished}) AND old.status IS NOT new.status BEGIN
    UPDATE instances SET ended_ms = COALESCE(
        (SELECT ts FROM log WHERE iid = new.iid ORDER BY seq DESC LIMIT 1), new.created_ms)
        WHERE iid = new.iid;
END;
CREATE TRIGGER instances_reopened AFTER UPDATE OF status ON instances
    WHEN new.status NOT IN ({finished}) AND new.ended_ms IS NOT NULL BEGIN
    UPDATE instances SET ended_ms = NULL WHERE iid = new.iid;
END;
-- Versions of the user's code, numbered in the order first seen (v1, v2...); instances list and
-- count by version; each attempt's row records the version it ran on.
CREATE TABLE versions (
    id TEXT PRIMARY KEY,
    number INTEGER NOT NULL UNIQUE,
    first_seen_ms REAL NOT NULL
);
INSERT INTO versions (id, number, first_seen_ms)
    SELECT version_id, ROW_NUMBER() OVER (ORDER BY MIN(created_ms), version_id), MIN(created_ms)
    FROM instances WHERE version_id IS NOT NULL GROUP BY version_id;
CREATE INDEX instances_by_version ON instances (version_id, workflow, created_ms);
ALTER TABLE log ADD COLUMN version TEXT;
-- Deleting an instance deletes its events, consumed ones too: by iid, not by scanning.
CREATE INDEX inbox_by_instance ON inbox (iid);
""".replace("{finished}", FINISHED_SQL)),
    (9, "engines described, attempts' engines, roles", """
-- What kind of process each engine is, which workflows it runs and since when (pyflow workers
-- list); which engine ran each attempt (set on attempt start rows only, beside v8's version);
-- and the duties one process of a cluster does at a time (firing crons), each held until it
-- expires.
ALTER TABLE engines ADD COLUMN kind TEXT;
ALTER TABLE engines ADD COLUMN workflows TEXT;
ALTER TABLE engines ADD COLUMN started_ms REAL;
ALTER TABLE log ADD COLUMN engine TEXT;
CREATE TABLE roles (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_ms REAL NOT NULL
) WITHOUT ROWID;
"""),
)

LATEST_VERSION = MIGRATIONS[-1][0]


def statements(sql: str) -> list[str]:
    """``sql`` cut into single statements (a trigger's body keeps its own semicolons)."""
    found: list[str] = []
    pending = ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if re.sub(r"--[^\n]*", "", pending).strip(" \n;"):
                found.append(pending.strip())
            pending = ""
    return found


def migrate(conn: sqlite3.Connection, upto: int = LATEST_VERSION) -> None:
    """Bring the database up to ``LATEST_VERSION``; refuse a database from a newer pyflow.
    (``upto`` stops at an older version: the migration tests build databases as they were.)"""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                     "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms REAL NOT NULL)")
        row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        current = row[0] or 0
        if current > LATEST_VERSION:
            raise StorageError(
                f"The state database has schema version {current}, newer than this pyflow "
                f"understands ({LATEST_VERSION}). Upgrade pyflow, or use another --persist-to "
                "directory.")
        for version, name, sql in MIGRATIONS:
            if current < version <= upto:
                for statement in statements(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                             (version, name, time.time() * 1000.0))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
