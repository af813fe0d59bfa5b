"""Rollback (compensation), SPEC §2.12: when an error escapes ``run()``, or on ``terminate`` with
``rollback``, the rollbacks registered by ``step.do(..., rollback=fn)`` run in reverse order of
their steps' starts, each as a step of its own (retries, timeouts, attempt rows), stopping at the
first that fails.

Which steps are due a rollback comes from the event log (a ``hasRollback`` step row without a
finished rollback group), so a rollback interrupted by a crash resumes where it stopped; the
handlers themselves live in memory, registered again as ``run()`` replays.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from typing import Any

from pyflow_cli.engine import serde
from pyflow_cli.engine.attempts import run_rollback_step
from pyflow_cli.engine.events import EventType, LogEvent
from pyflow_cli.engine.keys import ROLLBACK_KEY_PREFIX, StepKey, rollback_key
from pyflow_cli.engine.lifetime import Lifetime, RollbackEntry
from pyflow_cli.engine.step_errors import FatalStepFailure, error_json

TERMINATED = {"name": "Terminated", "message": "Instance terminated during rollback"}
MISSING = {"name": "RollbackMissing", "message": "Rollback function not available in registry"}
_STEP_ROWS = (EventType.STEP_START, EventType.STEP_SUCCESS, EventType.STEP_FAILURE)
_ROLLBACK_ENDS = (EventType.ROLLBACK_STEP_SUCCESS, EventType.ROLLBACK_STEP_FAILURE)


class Terminated(Exception):
    """The error a rollback handler receives when the instance was terminated with rollback."""

    name = TERMINATED["name"]


def due_rollbacks(log: Sequence[LogEvent]) -> list[tuple[str, str]]:
    """``(cache key, target)`` of the steps whose rollback has yet to run, latest start first."""
    finished: set[str] = set()
    with_rollback: set[str] = set()
    starts: list[tuple[str, str]] = []
    for row in reversed(log):
        key = row.group_key
        if key is None:
            continue
        if row.event in _ROLLBACK_ENDS:
            finished.add(key.removeprefix(ROLLBACK_KEY_PREFIX))
        elif row.event in _STEP_ROWS:
            if row.event is EventType.STEP_START:
                starts.append((key, row.target or key))
            if row.metadata.get("hasRollback") is True:
                with_rollback.add(key)
    return [(key, target) for key, target in starts if key in with_rollback and key not in finished]


async def run_rollbacks(life: Lifetime, error: BaseException) -> None:
    """Run the rollbacks due, logging ``ROLLBACK_START`` … ``ROLLBACK_COMPLETE``/``FAILED``."""
    due = due_rollbacks(await life.store.read_log(life.iid))
    if not due:
        return
    trigger = {"name": error_json(error)["name"], "message": str(error)}
    await _log(life, EventType.ROLLBACK_START, triggerError=trigger, totalSteps=len(due))
    completed = 0
    life.rollback_phase = True
    try:
        for cache_key, target in due:
            if life.ended:  # paused or terminated meanwhile: the rest waits for the next lifetime
                raise asyncio.CancelledError
            entry = life.rollbacks.pop(cache_key, None)
            if entry is None:
                await _log(life, EventType.ROLLBACK_STEP_FAILURE, cache_key, target, error=MISSING)
                break
            if not await _roll_back(life, StepKey(cache_key, target, target, 1), entry, error):
                break
            completed += 1
    finally:
        life.rollback_phase = False
    outcome = EventType.ROLLBACK_COMPLETE if completed == len(due) else EventType.ROLLBACK_FAILED
    await _log(life, outcome, totalSteps=len(due), completedSteps=completed)


async def _roll_back(life: Lifetime, step: StepKey, entry: RollbackEntry,
                     error: BaseException) -> bool:
    handler = entry.spec.fn
    argument = serde.JsonDict(ctx=serde.attrify(entry.ctx), error=error, output=entry.output,
                              stepName=step.target)
    takes_argument = _takes_argument(handler)

    def body(_: Any) -> Any:
        return handler(argument) if takes_argument else handler()

    try:
        await run_rollback_step(life, rollback_key(step), body, entry.spec.config)
    except (Exception, FatalStepFailure):
        return False  # its ROLLBACK_STEP_FAILURE is logged
    return True


def _takes_argument(fn: Any) -> bool:
    try:
        return bool(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return True


async def _log(life: Lifetime, event: EventType, key: str | None = None,
               target: str | None = None, /, **metadata: Any) -> None:
    change = life.change()
    change.log.append(life.log(event, key, target, **metadata))
    await life.write(change)
