"""The event-log vocabulary: the reference's event types (SPEC §3.3) and trigger sources (A11).

The log is append-only and is the source of every describe view; these numbers are a durable
format, so they never change meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple


class EventType(IntEnum):
    WORKFLOW_QUEUED = 0
    WORKFLOW_START = 1
    WORKFLOW_SUCCESS = 2
    WORKFLOW_FAILURE = 3
    WORKFLOW_TERMINATED = 4
    STEP_START = 5
    STEP_SUCCESS = 6
    STEP_FAILURE = 7
    SLEEP_START = 8
    SLEEP_COMPLETE = 9
    ATTEMPT_START = 10
    ATTEMPT_SUCCESS = 11
    ATTEMPT_FAILURE = 12
    WAIT_START = 14
    WAIT_COMPLETE = 15
    WAIT_TIMED_OUT = 16
    ROLLBACK_START = 17
    ROLLBACK_STEP_START = 18
    ROLLBACK_ATTEMPT_START = 19
    ROLLBACK_ATTEMPT_SUCCESS = 20
    ROLLBACK_ATTEMPT_FAILURE = 21
    ROLLBACK_STEP_SUCCESS = 22
    ROLLBACK_STEP_FAILURE = 23
    ROLLBACK_COMPLETE = 24
    ROLLBACK_FAILED = 25
    WORKFLOW_RUNNING = 26
    WORKFLOW_PAUSED = 27
    WORKFLOW_WAITING_FOR_PAUSE = 28
    WORKFLOW_WAITING = 29


class StepEvents(NamedTuple):
    """The rows a step writes: a ``step.do``'s, or a rollback step's (SPEC §2.12)."""

    start: EventType
    success: EventType
    failure: EventType
    attempt_start: EventType
    attempt_success: EventType
    attempt_failure: EventType


DO_EVENTS = StepEvents(EventType.STEP_START, EventType.STEP_SUCCESS, EventType.STEP_FAILURE,
                       EventType.ATTEMPT_START, EventType.ATTEMPT_SUCCESS,
                       EventType.ATTEMPT_FAILURE)
ROLLBACK_EVENTS = StepEvents(EventType.ROLLBACK_STEP_START, EventType.ROLLBACK_STEP_SUCCESS,
                             EventType.ROLLBACK_STEP_FAILURE, EventType.ROLLBACK_ATTEMPT_START,
                             EventType.ROLLBACK_ATTEMPT_SUCCESS,
                             EventType.ROLLBACK_ATTEMPT_FAILURE)


class TriggerSource(IntEnum):
    """Who created an instance; shown as describe's ``Trigger`` (SPEC A11)."""

    API = 0
    BINDING = 1
    EVENT = 2
    CRON = 3
    CLI = 4


@dataclass(frozen=True)
class LogEvent:
    """One row of an instance's event log."""

    seq: int
    timestamp_ms: float
    event: EventType
    group_key: str | None
    target: str | None
    metadata: dict[str, Any]
    traceback: dict[str, Any] | None = None  # the user's frames, on a failure (engine/tracebacks)
    version: str | None = None  # on an ATTEMPT_START: the version of the code the attempt ran
    runner: Runner | None = None  # on an attempt's start: the engine and code that ran it


class Runner(NamedTuple):
    """Which engine ran an attempt, with which version of the user's code (``None`` when that
    engine ran no versioned code). Recorded beside the attempt's start row, whose metadata keeps
    the reference's shape."""

    engine: str
    version: str | None
