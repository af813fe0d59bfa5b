"""Time as a shared database tells it, for engines on several machines.

Leases and timers are compared across processes: an engine whose machine clock is 30 s ahead
would take over live leases early (it thinks they ran out) and write wake-up times others read
as 30 s late. So an engine on PostgreSQL reads time from ``DatabaseClock``: the machine's
monotonic clock (immune to its wall clock being set) plus an offset measured against the
database server's ``clock_timestamp()`` — at open, and again every ``RESYNC_S`` to follow drift.
The offset is taken from the quickest of a few round trips, so it is off by at most half of one.

``PYFLOW_TEST_CLOCK_SKEW_MS`` (tests only) sets this process's machine clock that far ahead
(or behind, if negative), as pyflow reads it: the multi-process tests run an engine whose
clock is wrong, which must change nothing on a shared database.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable

from pyflow_cli.engine.clock import SystemClock

RESYNC_S = 60.0
SAMPLES = 3
SKEW_ENV = "PYFLOW_TEST_CLOCK_SKEW_MS"


def machine_ms() -> float:
    """The machine's wall clock (skewed by ``SKEW_ENV``, in tests)."""
    return time.time() * 1000.0 + float(os.environ.get(SKEW_ENV) or 0.0)


class MachineClock(SystemClock):
    """``SystemClock`` reading ``machine_ms``: the clock of an engine on a file of this machine."""

    def now_ms(self) -> float:
        return machine_ms()


class DatabaseClock(SystemClock):
    """``SystemClock`` reading the database server's time (see the module docstring)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        # Until the first sync, the machine's wall clock.
        self._offset_ms = machine_ms() - monotonic() * 1000.0
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
