"""How the CLI writes values: wrangler's dates and durations, status and trigger labels, JSON text.

Pure functions of their inputs (the time zone and "now" are parameters), so golden tests can pin
them. Dates are Node's ``toLocaleString()`` in en-US (``11/24/2026, 4:02:13 PM``); durations are
date-fns ``formatDistanceStrict`` (``0 seconds``, ``1 minute``, ``3 hours``).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from pyflow_cli.engine.errors import InvalidInputError

STATUS_TEXT = {
    "complete": "✅ Completed",
    "errored": "❌ Errored",
    "unknown": "❓ Unknown",
    "paused": "⏸️ Paused",
    "queued": "⌛ Queued",
    "running": "▶ Running",
    "terminated": "🚫 Terminated",
    "waiting": "⏰ Waiting",
    "waitingForPause": "⏱️ Waiting for Pause",
}
# TriggerSource numbers (API, BINDING, EVENT, CRON, CLI) -> describe's Trigger line (SPEC A11).
TRIGGER_TEXT = {0: "🌎 API", 1: "🔗 Binding", 2: "📨 Event", 3: "⏰ Cron", 4: "🖥️ CLI"}
STEP_TYPE_TEXT = {"step": "🎯 Step", "sleep": "💤 Sleeping", "termination": "🚫 Termination",
                  "waitForEvent": "👀 Waiting for event"}

_MINUTES_IN_DAY = 1440
_MINUTES_IN_MONTH = 43200
_MINUTES_IN_YEAR = 525600


def status_text(status: str | None) -> str:
    """``complete`` -> ``✅ Completed`` (wrangler's ``emojifyInstanceStatus``)."""
    return STATUS_TEXT.get(status or "unknown", "❓ Unknown")


def trigger_text(source: object) -> str:
    """A ``TriggerSource`` number -> describe's Trigger text."""
    return TRIGGER_TEXT.get(source, "❓ Unknown") if isinstance(source, int) else "❓ Unknown"


def step_type_text(kind: str) -> str:
    """``step`` -> ``🎯 Step``, ``sleep`` -> ``💤 Sleeping``..."""
    return STEP_TYPE_TEXT.get(kind, "❓ Unknown")


# -- time -------------------------------------------------------------------------------------------
def iso_to_ms(value: str) -> float:
    """``2026-11-24T16:00:14.934Z`` (as the details view stores times) -> epoch milliseconds."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000.0


def _moment(ms: float, tz: tzinfo | None) -> datetime:
    if tz is None:
        return datetime.fromtimestamp(ms / 1000.0).astimezone()
    return datetime.fromtimestamp(ms / 1000.0, tz)


def locale_datetime(ms: float, tz: tzinfo | None = None) -> str:
    """``11/24/2026, 4:02:13 PM`` in ``tz`` (the machine's zone when None)."""
    moment = _moment(ms, tz)
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{moment.month}/{moment.day}/{moment.year}, {hour}:{moment.minute:02d}:{moment.second:02d} {half}"


def locale_time(ms: float, tz: tzinfo | None = None) -> str:
    """``4:02:13 PM``: the time part of ``locale_datetime``, for live views."""
    return locale_datetime(ms, tz).split(", ", 1)[1]


def log_timestamp(ms: float, tz: tzinfo | None = None) -> str:
    """``2026-11-24 16:02:13.934``: sortable, to the millisecond, for event log lines."""
    moment = _moment(ms, tz)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _js_round(value: float) -> int:
    return math.floor(value + 0.5)


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def distance_strict(a_ms: float, b_ms: float) -> str:
    """date-fns ``formatDistanceStrict(a, b)``: the distance in the largest fitting unit."""
    milliseconds = abs(a_ms - b_ms)
    minutes = milliseconds / 60_000.0
    if minutes < 1:
        return _count(_js_round(milliseconds / 1000.0), "second")
    if minutes < 60:
        return _count(_js_round(minutes), "minute")
    if minutes < _MINUTES_IN_DAY:
        return _count(_js_round(minutes / 60.0), "hour")
    if minutes < _MINUTES_IN_MONTH:
        return _count(_js_round(minutes / _MINUTES_IN_DAY), "day")
    if minutes < _MINUTES_IN_YEAR:
        months = _js_round(minutes / _MINUTES_IN_MONTH)
        return _count(1, "year") if months == 12 else _count(months, "month")
    return _count(_js_round(minutes / _MINUTES_IN_YEAR), "year")


def relative(target_ms: float, now_ms: float) -> str:
    """``in 3 seconds from now`` for a future moment, ``2 seconds ago`` for a past one."""
    if target_ms >= now_ms:
        return f"in {distance_strict(target_ms, now_ms)} from now"
    return f"{distance_strict(target_ms, now_ms)} ago"


# -- option values ------------------------------------------------------------------------------------
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date_option(value: str, option: str, end: bool = False) -> float:
    """An ISO date or date-time given to ``option`` -> epoch ms (a time without offset is UTC).

    A date-only ``--date-end`` covers the whole UTC day: it means the last instant of that day.
    """
    text = value.strip()
    try:
        if _DATE_ONLY.fullmatch(text):
            day = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
            if end:
                return (day + timedelta(days=1)).timestamp() * 1000.0 - 0.001
            return day.timestamp() * 1000.0
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            f'{option} "{value}" is not an ISO 8601 date. Use a date like 2026-01-31 or a date and '
            "time like 2026-01-31T13:00:00Z.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000.0


# -- JSON ---------------------------------------------------------------------------------------------
def _js_value(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: _js_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_js_value(item) for item in value]
    return value


def js_json(value: Any) -> str:
    """``JSON.stringify(value)``: compact, non-ASCII kept, whole floats written as integers."""
    return json.dumps(_js_value(value), separators=(",", ":"), ensure_ascii=False)


def pretty_json(value: Any) -> str:
    """``JSON.stringify(value, null, 2)``, what ``--json`` prints."""
    return json.dumps(_js_value(value), indent=2, ensure_ascii=False)


def truncate(text: str, limit: int, suffix: str = "[...output truncated]") -> str:
    """``text`` cut after ``limit`` characters, marked with ``suffix``."""
    return text[:limit] + suffix if len(text) > limit else text
