"""Instance statuses, their numeric codes, and what each control action does in each status
(SPEC §1.1-1.3)."""

from __future__ import annotations

from enum import Enum, StrEnum


class InstanceStatus(StrEnum):
    """The status of a workflow instance, by its API name."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    ERRORED = "errored"
    TERMINATED = "terminated"
    COMPLETE = "complete"
    WAITING_FOR_PAUSE = "waitingForPause"
    WAITING = "waiting"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def code(self) -> int:
        return _CODES[self]

    def __str__(self) -> str:
        return self.value


_CODES = {
    InstanceStatus.QUEUED: 0,
    InstanceStatus.RUNNING: 1,
    InstanceStatus.PAUSED: 2,
    InstanceStatus.ERRORED: 3,
    InstanceStatus.TERMINATED: 4,
    InstanceStatus.COMPLETE: 5,
    InstanceStatus.WAITING_FOR_PAUSE: 6,
    InstanceStatus.WAITING: 7,
}

TERMINAL_STATUSES = frozenset(
    {InstanceStatus.COMPLETE, InstanceStatus.ERRORED, InstanceStatus.TERMINATED}
)
# The order the reference lists statuses in (CLI validation message, status counts).
STATUS_NAMES = (
    "queued", "running", "paused", "errored", "terminated", "complete", "waiting", "waitingForPause",
)


class ControlAction(StrEnum):
    """What a caller may ask of an instance (SPEC §1.3)."""

    PAUSE = "pause"
    RESUME = "resume"
    TERMINATE = "terminate"
    RESTART = "restart"


class Effect(Enum):
    """What a control action does to an instance in a given status."""

    APPLIES = "applies"  # the action changes the instance
    NO_OP = "no-op"  # accepted, changes nothing (the reference answers success)
    REFUSED = "refused"  # an error (the reference throws)


_NOT_FINISHED = frozenset(InstanceStatus) - TERMINAL_STATUSES
# SPEC §1.3, with pyflow's `waiting` (A5) counted as the reference's `running`. Pause of a queued
# instance is a silent no-op in the reference, as is pause or resume of a finished one.
_APPLIES_TO: dict[ControlAction, frozenset[InstanceStatus]] = {
    ControlAction.PAUSE: frozenset({InstanceStatus.RUNNING, InstanceStatus.WAITING}),
    ControlAction.RESUME: frozenset({InstanceStatus.PAUSED, InstanceStatus.WAITING_FOR_PAUSE}),
    ControlAction.TERMINATE: _NOT_FINISHED,
    ControlAction.RESTART: frozenset(InstanceStatus),
}
_REFUSED_IN: dict[ControlAction, frozenset[InstanceStatus]] = {
    ControlAction.TERMINATE: TERMINAL_STATUSES,
}


def control_effect(status: InstanceStatus, action: ControlAction | str) -> Effect:
    """The one place that decides what ``action`` does to an instance that is ``status``."""
    action = ControlAction(action)
    if status in _APPLIES_TO[action]:
        return Effect.APPLIES
    if status in _REFUSED_IN.get(action, frozenset()):
        return Effect.REFUSED
    return Effect.NO_OP


def parse_status(name: str) -> InstanceStatus:
    """The status called ``name``; ``ValueError`` with the reference's message otherwise."""
    try:
        return InstanceStatus(name)
    except ValueError:
        raise ValueError(
            f'Looks like you have provided a invalid status "{name}". '
            f"Valid statuses are: {', '.join(STATUS_NAMES)}"
        ) from None

