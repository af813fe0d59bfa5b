"""How a store tells engines that something may need them, so that they need not poll often
(``Store.wakeups``; on PostgreSQL: LISTEN/NOTIFY). Notes make engines quick, never correct:
engines still poll, less often, in case one is lost."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol


class Wakeup(NamedTuple):
    """A store's note to the engines."""

    due_ms: float | None = None
    """work falls due at this time (at or before now: look for it at once)"""
    iid: int | None = None
    """this instance was signalled (a control request, an event): its holder should look"""
    everything: bool = False
    """notes may have been missed (the feed was (re)connected): look at everything"""


class WakeupFeed(Protocol):
    """A store's notes, as they come."""

    async def follow(self, deliver: Callable[[Wakeup], None]) -> None:
        """Call ``deliver`` for every note, until cancelled. Connects (again, after any drop)
        by itself, pausing longer after each failure, and delivers ``Wakeup(everything=True)``
        each time it is listening, since notes sent meanwhile were lost."""
        ...
