"""The explorer's routes for the dev session itself: cron triggers (and running one now), the
engines connected to the store, and a workflow's event log across its instances.

    GET  /local/crons                    configured crons: next fire times, last runs
    POST /local/scheduled                {cron, scheduled_time?}: run a configured cron now,
                                         the way /cdn-cgi/handler/scheduled runs it
    GET  /local/engines                  engines: kind, host, pid, code version, workflows,
                                         start, last heartbeat
    GET  /workflows/:wf/events?event=&step=&since=&until=&after_seq=&before_seq=&limit=
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from pyflow_cli.engine.clock import iso_ms
from pyflow_cli.engine.durations import InvalidDurationError, parse_duration_ms
from pyflow_cli.engine.errors import NotFoundError
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.store import LogQuery, WorkflowLogEvent
from pyflow_cli.server.api import json_body
from pyflow_cli.server.cron_runs import MAX_TIME_MS, CronRun, configured
from pyflow_cli.server.envelope import NOT_FOUND, success
from pyflow_cli.server.explorer.handlers import (
    MAX_SEQ,
    Routes,
    expect_object,
    not_found,
    text_param,
    whole_number,
)
from pyflow_cli.server.routes import ApiRoute
from pyflow_cli.server.security import API_BODY_LIMIT
from pyflow_cli.server.validation import ValidationFailed

if TYPE_CHECKING:
    from pyflow_cli.api import EngineView
    from pyflow_cli.server.runtime import DevRuntime

MAX_EVENTS_PAGE = 1000
_EVENT_NAMES = {event.name: event for event in EventType}


def run_json(run: CronRun) -> dict[str, Any]:
    return {"cron": run.cron, "source": run.source, "scheduled_time": _iso(run.scheduled_ms),
            "started": iso_ms(run.started_ms), "duration_ms": round(run.duration_ms, 3),
            "outcome": run.outcome, "error": run.error,
            "instances": [{"workflow": w, "id": i} for w, i in run.instances]}


def _iso(ms: float) -> str | None:
    """``iso_ms``, or None for a time past what Python's calendar shows (a run may be asked for
    any time up to ``MAX_TIME_MS``, year 275760)."""
    try:
        return iso_ms(ms)
    except (ValueError, OverflowError, OSError):
        return None


async def engines_json(runtime: DevRuntime) -> list[EngineView]:
    """The engines registered in the store, this server's own first."""
    return await runtime.service.engines()


def local_routes(runtime: DevRuntime, routes: Routes) -> list[ApiRoute]:

    async def crons(request: Request) -> Response:
        now = datetime.fromtimestamp(runtime.workspace.clock.now_ms() / 1000, tz=UTC)
        found = [{"cron": t.cron, "handler": t.handler, "workflows": list(t.workflows),
                  "next": [iso_ms(moment.timestamp() * 1000) for moment in t.upcoming],
                  "error": t.error, "runs": [run_json(r) for r in runtime.cron_runs.of(t.cron)]}
                 for t in configured(runtime.project, now)]
        return success(found, {"count": len(found)})

    async def scheduled(request: Request) -> Response:
        body = expect_object(await json_body(request, API_BODY_LIMIT), "body")
        cron = body.get("cron")
        when = body.get("scheduled_time")
        if not isinstance(cron, str):
            raise ValidationFailed(["cron: expected a string, e.g. \"*/5 * * * *\""])
        if when is not None and (isinstance(when, bool) or not isinstance(when, int | float)
                                 or not 0 <= when <= MAX_TIME_MS):
            raise ValidationFailed(["scheduled_time: expected epoch milliseconds (from 0 to "
                                    f"{MAX_TIME_MS:.0f})"])
        listed = [t.cron for t in configured(runtime.project, datetime.now(UTC))]
        if cron not in listed:
            raise not_found(f'No cron trigger "{cron}" in {runtime.project.config_path.name} '
                            f"(crons: {', '.join(listed) or 'none'}).")
        run = await runtime.fire(cron, float(when) if when is not None else time.time() * 1000)
        return success(run_json(run))

    async def engines(request: Request) -> Response:
        found = await engines_json(runtime)
        return success(found, {"count": len(found)})

    async def events(request: Request) -> Response:
        workflow = request.path_params["workflow_name"]
        query = _log_query(request, runtime.workspace.clock.now_ms())
        try:
            rows = await runtime.service.workflow_log(workflow, query)
        except NotFoundError:
            raise not_found(f"Workflow '{workflow}' not found.", NOT_FOUND) from None
        return success([_event_json(r) for r in rows],
                       {"count": len(rows), "more": len(rows) == query.limit})

    return [
        routes.route("/local/crons", {"GET": crons}),
        routes.route("/local/scheduled", {"POST": scheduled}),
        routes.route("/local/engines", {"GET": engines}),
        routes.route("/workflows/{workflow_name}/events", {"GET": events}),
    ]


def _event_json(found: WorkflowLogEvent) -> dict[str, Any]:
    row = found.row
    # "seq" is the row's position in the workflow's log (the cursor of after_seq / before_seq);
    # "instance_seq" its number in its instance's own log.
    shown = {"seq": found.position, "instance_seq": row.seq, "instance_id": found.instance_id,
             "timestamp": iso_ms(row.timestamp_ms), "timestamp_ms": row.timestamp_ms,
             "event": int(row.event), "event_name": row.event.name, "group_key": row.group_key,
             "target": row.target, "metadata": row.metadata}
    if row.traceback is not None:
        shown["traceback"] = row.traceback
    return shown


def _log_query(request: Request, now_ms: float) -> LogQuery:
    """The event-log query a request asks for; ``ValidationFailed`` names what is wrong."""
    events: list[EventType] = []
    for text in request.query_params.getlist("event"):
        for name in filter(None, (part.strip() for part in text.split(","))):
            event = _EVENT_NAMES.get(name.upper()) if not name.isdigit() else \
                next((e for e in EventType if int(e) == int(name)), None)
            if event is None:
                raise ValidationFailed([f'event: "{name}" is not an event type (e.g. STEP_START, '
                                        "ATTEMPT_FAILURE, WORKFLOW_SUCCESS)"])
            events.append(event)
    return LogQuery(
        events=tuple(dict.fromkeys(events)), step=text_param(request, "step", 256),
        since_ms=_moment(request, "since", now_ms), until_ms=_moment(request, "until", now_ms),
        after=whole_number(request, "after_seq", None),
        before=whole_number(request, "before_seq", None, 1, MAX_SEQ),
        limit=whole_number(request, "limit", 100, 1, MAX_EVENTS_PAGE) or 100)


def _moment(request: Request, name: str, now_ms: float) -> float | None:
    """An ISO time, or a duration back from now (``15m``, ``24h``, ``7 days``)."""
    text = text_param(request, name, 64)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000
    except (ValueError, OverflowError, OSError):
        pass
    try:
        ago = parse_duration_ms(text)
    except InvalidDurationError:
        ago = -1.0
    if not 0 <= ago <= MAX_TIME_MS:
        raise ValidationFailed([f'{name}: "{text}" is neither an ISO time nor a duration '
                                "(15m, 24h, 7d)"])
    return now_ms - ago
