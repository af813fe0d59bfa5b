"""The SQLite store's reads (``SqliteStore`` is this class plus its connections and writes).

A read of a few rows found through an index runs right on the event loop (``_point_rows``: WAL
readers never wait for the writer); larger reads go through aiosqlite's thread (``_rows``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyflow_cli.engine.events import EventType, LogEvent
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import (
    EngineRecord,
    History,
    InboxEvent,
    InstancePage,
    InstanceRecord,
    LogQuery,
    MetricsRows,
    StepRecord,
    TimerRecord,
    WorkflowLogEvent,
)
from pyflow_cli.storage.rows import engine_record, log_event
from pyflow_cli.storage.sqlite_admission import next_due_sql

INSTANCE_COLUMNS = (
    "iid, workflow, id, status, created_ms, params, output, error, version_id, trigger, "
    "runnable_at, lease_owner, lease_expires, paused_at, lifetime, signal, control, lease_epoch"
)
_MAX_INTEGER = 2**63 - 1  # SQLite's largest integer; a larger offset reads nothing anyway


def instance_record(row: Sequence[Any]) -> InstanceRecord:
    return InstanceRecord(
        iid=row[0], workflow=row[1], id=row[2], status=InstanceStatus(row[3]), created_ms=row[4],
        params_json=row[5], output_json=row[6], error_json=row[7], version_id=row[8],
        trigger=row[9], runnable_at=row[10], lease_owner=row[11], lease_expires=row[12],
        paused_at=row[13], lifetime=row[14], signal=row[15], control=row[16], lease_epoch=row[17])


class SqliteReads:
    """Every read of the ``Store`` port, over the two read paths a subclass provides."""

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _point_rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    async def list_engines(self) -> list[EngineRecord]:
        rows = await self._rows("SELECT id, pid, host, heartbeat_ms, version, kind, workflows, "
                                "started_ms FROM engines")
        return [engine_record(row) for row in rows]

    async def get_instance(self, workflow: str, instance_id: str) -> InstanceRecord | None:
        rows = self._point_rows(f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE workflow = ? "
                                "AND id = ?", (workflow, instance_id))
        return instance_record(rows[0]) if rows else None

    def instance_name(self, iid: int) -> tuple[str, str] | None:
        """(workflow, id) of instance ``iid``, read right here (a primary-key lookup)."""
        rows = self._point_rows("SELECT workflow, id FROM instances WHERE iid = ?", (iid,))
        return (rows[0][0], rows[0][1]) if rows else None

    async def get_instance_by_iid(self, iid: int) -> InstanceRecord | None:
        rows = self._point_rows(f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE iid = ?", (iid,))
        return instance_record(rows[0]) if rows else None

    async def latest_instance(self, workflow: str) -> InstanceRecord | None:
        rows = self._point_rows(f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE workflow = ? "
                                "ORDER BY created_ms DESC, iid DESC LIMIT 1", (workflow,))
        return instance_record(rows[0]) if rows else None

    async def list_instances(self, workflow: str, *, statuses: Sequence[InstanceStatus] = (),
                             created_from_ms: float | None = None,
                             created_to_ms: float | None = None, offset: int = 0, limit: int = 25,
                             newest_first: bool = True, id_prefix: str | None = None,
                             text: str | None = None,
                             version_id: str | None = None) -> InstancePage:
        where, params = instance_filter(workflow, statuses, created_from_ms, created_to_ms,
                                        id_prefix, text)
        if version_id is not None:
            where.append("version_id = ?")
            params.append(version_id)
        clause = " AND ".join(where)
        order = "DESC" if newest_first else "ASC"
        rows = await self._rows(
            f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE {clause} "
            f"ORDER BY created_ms {order}, iid {order} LIMIT ? OFFSET ?",
            (*params, min(limit, _MAX_INTEGER), min(offset, _MAX_INTEGER)))
        if (created_from_ms, created_to_ms, id_prefix or None, text or None,
                version_id) == (None,) * 5:
            # Only the workflow and statuses: the kept counts are the total, with no count query.
            counts = await self.status_counts(workflow)
            wanted = {s.value for s in statuses} or counts.keys()
            total = sum(n for status, n in counts.items() if status in wanted)
        else:
            total = (await self._rows(f"SELECT COUNT(*) FROM instances WHERE {clause}", params))[0][0]
        return InstancePage([instance_record(r) for r in rows], total)

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
        rows = self._point_rows("SELECT seq, ts, event, group_key, target, metadata, traceback, "
                                "version, engine FROM log WHERE iid = ? AND seq > ? ORDER BY seq",
                                (iid, after_seq))
        return [log_event(*row) for row in rows]

    async def read_workflow_log(self, workflow: str, query: LogQuery) -> list[WorkflowLogEvent]:
        where, params = workflow_log_filter(workflow, query)
        # The log is read newest first by pos (its rowid) and each row's instance looked up, so a
        # page stops after `limit` matches and reading on from a position reads only new rows.
        rows = await self._rows(
            "SELECT i.id, l.pos, l.seq, l.ts, l.event, l.group_key, l.target, l.metadata, "
            f"l.traceback, l.version, l.engine FROM log l CROSS JOIN instances i "
            f"ON i.iid = l.iid WHERE {' AND '.join(where)} ORDER BY l.pos DESC LIMIT ?",
            (*params, max(0, min(query.limit, _MAX_INTEGER))))
        return [WorkflowLogEvent(instance_id, log_event(*row), pos)
                for instance_id, pos, *row in rows]

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
        rows = await self._rows(next_due_sql(len(workflows)), (*workflows, *workflows))
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
