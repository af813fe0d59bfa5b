"""The PostgreSQL store: many engine processes on many machines sharing one database.

Writes go through one connection per process, group-committed in pipeline mode
(``pg_writer.py``); reads through a small pool of connections, so HTTP reads, the engine's
claims and describes do not wait for each other. Its tables live in their own schema
(``pg_schema.py``), migrated once under an advisory lock.

What makes many processes safe is in the SQL: a claim locks the rows it takes with ``FOR UPDATE
SKIP LOCKED`` (two engines never take one instance; neither waits for the other) and checks the
claim's condition again on the locked row; every change is checked against its fence and
guards, and numbers its instance's log rows, under that instance's row lock, in the transaction
that writes it. Times come from the database's clock (``clock.DatabaseClock``).

Engines wake each other with LISTEN/NOTIFY (``pg_wakeups.py``): each write that makes work due
or signals an instance carries a note, which the writer sends once its batch committed. When
the server cannot be reached, ``ServerHealth`` (``pg_health.py``) says so once for every
connection, and each reconnects by itself with growing pauses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from pyflow_cli.engine.admission import CreationLimits, RunningLimit
from pyflow_cli.engine.changes import UNSET, Change, InstanceUpdate, NewInstance
from pyflow_cli.engine.errors import StorageError
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.retention import PurgeQuery
from pyflow_cli.engine.store import FIRST_EPOCH, EngineRecord, InstanceRecord, LeaseLost
from pyflow_cli.engine.versions import VersionRecord
from pyflow_cli.engine.wakeups import WakeupFeed
from pyflow_cli.storage import pg_connect, pg_wakeups
from pyflow_cli.storage.clock import RESYNC_S, DatabaseClock
from pyflow_cli.storage.pg_changes import APPLIED, FENCED, encode_changes
from pyflow_cli.storage.pg_health import ServerHealth
from pyflow_cli.storage.pg_platform import (
    count_sql,
    created,
    limits_json,
    list_versions_sql,
    purge_sql,
    version,
)
from pyflow_cli.storage.pg_reads import COLUMNS, PgReads, record
from pyflow_cli.storage.pg_schema import migrate, quoted
from pyflow_cli.storage.pg_wakeups import PgWakeups
from pyflow_cli.storage.pg_writer import PgWriter
from pyflow_cli.storage.url import PostgresLocation

_ACTIVE = ["queued", "running", "waiting", "waitingForPause"]
READ_POOL_SIZE = 4
READ_WAIT_S = 5.0
"""How long a read waits for a pooled connection (during an outage the pool has none)."""
# The pool reports every failed reconnection and discarded connection; pyflow reports an
# outage itself, once (pg_health.py).
logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
logging.getLogger("psycopg").setLevel(logging.ERROR)  # "error ignored terminating <pipeline>"


class PostgresStore(PgReads):
    """``Store`` on a PostgreSQL database (see the module docstring)."""

    def __init__(self, location: PostgresLocation, durability: str = "full") -> None:
        if durability not in ("full", "normal"):
            raise StorageError(f'Unknown durability "{durability}": use "full" or "normal".')
        self.location = location
        self.durability = durability
        self.clock = DatabaseClock()
        s = quoted(location.schema)
        self.schema_sql = s
        self._apply_sql = f"SELECT {s}.apply_changes(%s::jsonb)"
        self.health = ServerHealth(location)
        self._wakeups = PgWakeups(location, self.health)
        self._writer = PgWriter(self._connect_writer, self.health, self._announce)
        self._pool: AsyncConnectionPool[Any] | None = None
        self._resync: asyncio.Task[None] | None = None

    # -- connections --------------------------------------------------------------------------------
    async def _connect_writer(self) -> psycopg.AsyncConnection[Any]:
        conn: psycopg.AsyncConnection[Any] = await pg_connect.connect(self.location)
        if self.durability == "normal":  # a crash of the server may lose the last commits
            await conn.execute("SET synchronous_commit = off")
        return conn

    async def open(self) -> None:
        conn = await pg_connect.connect(self.location)
        try:
            await migrate(conn, self.location.schema)
        except psycopg.errors.InsufficientPrivilege as error:
            await conn.close()
            raise StorageError(
                f'User "{self.location.user or "?"}" may not create pyflow\'s tables in schema '
                f'"{self.location.schema}" of database "{self.location.database}" on PostgreSQL at '
                f"{self.location.server} ({self.location.scrub(str(error).strip())}). "
                "Grant it CREATE on the database, or name a schema it owns (?schema=NAME)."
            ) from None
        except BaseException:
            await conn.close()
            raise
        if self.durability == "normal":
            await conn.execute("SET synchronous_commit = off")
        await self._writer.start(conn)
        self._pool = AsyncConnectionPool(
            self.location.conninfo, min_size=1, max_size=READ_POOL_SIZE, open=False,
            kwargs=pg_connect.connect_options(self.location), name="pyflow-read",
            timeout=READ_WAIT_S)
        try:
            await self._pool.open(wait=True, timeout=pg_connect.CONNECT_TIMEOUT_S)
            await self.clock.sync(self._server_ms)
        except (psycopg.Error, OSError, TimeoutError) as error:
            await self.close()
            raise pg_connect.explain(self.location, error) from None
        self._resync = asyncio.create_task(self._keep_clock(), name="pyflow-postgres-clock")

    async def close(self) -> None:
        if self._resync is not None:
            self._resync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resync
            self._resync = None
        await self._writer.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _server_ms(self) -> float:
        rows = await self._rows("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8")
        return float(rows[0][0])

    async def _keep_clock(self) -> None:
        while True:
            await asyncio.sleep(RESYNC_S)
            with contextlib.suppress(Exception):  # a failed sync keeps the last offset
                await self.clock.sync(self._server_ms)

    async def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        if self._pool is None:
            raise StorageError("The state database is closed: pyflow is shutting down.")
        # Each pooled connection the server closed while it waited (a restart, terminated
        # backends: all of them at once) is dropped by the pool; the read tries another.
        for tries_left in reversed(range(READ_POOL_SIZE + 1)):
            broken = False
            try:
                async with self._pool.connection() as conn:
                    try:
                        cursor = await conn.execute(sql, params)
                        rows = await cursor.fetchall() if cursor.description else []
                    except psycopg.OperationalError:
                        broken = conn.broken
                        raise
            except psycopg.OperationalError as error:
                if broken and tries_left:
                    continue
                raise self.health.lost(error) from None
            if self.health.down:
                self.health.back()
            return rows
        raise AssertionError("unreachable")

    def wakeups(self) -> WakeupFeed | None:
        return self._wakeups

    async def _announce(self, conn: psycopg.AsyncConnection[Any], notes: list[str]) -> None:
        await pg_wakeups.send(conn, self.schema_sql, self._wakeups.channel, notes)

    @property
    def writer(self) -> Any:
        """The group-commit writer: its ``operations`` so far, and whether it is ``idle``."""
        return self._writer

    # -- writes -------------------------------------------------------------------------------------
    def commit(self, change: Change, urgent: bool = True) -> Awaitable[bool]:
        return self._writer.submit(_ChangeOp(self._apply_sql, change), lazy=not urgent)

    async def request_control(self, iid: int, owner: str, request_json: str) -> bool:
        # The owner's heartbeat reads ``signalled`` every second; the commit's wake-up notice
        # reaches its scheduler sooner.
        return await self.commit(Change(
            iid, instance=InstanceUpdate(control=request_json, bump_signal=True),
            expect_owner=owner))

    async def create_instances(self, instances: Sequence[NewInstance],
                               lease: tuple[str, float] | None = None,
                               limits: CreationLimits | None = None) -> list[int | None]:
        if not instances:
            return []
        owner, expires = lease if lease is not None else (None, None)
        news = json.dumps([[n.workflow, n.id, n.created_ms, n.params_json, n.version_id,
                            n.trigger, n.queued_metadata()] for n in instances])
        times = [n.created_ms for n in instances]
        # New instances handed to no engine are work for every engine, due now.
        due = [pg_wakeups.due(min(times, default=None))]
        iids: list[int | None] = await self._write(
            f"SELECT {self.schema_sql}.create_instances(%s::jsonb, %s, %s, %s, %s, %s, "
            "%s::jsonb)",
            (news, owner, expires, FIRST_EPOCH if lease is not None else 0,
             int(EventType.WORKFLOW_QUEUED), int(EventType.WORKFLOW_START), limits_json(limits)),
            lambda rows: created(rows[0][0], limits, times),
            lambda made: due if lease is None and any(i is not None for i in made) else [])
        return iids

    async def delete_instances(self, workflow: str, ids: Sequence[str] | None) -> list[str]:
        s = self.schema_sql
        tables = "".join(f", d_{t} AS (DELETE FROM {s}.{t} WHERE iid IN (SELECT iid FROM gone))"
                         for t in ("log", "steps", "timers", "inbox"))
        wanted = list(dict.fromkeys(ids)) if ids is not None else None
        deleted: list[str] = await self._write(
            f"WITH gone AS (DELETE FROM {s}.instances WHERE workflow = %s AND "
            f"(%s::text[] IS NULL OR id = ANY(%s::text[])) RETURNING iid, id){tables} "
            "SELECT id FROM gone", (workflow, wanted, wanted),
            lambda rows: [row[0] for row in rows])
        if wanted is not None:
            deleted.sort(key=wanted.index)
        return deleted

    async def add_event(self, iid: int, event_type: str, payload_json: str | None,
                        timestamp_ms: float) -> int | None:
        s = self.schema_sql
        # The instance's row is locked before the event takes its number: an instance's events
        # commit in the order of their numbers, whatever the number of processes.
        # The note goes to the engine that holds the instance, or to every engine if none does
        # (an instance waiting for this event is due now).
        found: tuple[int, bool] | None = await self._write(
            f"WITH woken AS (UPDATE {s}.instances SET signal = signal + 1, runnable_at = CASE "
            "WHEN status = ANY(%s) THEN LEAST(COALESCE(runnable_at, %s), %s) ELSE runnable_at "
            "END WHERE iid = %s RETURNING iid, lease_owner IS NOT NULL AS held), added AS "
            f"(INSERT INTO {s}.inbox (iid, type, payload, ts) SELECT iid, %s, %s, %s FROM woken "
            "RETURNING seq) SELECT added.seq, woken.held FROM added, woken",
            (_ACTIVE, timestamp_ms, timestamp_ms, iid, event_type, payload_json, timestamp_ms),
            lambda rows: (rows[0][0], rows[0][1]) if rows else None,
            lambda found: [] if found is None else [pg_wakeups.signalled(iid)] if found[1]
            else [pg_wakeups.due(timestamp_ms)])
        return found[0] if found is not None else None

    async def claim_runnable(self, owner: str, now_ms: float, lease_ms: float, limit: int,
                             workflows: Sequence[str],
                             running: RunningLimit | None = None) -> list[InstanceRecord]:
        if limit <= 0 or not workflows:
            return []
        # In admission order, under a running limit at most what it leaves: the schema's
        # ``claim`` function (pg_schema v2, and pg_platform.py for why it is one).
        rows: list[Any] = await self._write(
            f"SELECT {COLUMNS} FROM {self.schema_sql}.claim(%s, %s, %s, %s, %s, %s, %s, %s)",
            (owner, now_ms, now_ms + lease_ms, limit, list(workflows),
             running.max_running if running is not None else None,
             running.own_running if running is not None else 0,
             int(EventType.WORKFLOW_START)), lambda rows: rows)
        return [record(row) for row in rows]

    async def renew_leases(self, owner: str, until_ms: float, iids: Sequence[int]) -> list[int]:
        renewed: list[int] = await self._write(
            f"UPDATE {self.schema_sql}.instances SET lease_expires = %s WHERE iid = ANY(%s) AND "
            "lease_owner = %s RETURNING iid", (until_ms, list(iids), owner),
            lambda rows: [row[0] for row in rows])
        return renewed

    async def register_engine(self, engine: EngineRecord) -> None:
        await self._write(
            f"INSERT INTO {self.schema_sql}.engines (id, pid, host, heartbeat_ms, version, kind, "
            "workflows, started_ms) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO "
            "UPDATE SET pid = excluded.pid, host = excluded.host, heartbeat_ms = "
            "excluded.heartbeat_ms, version = excluded.version, kind = excluded.kind, "
            "workflows = excluded.workflows, started_ms = excluded.started_ms",
            (engine.id, engine.pid, engine.host, engine.heartbeat_ms, engine.version, engine.kind,
             json.dumps(list(engine.workflows)), engine.started_ms))

    async def unregister_engine(self, engine_id: str) -> None:
        s = self.schema_sql
        await self._write(
            f"WITH released AS (UPDATE {s}.instances SET lease_owner = NULL, lease_expires = NULL "
            f"WHERE lease_owner = %s), resigned AS (DELETE FROM {s}.roles WHERE holder = %s) "
            f"DELETE FROM {s}.engines WHERE id = %s", (engine_id, engine_id, engine_id),
            notes=lambda _: [pg_wakeups.due(None)])  # its instances are free for the others

    # -- retention and versions ---------------------------------------------------------------------
    async def purge_finished(self, query: PurgeQuery, limit: int) -> int:
        deleted: int = await self._write(*purge_sql(self.schema_sql, query, limit),
                                         lambda rows: int(rows[0][0]))
        return deleted

    async def count_purgeable(self, query: PurgeQuery) -> int:
        return int((await self._rows(*count_sql(self.schema_sql, query)))[0][0])

    async def record_version(self, version_id: str, seen_ms: float) -> VersionRecord:
        recorded: VersionRecord = await self._write(
            f"SELECT id, number, first_seen_ms FROM {self.schema_sql}.record_version(%s, %s)",
            (version_id, seen_ms), lambda rows: version(rows[0]))
        return recorded

    async def list_versions(self, count: bool = True) -> list[VersionRecord]:
        return [version(row) for row in await self._rows(list_versions_sql(self.schema_sql,
                                                                           count))]

    async def hold_role(self, role: str, holder: str, now_ms: float, until_ms: float) -> bool:
        # A row comes back only if the role was taken or kept: on a conflict whose condition
        # fails, the row is left alone and nothing is returned.
        held: bool = await self._write(
            f"INSERT INTO {self.schema_sql}.roles AS r (name, holder, expires_ms) VALUES "
            "(%(role)s, %(holder)s, %(until)s) ON CONFLICT (name) DO UPDATE SET holder = "
            "%(holder)s, expires_ms = %(until)s WHERE r.holder = %(holder)s OR r.expires_ms < "
            "%(now)s RETURNING 1", {"role": role, "holder": holder, "until": until_ms,
                                    "now": now_ms}, bool)
        return held

    async def release_role(self, role: str, holder: str) -> None:
        await self._write(f"DELETE FROM {self.schema_sql}.roles WHERE name = %s AND holder = %s",
                          (role, holder))

    def _write(self, sql: str, params: Any, read: Any = None,
               notes: Callable[[Any], list[str]] | None = None) -> asyncio.Future[Any]:
        return self._writer.submit(_Statement(sql, params, read, notes))


class _Statement:
    """One statement of a batch, how to read its rows, and the wake-up notes its result makes."""

    __slots__ = ("make_notes", "params", "read", "sql")

    def __init__(self, sql: str, params: Any, read: Any = None,
                 notes: Callable[[Any], list[str]] | None = None) -> None:
        self.sql, self.params, self.read, self.make_notes = sql, params, read, notes

    async def send(self, cursor: psycopg.AsyncCursor[Any]) -> None:
        await cursor.execute(self.sql, self.params)

    def result(self, rows: list[Any]) -> Any:
        return self.read(rows) if self.read is not None else None

    def notes(self, value: Any) -> list[str]:
        return self.make_notes(value) if self.make_notes is not None else []


class _ChangeOp:
    """A ``Change``; consecutive ones go to ``apply_changes`` together."""

    __slots__ = ("change", "sql")

    def __init__(self, sql: str, change: Change) -> None:
        self.sql, self.change = sql, change

    async def send(self, cursor: psycopg.AsyncCursor[Any]) -> None:
        await cursor.execute(self.sql, (encode_changes([self.change]),))

    def result(self, rows: list[Any]) -> bool | LeaseLost:
        return _outcome(rows[0][0][0], self.change)

    def notes(self, value: Any) -> list[str]:
        """A signal for its holder; work due for every engine when it is made runnable with
        no holder (released, resumed, put to sleep until a time)."""
        update = self.change.instance
        if value is not True or update is None:
            return []
        notes = [pg_wakeups.signalled(self.change.iid)] if update.bump_signal else []
        if not isinstance(update.lease_owner, str):  # released, or left to nobody
            if isinstance(update.runnable_at, (int, float)):
                notes.append(pg_wakeups.due(update.runnable_at))
            elif update.lease_owner is None and update.runnable_at is UNSET:
                notes.append(pg_wakeups.due(None))  # released as it was: due already
        return notes

    @classmethod
    async def send_many(cls, cursor: psycopg.AsyncCursor[Any], run: list[_ChangeOp]) -> None:
        await cursor.execute(run[0].sql, (encode_changes([op.change for op in run]),))

    @classmethod
    def results_many(cls, rows: list[Any], run: list[_ChangeOp]) -> list[bool | LeaseLost]:
        return [_outcome(code, op.change) for code, op in zip(rows[0][0], run, strict=True)]


def _outcome(code: str, change: Change) -> bool | LeaseLost:
    if code == FENCED and change.fence is not None:
        return LeaseLost(change.iid, change.fence)
    return code == APPLIED
