"""The PostgreSQL store's reads (``PostgresStore`` is this class plus its writes).

Every read is one statement on a pooled connection (``_rows``), in its own snapshot: what it
returns was committed. The same queries as on SQLite where they can be; the differences are
PostgreSQL's: arrays instead of lists of placeholders, counts counted (see ``pg_schema.py``).
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

COLUMNS = ("iid, workflow, id, status, created_ms, params, output, error, version_id, trigger, "
           "runnable_at, lease_owner, lease_expires, paused_at, lifetime, signal, control, "
           "lease_epoch")
MAX_BIGINT = 2**63 - 1
_ACTIVE_STATUSES = ["queued", "running", "waiting", "paused", "waitingForPause"]
_METRIC_EVENTS = "l.event <= 4 AND l.event <> 1"  # the log_metrics index's condition


def record(row: Sequence[Any]) -> InstanceRecord:
    return InstanceRecord(
        iid=row[0], workflow=row[1], id=row[2], status=InstanceStatus(row[3]), created_ms=row[4],
        params_json=row[5], output_json=row[6], error_json=row[7], version_id=row[8],
        trigger=row[9], runnable_at=row[10], lease_owner=row[11], lease_expires=row[12],
        paused_at=row[13], lifetime=row[14], signal=row[15], control=row[16], lease_epoch=row[17])


class PgReads:
    """The reads of ``PostgresStore``."""

    schema_sql: str

    async def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        raise NotImplementedError

    async def list_engines(self) -> list[EngineRecord]:
        rows = await self._rows(
            "SELECT id, pid, host, heartbeat_ms, version, kind, workflows, started_ms FROM "
            f"{self.schema_sql}.engines")
        return [engine_record(row) for row in rows]

    async def get_instance(self, workflow: str, instance_id: str) -> InstanceRecord | None:
        rows = await self._rows(f"SELECT {COLUMNS} FROM {self.schema_sql}.instances "
                                "WHERE workflow = %s AND id = %s", (workflow, instance_id))
        return record(rows[0]) if rows else None

    async def get_instance_by_iid(self, iid: int) -> InstanceRecord | None:
        rows = await self._rows(f"SELECT {COLUMNS} FROM {self.schema_sql}.instances "
                                "WHERE iid = %s", (iid,))
        return record(rows[0]) if rows else None

    async def latest_instance(self, workflow: str) -> InstanceRecord | None:
        rows = await self._rows(f"SELECT {COLUMNS} FROM {self.schema_sql}.instances "
                                "WHERE workflow = %s ORDER BY created_ms DESC, iid DESC LIMIT 1",
                                (workflow,))
        return record(rows[0]) if rows else None

    async def list_instances(self, workflow: str, *, statuses: Sequence[InstanceStatus] = (),
                             created_from_ms: float | None = None,
                             created_to_ms: float | None = None, offset: int = 0, limit: int = 25,
                             newest_first: bool = True, id_prefix: str | None = None,
                             text: str | None = None,
                             version_id: str | None = None) -> InstancePage:
        where: list[str] = ["workflow = %s"]
        params: list[Any] = [workflow]
        if version_id is not None:
            where.append("version_id = %s")
            params.append(version_id)
        if statuses:
            where.append("status = ANY(%s)")
            params.append([s.value for s in statuses])
        for term, bound in (("created_ms >= %s", created_from_ms),
                            ("created_ms <= %s", created_to_ms)):
            if bound is not None:
                where.append(term)
                params.append(bound)
        if id_prefix:
            where.append("id >= %s AND id < %s")
            params += [id_prefix, id_prefix + "\U0010ffff"]
        if text:
            # As on SQLite: the text, ignoring ASCII case, in the stored JSON.
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(params ILIKE %s OR output ILIKE %s OR error ILIKE %s)")
            params += [pattern] * 3
        clause = " AND ".join(where)
        order = "DESC" if newest_first else "ASC"
        table = f"{self.schema_sql}.instances"
        rows = await self._rows(
            f"SELECT {COLUMNS} FROM {table} WHERE {clause} ORDER BY created_ms {order}, "
            f"iid {order} LIMIT %s OFFSET %s",
            (*params, min(limit, MAX_BIGINT), min(offset, MAX_BIGINT)))
        total = (await self._rows(f"SELECT COUNT(*) FROM {table} WHERE {clause}", params))[0][0]
        return InstancePage([record(row) for row in rows], total)

    async def status_counts(self, workflow: str) -> dict[str, int]:
        rows = await self._rows(f"SELECT status, COUNT(*) FROM {self.schema_sql}.instances "
                                "WHERE workflow = %s GROUP BY status", (workflow,))
        return {status: count for status, count in rows}

    async def metrics_rows(self, workflow: str, since_ms: float, until_ms: float,
                           bucket_ms: float) -> MetricsRows:
        s = self.schema_sql
        window = (since_ms, until_ms, workflow)
        in_window = (f"FROM {s}.log l JOIN {s}.instances i ON i.iid = l.iid WHERE {_METRIC_EVENTS} "
                     "AND l.ts >= %s AND l.ts < %s AND i.workflow = %s")
        buckets = await self._rows(
            f"SELECT l.event, trunc((l.ts - %s) / %s)::bigint, COUNT(*) {in_window} GROUP BY 1, 2",
            (since_ms, bucket_ms, *window))
        # Wall time of a run: from its instance's first log row to the row that ended it.
        walls = await self._rows(
            f"SELECT trunc((l.ts - %s) / %s)::bigint, l.ts - (SELECT f.ts FROM {s}.log f WHERE "
            f"f.iid = l.iid ORDER BY f.seq LIMIT 1) {in_window} AND l.event IN (2, 3)",
            (since_ms, bucket_ms, *window))
        steps = await self._rows(
            f"WITH active(iid) AS (SELECT l.iid {in_window} UNION SELECT iid FROM {s}.instances "
            "WHERE workflow = %s AND status = ANY(%s)) "
            "SELECT t.target, t.event, COUNT(*), COUNT(*) FILTER (WHERE t.event = 12 AND "
            f"(t.metadata::jsonb ->> 'retryDelayMs') IS NOT NULL) FROM active a JOIN {s}.log t "
            "ON t.iid = a.iid WHERE t.event IN (5, 7, 12) AND t.ts >= %s AND t.ts < %s "
            "GROUP BY 1, 2",
            (*window, workflow, _ACTIVE_STATUSES, since_ms, until_ms))
        return MetricsRows(
            [(EventType(event), bucket, count) for event, bucket, count in buckets],
            [(bucket, float(wall)) for bucket, wall in walls if wall is not None],
            [(target or "", EventType(event), count, int(retries or 0))
             for target, event, count, retries in steps])

    async def read_log(self, iid: int, after_seq: int = 0) -> list[LogEvent]:
        rows = await self._rows(
            "SELECT seq, ts, event, group_key, target, metadata, traceback, version, engine "
            f"FROM {self.schema_sql}.log WHERE iid = %s AND seq > %s ORDER BY seq",
            (iid, min(after_seq, MAX_BIGINT)))
        return [log_event(*row) for row in rows]

    async def read_workflow_log(self, workflow: str, query: LogQuery) -> list[WorkflowLogEvent]:
        where: list[str] = ["i.workflow = %s"]
        params: list[Any] = [workflow]
        if query.events:
            where.append("l.event = ANY(%s)")
            params.append([int(event) for event in query.events])
        if query.step:
            where.append("strpos(lower(l.target), lower(%s)) > 0")
            params.append(query.step)
        for term, bound in (("l.ts >= %s", query.since_ms), ("l.ts < %s", query.until_ms),
                            ("l.pos > %s", query.after), ("l.pos < %s", query.before)):
            if bound is not None:
                where.append(term)
                params.append(min(bound, MAX_BIGINT) if isinstance(bound, int) else bound)
        s = self.schema_sql
        rows = await self._rows(
            "SELECT i.id, l.pos, l.seq, l.ts, l.event, l.group_key, l.target, l.metadata, "
            f"l.traceback, l.version, l.engine FROM {s}.log l JOIN {s}.instances i "
            f"ON i.iid = l.iid WHERE {' AND '.join(where)} ORDER BY l.pos DESC LIMIT %s",
            (*params, max(0, min(query.limit, MAX_BIGINT))))
        return [WorkflowLogEvent(instance_id, log_event(*row), pos)
                for instance_id, pos, *row in rows]

    async def read_timers(self, iid: int) -> list[TimerRecord]:
        rows = await self._rows(f"SELECT cache_key, kind, due_ms FROM {self.schema_sql}.timers "
                                "WHERE iid = %s", (iid,))
        return [TimerRecord(*row) for row in rows]

    async def load_history(self, iid: int) -> History:
        return (await self.load_histories([iid]))[iid]

    async def load_histories(self, iids: Sequence[int]) -> dict[int, History]:
        histories = {iid: History({}, {}, []) for iid in iids}
        if not iids:
            return histories
        s = self.schema_sql
        # One round trip for the three tables of a whole claimed batch.
        rows = await self._rows(
            "SELECT iid, 0, cache_key, kind, target, state, value, error, config, "
            f"attempts::float8, attempt_open FROM {s}.steps WHERE iid = ANY(%(iids)s) UNION ALL "
            "SELECT iid, 1, cache_key, kind, NULL, NULL, NULL, NULL, NULL, due_ms, NULL "
            f"FROM {s}.timers WHERE iid = ANY(%(iids)s) UNION ALL "
            "SELECT iid, 2, seq::text, type, NULL, NULL, payload, NULL, NULL, ts, NULL "
            f"FROM {s}.inbox WHERE iid = ANY(%(iids)s) AND consumed_by IS NULL",
            {"iids": list(iids)})
        for iid, table, key, kind, target, state, value, error, config, number, is_open in rows:
            history = histories[iid]
            if table == 0:
                history.steps[key] = StepRecord(key, kind, target, state or "started", value,
                                                error, config, int(number or 0), bool(is_open))
            elif table == 1:
                history.timers[(key, kind)] = TimerRecord(key, kind, number)
            else:
                history.inbox.append(InboxEvent(int(key), kind, value, number))
        for history in histories.values():
            history.inbox.sort(key=lambda event: event.seq)
        return histories

    async def load_inbox(self, iid: int) -> list[InboxEvent]:
        rows = await self._rows(f"SELECT seq, type, payload, ts FROM {self.schema_sql}.inbox "
                                "WHERE iid = %s AND consumed_by IS NULL ORDER BY seq", (iid,))
        return [InboxEvent(*row) for row in rows]

    async def signalled(self, owner: str) -> list[tuple[int, int]]:
        rows = await self._rows(f"SELECT iid, signal FROM {self.schema_sql}.instances "
                                "WHERE lease_owner = %s", (owner,))
        return [(iid, signal) for iid, signal in rows]

    async def next_runnable_ms(self, workflows: Sequence[str]) -> float | None:
        if not workflows:
            return None
        # Through both claim indexes (waking and queued instances: pg_schema v2).
        unleased = (f"SELECT MIN(runnable_at) FROM {self.schema_sql}.instances WHERE runnable_at "
                    "IS NOT NULL AND lease_owner IS NULL AND workflow = ANY(%(w)s) AND status")
        rows = await self._rows(f"SELECT LEAST(({unleased} <> 'queued'), ({unleased} = 'queued'))",
                                {"w": list(workflows)})
        value = rows[0][0] if rows else None
        return float(value) if value is not None else None
