"""The SQLite store: one WAL database, writes group-committed by one thread, reads on aiosqlite.

Durability defaults to ``synchronous=FULL`` (a committed step survives power loss, not only a
process crash); ``durability="normal"`` trades that for speed.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Awaitable, Iterator, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from pyflow_cli.engine.errors import StateLostError, StorageError
from pyflow_cli.engine.events import EventType, LogEvent
from pyflow_cli.engine.serde import parse_shown
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import (
    FIRST_EPOCH,
    UNSET,
    Change,
    EngineRecord,
    History,
    InboxEvent,
    InstancePage,
    InstanceRecord,
    InstanceUpdate,
    LeaseLost,
    LogQuery,
    MetricsRows,
    NewInstance,
    NewLogEvent,
    StepRecord,
    StepWrite,
    TimerRecord,
    WorkflowLogEvent,
)
from pyflow_cli.storage import health
from pyflow_cli.storage.schema import migrate
from pyflow_cli.storage.url import DB_NAME
from pyflow_cli.storage.writer import GroupCommitWriter

_INSTANCE_COLUMNS = (
    "iid, workflow, id, status, created_ms, params, output, error, version_id, trigger, "
    "runnable_at, lease_owner, lease_expires, paused_at, lifetime, signal, control, lease_epoch"
)
_UPDATABLE = ("status", "output_json", "error_json", "runnable_at", "lease_owner",
              "lease_expires", "paused_at", "version_id", "control", "lifetime")
_COLUMN = {"output_json": "output", "error_json": "error"}
_MAX_INTEGER = 2**63 - 1  # SQLite's largest integer; a larger offset reads nothing anyway


def _instance(row: Sequence[Any]) -> InstanceRecord:
    return InstanceRecord(
        iid=row[0], workflow=row[1], id=row[2], status=InstanceStatus(row[3]), created_ms=row[4],
        params_json=row[5], output_json=row[6], error_json=row[7], version_id=row[8],
        trigger=row[9], runnable_at=row[10], lease_owner=row[11], lease_expires=row[12],
        paused_at=row[13], lifetime=row[14], signal=row[15], control=row[16], lease_epoch=row[17])


class SqliteStore:
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
                "Check the --persist-to directory.") from exc

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
        operation = _PlainChange(change) if change.plain else (lambda conn: _apply(conn, change))
        return self._writer.submit(operation, lazy=not urgent)

    async def create_instances(self, instances: Sequence[NewInstance],
                               lease: tuple[str, float] | None = None) -> list[int | None]:
        owner, expires = lease if lease is not None else (None, None)
        epoch = FIRST_EPOCH if lease is not None else 0

        def op(conn: sqlite3.Connection) -> list[int | None]:
            created: list[int | None] = []
            for new in instances:
                # Looked up first: a refused INSERT would still use up an iid (AUTOINCREMENT).
                if conn.execute("SELECT 1 FROM instances WHERE workflow = ? AND id = ?",
                                (new.workflow, new.id)).fetchone() is not None:
                    created.append(None)
                    continue
                cursor = conn.execute(
                    "INSERT INTO instances (workflow, id, status, created_ms, params, "
                    "version_id, trigger, runnable_at, lease_owner, lease_expires, lease_epoch) "
                    "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)",
                    (new.workflow, new.id, new.created_ms, new.params_json, new.version_id,
                     new.trigger, new.created_ms, owner, expires, epoch))
                iid = cursor.lastrowid
                _queued_rows(conn, iid, new)
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
                             workflows: Sequence[str]) -> list[InstanceRecord]:
        def op(conn: sqlite3.Connection) -> list[InstanceRecord]:
            rows = conn.execute(claim_due_sql(len(workflows)),
                                (now_ms, *workflows, limit)).fetchall()
            if len(rows) < limit:
                rows += conn.execute(claim_expired_sql(len(workflows)),
                                     (now_ms, now_ms, *workflows, limit - len(rows))).fetchall()
            expires = now_ms + lease_ms
            # A new holder means a new epoch; an engine taking back its own lease keeps it.
            conn.executemany("UPDATE instances SET lease_owner = ?1, lease_expires = ?2, "
                             "lease_epoch = lease_epoch + (lease_owner IS NOT ?1) WHERE iid = ?3",
                             [(owner, expires, r[0]) for r in rows])
            return [_instance((*r[:11], owner, expires, *r[13:17], r[17] + (r[11] != owner)))
                    for r in rows]  # as they now are

        claimed: list[InstanceRecord] = await self._writer.submit(op)
        return claimed

    async def renew_leases(self, owner: str, until_ms: float, iids: Sequence[int]) -> None:
        await self._writer.submit(lambda conn: conn.executemany(
            "UPDATE instances SET lease_expires = ? WHERE iid = ? AND lease_owner = ?",
            [(until_ms, iid, owner) for iid in iids]))

    async def register_engine(self, engine: EngineRecord) -> None:
        await self._writer.submit(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO engines (id, pid, host, heartbeat_ms, version) "
            "VALUES (?, ?, ?, ?, ?)",
            (engine.id, engine.pid, engine.host, engine.heartbeat_ms, engine.version)))

    async def unregister_engine(self, engine_id: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE instances SET lease_owner = NULL, lease_expires = NULL "
                         "WHERE lease_owner = ?", (engine_id,))
            conn.execute("DELETE FROM engines WHERE id = ?", (engine_id,))

        await self._writer.submit(op)

    # -- reads --------------------------------------------------------------------------------------
    async def list_engines(self) -> list[EngineRecord]:
        rows = await self._rows("SELECT id, pid, host, heartbeat_ms, version FROM engines")
        return [EngineRecord(*row) for row in rows]

    async def get_instance(self, workflow: str, instance_id: str) -> InstanceRecord | None:
        rows = self._point_rows(f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE workflow = ? "
                                "AND id = ?", (workflow, instance_id))
        return _instance(rows[0]) if rows else None

    def instance_name(self, iid: int) -> tuple[str, str] | None:
        """(workflow, id) of instance ``iid``, read right here (a primary-key lookup)."""
        rows = self._point_rows("SELECT workflow, id FROM instances WHERE iid = ?", (iid,))
        return (rows[0][0], rows[0][1]) if rows else None

    async def get_instance_by_iid(self, iid: int) -> InstanceRecord | None:
        rows = self._point_rows(f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE iid = ?", (iid,))
        return _instance(rows[0]) if rows else None

    async def latest_instance(self, workflow: str) -> InstanceRecord | None:
        rows = self._point_rows(f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE workflow = ? "
                                "ORDER BY created_ms DESC, iid DESC LIMIT 1", (workflow,))
        return _instance(rows[0]) if rows else None

    async def list_instances(self, workflow: str, *, statuses: Sequence[InstanceStatus] = (),
                             created_from_ms: float | None = None,
                             created_to_ms: float | None = None, offset: int = 0, limit: int = 25,
                             newest_first: bool = True, id_prefix: str | None = None,
                             text: str | None = None) -> InstancePage:
        where, params = instance_filter(workflow, statuses, created_from_ms, created_to_ms,
                                        id_prefix, text)
        clause = " AND ".join(where)
        order = "DESC" if newest_first else "ASC"
        rows = await self._rows(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE {clause} "
            f"ORDER BY created_ms {order}, iid {order} LIMIT ? OFFSET ?",
            (*params, min(limit, _MAX_INTEGER), min(offset, _MAX_INTEGER)))
        if (created_from_ms, created_to_ms, id_prefix or None, text or None) == (None,) * 4:
            # Only the workflow and statuses: the kept counts are the total, with no count query.
            counts = await self.status_counts(workflow)
            wanted = {s.value for s in statuses} or counts.keys()
            total = sum(n for status, n in counts.items() if status in wanted)
        else:
            total = (await self._rows(f"SELECT COUNT(*) FROM instances WHERE {clause}", params))[0][0]
        return InstancePage([_instance(r) for r in rows], total)

    async def status_counts(self, workflow: str) -> dict[str, int]:
        rows = self._point_rows("SELECT status, n FROM status_counts WHERE workflow = ? AND n > 0",
                                (workflow,))
        return {status: count for status, count in rows}

    async def metrics_rows(self, workflow: str, since_ms: float, until_ms: float,
                           bucket_ms: float) -> MetricsRows:
        window = (since_ms, until_ms, workflow)
        in_window = (f"FROM log l CROSS JOIN instances i ON i.iid = l.iid WHERE {_METRIC_EVENTS} "
                     "AND l.ts >= ? AND l.ts < ? AND i.workflow = ?")
        buckets = await self._rows(
            f"SELECT l.event, CAST((l.ts - ?) / ? AS INTEGER), COUNT(*) {in_window} GROUP BY 1, 2",
            (since_ms, bucket_ms, *window))
        # Wall time of a run: from its instance's first log row (its WORKFLOW_QUEUED, rewritten
        # by a full restart) to the row that ended it.
        walls = await self._rows(
            "SELECT CAST((l.ts - ?) / ? AS INTEGER), l.ts - (SELECT f.ts FROM log f WHERE "
            f"f.iid = l.iid ORDER BY f.seq LIMIT 1) {in_window} AND l.event IN (2, 3)",
            (since_ms, bucket_ms, *window))
        # Steps ran in the window only in instances queued or ended in it, or unfinished now:
        # their rows are read instance by instance, so step rows need no index of their own.
        steps = await self._rows(
            f"WITH active(iid) AS (SELECT l.iid {in_window} UNION SELECT iid FROM instances "
            f"WHERE workflow = ? AND status IN ({','.join('?' * len(_ACTIVE_STATUSES))})) "
            "SELECT s.target, s.event, COUNT(*), SUM(s.event = 12 AND "
            "json_extract(s.metadata, '$.retryDelayMs') IS NOT NULL) FROM active a "
            "CROSS JOIN log s ON s.iid = a.iid WHERE s.event IN (5, 7, 12) AND s.ts >= ? "
            "AND s.ts < ? GROUP BY 1, 2",
            (*window, workflow, *_ACTIVE_STATUSES, since_ms, until_ms))
        return MetricsRows(
            [(EventType(event), bucket, count) for event, bucket, count in buckets],
            [(bucket, float(wall)) for bucket, wall in walls if wall is not None],
            [(target or "", EventType(event), count, int(retries or 0))
             for target, event, count, retries in steps])

    async def read_log(self, iid: int, after_seq: int = 0) -> list[LogEvent]:
        rows = self._point_rows("SELECT seq, ts, event, group_key, target, metadata, traceback "
                                "FROM log WHERE iid = ? AND seq > ? ORDER BY seq", (iid, after_seq))
        # Log rows hold JSON as shown (serde's display form): nothing in them is restored.
        return [LogEvent(seq, ts, EventType(event), key, target, parse_shown(meta),
                         parse_shown(trace) if trace is not None else None)
                for seq, ts, event, key, target, meta, trace in rows]

    async def read_workflow_log(self, workflow: str, query: LogQuery) -> list[WorkflowLogEvent]:
        where, params = workflow_log_filter(workflow, query)
        # The log is read newest first by pos (its rowid) and each row's instance looked up, so a
        # page stops after `limit` matches and reading on from a position reads only new rows.
        rows = await self._rows(
            "SELECT i.id, l.pos, l.seq, l.ts, l.event, l.group_key, l.target, l.metadata, "
            f"l.traceback FROM log l CROSS JOIN instances i ON i.iid = l.iid WHERE "
            f"{' AND '.join(where)} ORDER BY l.pos DESC LIMIT ?",
            (*params, max(0, min(query.limit, _MAX_INTEGER))))
        return [WorkflowLogEvent(instance_id, LogEvent(
                    seq, ts, EventType(event), key, target, parse_shown(meta),
                    parse_shown(trace) if trace is not None else None), pos)
                for instance_id, pos, seq, ts, event, key, target, meta, trace in rows]

    async def read_timers(self, iid: int) -> list[TimerRecord]:
        rows = self._point_rows("SELECT cache_key, kind, due_ms FROM timers WHERE iid = ?", (iid,))
        return [TimerRecord(*row) for row in rows]

    async def load_history(self, iid: int) -> History:
        return (await self.load_histories([iid]))[iid]

    async def load_histories(self, iids: Sequence[int]) -> dict[int, History]:
        # One round trip for the three tables of a whole claimed batch: waking instances is
        # mostly this read.
        histories = {iid: History({}, {}, []) for iid in iids}
        for start in range(0, len(iids), 500):
            chunk = list(iids[start:start + 500])
            marks = ",".join("?" * len(chunk))
            rows = await self._rows(
                "SELECT iid, 0, cache_key, kind, target, state, value, error, config, attempts, "
                f"attempt_open FROM steps WHERE iid IN ({marks}) "
                "UNION ALL SELECT iid, 1, cache_key, kind, NULL, NULL, NULL, NULL, NULL, due_ms, NULL "
                f"FROM timers WHERE iid IN ({marks}) "
                "UNION ALL SELECT iid, 2, seq, type, NULL, NULL, payload, NULL, NULL, ts, NULL "
                f"FROM inbox WHERE iid IN ({marks}) AND consumed_by IS NULL", chunk * 3)
            for iid, table, key, kind, target, state, value, error, config, number, is_open in rows:
                history = histories[iid]
                if table == 0:
                    history.steps[key] = StepRecord(key, kind, target, state or "started", value, error,
                                                    config, int(number or 0), bool(is_open))
                elif table == 1:
                    history.timers[(key, kind)] = TimerRecord(key, kind, number)
                else:
                    history.inbox.append(InboxEvent(key, kind, value, number))
        for history in histories.values():
            history.inbox.sort(key=lambda event: event.seq)
        return histories

    async def load_inbox(self, iid: int) -> list[InboxEvent]:
        rows = self._point_rows("SELECT seq, type, payload, ts FROM inbox WHERE iid = ? AND "
                                "consumed_by IS NULL ORDER BY seq", (iid,))
        return [InboxEvent(*row) for row in rows]

    async def signalled(self, owner: str) -> list[tuple[int, int]]:
        rows = await self._rows("SELECT iid, signal FROM instances WHERE lease_owner = ?", (owner,))
        return [(iid, signal) for iid, signal in rows]

    async def next_runnable_ms(self, workflows: Sequence[str]) -> float | None:
        rows = await self._rows(next_due_sql(len(workflows)), tuple(workflows))
        value = rows[0][0] if rows else None
        return float(value) if value is not None else None


_METRIC_EVENTS = "l.event <= 4 AND l.event <> 1"
"""The ``log_metrics`` index's condition, repeated word for word so that SQLite uses the index."""
_ACTIVE_STATUSES = ("queued", "running", "waiting", "paused", "waitingForPause")


def instance_filter(workflow: str, statuses: Sequence[InstanceStatus], created_from_ms: float | None,
                    created_to_ms: float | None, id_prefix: str | None,
                    text: str | None) -> tuple[list[str], list[Any]]:
    """The WHERE terms (joined by AND) and parameters of an instance listing.

    An id prefix is a range of the ``(workflow, id)`` index; text is looked for, ignoring ASCII
    case, in the stored JSON of params, output and error (a scan of the matching instances).
    """
    where: list[str] = ["workflow = ?"]
    params: list[Any] = [workflow]
    if statuses:
        where.append(f"status IN ({','.join('?' * len(statuses))})")
        params += [s.value for s in statuses]
    if created_from_ms is not None:
        where.append("created_ms >= ?")
        params.append(created_from_ms)
    if created_to_ms is not None:
        where.append("created_ms <= ?")
        params.append(created_to_ms)
    if id_prefix:
        where.append("id >= ? AND id < ?")
        params += [id_prefix, id_prefix + "\U0010ffff"]
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(params LIKE ? ESCAPE '\\' OR output LIKE ? ESCAPE '\\' "
                     "OR error LIKE ? ESCAPE '\\')")
        params += [pattern] * 3
    return where, params


def workflow_log_filter(workflow: str, query: LogQuery) -> tuple[list[str], list[Any]]:
    """The WHERE terms (joined by AND) and parameters of ``read_workflow_log``."""
    where: list[str] = ["i.workflow = ?"]
    params: list[Any] = [workflow]
    if query.events:
        where.append(f"l.event IN ({','.join('?' * len(query.events))})")
        params += [int(event) for event in query.events]
    if query.step:
        where.append("instr(lower(l.target), lower(?)) > 0")
        params.append(query.step)
    for term, bound in (("l.ts >= ?", query.since_ms), ("l.ts < ?", query.until_ms),
                        ("l.pos > ?", query.after), ("l.pos < ?", query.before)):
        if bound is not None:
            where.append(term)
            params.append(bound)
    return where, params


# -- claiming ------------------------------------------------------------------------------------------
# Due instances nobody leases, and instances whose lease ran out, each through its own partial
# index (schema v2). The unary ``+`` keeps SQLite from picking the (workflow, created) index
# instead, which would read every instance of the workflow at every claim.


def claim_due_sql(workflows: int) -> str:
    return (f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE runnable_at IS NOT NULL "
            f"AND lease_owner IS NULL AND runnable_at <= ? AND +workflow IN "
            f"({','.join('?' * workflows)}) ORDER BY runnable_at LIMIT ?")


def claim_expired_sql(workflows: int) -> str:
    return (f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE lease_owner IS NOT NULL "
            f"AND lease_expires < ? AND runnable_at <= ? AND +workflow IN "
            f"({','.join('?' * workflows)}) ORDER BY lease_expires LIMIT ?")


def next_due_sql(workflows: int) -> str:
    return ("SELECT MIN(runnable_at) FROM instances WHERE runnable_at IS NOT NULL AND "
            f"lease_owner IS NULL AND +workflow IN ({','.join('?' * workflows)})")


# -- applying a Change (runs on the writer thread) ----------------------------------------------------


def _queued_rows(conn: sqlite3.Connection, iid: int | None, new: NewInstance) -> None:
    ts = new.created_ms
    conn.executemany("INSERT INTO log (iid, seq, ts, event, metadata) VALUES (?, ?, ?, ?, ?)",
                     [(iid, 1, ts, int(EventType.WORKFLOW_QUEUED), new.queued_metadata()),
                      (iid, 2, ts, int(EventType.WORKFLOW_START), "{}")])


class _PlainChange:
    """A change with no guard, wipe or shift, which the writer may apply together with others."""

    __slots__ = ("change",)

    def __init__(self, change: Change) -> None:
        self.change = change

    def __call__(self, conn: sqlite3.Connection) -> bool | LeaseLost:
        return _write(conn, [self.change])[0]

    @staticmethod
    def apply_many(conn: sqlite3.Connection, operations: list[_PlainChange]
                   ) -> list[bool | LeaseLost]:
        return _write(conn, [op.change for op in operations])


def _apply(conn: sqlite3.Connection, change: Change) -> bool | LeaseLost:
    """A change with a guard, a wipe or a shift: checked, wiped, then written like any other."""
    iid = change.iid
    row = conn.execute("SELECT status, lease_owner, lifetime, signal, lease_epoch FROM instances "
                       "WHERE iid = ?", (iid,)).fetchone()
    if row is None:
        return False
    status, owner, lifetime, signal, epoch = row
    if change.fence is not None and (owner, epoch) != change.fence:
        return LeaseLost(iid, change.fence)
    if ((change.expect_status is not None and status != change.expect_status.value)
            or (change.expect_owner is not UNSET and owner != change.expect_owner)
            or (change.expect_lifetime is not None and lifetime != change.expect_lifetime)
            or (change.expect_signal is not None and signal != change.expect_signal)):
        return False
    if change.wipe_all or change.wipe_keys or change.wipe_run_rows:
        # The numbers of wiped rows are not given out again (a reader may have seen them).
        conn.execute(f"UPDATE instances SET log_floor = MAX(log_floor, {_LAST_SEQ}) WHERE iid = ?",
                     (iid,))
    if change.wipe_all:
        for table in ("log", "steps", "timers", "inbox"):
            conn.execute(f"DELETE FROM {table} WHERE iid = ?", (iid,))
    elif change.wipe_keys or change.wipe_run_rows:
        keys = list(change.wipe_keys)
        marks = ",".join("?" * len(keys))
        if keys:
            conn.execute(f"DELETE FROM log WHERE iid = ? AND group_key IN ({marks})", (iid, *keys))
            conn.execute(f"DELETE FROM steps WHERE iid = ? AND cache_key IN ({marks})", (iid, *keys))
            conn.execute(f"DELETE FROM timers WHERE iid = ? AND cache_key IN ({marks})",
                         (iid, *keys))
        if change.wipe_run_rows:
            conn.execute("DELETE FROM log WHERE iid = ? AND group_key IS NULL AND event NOT IN "
                         "(?, ?)", (iid, int(EventType.WORKFLOW_QUEUED),
                                    int(EventType.WORKFLOW_START)))
    return _write(conn, [change])[0]


def _write(conn: sqlite3.Connection, changes: list[Change]) -> list[bool | LeaseLost]:
    """Write ``changes`` (guards and wipes done) as they would be written one after another, in a
    statement per table: a change for an instance that does not exist writes nothing (False), nor
    does one whose fence no longer holds (``LeaseLost``); the others number their log rows on
    from their instance's last number."""
    iids = list({change.iid for change in changes})
    # iid -> [lease owner, lease epoch, last log number]
    rows = {row[0]: [row[1], row[2], row[3]] for row in _instance_rows(
        conn, f"iid, lease_owner, lease_epoch, MAX(log_floor, {_LAST_SEQ})", iids)}
    outcomes: list[bool | LeaseLost] = []
    written: list[Change] = []
    log: list[tuple[int, int, NewLogEvent]] = []
    for change in changes:
        row = rows.get(change.iid)
        if row is None:
            outcomes.append(False)
            continue
        fence = change.fence
        if fence is not None and (row[0] != fence.owner or row[1] != fence.epoch):
            outcomes.append(LeaseLost(change.iid, fence))
            continue
        outcomes.append(True)
        written.append(change)
        for event in change.log:
            row[2] += 1
            log.append((change.iid, row[2], event))
        if change.instance is not None and change.instance.lease_owner is not UNSET:
            row[0] = change.instance.lease_owner  # a later change's fence sees it
    _insert_log(conn, log)
    _upsert_steps(conn, [(c.iid, s) for c in written for s in c.steps])
    _write_timers(conn, written)
    consumed = [(key, seq, c.iid) for c in written for seq, key in c.consume_events]
    if consumed:
        conn.executemany("UPDATE inbox SET consumed_by = ? WHERE seq = ? AND iid = ?", consumed)
    for change in written:
        if change.instance is not None:
            _update_instance(conn, change.iid, change.instance)
    return outcomes


_LAST_SEQ = "COALESCE((SELECT MAX(seq) FROM log WHERE log.iid = instances.iid), 0)"
"""The instance's highest log number (in a statement on ``instances``): the end of an index."""


def _instance_rows(conn: sqlite3.Connection, columns: str, iids: list[int]) -> Iterator[Any]:
    """``SELECT columns`` of the instance rows of ``iids``, 500 iids per statement."""
    for start in range(0, len(iids), 500):
        chunk = iids[start:start + 500]
        yield from conn.execute(f"SELECT {columns} FROM instances WHERE iid IN "
                                f"({','.join('?' * len(chunk))})", chunk)


def _write_timers(conn: sqlite3.Connection, changes: list[Change]) -> None:
    """Each change shifts its instance's stored timers, then sets, then clears (the order
    ``Change`` states); across changes only a row's last write counts, so the whole group takes
    one statement of each kind. (Shifting changes come alone: they are never plain.)"""
    shifts = [(c.shift_timers_ms, c.iid) for c in changes if c.shift_timers_ms]
    if shifts:
        conn.executemany("UPDATE timers SET due_ms = due_ms + ? WHERE iid = ?", shifts)
    last: dict[tuple[int, str, str], float | None] = {}  # None: cleared
    for change in changes:
        for timer in change.set_timers:
            last[(change.iid, timer.cache_key, timer.kind)] = timer.due_ms
        for key, kind in change.clear_timers:
            last[(change.iid, key, kind)] = None
    if not last:
        return
    kept = [(*row, due) for row, due in last.items() if due is not None]
    if kept:
        conn.executemany("INSERT OR REPLACE INTO timers VALUES (?, ?, ?, ?)", kept)
    cleared = [row for row, due in last.items() if due is None]
    if cleared:
        conn.executemany("DELETE FROM timers WHERE iid = ? AND cache_key = ? AND kind = ?", cleared)


def _insert_log(conn: sqlite3.Connection, rows: list[tuple[int, int, NewLogEvent]]) -> None:
    if rows:
        conn.executemany(
            "INSERT INTO log (iid, seq, ts, event, group_key, target, metadata, traceback) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(iid, seq, e.timestamp_ms, int(e.event), e.group_key, e.target, e.encoded_metadata(),
              e.encoded_traceback()) for iid, seq, e in rows])


def _upsert_steps(conn: sqlite3.Connection, rows: list[tuple[int, StepWrite]]) -> None:
    if rows:
        conn.executemany(
            "INSERT INTO steps (iid, cache_key, kind, target, state, value, error, config, "
            "attempts, attempt_open) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (iid, cache_key) DO UPDATE SET "
            "state = COALESCE(excluded.state, state), value = COALESCE(excluded.value, value), "
            "error = COALESCE(excluded.error, error), config = COALESCE(excluded.config, config), "
            "attempts = COALESCE(excluded.attempts, attempts), "
            "attempt_open = COALESCE(excluded.attempt_open, attempt_open)",
            [(iid, s.cache_key, s.kind, s.target, s.state, s.value_json, s.error_json,
              s.config_json, s.attempts, None if s.attempt_open is None else int(s.attempt_open))
             for iid, s in rows])


def _update_instance(conn: sqlite3.Connection, iid: int, update: InstanceUpdate) -> None:
    sets, params = [], []
    for name in _UPDATABLE:
        value = getattr(update, name)
        if value is UNSET:
            continue
        sets.append(f"{_COLUMN.get(name, name)} = ?")
        params.append(value.value if isinstance(value, InstanceStatus) else value)
    if update.bump_signal:
        sets.append("signal = signal + 1")
    if sets:
        conn.execute(f"UPDATE instances SET {', '.join(sets)} WHERE iid = ?", (*params, iid))
