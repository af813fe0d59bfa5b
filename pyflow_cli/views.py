"""Read models projected from the event log: ``status()`` (SPEC §3.4) and instance details (§5.1).

Pure functions of an instance row and its log rows; the CLI, the HTTP API and bindings all render
these same read models (``api.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyflow_cli.api import Attempt, EngineView, InstanceDetails, StatusView, StepView
from pyflow_cli.engine.clock import iso_ms
from pyflow_cli.engine.events import EventType, LogEvent
from pyflow_cli.engine.processes import process_alive
from pyflow_cli.engine.serde import decode
from pyflow_cli.engine.store import EngineRecord, InstanceRecord, TimerRecord

_STEP_STARTS = {EventType.STEP_START: "step", EventType.SLEEP_START: "sleep",
                EventType.WAIT_START: "waitForEvent"}


def engine_views(records: Sequence[EngineRecord], current: str | None) -> list[EngineView]:
    """Registered engines, ``current`` (the answering process's) first, then the most recently
    heard from."""
    ordered = sorted(records, key=lambda e: (e.id != current, -e.heartbeat_ms))
    return [EngineView(id=e.id, kind=e.kind, host=e.host, pid=e.pid, version=e.version,
                       workflows=list(e.workflows),
                       started=iso_ms(e.started_ms) if e.started_ms is not None else None,
                       heartbeat=iso_ms(e.heartbeat_ms), current=e.id == current,
                       alive=process_alive(e.pid, e.host)) for e in ordered]


def status_view(record: InstanceRecord, log: Sequence[LogEvent]) -> StatusView:
    """What ``instance.status()`` returns: status, step outputs, output and (if any) error."""
    outputs: list[Any] = []
    for row in log:
        if row.event is EventType.STEP_SUCCESS:
            outputs.append(row.metadata.get("result"))
        elif row.event is EventType.WAIT_COMPLETE:
            outputs.append(row.metadata.get("payload"))
    view: StatusView = {"status": record.status.value, "__LOCAL_DEV_STEP_OUTPUTS": outputs,
                        "output": decode(record.output_json)}
    if record.error_json is not None:
        view["error"] = decode(record.error_json)
    return view


def _first(log: Sequence[LogEvent], *events: EventType) -> LogEvent | None:
    for event in events:
        for row in log:
            if row.event is event:
                return row
    return None


def instance_details(record: InstanceRecord, log: Sequence[LogEvent],
                     timers: Sequence[TimerRecord] = (),
                     labels: Mapping[str, str] | None = None) -> InstanceDetails:
    """The instance details shape of the local API and ``describe --json`` (SPEC §5.1).

    pyflow adds ``versionId``, ``trigger`` and ``success`` (SPEC A11), which the reference's
    remote API has and its local one lacks; from the pending ``timers``, when an unfinished
    sleep wakes (``wakeAt``) and when a failed step's next attempt starts (``retryAt``): the
    times the engine will act, after pauses and under a time scale; and ``traceback`` (the user's
    frames of the instance's error, ``engine/tracebacks``) here and on each failed attempt that
    has one; and, from ``labels`` (version id -> ``v2``), the ``version`` the instance records
    and the one each attempt ran on (``versionId``, ``version``).
    """
    labels = labels or {}
    queued = _first(log, EventType.WORKFLOW_QUEUED)
    start = _first(log, EventType.WORKFLOW_START)
    end = _first(log, EventType.WORKFLOW_SUCCESS, EventType.WORKFLOW_FAILURE,
                 EventType.WORKFLOW_TERMINATED)
    success = _first(log, EventType.WORKFLOW_SUCCESS)
    failure = _first(log, EventType.WORKFLOW_FAILURE)
    due = {(t.cache_key, t.kind): t.due_ms for t in timers}
    steps = _steps(log, due, labels)
    finished = record.status.is_terminal
    details: InstanceDetails = {
        "status": record.status.value,
        "params": queued.metadata.get("params") if queued else None,
        "queued": iso_ms(queued.timestamp_ms) if queued else None,
        "start": iso_ms(start.timestamp_ms) if start else None,
        "end": iso_ms(end.timestamp_ms) if end else None,
        "output": success.metadata.get("result") if success else None,
        "error": failure.metadata.get("error") if failure else None,
        "steps": steps,
        "step_count": len(steps),
        "versionId": record.version_id,
        "version": labels.get(record.version_id or ""),
        "trigger": {"source": record.trigger},
        "success": (record.status.value == "complete") if finished else None,
        "created_on": iso_ms(record.created_ms),
    }
    if failure is not None and failure.traceback is not None:
        details["traceback"] = failure.traceback
    return details


def _steps(log: Sequence[LogEvent], due: Mapping[tuple[str, str], float],
           labels: Mapping[str, str]) -> list[StepView]:
    groups: dict[str, list[LogEvent]] = {}
    for row in log:
        if row.group_key is not None and not row.group_key.startswith("rollback:"):
            groups.setdefault(row.group_key, []).append(row)
    views = []
    for key, rows in groups.items():
        view = _step(rows, labels)
        if view is None:
            continue
        if view["type"] == "sleep" and not view["finished"] and (key, "sleep") in due:
            view["wakeAt"] = iso_ms(due[(key, "sleep")])
        elif view["type"] == "step" and view["success"] is None and (key, "retry") in due:
            view["retryAt"] = iso_ms(due[(key, "retry")])
        views.append(view)
    return views


def _step(rows: list[LogEvent], labels: Mapping[str, str]) -> StepView | None:
    kind = next((_STEP_STARTS[r.event] for r in rows if r.event in _STEP_STARTS), None)
    if kind is None:
        return None
    first = rows[0]
    name = first.target
    if kind == "sleep":
        done = _find(rows, EventType.SLEEP_COMPLETE)
        return {"name": name, "start": iso_ms(first.timestamp_ms),
                "end": iso_ms(done.timestamp_ms) if done else None, "finished": done is not None,
                "type": "sleep", "error": None,
                "durationMs": _find_meta(rows, EventType.SLEEP_START).get("durationMs")}
    if kind == "waitForEvent":
        done = _find(rows, EventType.WAIT_COMPLETE)
        timed_out = _find(rows, EventType.WAIT_TIMED_OUT)
        last = done or timed_out
        error = None
        if timed_out is not None:
            error = {"name": timed_out.metadata.get("name", "Error"),
                     "message": timed_out.metadata.get("message", "")}
        output = None
        if done is not None:
            meta = done.metadata
            output = {"type": meta.get("type"), "payload": meta.get("payload", {}),
                      "timestamp": meta.get("timestamp")}
        return {"name": name, "start": iso_ms(first.timestamp_ms),
                "end": iso_ms(last.timestamp_ms) if last else None, "finished": last is not None,
                "type": "waitForEvent", "error": error, "output": output,
                "eventType": _find_meta(rows, EventType.WAIT_START).get("event")}
    return _do_step(name, rows, labels)


def _do_step(name: str | None, rows: list[LogEvent], labels: Mapping[str, str]) -> StepView:
    start = _find(rows, EventType.STEP_START)
    succeeded = _find(rows, EventType.STEP_SUCCESS)
    failed = _find(rows, EventType.STEP_FAILURE)
    end = succeeded or failed
    attempts: dict[int, Attempt] = {}
    for row in rows:
        number = int(row.metadata.get("attempt", 0))
        if row.event is EventType.ATTEMPT_START:
            attempts[number] = {"start": iso_ms(row.timestamp_ms), "end": None, "success": None,
                                "error": None}
            if row.version is not None:  # the code it ran on (pyflow's addition)
                attempts[number]["versionId"] = row.version
                attempts[number]["version"] = labels.get(row.version)
            if row.runner is not None:  # the engine that ran it (pyflow's addition)
                attempts[number]["engine"] = row.runner.engine
        elif row.event in (EventType.ATTEMPT_SUCCESS, EventType.ATTEMPT_FAILURE):
            attempt = attempts.setdefault(number, {"start": None, "end": None, "success": None,
                                                   "error": None})
            attempt["end"] = iso_ms(row.timestamp_ms)
            attempt["success"] = row.event is EventType.ATTEMPT_SUCCESS
            if row.event is EventType.ATTEMPT_FAILURE:
                attempt["error"] = row.metadata.get("error")
                if "retryDelayMs" in row.metadata:
                    attempt["retryDelayMs"] = row.metadata["retryDelayMs"]
                if row.traceback is not None:
                    attempt["traceback"] = row.traceback
    view: StepView = {
        "name": name,
        "start": iso_ms((start or rows[0]).timestamp_ms),
        "end": iso_ms(end.timestamp_ms) if end else None,
        "success": True if succeeded else (False if failed else None),
        "type": "step",
    }
    if succeeded is not None and succeeded.metadata.get("result") is not None:
        view["output"] = succeeded.metadata["result"]
    view["config"] = start.metadata.get("config") if start else None
    view["attempts"] = [attempts[n] for n in sorted(attempts)]
    return view


def _find(rows: list[LogEvent], event: EventType) -> LogEvent | None:
    return next((r for r in rows if r.event is event), None)


def _find_meta(rows: list[LogEvent], event: EventType) -> dict[str, Any]:
    row = _find(rows, event)
    return row.metadata if row is not None else {}
