"""Runs one lifetime: ``run()`` from the top against the stored history, to an outcome.

The outcome is written here: ``complete`` with the output, ``errored`` with the error, or — when
the lifetime was ended from outside or by itself — hibernated (``waiting`` until its next
deadline) or paused. Terminate, restart and delete write their own rows; the runner only stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pyflow_cli.engine import serde
from pyflow_cli.engine.changes import Change, InstanceUpdate
from pyflow_cli.engine.entrypoint import Env, ExecutionContext, WorkflowEvent
from pyflow_cli.engine.errors import error_name
from pyflow_cli.engine.escapes import reraise_contained
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.lifetime import EndReason, Lifetime, StateNotWritten
from pyflow_cli.engine.rollback import run_rollbacks
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.step import WorkflowStep
from pyflow_cli.engine.step_errors import FatalStepFailure, is_non_retryable, user_traceback

UNHANDLED_NON_RETRYABLE = (
    "The execution of the Workflow instance was terminated, as a step threw an NonRetryableError "
    "and it was not handled"
)


async def _start_run(life: Lifetime, env: Env) -> Any:
    """``run(event, step)`` of a fresh instance of the workflow class. What the user's code
    raises is contained: a task that raised ``SystemExit`` would stop the event loop."""
    instance = life.instance
    event = WorkflowEvent.build(
        serde.decode(instance.params_json),
        datetime.fromtimestamp(instance.created_ms / 1000.0, tz=UTC),
        instance.id,
        instance.workflow,
    )
    try:
        entry = life.definition.cls(ExecutionContext(), env)
        return await entry.run(event, WorkflowStep(life))
    except BaseException as error:
        reraise_contained(error)


async def replay_for_rollbacks(life: Lifetime, env: Env) -> None:
    """Replay ``run()`` only to register its steps' rollbacks again (terminate with rollback,
    SPEC §2.12): finished steps return their stored results, nothing new runs or is written.
    The replay may stop early (code that needs a result that was never produced); the
    rollbacks registered until then are the ones that can run."""
    life.replay_only = True
    try:
        with contextlib.suppress(Exception):  # TimeoutError included
            await asyncio.wait_for(_start_run(life, env), REPLAY_TIMEOUT_S)
    finally:
        life.replay_only = False


REPLAY_TIMEOUT_S = 10.0


async def run_lifetime(life: Lifetime, env: Env, run_task_holder: list[asyncio.Task[Any]]) -> None:
    """Execute ``run()`` once and record what became of it."""
    task = asyncio.ensure_future(_start_run(life, env))
    run_task_holder.append(task)
    # Held after the task is scheduled, so that a first step finishing at once takes it along.
    start = life.set_status(InstanceStatus.RUNNING)
    if life.instance.version_id is None and life.definition.version_id is not None:
        # Created or restarted where no code was loaded: it records the code it runs on.
        start = start or life.change()
        start.instance = replace(start.instance or InstanceUpdate(),
                                 version_id=life.definition.version_id)
    if start is not None:
        life.write_soon(start)
    try:
        result = await task
    except asyncio.CancelledError:
        if life.end_reason is None:
            raise
        await record_end(life)
        return
    except BaseException as error:
        if life.end_reason is not None:
            await record_end(life)
            return
        if isinstance(error, KeyboardInterrupt | SystemExit | StateNotWritten):
            raise
        if life.store_failure is not None:  # user code caught it and failed otherwise
            raise StateNotWritten(life.store_failure) from error
        if life.rollback_specs:  # some step registered a rollback: run those due first
            try:
                await run_rollbacks(life, error)
            except asyncio.CancelledError:
                if life.end_reason is None:
                    raise
                await record_end(life)  # ended meanwhile (paused, terminated...)
                return
        await _record_failure(life, error)
        return
    if life.store_failure is not None:  # user code caught it and carried on
        raise StateNotWritten(life.store_failure)
    if life.end_reason is not None:
        await record_end(life)
    elif life.fatal_error is not None:
        await _fail(life, life.fatal_error)
    else:
        await _record_success(life, result)


async def _record_success(life: Lifetime, result: Any) -> None:
    try:
        encoded, shown = serde.encode_both(result)
    except serde.NotSerialisableError as exc:
        await _fail(life, {"name": "WorkflowFatalError",
                           "message": f"The value returned from run() is not serialisable: {exc}"})
        return
    metadata = {} if result is None else {"result": serde.parse_shown(shown)}
    change = _finish(life, InstanceStatus.COMPLETE)
    change.log.append(life.log(EventType.WORKFLOW_SUCCESS, **metadata))
    change.instance = _finished_update(InstanceStatus.COMPLETE, output_json=encoded)
    await life.write(change)


async def _record_failure(life: Lifetime, error: BaseException) -> None:
    trace = user_traceback(life, error)
    if life.fatal_error is not None:
        await _fail(life, life.fatal_error, trace)
    elif isinstance(error, FatalStepFailure):
        await _fail(life, {"name": "WorkflowFatalError", "message": str(error)}, trace)
    elif is_non_retryable(error):
        if life.definition.preserve_non_retryable_message:
            message = str(error).removeprefix("NonRetryableError:").lstrip()
            await _fail(life, {"name": "NonRetryableError", "message": message}, trace)
        elif life.came_from_step(error):
            await _fail(life, {"name": "WorkflowFatalError", "message": UNHANDLED_NON_RETRYABLE},
                        trace)
        else:
            # Raised by run() itself: the reference reports the generic text and loses the
            # reason; pyflow keeps it (docs/compatibility.md).
            await _fail(life, {"message": str(error), "name": error_name(error)}, trace)
    else:
        await _fail(life, {"message": str(error), "name": error_name(error)}, trace)


async def _fail(life: Lifetime, error: dict[str, Any],
                trace: dict[str, Any] | None = None) -> None:
    change = _finish(life, InstanceStatus.ERRORED)
    change.log.append(life.log(EventType.WORKFLOW_FAILURE, error=error)._replace(traceback=trace))
    change.instance = _finished_update(InstanceStatus.ERRORED,
                                       error_json=serde.encode_plain(error))
    await life.write(change)


def _finish(life: Lifetime, status: InstanceStatus) -> Change:
    life.status = status
    return life.change()


def _finished_update(status: InstanceStatus, output_json: str | None = None,
                     error_json: str | None = None) -> InstanceUpdate:
    return InstanceUpdate(status=status, output_json=output_json, error_json=error_json,
                          runnable_at=None, lease_owner=None, lease_expires=None)


async def record_end(life: Lifetime) -> None:
    """Write what an ended lifetime leaves behind (the end reason says what that is)."""
    reason = life.end_reason
    change = Change(life.iid)
    if reason is EndReason.HIBERNATE:
        change.instance = InstanceUpdate(runnable_at=life.wake_at, lease_owner=None,
                                         lease_expires=None)
        change.expect_signal = life.instance.signal
        if not await life.commit_end(change) and life.end_reason is EndReason.HIBERNATE:
            # Something arrived for it while it was going to sleep: run it again straight away.
            await life.commit_end(Change(life.iid, instance=InstanceUpdate(
                runnable_at=life.now(), lease_owner=None, lease_expires=None)))
    elif reason is EndReason.PAUSE:
        now = life.now()
        change.log.append(life.log(EventType.WORKFLOW_PAUSED))
        change.instance = InstanceUpdate(status=InstanceStatus.PAUSED, paused_at=now,
                                         runnable_at=None, lease_owner=None, lease_expires=None)
        await life.commit_end(change)
    elif reason is EndReason.SHUTDOWN:
        change.instance = InstanceUpdate(lease_owner=None, lease_expires=None)
        with contextlib.suppress(Exception):
            await life.commit_end(change)
    # TERMINATE / RESTART / DELETE: the service already wrote the new state. LEASE_LOST: another
    # engine holds the instance; nothing of this lifetime may be written any more.
