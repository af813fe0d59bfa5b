"""The configured cron triggers of a dev session and what happened when they last ran.

A cron runs on its schedule (``CronScheduler``) or when asked (``/cdn-cgi/handler/scheduled``, or
the explorer's "Run now", which goes the same way). Each run is noted here — when, what it was,
how it ended, which instances it started — for the explorer's Crons page. Runs are kept in
memory for the session, the last ``KEEP`` per expression; the instances they started are in the
store like any other (trigger ``cron``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyflow_cli.project.config import ProjectConfig
from pyflow_cli.server.cron import CronError, parse_cron

KEEP = 20
UPCOMING = 3
SCHEDULE, MANUAL = "schedule", "manual"
MAX_TIME_MS = 8_640_000_000_000_000
"""The latest scheduled time a run may be asked for: the last moment a JavaScript Date holds."""


@dataclass
class CronRun:
    """One run of a cron expression."""

    cron: str
    source: str
    """``SCHEDULE`` (its time came) or ``MANUAL`` (asked for: the scheduled endpoint, the explorer)"""
    scheduled_ms: float
    started_ms: float
    duration_ms: float = 0.0
    outcome: str = "ok"
    """``"ok"``, or ``"exception"`` when the scheduled handler raised or nothing handled it"""
    error: str | None = None
    instances: list[tuple[str, str]] = field(default_factory=list)
    """(workflow, instance id) of each instance it started through a workflow's schedules"""


@dataclass(frozen=True)
class CronTrigger:
    """A configured expression: what it runs, its next fire times, or why it never fires."""

    cron: str
    handler: bool
    """``[triggers] crons`` lists it: it calls the Worker's scheduled handler"""
    workflows: tuple[str, ...]
    """the workflows whose ``schedules`` list it"""
    upcoming: tuple[datetime, ...]
    error: str | None


class CronRuns:
    """The last runs of each expression, newest first; ``on_run`` hears of each one recorded."""

    def __init__(self, keep: int = KEEP) -> None:
        self._runs: dict[str, deque[CronRun]] = {}
        self._keep = keep
        self.on_run: Callable[[CronRun], None] | None = None

    def record(self, run: CronRun) -> None:
        self._runs.setdefault(run.cron, deque(maxlen=self._keep)).appendleft(run)
        if self.on_run is not None:
            self.on_run(run)

    def of(self, cron: str) -> list[CronRun]:
        return list(self._runs.get(cron, ()))


def configured(project: ProjectConfig, now: datetime) -> list[CronTrigger]:
    """Every cron expression of ``project`` (``[triggers] crons`` and workflow ``schedules``),
    in the order the config lists them, with its next ``UPCOMING`` fire times after ``now``."""
    found: dict[str, tuple[bool, list[str]]] = {}
    for text in project.crons:
        found.setdefault(text, (True, []))
    for workflow in project.workflows:
        for text in workflow.schedules:
            handler, workflows = found.setdefault(text, (False, []))
            if workflow.name not in workflows:
                workflows.append(workflow.name)
    triggers = []
    for text, (handler, workflows) in found.items():
        try:
            expression = parse_cron(text)
        except CronError as exc:
            triggers.append(CronTrigger(text, handler, tuple(workflows), (), str(exc)))
            continue
        upcoming: list[datetime] = []
        moment = now.astimezone(UTC)
        while len(upcoming) < UPCOMING:
            following = expression.next_after(moment)
            if following is None:
                break
            upcoming.append(following)
            moment = following
        triggers.append(CronTrigger(text, handler, tuple(workflows), tuple(upcoming), None))
    return triggers


def asked_time_ms(text: str) -> int:
    """The scheduled time a run is asked for in ``?time=``: epoch milliseconds, a whole number
    from 0 to ``MAX_TIME_MS``; ``ValueError`` says what is wrong with ``text``."""
    if text.isascii() and text.isdigit() and int(text) <= MAX_TIME_MS:
        return int(text)
    shown = text if len(text) <= 40 else text[:40] + "…"
    raise ValueError(f"time: expected epoch milliseconds, a whole number from 0 to {MAX_TIME_MS}; "
                     f'got "{shown}".')
