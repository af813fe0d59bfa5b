"""Time, injected: the engine reads and waits on time only through a ``Clock``.

``SystemClock`` is real time. ``ManualClock`` only moves when a test moves it, so a "3 hours"
sleep or a 10-second retry delay takes no wall time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol


class Cancellable(Protocol):
    def cancel(self) -> Any: ...


class Clock(Protocol):
    def now_ms(self) -> float:
        """Milliseconds since the Unix epoch."""
        ...

    async def sleep_until(self, deadline_ms: float) -> None:
        """Return once ``now_ms() >= deadline_ms``."""
        ...

    def call_at(self, deadline_ms: float, callback: Callable[[], None]) -> Cancellable:
        """Call ``callback`` on the event loop once the deadline has passed (no task needed)."""
        ...


class SystemClock:
    """The real clock."""

    def now_ms(self) -> float:
        return time.time() * 1000.0

    async def sleep_until(self, deadline_ms: float) -> None:
        delay = (deadline_ms - self.now_ms()) / 1000.0
        while delay > 0:
            await asyncio.sleep(delay)
            delay = (deadline_ms - self.now_ms()) / 1000.0

    def call_at(self, deadline_ms: float, callback: Callable[[], None]) -> Cancellable:
        delay = max(0.0, (deadline_ms - self.now_ms()) / 1000.0)
        return asyncio.get_running_loop().call_later(delay, callback)


class ManualClock:
    """A clock that moves only when told to; waiters wake when it passes their deadline."""

    def __init__(self, start_ms: float = 1_767_225_600_000.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start_ms
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now_ms(self) -> float:
        return self._now

    async def sleep_until(self, deadline_ms: float) -> None:
        if deadline_ms <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (deadline_ms, next(self._seq), future))
        await future

    def call_at(self, deadline_ms: float, callback: Callable[[], None]) -> Cancellable:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: None if f.cancelled() else callback())
        if deadline_ms <= self._now:
            future.set_result(None)
        else:
            heapq.heappush(self._waiters, (deadline_ms, next(self._seq), future))
        return future

    def next_deadline(self) -> float | None:
        """The earliest deadline someone is still waiting for."""
        while self._waiters and self._waiters[0][2].done():
            heapq.heappop(self._waiters)
        return self._waiters[0][0] if self._waiters else None

    def advance(self, ms: float) -> None:
        self.set(self._now + ms)

    def set(self, now_ms: float) -> None:
        """Move to ``now_ms`` (never backwards) and wake every waiter that is now due."""
        self._now = max(self._now, now_ms)
        while self._waiters and self._waiters[0][0] <= self._now:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)


def iso_ms(ms: float) -> str:
    """Epoch milliseconds in the reference's ISO form: ``2026-11-24T16:00:14.934Z``."""
    moment = datetime.fromtimestamp(ms / 1000.0, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
