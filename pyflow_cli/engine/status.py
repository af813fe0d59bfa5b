"""Instance statuses, their numeric codes and CLI texts, and the allowed transitions (SPEC §1.1-1.3)."""

from __future__ import annotations

from enum import StrEnum


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


def parse_status(name: str) -> InstanceStatus:
    """The status called ``name``; ``ValueError`` with the reference's message otherwise."""
    try:
        return InstanceStatus(name)
    except ValueError:
        raise ValueError(
            f'Looks like you have provided a invalid status "{name}". '
            f"Valid statuses are: {', '.join(STATUS_NAMES)}"
        ) from None

