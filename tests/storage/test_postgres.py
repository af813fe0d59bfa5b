"""The PostgreSQL store's own machinery, on a real server: migrations by several processes at
once, connection failures in one line, a deadlock or a dropped connection survived, the
database's clock, and the same state as SQLite for the same writes."""

from __future__ import annotations

import asyncio
import itertools
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from changegen import Spec, seeded, specs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pgcluster import Server
from storekit import create, row, snapshot

from pyflow_cli.engine.changes import Change
from pyflow_cli.engine.errors import StorageError, StoreUnavailable
from pyflow_cli.engine.store import Store
from pyflow_cli.storage import pg_schema, pg_writer
from pyflow_cli.storage.factory import build_store, open_store
from pyflow_cli.storage.url import PostgresLocation, parse_store_url

OPENER = """
import asyncio, sys
from pathlib import Path
from pyflow_cli.storage.factory import open_store
from pyflow_cli.storage.url import parse_store_url
from pyflow_cli.engine.changes import NewInstance

async def main() -> None:
    store = await open_store(parse_store_url(sys.argv[1], Path(".")))
    await store.create_instances([NewInstance("wf", sys.argv[2], "{}", 1.0, 0, None)])
    await store.close()

asyncio.run(main())
"""


def _location(url: str) -> PostgresLocation:
    location = parse_store_url(url, Path("."))
    assert isinstance(location, PostgresLocation)
    return location


async def _open(url: str) -> Store:
    return await open_store(_location(url))


def test_processes_opening_a_fresh_schema_at_once_migrate_it_once(postgres: Server) -> None:
    url = postgres.location()
    processes = [subprocess.Popen([sys.executable, "-c", OPENER, url, f"p{n}"],
                                  stderr=subprocess.PIPE, text=True) for n in range(6)]
    errors = [p.communicate(timeout=60)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * 6, errors
    schema = pg_schema.quoted(_location(url).schema)
    with postgres.connect() as conn:
        assert conn.execute(f"SELECT version, name FROM {schema}.schema_migrations").fetchall() == [
            (version, name) for version, name, _ in pg_schema.MIGRATIONS]
        assert conn.execute(f"SELECT COUNT(*) FROM {schema}.instances").fetchone()[0] == 6


async def test_an_unreachable_server_is_one_line_naming_host_and_port(postgres: Server) -> None:
    port = _closed_port()
    with pytest.raises(StorageError) as failed:
        await _open(f"postgresql://u:{postgres.password}@127.0.0.1:{port}/db")
    message = failed.value.message
    assert message.startswith(f"Cannot reach PostgreSQL at 127.0.0.1:{port}: Connection refused.")
    assert "\n" not in message and str(postgres.password) not in message


async def test_a_wrong_password_is_one_line_naming_the_user(postgres: Server) -> None:
    url = postgres.url.replace(f":{postgres.password}@", ":not-the-password@")
    with pytest.raises(StorageError) as failed:
        await _open(url)
    message = failed.value.message
    assert message.startswith(f'PostgreSQL at {postgres.host}:{postgres.port} refused user '
                              f'"{postgres.user}" (')
    assert "password authentication failed" in message
    assert "not-the-password" not in message and "\n" not in message


async def test_a_missing_database_is_one_line_saying_how_to_create_it(postgres: Server) -> None:
    url = postgres.url.rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(StorageError) as failed:
        await _open(url)
    assert failed.value.message == (
        f'Database "no_such_db" does not exist on PostgreSQL at {postgres.host}:{postgres.port}. '
        "Create it (createdb no_such_db), or name an existing one in --store.")


async def test_a_server_older_than_the_oldest_supported_is_refused(
        postgres: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from pyflow_cli.storage import pg_connect

    with postgres.connect() as conn:
        major = conn.info.server_version // 10000
    monkeypatch.setattr(pg_connect, "OLDEST_SERVER", major + 1)
    with pytest.raises(StorageError) as failed:
        await _open(postgres.location())
    assert failed.value.message.startswith(
        f"PostgreSQL at {postgres.host}:{postgres.port} is version {major}.")
    assert f"pyflow needs PostgreSQL {major + 1} or newer" in failed.value.message


async def test_a_user_who_may_not_create_the_schema_gets_one_line(postgres: Server) -> None:
    with postgres.connect() as conn:
        conn.execute("DROP ROLE IF EXISTS pyflow_limited")
        conn.execute("CREATE ROLE pyflow_limited LOGIN PASSWORD 'limited-pw'")
    url = postgres.location().replace(f"{postgres.user}:{postgres.password}@",
                                      "pyflow_limited:limited-pw@")
    with pytest.raises(StorageError) as failed:
        await _open(url)
    assert failed.value.message.startswith('User "pyflow_limited" may not create pyflow\'s tables')
    assert "Grant it CREATE on the database" in failed.value.message


async def test_a_deadlock_with_another_transaction_fails_no_write(postgres: Server) -> None:
    """The writer's batch and another transaction lock two instances in opposite orders: the
    server aborts one of them, and the writer applies its batch again."""
    url = postgres.location()
    store = await _open(url)
    first, second = await create(store, "a"), await create(store, "b")
    schema = pg_schema.quoted(_location(url).schema)
    other = postgres.connect()
    other.execute("BEGIN")
    other.execute(f"SELECT 1 FROM {schema}.instances WHERE iid = %s FOR UPDATE", (second,))
    try:
        pending = [store.commit(Change(first, log=[row(ts=1.0)])),
                   store.commit(Change(second, log=[row(ts=2.0)]))]
        await asyncio.sleep(0.3)  # the batch holds `first` and waits for `second`

        def close_the_cycle() -> None:
            other.execute(f"SELECT 1 FROM {schema}.instances WHERE iid = %s FOR UPDATE",
                          (first,))
            other.execute("COMMIT")

        closer = threading.Thread(target=close_the_cycle)
        closer.start()
        assert await asyncio.wait_for(asyncio.gather(*pending), 30) == [True, True]
        closer.join(30)
    finally:
        other.close()
    assert [r.timestamp_ms for r in await store.read_log(first)][2:] == [1.0]
    assert [r.timestamp_ms for r in await store.read_log(second)][2:] == [2.0]
    await store.close()


async def test_a_dropped_connection_fails_the_writes_in_flight_and_the_next_connects_again(
        postgres: Server, caplog: pytest.LogCaptureFixture) -> None:
    url = postgres.location(application_name="pyflow-drop-test")
    store = await _open(url)
    iid = await create(store)
    with postgres.connect() as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE application_name = 'pyflow-drop-test' AND pid <> pg_backend_pid()")
    with pytest.raises(StoreUnavailable, match=r"^PostgreSQL at 127\.0\.0\.1:\d+ cannot be reached "
                                               r"\(.*\); pyflow connects again by itself\.$"):
        await store.commit(Change(iid, log=[row(ts=1.0)]))
    assert await store.commit(Change(iid, log=[row(ts=2.0)])) is True
    # A pooled read connection the server closed is dropped, and the read made on another.
    log = await store.read_log(iid)
    assert [r.timestamp_ms for r in log][2:] == [2.0]
    await store.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "pyflow"]
    assert len(lines) == 2, lines  # one when the outage starts, one when it is over
    assert lines[0].startswith("pyflow: lost the connection to PostgreSQL at 127.0.0.1:")
    assert re.fullmatch(r"pyflow: connected to PostgreSQL at 127\.0\.0\.1:\d+ again after "
                        r"\d+\.\d s", lines[1]), lines[1]


async def test_a_connection_dropped_just_after_its_commit_fails_the_batch_not_applies_it_again(
        postgres: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server ends the writer's session right after the batch's ``COMMIT`` went through (a
    restart, ``pg_terminate_backend``): libpq reports the session's last message as a connection
    still busy, a client-side error, before psycopg knows the connection is gone. The batch's
    outcome is unknown: its callers are told so, and it is not applied a second time (a change
    written twice, or refused by its own fence once its lease was released by the first)."""
    url = postgres.location()
    store = await _open(url)
    iid = await create(store)
    real = pg_writer._pipelined
    dropped = []

    async def commit_then_drop(conn: Any, batch: Any) -> Any:
        values = await real(conn, batch)
        if not dropped:
            dropped.append(conn.info.backend_pid)
            with postgres.connect() as other:
                other.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
            raise psycopg.OperationalError("cannot exit pipeline mode while busy")
        return values

    monkeypatch.setattr(pg_writer, "_pipelined", commit_then_drop)
    try:
        with pytest.raises(StoreUnavailable):
            await store.commit(Change(iid, log=[row(ts=1.0)]))
        assert await store.commit(Change(iid, log=[row(ts=2.0)])) is True
        assert [r.timestamp_ms for r in await store.read_log(iid)][2:] == [1.0, 2.0]
    finally:
        await store.close()


async def test_the_engine_clock_is_the_database_s_even_when_the_machine_s_is_wrong(
        postgres: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 30.0)  # this machine runs 30 s ahead
    store = build_store(_location(postgres.location()))
    from pyflow_cli.storage.factory import store_clock

    clock = store_clock(store)
    await store.open()
    try:
        with postgres.connect() as conn:
            before = time.monotonic()
            server = float(conn.execute(
                "SELECT extract(epoch FROM clock_timestamp()) * 1000").fetchone()[0])
            ours = clock.now_ms() - (time.monotonic() - before) * 1000.0 / 2
        assert abs(ours - server) < 250.0
        assert abs(time.time() * 1000.0 - server) > 29_000.0  # the machine's clock is still wrong
    finally:
        await store.close()


# -- the same writes leave the same state on both backends -----------------------------------------

_names = itertools.count()


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(specs, min_size=1, max_size=10))
async def test_postgres_leaves_the_state_sqlite_leaves_for_the_same_changes(
        postgres: Server, tmp_path: Path, sequence: list[Spec]) -> None:
    name = f"x{next(_names)}"
    stores = [build_store(parse_store_url(str(tmp_path / "reference.sqlite"), tmp_path), "normal"),
              build_store(_location(postgres.location(schema=postgres.prefix + "agree")),
                          "normal")]
    for store in stores:
        await store.open()
    try:
        shots = []
        for store in stores:
            iids, seqs = await seeded(store, name)
            results = [await store.commit(spec.build(iids, seqs)) for spec in sequence]
            shots.append((results, [await snapshot(store, iid) for iid in iids]))
        assert shots[1] == shots[0]
    finally:
        for store in stores:
            await store.close()


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again once this returns


async def test_postgres_reads_what_sqlite_reads_for_the_explorer(
        postgres: Server, tmp_path: Path) -> None:
    """Metrics, a workflow's log, counts and searches: the same answers from both backends for
    the same writes (the SQLite ones are checked on their own in the contract suite and in
    test_sqlite_explorer_reads.py)."""
    from storekit import new

    from pyflow_cli.engine.changes import InstanceUpdate, NewLogEvent
    from pyflow_cli.engine.events import EventType
    from pyflow_cli.engine.status import InstanceStatus
    from pyflow_cli.engine.store import LogQuery

    stores = [build_store(parse_store_url(str(tmp_path / "reference.sqlite"), tmp_path), "normal"),
              build_store(_location(postgres.location()), "normal")]
    answers = []
    for store in stores:
        await store.open()
        iids = await store.create_instances(
            [new(f"order-{n}", created_ms=1000.0 * n, params_json=f'{{"sku":"AB{n}"}}')
             for n in range(6)] + [new("other", workflow="else")])
        for n, iid in enumerate(iids[:6]):
            assert iid is not None
            rows = [NewLogEvent(EventType.STEP_START, 1000.0 * n + 10, f"k{n}", "charge-1"),
                    NewLogEvent(EventType.ATTEMPT_FAILURE, 1000.0 * n + 20, f"k{n}", "charge-1",
                                {"retryDelayMs": 500} if n % 2 else {"error": {}})]
            if n % 3 == 0:
                rows.append(NewLogEvent(EventType.WORKFLOW_SUCCESS, 1000.0 * n + 900))
            elif n % 3 == 1:
                rows.append(NewLogEvent(EventType.WORKFLOW_FAILURE, 1000.0 * n + 700))
            status = [InstanceStatus.COMPLETE, InstanceStatus.ERRORED, InstanceStatus.RUNNING][n % 3]
            assert await store.commit(Change(iid, log=rows, instance=InstanceUpdate(status=status)))
        metrics = await store.metrics_rows("wf", 0.0, 10_000.0, 2000.0)
        log = await store.read_workflow_log("wf", LogQuery(limit=100))
        steps = await store.read_workflow_log("wf", LogQuery(events=(EventType.ATTEMPT_FAILURE,),
                                                             step="CHARGE", since_ms=2000.0))
        page = await store.list_instances("wf", id_prefix="order-", text="ab3", limit=10)
        answers.append((
            sorted(metrics.outcomes), sorted(metrics.wall_times), sorted(metrics.steps),
            [(e.instance_id, e.row.seq, e.row.event, e.row.metadata) for e in log],
            [(e.instance_id, e.row.timestamp_ms) for e in steps],
            [r.id for r in page.records], page.total, await store.status_counts("wf")))
        positions = [e.position for e in log]
        assert positions == sorted(set(positions), reverse=True)
        await store.close()
    assert answers[1] == answers[0]
    assert answers[0][5] == ["order-3"] and answers[0][2]  # the comparison compared something
