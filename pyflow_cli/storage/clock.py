"""Time as a shared database tells it, for engines on several machines.

Leases and timers are compared across processes: an engine whose machine clock is 30 s ahead
would take over live leases early (it thinks they ran out) and write wake-up times others read
as 30 s late. So an engine on PostgreSQL reads time from ``DatabaseClock``: the machine's
monotonic clock (immune to its wall clock being set) plus an offset measured against the
database server's ``clock_timestamp()`` — at open, and again every ``RESYNC_S`` to follow drift.
The offset is taken from the quickest of a few round trips, so it is off by at most half of one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from pyflow_cli.engine.clock import SystemClock

RESYNC_S = 60.0
SAMPLES = 3


class DatabaseClock(SystemClock):
    """``SystemClock`` reading the database server's time (see the module docstring)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        # Until the first sync, the machine's wall clock.
        self._offset_ms = time.time() * 1000.0 - monotonic() * 1000.0
        self.uncertainty_ms: float | None = None  # half the round trip of the last sync

    def now_ms(self) -> float:
        return self._monotonic() * 1000.0 + self._offset_ms

    async def sync(self, read_server_ms: Callable[[], Awaitable[float]]) -> None:
        """Measure the offset to the server's clock (the best of ``SAMPLES`` round trips)."""
        best: tuple[float, float] | None = None
        for _ in range(SAMPLES):
            sent = self._monotonic() * 1000.0
            server = await read_server_ms()
            received = self._monotonic() * 1000.0
            round_trip = received - sent
            if best is None or round_trip < best[0]:
                best = (round_trip, server - (sent + received) / 2.0)
        if best is not None:
            self.uncertainty_ms = best[0] / 2.0
            self._offset_ms = best[1]
