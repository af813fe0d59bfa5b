"""Instance statuses, their numeric codes, and what each control action does in each status
(SPEC §1.1-1.3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from types import MappingProxyType


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
    DELETE = "delete"


class Effect(Enum):
    """What a control action does to an instance in a given status."""

    APPLIES = "applies"  # the action changes the instance
    NO_OP = "no-op"  # accepted, changes nothing (the reference answers success)
    REFUSED = "refused"  # an error (the reference throws)


@dataclass(frozen=True)
class Transition:
    """One cell of the control table: what ``action`` does in a status, and the status it
    leads to (``None`` when the instance is deleted, or when nothing changes)."""

    effect: Effect
    to: InstanceStatus | None = None

    @property
    def applies(self) -> bool:
        return self.effect is Effect.APPLIES


_NOT_FINISHED = frozenset(InstanceStatus) - TERMINAL_STATUSES
_NO_OP = Transition(Effect.NO_OP)
_REFUSED = Transition(Effect.REFUSED)


def _build_table() -> dict[tuple[InstanceStatus, ControlAction], Transition]:
    """SPEC §1.3, with pyflow's ``waiting`` (A5) counted as the reference's ``running``.

    A pause settles at ``paused``; an instance with a step running passes through
    ``waitingForPause`` until the step ends. Pause of a queued instance is a silent no-op in the
    reference, as is pause or resume of a finished one; terminate of a finished one throws."""
    table: dict[tuple[InstanceStatus, ControlAction], Transition] = {}
    for status in InstanceStatus:
        pause = (Transition(Effect.APPLIES, InstanceStatus.PAUSED)
                 if status in (InstanceStatus.RUNNING, InstanceStatus.WAITING) else _NO_OP)
        if status is InstanceStatus.PAUSED:
            resume = Transition(Effect.APPLIES, InstanceStatus.QUEUED)
        elif status is InstanceStatus.WAITING_FOR_PAUSE:
            resume = Transition(Effect.APPLIES, InstanceStatus.RUNNING)
        else:
            resume = _NO_OP
        terminate = (Transition(Effect.APPLIES, InstanceStatus.TERMINATED)
                     if status in _NOT_FINISHED else _REFUSED)
        table[status, ControlAction.PAUSE] = pause
        table[status, ControlAction.RESUME] = resume
        table[status, ControlAction.TERMINATE] = terminate
        table[status, ControlAction.RESTART] = Transition(Effect.APPLIES, InstanceStatus.QUEUED)
        table[status, ControlAction.DELETE] = Transition(Effect.APPLIES)
    return table


TRANSITIONS: Mapping[tuple[InstanceStatus, ControlAction], Transition] = MappingProxyType(
    _build_table())
"""Every status × every action: the one table the engine, the API, the CLI and the explorer use."""

RULES: Mapping[ControlAction, str] = MappingProxyType({
    ControlAction.PAUSE: "Only a running or waiting instance can be paused.",
    ControlAction.RESUME: "Only a paused instance, or one waiting to pause, can be resumed.",
    ControlAction.TERMINATE: "Only a queued, running, waiting or paused instance can be "
                             "terminated.",
    ControlAction.RESTART: "Any instance can be restarted.",
    ControlAction.DELETE: "Any instance can be deleted.",
})
"""Which statuses each action applies in, in words (said beside a no-op or a refusal)."""

CANNOT_TERMINATE = "Cannot terminate instance since its on a finite state"  # the reference's text


def transition(status: InstanceStatus, action: ControlAction | str) -> Transition:
    """What ``action`` does to an instance that is ``status``."""
    return TRANSITIONS[status, ControlAction(action)]


def control_effect(status: InstanceStatus, action: ControlAction | str) -> Effect:
    """The effect of ``action`` on an instance that is ``status`` (see ``TRANSITIONS``)."""
    return transition(status, action).effect


def statuses_allowing(action: ControlAction) -> list[InstanceStatus]:
    """The statuses in which ``action`` changes an instance, in the enum's order."""
    return [status for status in InstanceStatus if TRANSITIONS[status, action].applies]


def allowed_actions(status: InstanceStatus) -> list[ControlAction]:
    """The actions that change an instance in ``status``, in the table's order."""
    return [action for action in ControlAction if TRANSITIONS[status, action].applies]


def parse_status(name: str) -> InstanceStatus:
    """The status called ``name``; ``ValueError`` with the reference's message otherwise."""
    try:
        return InstanceStatus(name)
    except ValueError:
        raise ValueError(
            f'Looks like you have provided a invalid status "{name}". '
            f"Valid statuses are: {', '.join(STATUS_NAMES)}"
        ) from None

