"""Retention: finished instances older than the retention period are deleted, with every row
they own, in the background (``PlatformRules.retention_ms``; the platform keeps finished state
3 days on the free plan, 7 on the paid one).

The sweep deletes in bounded batches and pauses between them, so that an engine sharing the
store is never held up for long: each batch is one short write transaction, and the writes of
running instances go through between two batches. Running, waiting, queued and paused instances
are never touched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pyflow_cli.engine.clock import Clock
from pyflow_cli.engine.errors import InvalidInputError, StateLostError
from pyflow_cli.engine.status import TERMINAL_STATUSES, InstanceStatus
from pyflow_cli.engine.supervisor import Outage

_log = logging.getLogger("pyflow")

PURGE_BATCH = 50
"""Instances deleted per write transaction: a few milliseconds of the writer's time."""
BATCH_PAUSE_S = 0.02
"""Pause between two batches, in which other writes commit."""
SWEEP_INTERVAL_S = 60.0
"""How often finished instances are looked for (real time: housekeeping, not workflow time)."""

FINISHED: tuple[InstanceStatus, ...] = tuple(sorted(TERMINAL_STATUSES))


@dataclass(frozen=True)
class PurgeQuery:
    """Which finished instances to delete: those that ended before ``ended_before_ms``, of
    ``workflow`` (every workflow if None), in one of ``statuses`` (all finished ones by
    default; other statuses are never purged)."""

    ended_before_ms: float
    workflow: str | None = None
    statuses: tuple[InstanceStatus, ...] = FINISHED

    def __post_init__(self) -> None:
        unfinished = [s.value for s in self.statuses if not s.is_terminal]
        if unfinished:
            raise ValueError(f"only finished instances can be purged, not {', '.join(unfinished)}")


def purge_query(ended_before_ms: float, workflow: str | None,
                statuses: Sequence[str] = ()) -> PurgeQuery:
    """The query for finished instances with ``statuses`` (status names; all finished ones if
    none); ``InvalidInputError`` for a status that is not a finished one."""
    finished = {status.value: status for status in FINISHED}
    wrong = [status for status in statuses if status not in finished]
    if wrong:
        raise InvalidInputError(f'Only finished instances can be deleted by age, not '
                                f'"{wrong[0]}": use {", ".join(finished)}.')
    return PurgeQuery(ended_before_ms, workflow, tuple(finished[s] for s in statuses) or FINISHED)


class Purger(Protocol):
    """The part of the ``Store`` port a sweep needs."""

    async def purge_finished(self, query: PurgeQuery, limit: int) -> int: ...


async def purge(store: Purger, query: PurgeQuery, batch: int = PURGE_BATCH,
                pause_s: float = BATCH_PAUSE_S) -> int:
    """Delete every instance ``query`` selects, ``batch`` per transaction; returns how many."""
    total = 0
    while True:
        deleted = await store.purge_finished(query, batch)
        total += deleted
        if deleted < batch:
            return total
        await asyncio.sleep(pause_s)


class RetentionSweeper:
    """The background loop of one engine: every ``interval_s``, purge what ended more than
    ``retention_ms`` ago (by the engine's clock)."""

    def __init__(self, store: Purger, clock: Clock, retention_ms: float,
                 interval_s: float = SWEEP_INTERVAL_S) -> None:
        self.store = store
        self.clock = clock
        self.retention_ms = retention_ms
        self.interval_s = interval_s
        self.purged = 0

    async def sweep(self) -> int:
        """Purge once; returns how many instances were deleted."""
        query = PurgeQuery(self.clock.now_ms() - self.retention_ms)
        deleted = await purge(self.store, query)
        self.purged += deleted
        if deleted:
            _log.info("pyflow: retention deleted %d finished instance%s", deleted,
                      "s" if deleted != 1 else "")
        return deleted

    async def run(self) -> None:
        outage = Outage("retention sweep (deleting old finished instances)",
                        lambda message: _log.error("pyflow: %s", message),
                        lambda message: _log.warning("pyflow: %s", message))
        while True:
            try:
                await self.sweep()
            except StateLostError:
                return  # the engine's own loops report it and stop the process
            except Exception as error:  # the store failed: try again later
                await asyncio.sleep(outage.failed(error))
                continue
            outage.succeeded()
            await asyncio.sleep(self.interval_s)
