"""Keeping background loops alive: the engine's scheduler and heartbeat, the dev server's cron
and reload watcher.

Two layers. ``Outage`` is for a loop's own iterations: an iteration that fails (a full disk, a
store that cannot be reached) is retried after a growing pause, with one log line when the
outage starts and one when it ends, not one per try (and none if the store reported the outage
itself: one line for a database that went away, not one per loop). ``Supervised`` is for the
loop as a whole:
a loop that raises (a bug, anything its iterations did not handle) is noticed, logged and
started again; one that keeps dying is given up on, and its owner says what that means (the
engine and the cron scheduler stop ``pyflow dev`` with a clear message; the reload watcher only
warns). A loop that returns has finished its work; one that is cancelled is being shut down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

Report = Callable[[str], None]

OUTAGE_FIRST_PAUSE_S = 0.25
OUTAGE_MAX_PAUSE_S = 5.0
RESTART_LIMIT = 5  # deaths within RESTART_WINDOW_S after which a loop is given up on
RESTART_WINDOW_S = 60.0

_log = logging.getLogger("pyflow")


class Outage:
    """The state of one loop's dependency (the store): failing or not, since when."""

    def __init__(self, what: str, report: Report, recovered: Report) -> None:
        self.what = what
        self._report = report
        self._recovered = recovered
        self._failures = 0
        self._since = 0.0
        self._said = False  # whether this outage was reported here

    @property
    def failing(self) -> bool:
        return self._failures > 0

    def failed(self, error: BaseException) -> float:
        """Record a failed iteration; returns how long to pause (seconds) before the next. An
        error the store has ``reported`` already (its own outage line) is not reported again."""
        if self._failures == 0:
            self._since = time.monotonic()
        if not self._said and not getattr(error, "reported", False):
            self._said = True
            self._report(f"the {self.what} failed ({_describe(error)}); retrying until it "
                         "works again")
        self._failures += 1
        return min(OUTAGE_FIRST_PAUSE_S * 2.0 ** (self._failures - 1), OUTAGE_MAX_PAUSE_S)

    def succeeded(self) -> None:
        """Record a successful iteration (and the end of an outage, if there was one)."""
        if self._failures:
            if self._said:
                self._recovered(f"the {self.what} works again after "
                                f"{time.monotonic() - self._since:.1f} s ({self._failures} failed "
                                "tries)")
            self._failures = 0
            self._said = False


class Supervised:
    """One background loop, started again whenever it raises."""

    def __init__(self, name: str, run: Callable[[], Coroutine[Any, Any, None]], report: Report,
                 give_up: Callable[[str], None]) -> None:
        self.name = name
        self._run = run
        self._report = report
        self._give_up = give_up
        self._task: asyncio.Task[None] | None = None
        self._deaths: list[float] = []
        self._stopped = False
        self._restart: asyncio.TimerHandle | None = None

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    def start(self) -> None:
        self._stopped = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"pyflow-{self.name}")
        self._task.add_done_callback(self._ended)

    def cancel(self) -> asyncio.Task[None] | None:
        """Stop the loop (without waiting); returns its task, to await if wanted."""
        self._stopped = True
        if self._restart is not None:
            self._restart.cancel()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        return task

    async def stop(self) -> None:
        task = self.cancel()
        if task is not None:
            with contextlib.suppress(BaseException):
                await task

    def _ended(self, task: asyncio.Task[None]) -> None:
        if self._stopped or task is not self._task or task.cancelled():
            return
        error = task.exception()
        if error is None:
            return
        cause = _describe(error)
        now = time.monotonic()
        self._deaths = [t for t in self._deaths if now - t < RESTART_WINDOW_S] + [now]
        if len(self._deaths) >= RESTART_LIMIT:
            self._task = None
            self._give_up(f"the {self.name} stopped {len(self._deaths)} times within "
                          f"{RESTART_WINDOW_S:.0f} s (last: {cause})")
            return
        delay = OUTAGE_FIRST_PAUSE_S * 2.0 ** (len(self._deaths) - 1)
        self._report(f"the {self.name} stopped unexpectedly ({cause}); starting it again in "
                     f"{delay:g} s")
        self._restart = asyncio.get_running_loop().call_later(delay, self._again)

    def _again(self) -> None:
        self._restart = None
        if not self._stopped:
            self.start()


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def report_error(message: str) -> None:
    _log.error("pyflow: %s", message)


def report_warning(message: str) -> None:
    _log.warning("pyflow: %s", message)
