"""Workflow metrics over a time window, computed from the event log (the figures of Cloudflare's
``workflowsAdaptiveGroups`` dataset that a local engine can know).

Pure: ``metrics_window`` turns the user's ``since`` and ``bucket`` into a window, the store counts
log rows in it (``Store.metrics_rows``), and ``metrics_view`` shapes the answer that the local
API, ``pyflow workflows metrics`` and the explorer's charts share:

- per bucket, instances started (``WORKFLOW_QUEUED``), succeeded, failed and terminated, and the
  wall time (queued to end) of the runs that ended in it, p50 and p95;
- per step name, how often it started, failed, had a failed attempt, and was retried.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pyflow_cli.api import MetricsPoint, StepMetrics, WorkflowMetrics
from pyflow_cli.engine.clock import iso_ms
from pyflow_cli.engine.durations import InvalidDurationError, parse_duration_ms
from pyflow_cli.engine.errors import InvalidInputError
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.keys import split_target
from pyflow_cli.engine.store import MetricsRows

MINUTE_MS = 60_000.0
MAX_WINDOW_MS = 31 * 86_400_000.0  # Cloudflare keeps Workflows metrics for 31 days
MAX_BUCKETS = 1_000
DEFAULT_SINCE = "24h"
_OUTCOMES: dict[EventType, Literal["started", "succeeded", "failed", "terminated"]] = {
    EventType.WORKFLOW_QUEUED: "started", EventType.WORKFLOW_SUCCESS: "succeeded",
    EventType.WORKFLOW_FAILURE: "failed", EventType.WORKFLOW_TERMINATED: "terminated"}
# (longest window, bucket): about 24 to 200 points whatever the window.
_DEFAULT_BUCKETS = ((3_600_000.0, MINUTE_MS), (6 * 3_600_000.0, 5 * MINUTE_MS),
                    (2 * 86_400_000.0, 15 * MINUTE_MS), (MAX_WINDOW_MS, 60 * MINUTE_MS))


@dataclass(frozen=True)
class MetricsWindow:
    """``since_ms <= t < until_ms``, cut into buckets of ``bucket_ms`` from ``since_ms`` on."""

    since_ms: float
    until_ms: float
    bucket_ms: float

    @property
    def buckets(self) -> int:
        return max(1, math.ceil((self.until_ms - self.since_ms) / self.bucket_ms))


def metrics_window(since: str | None, bucket: str | None, now_ms: float) -> MetricsWindow:
    """The window ending now that ``since`` (a duration such as ``24h`` or ``7 days``) asks for,
    its start rounded down to a whole bucket (``bucket``, a duration, or chosen by the window's
    length). Raises ``InvalidInputError`` naming the bad value."""
    window_ms = _duration(since or DEFAULT_SINCE, "since")
    if not MINUTE_MS <= window_ms <= MAX_WINDOW_MS:
        raise InvalidInputError(f'since "{since}" must be between 1 minute and 31 days.')
    if bucket:
        bucket_ms = _duration(bucket, "bucket")
        if bucket_ms < 1000:
            raise InvalidInputError(f'bucket "{bucket}" must be at least 1 second.')
    else:
        bucket_ms = next(size for longest, size in _DEFAULT_BUCKETS if window_ms <= longest)
    since_ms = math.floor((now_ms - window_ms) / bucket_ms) * bucket_ms
    result = MetricsWindow(since_ms, now_ms, bucket_ms)
    if result.buckets > MAX_BUCKETS:
        raise InvalidInputError(f'bucket "{bucket}" cuts the window into {result.buckets} buckets, '
                                f"more than {MAX_BUCKETS}; choose a larger bucket.")
    return result


def _duration(text: str, name: str) -> float:
    try:
        return parse_duration_ms(text)
    except InvalidDurationError:
        raise InvalidInputError(f'{name} "{text}" is not a duration; use e.g. 15m, 24h or 7d.'
                                ) from None


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile: the smallest value at or under which ``fraction`` of all
    values lie; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def metrics_view(workflow: str, window: MetricsWindow, rows: MetricsRows) -> WorkflowMetrics:
    """The metrics answer (JSON-ready) for ``rows`` counted in ``window``."""
    count = window.buckets
    series: list[MetricsPoint] = [
        {"start": iso_ms(window.since_ms + i * window.bucket_ms), "started": 0, "succeeded": 0,
         "failed": 0, "terminated": 0, "wall_time_p50_ms": None, "wall_time_p95_ms": None}
        for i in range(count)]
    totals: dict[str, Any] = dict.fromkeys(_OUTCOMES.values(), 0)
    for event, bucket, rows_in in rows.outcomes:
        if 0 <= bucket < count and event in _OUTCOMES:
            series[bucket][_OUTCOMES[event]] += rows_in
            totals[_OUTCOMES[event]] += rows_in
    walls: list[list[float]] = [[] for _ in range(count)]
    for bucket, wall_ms in rows.wall_times:
        if 0 <= bucket < count:
            walls[bucket].append(wall_ms)
    for point, values in zip(series, walls, strict=True):
        point["wall_time_p50_ms"] = _rounded(percentile(values, 0.5))
        point["wall_time_p95_ms"] = _rounded(percentile(values, 0.95))
    every = [wall for values in walls for wall in values]
    totals["wall_time_ms"] = {"p50": _rounded(percentile(every, 0.5)),
                              "p95": _rounded(percentile(every, 0.95)), "runs": len(every)}
    return {"workflow": workflow, "since": iso_ms(window.since_ms), "until": iso_ms(window.until_ms),
            "bucket_ms": window.bucket_ms, "totals": totals, "series": series,
            "steps": _steps(rows.steps)}


def _steps(rows: Sequence[tuple[str, EventType, int, int]]) -> list[StepMetrics]:
    steps: dict[str, StepMetrics] = {}
    for target, event, count, retried in rows:
        name = split_target(target)[0]
        step = steps.setdefault(name, {"name": name, "started": 0, "failed": 0,
                                       "failed_attempts": 0, "retries": 0})
        if event is EventType.STEP_START:
            step["started"] += count
        elif event is EventType.STEP_FAILURE:
            step["failed"] += count
        elif event is EventType.ATTEMPT_FAILURE:
            step["failed_attempts"] += count
            step["retries"] += retried
    return sorted(steps.values(), key=lambda s: (-s["started"], s["name"]))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
