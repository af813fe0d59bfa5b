"""Every schema migration: a store created at each older version opens at the current one with
every row intact, and works."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from backends import Row, SqliteFactory, StoreFactory
from storekit import WORKFLOW, create, record

from pyflow_cli.engine.changes import Change, InstanceUpdate, StepWrite
from pyflow_cli.engine.errors import StorageError
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.retention import PurgeQuery
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import EngineRecord, InboxEvent, StepRecord, TimerRecord
from pyflow_cli.engine.versions import VersionRecord
from pyflow_cli.storage import pg_schema, schema

GOLDEN = Path(__file__).parent.parent / "golden" / "v1-sleeping.sqlite"

# Rows as the first schema stores them: every later schema must keep them. iid 3 was deleted;
# iid 7 exists only in a log row (a write that landed after its instance was deleted).
SEED: dict[str, list[Row]] = {
    "instances": [
        {"iid": 1, "workflow": WORKFLOW, "id": "sleepy", "status": "waiting", "created_ms": 10.0,
         "params": '{"n":1}', "version_id": "v", "trigger": 1, "runnable_at": 500.0,
         "lease_owner": "engine-1", "lease_expires": 90.0, "lifetime": 2, "signal": 3,
         "control": '{"action":"pause"}'},
        {"iid": 2, "workflow": WORKFLOW, "id": "done", "status": "complete", "created_ms": 20.0,
         "params": "{}", "output": '"ok"'},
        {"iid": 4, "workflow": "other", "id": "held", "status": "paused", "created_ms": 30.0,
         "params": "{}", "error": '{"name":"E"}', "paused_at": 35.0},
    ],
    "steps": [
        {"iid": 1, "cache_key": "k1", "kind": "do", "target": "one-1", "state": "done",
         "value": "1", "config": "{}", "attempts": 1, "attempt_open": 0},
        {"iid": 1, "cache_key": "k2", "kind": "sleep", "target": "nap-1", "state": "started"},
        {"iid": 2, "cache_key": "k1", "kind": "do", "target": "one-1", "state": "failed",
         "error": '"e"', "attempts": 3, "attempt_open": 1},
    ],
    "timers": [{"iid": 1, "cache_key": "k2", "kind": "sleep", "due_ms": 500.0},
               {"iid": 4, "cache_key": "k9", "kind": "retry", "due_ms": 40.0}],
    "log": [
        {"seq": 1, "iid": 1, "ts": 10.0, "event": int(EventType.WORKFLOW_QUEUED),
         "metadata": '{"params":{"n":1},"trigger":{"source":1}}'},
        {"seq": 2, "iid": 1, "ts": 10.0, "event": int(EventType.WORKFLOW_START), "metadata": "{}"},
        {"seq": 5, "iid": 1, "ts": 11.0, "event": int(EventType.STEP_START), "group_key": "k1",
         "target": "one-1", "metadata": '{"attempt":1}'},
        {"seq": 6, "iid": 7, "ts": 12.0, "event": int(EventType.STEP_START), "metadata": "{}"},
    ],
    "inbox": [{"seq": 1, "iid": 1, "type": "go", "payload": '"x"', "ts": 15.0, "consumed_by": "k0"},
              {"seq": 2, "iid": 1, "type": "go", "payload": None, "ts": 16.0}],
    "engines": [{"id": "engine-1", "pid": 42, "host": "box", "heartbeat_ms": 80.0}],
}


def _rows(factory: StoreFactory, location: str) -> dict[str, list[tuple[Any, ...]]]:
    return {table: factory.read_rows(location, table, list({c for r in rows for c in r}))
            for table, rows in SEED.items()}


def _older(factory: StoreFactory) -> list[int]:
    return list(factory.schema_versions[:-1])


def _before_platform(factory: StoreFactory) -> list[int]:
    """The older versions before the platform rules' migration (SQLite's v8, PostgreSQL's v2)
    and SQLite's v7."""
    migrations = schema.MIGRATIONS if isinstance(factory, SqliteFactory) else pg_schema.MIGRATIONS
    platform = next(v for v, what, _ in migrations if what.startswith("platform rules"))
    return [v for v in _older(factory) if v < min(7, platform)]


async def _check_seed_reads(factory: StoreFactory, location: str) -> None:
    store = await factory.open(location)
    sleepy = await record(store, 1)
    assert (sleepy.workflow, sleepy.id, sleepy.status, sleepy.created_ms, sleepy.params_json,
            sleepy.version_id, sleepy.trigger, sleepy.runnable_at, sleepy.lease_owner,
            sleepy.lease_expires, sleepy.lifetime, sleepy.signal, sleepy.control) == (
        WORKFLOW, "sleepy", InstanceStatus.WAITING, 10.0, '{"n":1}', "v", 1, 500.0, "engine-1",
        90.0, 2, 3, '{"action":"pause"}')
    done = await store.get_instance(WORKFLOW, "done")
    assert done is not None and (done.status, done.output_json) == (InstanceStatus.COMPLETE, '"ok"')
    held = await store.get_instance("other", "held")
    assert held is not None and (held.error_json, held.paused_at) == ('{"name":"E"}', 35.0)
    history = await store.load_history(1)
    assert history.steps == {
        "k1": StepRecord("k1", "do", "one-1", "done", "1", None, "{}", 1, False),
        "k2": StepRecord("k2", "sleep", "nap-1", "started", None, None, None, 0, False)}
    assert history.timers == {("k2", "sleep"): TimerRecord("k2", "sleep", 500.0)}
    assert history.inbox == [InboxEvent(2, "go", None, 16.0)]
    assert (await store.load_history(2)).steps["k1"].attempt_open is True
    log = await store.read_log(1)
    assert [(r.seq, r.event, r.group_key, r.metadata) for r in log] == [
        (1, EventType.WORKFLOW_QUEUED, None, {"params": {"n": 1}, "trigger": {"source": 1}}),
        (2, EventType.WORKFLOW_START, None, {}), (5, EventType.STEP_START, "k1", {"attempt": 1})]
    assert await store.list_engines() == [EngineRecord("engine-1", 42, "box", 80.0)]
    await factory.close(store)


async def test_a_store_at_each_older_schema_version_migrates_with_every_row_intact(
        store_factory: StoreFactory) -> None:
    for version in _older(store_factory):
        location = store_factory.create_at_version(version)
        for table, rows in SEED.items():
            store_factory.insert_rows(location, table, rows)
        before = _rows(store_factory, location)
        await _check_seed_reads(store_factory, location)
        assert store_factory.schema_version(location) == store_factory.schema_versions[-1], version
        assert _rows(store_factory, location) == before, version


async def test_a_migrated_store_works_and_gives_new_instances_ids_never_seen(
        store_factory: StoreFactory) -> None:
    for version in _older(store_factory):
        location = store_factory.create_at_version(version)
        for table, rows in SEED.items():
            store_factory.insert_rows(location, table, rows)
        store = await store_factory.open(location)
        iid = await create(store, "fresh")
        assert iid > 7, version  # above every iid any row has used
        assert await store.commit(Change(iid, steps=[StepWrite("k", "do", "t", "done")]))
        assert await store.commit(Change(1, instance=InstanceUpdate(lease_owner=None)))
        claimed = await store.claim_runnable("engine-2", 1000.0, 10.0, 10, [WORKFLOW])
        assert sorted(r.id for r in claimed) == ["fresh", "sleepy"], version
        assert (await store.add_event(1, "go", None, 1.0) or 0) > 2  # after the events it had
        await store_factory.close(store)


async def test_migrating_past_v7_records_ends_and_versions_of_what_was_there(
        store_factory: StoreFactory) -> None:
    # Schema v7: a finished instance's end (its last finishing row, else its creation) makes it
    # purgeable; the versions instances recorded are numbered in the order they first appeared.
    for version in _before_platform(store_factory):
        location = store_factory.create_at_version(version)
        for table, rows in SEED.items():
            store_factory.insert_rows(location, table, rows)
        store = await store_factory.open(location)
        assert await store.list_versions() == [VersionRecord("v", 1, 10.0, 1)], version
        assert await store.count_purgeable(PurgeQuery(20.0)) == 0, version
        assert await store.purge_finished(PurgeQuery(20.5), 10) == 1, version  # "done", at 20.0
        assert await store.get_instance(WORKFLOW, "done") is None
        assert await store.get_instance(WORKFLOW, "sleepy") is not None
        await store_factory.close(store)


async def test_opening_a_current_store_again_changes_nothing(store_factory: StoreFactory) -> None:
    location = store_factory.create_at_version(store_factory.schema_versions[-1])
    for table, rows in SEED.items():
        store_factory.insert_rows(location, table, rows)
    before = _rows(store_factory, location)
    await _check_seed_reads(store_factory, location)
    await _check_seed_reads(store_factory, location)
    assert _rows(store_factory, location) == before


async def test_a_store_from_a_newer_pyflow_is_refused_and_left_alone(
        store_factory: StoreFactory) -> None:
    newest = store_factory.schema_versions[-1]
    location = store_factory.create_at_version(newest)
    store_factory.insert_rows(location, "schema_migrations",
                              [{"version": newest + 1, "name": "future", "applied_ms": 0.0}])
    with pytest.raises(StorageError, match=f"schema version {newest + 1}, newer than"):
        await store_factory.open(location)
    assert store_factory.schema_version(location) == newest + 1


# -- SQLite's own files and machinery -----------------------------------------------------------------


async def test_the_golden_v1_file_migrates_with_every_row_of_every_table_intact(
        tmp_path: Path) -> None:
    factory = SqliteFactory(tmp_path)
    location = factory.new_location()
    Path(location).mkdir()
    shutil.copy(GOLDEN, Path(location) / "pyflow.sqlite")
    assert factory.schema_version(location) == 1
    tables = ("instances", "steps", "timers", "log", "inbox", "engines")
    with contextlib.closing(sqlite3.connect(Path(location) / "pyflow.sqlite")) as conn:
        columns = {t: [row[1] for row in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    before = {t: factory.read_rows(location, t, columns[t]) for t in tables}
    assert before["instances"] and before["steps"] and before["log"]
    store = await factory.open(location)
    try:
        assert factory.schema_version(location) == factory.schema_versions[-1]
        assert {t: factory.read_rows(location, t, columns[t]) for t in tables} == before
        waiting = await store.get_instance("golden", "waiting")
        assert waiting is not None and waiting.status is InstanceStatus.WAITING
        newest = max(row[0] for row in before["instances"])
        assert await create(store, "new", workflow="golden") > newest
        with contextlib.closing(sqlite3.connect(Path(location) / "pyflow.sqlite")) as conn:
            # An older file is converted once, so that purges give space back (VACUUM).
            assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    finally:
        await factory.close_all()


def test_a_failing_migration_leaves_the_database_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    schema.migrate(conn, upto=1)
    conn.execute("INSERT INTO engines VALUES ('e', 1, 'h', 2.0)")
    broken = (*schema.MIGRATIONS, (schema.LATEST_VERSION + 1, "broken",
                                   "CREATE TABLE fine (x INTEGER); SELECT * FROM no_such_table"))
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    with pytest.raises(sqlite3.OperationalError):
        schema.migrate(conn, upto=schema.LATEST_VERSION + 1)
    assert conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == 1
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "fine" not in tables
    assert conn.execute("SELECT * FROM engines").fetchall() == [("e", 1, "h", 2.0)]
    conn.close()


def test_every_migration_is_recorded_by_version_and_name(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    schema.migrate(conn)
    schema.migrate(conn)  # a second run has nothing to do
    assert conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall() == [
        (version, name) for version, name, _ in schema.MIGRATIONS]
    assert [version for version, _, _ in schema.MIGRATIONS] == list(
        range(1, schema.LATEST_VERSION + 1))
    conn.close()
