"""The reads the explorer makes stay cheap however many instances there are: counts kept by
triggers (and right through every kind of write), pages and counts through indexes, metrics
through the partial log index. Real SQLite files; plans checked with ANALYZE statistics."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from pyflow_cli.engine.changes import Change, InstanceUpdate, NewInstance, NewLogEvent
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.storage.schema import MIGRATIONS, migrate, statements
from pyflow_cli.storage.sqlite import SqliteStore
from pyflow_cli.storage.sqlite_reads import instance_filter

STATUSES = list(InstanceStatus)


def counted(path: Path, workflow: str) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT status, COUNT(*) FROM instances WHERE workflow = ? GROUP BY status",
                            (workflow,)).fetchall()
    return dict(rows)


async def test_kept_counts_match_a_full_count_through_every_kind_of_write(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path, durability="normal")
    await store.open()
    chooser = random.Random(14)
    iids: dict[str, int] = {}
    try:
        for step in range(300):
            workflow = chooser.choice(["a", "b"])
            action = chooser.random()
            if action < 0.4 or not iids:
                new = NewInstance(workflow, f"i{step}", "{}", step, 0, None)
                [iid] = await store.create_instances([new])
                assert iid is not None
                iids[f"{workflow}/{new.id}"] = iid
                # An id that exists already is ignored, and not counted twice.
                assert await store.create_instances([new]) == [None]
            elif action < 0.85:
                iid = chooser.choice(list(iids.values()))
                status = chooser.choice(STATUSES)
                await store.commit(Change(iid, log=[NewLogEvent(EventType.WORKFLOW_RUNNING, step)],
                                          instance=InstanceUpdate(status=status)))
            else:
                key = chooser.choice(list(iids))
                workflow, instance_id = key.split("/")
                assert await store.delete_instances(workflow, [instance_id]) == [instance_id]
                del iids[key]
            if step % 25 == 0:
                for name in ("a", "b"):
                    assert await store.status_counts(name) == counted(store.path, name)
        await store.delete_instances("a", None)
        assert await store.status_counts("a") == {}
        assert await store.status_counts("b") == counted(store.path, "b")
    finally:
        await store.close()


def test_the_migration_counts_the_instances_already_stored(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                 "applied_ms REAL NOT NULL)")
    for version, name, sql in MIGRATIONS[:2]:
        for statement in statements(sql):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (version, name))
    conn.executemany("INSERT INTO instances (workflow, id, status, created_ms, params) "
                     "VALUES (?, ?, ?, 0, '{}')",
                     [("w", f"i{k}", ["complete", "errored", "waiting"][k % 3]) for k in range(10)])
    migrate(conn)
    assert dict(conn.execute("SELECT status, n FROM status_counts WHERE workflow = 'w'").fetchall()) == {
        "complete": 4, "errored": 3, "waiting": 3}
    conn.close()


def test_a_trigger_body_keeps_its_semicolons() -> None:
    sql = "CREATE TABLE t (a);\nCREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; SELECT 2; END;\n-- done\n"
    assert statements(sql) == ["CREATE TABLE t (a);",
                               "CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; SELECT 2; END;"]


def plan(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> str:
    return " | ".join(str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))


def test_pages_counts_and_metrics_never_scan_every_instance(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "plan.sqlite", isolation_level=None)
    migrate(conn)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO instances (workflow, id, status, created_ms, params) VALUES (?, ?, ?, ?, '{}')",
        [(f"w{k % 3}", f"i{k}", ["complete", "running", "errored"][k % 3], float(k)) for k in range(3000)])
    conn.executemany("INSERT INTO log (iid, seq, ts, event, metadata) VALUES (?, ?, ?, ?, '{}')",
                     [(k % 3000 + 1, k // 3000 + 1, float(k), k % 16) for k in range(12000)])
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    columns = "iid, workflow, id, status, created_ms"
    for statuses, prefix in (([], None), ([InstanceStatus.RUNNING], None), ([], "i12")):
        where, params = instance_filter("w1", statuses, None, None, prefix, None)
        sql = (f"SELECT {columns} FROM instances WHERE {' AND '.join(where)} "
               "ORDER BY created_ms DESC, iid DESC LIMIT 25 OFFSET 0")
        shown = plan(conn, sql, tuple(params))
        assert "SEARCH instances USING" in shown and "SCAN instances" not in shown, shown
    counts = plan(conn, "SELECT status, n FROM status_counts WHERE workflow = ? AND n > 0", ("w1",))
    assert "instances" not in counts and "SEARCH status_counts" in counts, counts
    metrics = plan(conn, "SELECT l.event FROM log l CROSS JOIN instances i ON i.iid = l.iid "
                         "WHERE l.event <= 4 AND l.event <> 1 "
                         "AND l.ts >= ? AND l.ts < ? AND i.workflow = ?", (0.0, 10.0, "w1"))
    assert "log_metrics" in metrics and "SCAN" not in metrics, metrics
    conn.close()


async def test_the_store_metrics_sql_uses_the_partial_index(tmp_path: Path) -> None:
    """The store's own metrics statements, as sent (traced): each reads the log through
    ``log_metrics``, never by scanning it."""
    store = SqliteStore(tmp_path)
    await store.open()
    try:
        [iid] = await store.create_instances([NewInstance("w", "a", "{}", 1000.0, 0, None)])
        assert iid is not None
        await store.commit(Change(iid, log=[NewLogEvent(EventType.WORKFLOW_SUCCESS, 2000.0)],
                                  instance=InstanceUpdate(status=InstanceStatus.COMPLETE)))
        sent: list[str] = []
        assert store._reader is not None
        await store._reader.set_trace_callback(sent.append)
        rows = await store.metrics_rows("w", 0.0, 10_000.0, 1000.0)
        await store._reader.set_trace_callback(None)
        assert sorted(rows.outcomes) == [(EventType.WORKFLOW_QUEUED, 1, 1),
                                         (EventType.WORKFLOW_SUCCESS, 2, 1)]
        assert rows.wall_times == [(2, 1000.0)]
        metric_reads = [sql for sql in sent if "FROM log l" in sql]
        assert len(metric_reads) == 3
        conn = sqlite3.connect(store.path)
        for sql in metric_reads:
            shown = plan(conn, sql, ())
            assert "USING INDEX log_metrics" in shown and "SCAN l" not in shown, shown
        conn.close()
    finally:
        await store.close()
