"""Whether this process can reach its PostgreSQL server, whichever connection finds out.

A process holds several connections (the writer's, the read pool's, the wake-up listener's);
when the server restarts or the network drops, all of them fail at once. ``ServerHealth`` turns
that into one line when the outage starts and one when it is over, whoever noticed, and gives
every failed operation the same ``StoreUnavailable`` error (marked reported, so the engine's
loops and lifetimes say nothing more). Each connection reconnects by itself, pausing longer
after each failure (``pause_s``), up to ``MAX_PAUSE_S``. Connections learn of one drop at
different times (the writer at its next batch, a pooled reader at its next read, maybe after
the writer connected again): a loss within ``SAME_OUTAGE_S`` of the end of an outage is taken as
part of it, and says nothing more.
"""

from __future__ import annotations

import logging
import time

from pyflow_cli.engine.errors import StoreUnavailable
from pyflow_cli.storage.url import PostgresLocation

FIRST_PAUSE_S = 0.1
MAX_PAUSE_S = 5.0
SAME_OUTAGE_S = 5.0
_log = logging.getLogger("pyflow")


class ServerHealth:
    """The state of the connection to one server, shared by a store's connections."""

    def __init__(self, location: PostgresLocation) -> None:
        self.location = location
        self._down_since: float | None = None
        self._failures = 0
        self._error: StoreUnavailable | None = None
        self._back_at = -SAME_OUTAGE_S  # when the last outage ended (monotonic)
        self._quiet = False  # this outage is the tail of the last one: said already

    @property
    def down(self) -> bool:
        return self._down_since is not None

    @property
    def error(self) -> StoreUnavailable:
        """What an operation that does not even try during the outage fails with."""
        return self._error or StoreUnavailable(f"PostgreSQL at {self.location.server} cannot "
                                               "be reached; pyflow connects again by itself.")

    def lost(self, error: BaseException) -> StoreUnavailable:
        """A connection failed, or could not be made: the error for its callers (the outage's
        line is written by the first failure only)."""
        if isinstance(error, StoreUnavailable):
            return error
        lines = str(error).strip().splitlines() or [type(error).__name__]
        reason = self.location.scrub(lines[0].strip().removeprefix("FATAL:").strip())
        self._failures += 1
        self._error = StoreUnavailable(f"PostgreSQL at {self.location.server} cannot be reached "
                                       f"({reason}); pyflow connects again by itself.")
        if self._down_since is None:
            self._down_since = time.monotonic()
            self._quiet = self._down_since - self._back_at < SAME_OUTAGE_S
            if not self._quiet:
                _log.error("pyflow: lost the connection to PostgreSQL at %s (%s); connecting "
                           "again, with growing pauses. Instances whose writes were on their way "
                           "resume from their last committed step.", self.location.server, reason)
        return self._error

    def pause_s(self) -> float:
        """How long to wait before the next try to connect."""
        if self._failures == 0:
            return 0.0
        return min(FIRST_PAUSE_S * 2.0 ** (self._failures - 1), MAX_PAUSE_S)

    def back(self) -> None:
        """A connection works (again): the end of the outage, if there was one."""
        if self._down_since is not None and not self._quiet:
            _log.warning("pyflow: connected to PostgreSQL at %s again after %.1f s",
                         self.location.server, time.monotonic() - self._down_since)
        if self._down_since is not None:
            self._back_at = time.monotonic()
        self._down_since = None
        self._quiet = False
        self._failures = 0
        self._error = None
