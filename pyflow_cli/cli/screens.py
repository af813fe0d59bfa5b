"""What each command shows, as documents: wrangler's layouts for lists and describe views, and
pyflow's own live summaries and event-log lines.

Every function takes the data, "now" and the time zone, and returns a ``Doc`` or text; nothing
here prints or reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any

from pyflow_cli.cli.doc import LABEL_STYLE, Doc, Field, labelled, line, table
from pyflow_cli.cli.formats import (
    distance_strict,
    iso_to_ms,
    js_json,
    locale_datetime,
    log_timestamp,
    relative,
    status_text,
    step_type_text,
    trigger_text,
    truncate,
)
from pyflow_cli.engine.clock import iso_ms
from pyflow_cli.engine.durations import InvalidDurationError, parse_duration_ms
from pyflow_cli.engine.events import LogEvent, TriggerSource
from pyflow_cli.engine.retry import delay_for
from pyflow_cli.engine.tracebacks import text_of
from pyflow_cli.engine.versions import VersionRecord

ERROR_STYLE = "red"
LOG_VALUE_LIMIT = 120


# -- workflows ----------------------------------------------------------------------------------------
def workflows_table(rows: Sequence[Mapping[str, str]], source: str, max_width: int | None) -> Doc:
    """``workflows list``: the count line and a table of the workflows."""
    count = len(rows)
    doc = [line(f"Showing {count} workflow{'s' if count > 1 else ''} from {source}:")]
    table_rows = [{"Name": r["name"], "Script name": r["script_name"], "Class name": r["class_name"]}
                  for r in rows]
    return doc + table(table_rows, max_width)


def workflow_details(info: Mapping[str, str], counts: Mapping[str, int]) -> Doc:
    """``workflows describe``: the workflow and its instance counts by status."""
    doc = labelled([Field("Name", info["name"]), Field("Script Name", info["script_name"]),
                    Field("Class Name", info["class_name"])])
    doc.append(line("Instance Status Counts:", LABEL_STYLE))
    return doc + labelled([Field(status, str(n)) for status, n in counts.items()], indent=2)


# -- instances list ----------------------------------------------------------------------------------
def instances_table(rows: Sequence[Mapping[str, Any]], page: int, tz: tzinfo | None,
                    max_width: int | None) -> Doc:
    """``instances list``: the count line and a table of the page's instances."""
    count = len(rows)
    doc = [line(f"Showing {count} instance{'s' if count > 1 else ''} from page {page}:")]
    # A Version column when the page holds instances of several versions of the code.
    versions = len({r.get("versionId") for r in rows}) > 1
    return doc + table([
        {"Instance ID": str(r["id"]),
         "Created": locale_datetime(iso_to_ms(r["created_on"]), tz) if r.get("created_on") else "N/A",
         "Status": status_text(r["status"]) if r.get("status") else "N/A",
         **({"Version": version_text(r)} if versions else {})}
        for r in rows], max_width)


def version_text(item: Mapping[str, Any]) -> str:
    """``v2``, else the start of the version id, else nothing (no version recorded)."""
    if item.get("version"):
        return str(item["version"])
    return str(item["versionId"])[:8] if item.get("versionId") else ""


def versions_table(versions: Sequence[VersionRecord], tz: tzinfo | None,
                   max_width: int | None) -> Doc:
    """``versions list``: the count line and a table of the versions, oldest first."""
    count = len(versions)
    doc = [line(f"Showing {count} version{'s' if count != 1 else ''}:")]
    return doc + table([
        {"Version": v.label, "Version Id": v.id, "First Seen": locale_datetime(v.first_seen_ms, tz),
         "Instances": f"{v.instances:,}"} for v in versions], max_width)


# -- instance details (SPEC §4.6) -------------------------------------------------------------------------
def _when(value: str | None, tz: tzinfo | None) -> str | None:
    return locale_datetime(iso_to_ms(value), tz) if value else None


def _timing(item: Mapping[str, Any], now_ms: float, tz: tzinfo | None) -> list[Field]:
    """Start, End and Duration (running to now while unfinished), as wrangler shows them."""
    fields: list[Field] = []
    start, end = item.get("start"), item.get("end")
    if start:
        fields.append(Field("Start", locale_datetime(iso_to_ms(start), tz)))
    if end:
        fields.append(Field("End", locale_datetime(iso_to_ms(end), tz)))
    if start:
        fields.append(Field("Duration", distance_strict(
            iso_to_ms(end) if end else now_ms, iso_to_ms(start))))
    return fields


def last_successful_step(steps: Sequence[Mapping[str, Any]]) -> str | None:
    """The last do-step that succeeded or sleep that ended (event waits never count)."""
    name = None
    for step in steps:
        if (step["type"] == "step" and step.get("success") is True) or (
                step["type"] == "sleep" and step.get("end") is not None):
            name = step["name"]
    return name


def error_text(error: Mapping[str, Any]) -> str:
    """``<name>: <message>``, as wrangler shows an error."""
    return f"{error.get('name', 'Error')}: {error.get('message', '')}"


def instance_details(workflow: str, details: Mapping[str, Any], now_ms: float, tz: tzinfo | None,
                     *, step_output: bool = True, output_limit: int = 5000,
                     max_width: int | None = None, time_scale: float = 1.0) -> Doc:
    """``wrangler workflows instances describe``, with Version Id, Trigger and Success (A11)."""
    fields = [Field("Workflow Name", workflow), Field("Instance Id", str(details["id"]))]
    if details.get("versionId") is not None:
        label = f" ({details['version']})" if details.get("version") else ""
        fields.append(Field("Version Id", str(details["versionId"]) + label))
    fields.append(Field("Status", status_text(details.get("status"))))
    if details.get("trigger"):
        fields.append(Field("Trigger", trigger_text(details["trigger"].get("source"))))
    if details.get("queued"):
        fields.append(Field("Queued", locale_datetime(iso_to_ms(details["queued"]), tz)))
    if details.get("success") is not None:
        fields.append(Field("Success", "✅ Yes" if details["success"] else "❌ No"))
    fields += _timing(details, now_ms, tz)
    last = last_successful_step(details.get("steps", []))
    if last is not None:
        fields.append(Field("Last Successful Step", last))
    if details.get("error") is not None:
        fields.append(Field("Error", error_text(details["error"]), ERROR_STYLE))
    doc = labelled(fields)
    if details.get("traceback"):
        doc.append(line("Traceback (your code):", LABEL_STYLE))
        doc += traceback_doc(details["traceback"], 2)
    doc.append(line("Steps:", LABEL_STYLE))
    versions = _shows_versions(details)
    for step in details.get("steps", []):
        doc.append([])
        doc += _step(step, now_ms, tz, step_output, output_limit, max_width, time_scale, versions)
    return doc


def _shows_versions(details: Mapping[str, Any]) -> bool:
    """Whether the attempts tables get a Version column: when some attempt ran on another
    version of the code than the instance records (a reload or a restart came between)."""
    ran = {a.get("versionId") for step in details.get("steps", [])
           for a in step.get("attempts", []) or [] if a.get("versionId")}
    return bool(ran - {details.get("versionId")})


def _step(step: Mapping[str, Any], now_ms: float, tz: tzinfo | None, step_output: bool,
          output_limit: int, max_width: int | None, time_scale: float, versions: bool) -> Doc:
    kind = step["type"]
    fields = [Field("Name", str(step["name"])), Field("Type", step_type_text(kind)),
              *_timing(step, now_ms, tz)]
    if kind == "step":
        success = step.get("success")
        fields.append(Field("Success", "▶ Running" if success is None else
                            "✅ Yes" if success else "❌ No"))
        retry = retries_at(step, now_ms, tz, time_scale)
        if retry is not None:
            fields.append(Field("Retries At", retry))
        ran = runners_text(step.get("attempts") or [])
        if ran:
            fields.append(Field("Engine" if len(ran) == 1 else "Engines", ", ".join(ran)))
    if kind in ("step", "waitForEvent") and "output" in step and step_output:
        fields.append(Field("Output", truncate(js_json(step["output"]), output_limit)))
    doc = labelled(fields, indent=2)
    if kind == "step" and step.get("attempts"):
        doc += table([_attempt(a, now_ms, tz, versions) for a in step["attempts"]], max_width,
                     {"Error": ERROR_STYLE}, flexible=("Error",))
        doc += _attempt_tracebacks(step["attempts"])
    return doc


def runners_text(attempts: Sequence[Mapping[str, Any]]) -> list[str]:
    """Which engines ran a step's attempts: one entry per run of consecutive attempts on one
    engine (``worker-box-42-1a2b3c (attempts 1–2)``; only the engine when one ran them all)."""
    runs: list[tuple[list[int], str]] = []
    for number, attempt in enumerate(attempts, start=1):
        engine = attempt.get("engine")
        if not engine:
            continue
        if runs and runs[-1][1] == engine and runs[-1][0][-1] == number - 1:
            runs[-1][0].append(number)
        else:
            runs.append(([number], str(engine)))
    if len(runs) == 1 and len(runs[0][0]) == len(attempts):
        return [runs[0][1]]
    return [f"{text} (attempt{'s' if len(n) > 1 else ''} "
            f"{n[0] if len(n) == 1 else f'{n[0]}–{n[-1]}'})" for n, text in runs]


def _attempt_tracebacks(attempts: Sequence[Mapping[str, Any]]) -> Doc:
    """The tracebacks of the failed attempts below their table; consecutive attempts that
    failed in the same frames share one (``attempts 1–3``)."""
    groups: list[tuple[list[int], Mapping[str, Any]]] = []
    for number, attempt in enumerate(attempts, start=1):
        trace = attempt.get("traceback")
        if not trace:
            continue
        if groups and groups[-1][0][-1] == number - 1 and groups[-1][1]["frames"] == trace["frames"]:
            groups[-1][0].append(number)
        else:
            groups.append(([number], trace))
    doc: Doc = []
    for numbers, trace in groups:
        which = (f"attempt {numbers[0]}" if len(numbers) == 1
                 else f"attempts {numbers[0]}–{numbers[-1]}")
        doc.append(line(f"  Traceback of {which} (your code):", LABEL_STYLE))
        doc += traceback_doc(trace, 4)
    return doc


def traceback_doc(trace: Mapping[str, Any], indent: int) -> Doc:
    """A stored traceback's frames (``file:line in function`` and the source line), indented."""
    return [line(text, "dim" if text.startswith(" " * (indent + 4)) else "")
            for text in traceback_lines(trace, indent)]


def traceback_lines(trace: Mapping[str, Any], indent: int) -> list[str]:
    """The frames of a stored traceback as text lines, without the error's own line (the views
    show the error already)."""
    text = text_of(trace.get("frames") or [], int(trace.get("omitted") or 0))
    return [" " * indent + part for part in text.split("\n")] if text else []


def _attempt(attempt: Mapping[str, Any], now_ms: float, tz: tzinfo | None,
             versions: bool = False) -> dict[str, str]:
    row = {"Start": _when(attempt.get("start"), tz) or "",
           "End": _when(attempt.get("end"), tz) or ""}
    start, end = attempt.get("start"), attempt.get("end")
    if start:
        row["Duration"] = distance_strict(iso_to_ms(end) if end else now_ms, iso_to_ms(start))
    success = attempt.get("success")
    row["State"] = "🔄 Working" if success is None else "✅ Success" if success else "❌ Error"
    if versions:
        row["Version"] = version_text(attempt)
    if attempt.get("error") is not None:
        row["Error"] = error_text(attempt["error"])
    return row


def retry_delay_ms(step: Mapping[str, Any]) -> float | None:
    """The wait after the step's last failed attempt: what the engine recorded, else the
    configured delay with its backoff (pyflow uses the real backoff, not wrangler's raw delay)."""
    attempts = step.get("attempts") or []
    if attempts and attempts[-1].get("retryDelayMs") is not None:
        return float(attempts[-1]["retryDelayMs"])
    retries = (step.get("config") or {}).get("retries") or {}
    if "delay" not in retries:
        return None
    try:
        base = parse_duration_ms(retries["delay"])
    except (InvalidDurationError, TypeError, ValueError):
        return None
    return delay_for(str(retries.get("backoff", "constant")), base, max(len(attempts), 1))


def retry_due_ms(step: Mapping[str, Any], time_scale: float = 1.0) -> float | None:
    """When the step's next attempt starts (epoch ms), or None when unknown: the engine's retry
    timer (``retryAt``) when the details have it, else the last failure plus its delay."""
    if step.get("retryAt"):
        return iso_to_ms(step["retryAt"])
    attempts = step.get("attempts") or []
    delay = retry_delay_ms(step)
    if not attempts or not attempts[-1].get("end") or delay is None:
        return None
    return iso_to_ms(attempts[-1]["end"]) + delay / time_scale


def retries_at(step: Mapping[str, Any], now_ms: float, tz: tzinfo | None,
               time_scale: float = 1.0) -> str | None:
    """``Retries At`` for a running step whose last attempt failed, else None."""
    attempts = step.get("attempts") or []
    if step.get("success") is not None or not attempts or attempts[-1].get("success") is not False:
        return None
    if not attempts[-1].get("end"):
        return "unknown"
    due = retry_due_ms(step, time_scale)
    if due is None:
        return "unknown (dynamic delay)"
    return f"{locale_datetime(due, tz)} ({relative(due, now_ms)})"


# -- event log ---------------------------------------------------------------------------------------------
def _log_value(value: Any) -> str:
    text = value if isinstance(value, str) and value and " " not in value else js_json(value)
    return truncate(text, LOG_VALUE_LIMIT, "…")


def _trigger_name(value: Any) -> str | None:
    """``{"source": 4}`` -> ``cli``: who created the instance, as the local API names it."""
    source = value.get("source") if isinstance(value, dict) else None
    if isinstance(source, int) and not isinstance(source, bool) and source in set(TriggerSource):
        return TriggerSource(source).name.lower()
    return None


def log_line(row: LogEvent, tz: tzinfo | None) -> str:
    """``2026-11-24 16:00:15.123  ATTEMPT_FAILURE  flaky-1  attempt=1 error={...}``"""
    meta = " ".join(
        f"{key}={(key == 'trigger' and _trigger_name(value)) or _log_value(value)}"
        for key, value in row.metadata.items())
    when = log_timestamp(row.timestamp_ms, tz)
    return f"{when}  {row.event.name:<26}  {row.target or '-'}  {meta}".rstrip()


def log_lines(row: LogEvent, tz: tzinfo | None) -> list[str]:
    """``log_line``, and below a failure the frames of its traceback (the user's code)."""
    lines = [log_line(row, tz)]
    if row.traceback:
        lines += traceback_lines(row.traceback, 4)
    return lines


def log_json(row: LogEvent) -> dict[str, Any]:
    """One log row as ``logs --json`` prints it (with ``traceback`` on failures that have one)."""
    item = {"seq": row.seq, "timestamp": iso_ms(row.timestamp_ms), "event": row.event.name,
            "groupKey": row.group_key, "target": row.target, "metadata": row.metadata}
    if row.traceback is not None:
        item["traceback"] = row.traceback
    return item
