"""The SQLite store: one WAL database, writes group-committed by one thread (applied by
``sqlite_changes``), reads on the event loop or aiosqlite's thread (``sqlite_reads``).

Durability defaults to ``synchronous=FULL`` (a committed step survives power loss, not only a
process crash); ``durability="normal"`` trades that for speed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from pyflow_cli.engine.admission import CreationLimits, RunningLimit
from pyflow_cli.engine.changes import Change, InstanceUpdate, NewInstance, NewLogEvent
from pyflow_cli.engine.errors import StateLostError, StorageError
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.retention import PurgeQuery
from pyflow_cli.engine.store import FIRST_EPOCH, EngineRecord, InstanceRecord
from pyflow_cli.engine.versions import VersionRecord
from pyflow_cli.engine.wakeups import WakeupFeed
from pyflow_cli.storage import health, sqlite_purge, sqlite_versions
from pyflow_cli.storage.schema import migrate
from pyflow_cli.storage.sqlite_admission import claimable_rows, refuse_if_over, starting
from pyflow_cli.storage.sqlite_changes import PlainChange, apply_change, queued_rows
from pyflow_cli.storage.sqlite_reads import INSTANCE_COLUMNS, SqliteReads, instance_record
from pyflow_cli.storage.url import DB_NAME
from pyflow_cli.storage.writer import GroupCommitWriter


class SqliteStore(SqliteReads):
    """``Store`` on one SQLite file: ``<state_dir>/pyflow.sqlite``, or ``file``."""

    def __init__(self, state_dir: Path | str | None = None, durability: str = "full", *,
                 file: Path | str | None = None) -> None:
        assert (state_dir is None) != (file is None), "a state directory or a file"
        self.path = Path(file) if file is not None else Path(state_dir or ".") / DB_NAME
        self.state_dir = self.path.parent
        if durability not in ("full", "normal"):
            raise StorageError(f'Unknown durability "{durability}": use "full" or "normal".')
        self.durability = durability
        self._writer = GroupCommitWriter(self._connect_writer,
                                         explain=lambda error: health.explain(self.path, error),
                                         check=self._check_in_place)
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file opened
        self._lost: StateLostError | None = None
        self._reader: aiosqlite.Connection | None = None
        self._point_reader: sqlite3.Connection | None = None

    # -- connections --------------------------------------------------------------------------------
    def _connect_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        sqlite_purge.use_incremental_vacuum(conn)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self.durability.upper()}")
        migrate(conn)
        return conn

    async def open(self, verify_s: float | None = None) -> None:
        """Open the database (creating it if needed); with ``verify_s``, first check its
        integrity for at most that many seconds (an engine must not run on a damaged store)."""
        if verify_s is not None:
            await asyncio.to_thread(health.quick_check, self.path, verify_s)
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self._writer.start()
            opened = os.stat(self.path)
            self._identity = (opened.st_dev, opened.st_ino)
            self._reader = await aiosqlite.connect(self.path, isolation_level=None)
            await self._reader.execute("PRAGMA busy_timeout = 10000")
            await self._reader.execute("PRAGMA query_only = 1")
            self._point_reader = sqlite3.connect(self.path, isolation_level=None,
                                                 check_same_thread=False)
            self._point_reader.execute("PRAGMA busy_timeout = 10000")
            self._point_reader.execute("PRAGMA query_only = 1")
        except (OSError, sqlite3.Error) as exc:
            await self.close()
            raise health.explain(self.path, exc) or StorageError(
                f"Cannot open the state database {self.path}: {exc}. "
                f"Check that pyflow may create and write files in {self.state_dir}.") from exc

    def wakeups(self) -> WakeupFeed | None:
        """None: the engines on one file poll it, which costs next to nothing."""
        return None

    async def close(self) -> None:
        if self._point_reader is not None:
            self._point_reader.close()
            self._point_reader = None
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        self._writer.close()

    def _check_in_place(self) -> None:
        """Refuse to write once the database file is not the one opened any more (the state
        directory was deleted or the file replaced): SQLite would go on writing into a file no
        one can open again. Runs on the writer thread before every commit: a stat call."""
        if self._lost is not None:
            raise self._lost
        if self._identity is None:
            return
        try:
            now = os.stat(self.path)
            moved = (now.st_dev, now.st_ino) != self._identity
        except (FileNotFoundError, NotADirectoryError):
            moved = True
        if moved:
            self._lost = StateLostError(
                f"The state database {self.path} was deleted or replaced while pyflow was "
                "using it; anything written now would be lost, so pyflow stops writing. Start "
                "it again (restore the database first to keep its instances).")
            raise self._lost

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        assert self._reader is not None, "the store is not open"
        return list(await self._reader.execute_fetchall(sql, params))  # one thread hop

    def _point_rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """A read of a few rows found through an index, run right here on the event loop.

        The SQLite part of such a read takes microseconds; on the reader thread, the answer
        would wait for that thread to get the GIL back from a busy event loop, up to Python's
        switch interval (5 ms) at every row. WAL readers never wait for the writer.
        """
        assert self._point_reader is not None, "the store is not open"
        return self._point_reader.execute(sql, params).fetchall()

    @property
    def writer(self) -> Any:
        """The group-commit writer: its ``operations`` so far, and whether it is ``idle``."""
        return self._writer

    # -- writes -------------------------------------------------------------------------------------
    def commit(self, change: Change, urgent: bool = True) -> Awaitable[bool]:
        operation = PlainChange(change) if change.plain else (lambda conn: apply_change(conn, change))
        return self._writer.submit(operation, lazy=not urgent)

    async def create_instances(self, instances: Sequence[NewInstance],
                               lease: tuple[str, float] | None = None,
                               limits: CreationLimits | None = None) -> list[int | None]:
        owner, expires = lease if lease is not None else (None, None)
        epoch = FIRST_EPOCH if lease is not None else 0

        def op(conn: sqlite3.Connection) -> list[int | None]:
            # Looked up first: a refused INSERT would still use up an iid (AUTOINCREMENT).
            fresh, seen = [], set()
            for new in instances:
                if (new.workflow, new.id) not in seen and conn.execute(
                        "SELECT 1 FROM instances WHERE workflow = ? AND id = ?",
                        (new.workflow, new.id)).fetchone() is None:
                    fresh.append(new)
                seen.add((new.workflow, new.id))
            if limits is not None:
                refuse_if_over(conn, limits, fresh)
            created: list[int | None] = []
            for new in instances:
                if fresh and new is fresh[0]:
                    fresh.pop(0)
                else:
                    created.append(None)
                    continue
                cursor = conn.execute(
                    "INSERT INTO instances (workflow, id, status, created_ms, params, "
                    "version_id, trigger, runnable_at, lease_owner, lease_expires, lease_epoch) "
                    "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)",
                    (new.workflow, new.id, new.created_ms, new.params_json, new.version_id,
                     new.trigger, new.created_ms, owner, expires, epoch))
                iid = cursor.lastrowid
                queued_rows(conn, iid, new,
                            started=not (limits is not None and limits.start_on_admission))
                created.append(iid)
            return created

        result: list[int | None] = await self._writer.submit(op)
        return result

    async def delete_instances(self, workflow: str, ids: Sequence[str] | None) -> list[str]:
        def op(conn: sqlite3.Connection) -> list[str]:
            if ids is None:
                rows = conn.execute("SELECT iid, id FROM instances WHERE workflow = ?",
                                    (workflow,)).fetchall()
            else:
                rows = []
                for instance_id in dict.fromkeys(ids):
                    rows += conn.execute("SELECT iid, id FROM instances WHERE workflow = ? AND "
                                         "id = ?", (workflow, instance_id)).fetchall()
            for iid, _ in rows:
                for table in ("log", "steps", "timers", "inbox", "instances"):
                    conn.execute(f"DELETE FROM {table} WHERE iid = ?", (iid,))
            return [row[1] for row in rows]

        deleted: list[str] = await self._writer.submit(op)
        return deleted

    async def request_control(self, iid: int, owner: str, request_json: str) -> bool:
        # The owner's heartbeat polls ``signalled`` every second: no notification on SQLite.
        return await self.commit(Change(
            iid, instance=InstanceUpdate(control=request_json, bump_signal=True),
            expect_owner=owner))

    async def add_event(self, iid: int, event_type: str, payload_json: str | None,
                        timestamp_ms: float) -> int | None:
        def op(conn: sqlite3.Connection) -> int | None:
            cursor = conn.execute("INSERT INTO inbox (iid, type, payload, ts) SELECT ?, ?, ?, ? "
                                  "WHERE EXISTS (SELECT 1 FROM instances WHERE iid = ?)",
                                  (iid, event_type, payload_json, timestamp_ms, iid))
            if cursor.rowcount == 0:
                return None
            conn.execute(
                "UPDATE instances SET signal = signal + 1, runnable_at = CASE WHEN status IN "
                "('queued', 'running', 'waiting', 'waitingForPause') THEN "
                "MIN(COALESCE(runnable_at, ?1), ?1) ELSE runnable_at END WHERE iid = ?2",
                (timestamp_ms, iid))
            return cursor.lastrowid

        seq: int | None = await self._writer.submit(op)
        return seq

    async def claim_runnable(self, owner: str, now_ms: float, lease_ms: float, limit: int,
                             workflows: Sequence[str],
                             running: RunningLimit | None = None) -> list[InstanceRecord]:
        def op(conn: sqlite3.Connection) -> list[InstanceRecord]:
            rows = claimable_rows(conn, INSTANCE_COLUMNS, owner, now_ms, limit, workflows,
                                  running)
            expires = now_ms + lease_ms
            # A new holder means a new epoch; an engine taking back its own lease keeps it.
            conn.executemany("UPDATE instances SET lease_owner = ?1, lease_expires = ?2, "
                             "lease_epoch = lease_epoch + (lease_owner IS NOT ?1) WHERE iid = ?3",
                             [(owner, expires, r[0]) for r in rows])
            if running is not None:  # admitted: those that wait for their start now have it
                PlainChange.apply_many(conn, [
                    PlainChange(Change(iid, log=[NewLogEvent(EventType.WORKFLOW_START, now_ms)]))
                    for iid in starting(conn, rows)])
            return [instance_record((*r[:11], owner, expires, *r[13:17], r[17] + (r[11] != owner)))
                    for r in rows]  # as they now are

        claimed: list[InstanceRecord] = await self._writer.submit(op)
        return claimed

    async def renew_leases(self, owner: str, until_ms: float, iids: Sequence[int]) -> list[int]:
        def op(conn: sqlite3.Connection) -> list[int]:
            return [iid for iid in dict.fromkeys(iids) if conn.execute(
                "UPDATE instances SET lease_expires = ? WHERE iid = ? AND lease_owner = ?",
                (until_ms, iid, owner)).rowcount]

        renewed: list[int] = await self._writer.submit(op)
        return renewed

    async def register_engine(self, engine: EngineRecord) -> None:
        await self._writer.submit(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO engines (id, pid, host, heartbeat_ms, version, kind, "
            "workflows, started_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (engine.id, engine.pid, engine.host, engine.heartbeat_ms, engine.version, engine.kind,
             json.dumps(list(engine.workflows)), engine.started_ms)))

    async def unregister_engine(self, engine_id: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE instances SET lease_owner = NULL, lease_expires = NULL "
                         "WHERE lease_owner = ?", (engine_id,))
            conn.execute("DELETE FROM engines WHERE id = ?", (engine_id,))
            conn.execute("DELETE FROM roles WHERE holder = ?", (engine_id,))

        await self._writer.submit(op)

    async def hold_role(self, role: str, holder: str, now_ms: float, until_ms: float) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            conn.execute("INSERT INTO roles (name, holder, expires_ms) VALUES (?1, ?2, ?3) "
                         "ON CONFLICT (name) DO UPDATE SET holder = ?2, expires_ms = ?3 "
                         "WHERE roles.holder = ?2 OR roles.expires_ms < ?4",
                         (role, holder, until_ms, now_ms))
            row = conn.execute("SELECT holder FROM roles WHERE name = ?", (role,)).fetchone()
            return row is not None and row[0] == holder

        held: bool = await self._writer.submit(op)
        return held

    async def release_role(self, role: str, holder: str) -> None:
        await self._writer.submit(lambda conn: conn.execute(
            "DELETE FROM roles WHERE name = ? AND holder = ?", (role, holder)))


    # -- retention and versions ---------------------------------------------------------------------
    async def purge_finished(self, query: PurgeQuery, limit: int) -> int:
        deleted: int = await self._writer.submit(
            lambda conn: sqlite_purge.purge_batch(conn, query, limit))
        return deleted

    async def count_purgeable(self, query: PurgeQuery) -> int:
        rows = await self._rows(*sqlite_purge.count_sql(query))
        return int(rows[0][0])

    async def record_version(self, version_id: str, seen_ms: float) -> VersionRecord:
        record: VersionRecord = await self._writer.submit(
            lambda conn: sqlite_versions.record_version(conn, version_id, seen_ms))
        return record

    async def list_versions(self, count: bool = True) -> list[VersionRecord]:
        rows = await self._rows(sqlite_versions.list_versions_sql(count))
        return [VersionRecord(row[0], int(row[1]), float(row[2]), int(row[3])) for row in rows]
