"""Running one attempt's step body: in a task of its own from its first line to its last, up to
the step's timeout, stopped if it overruns.

A body runs in exactly one task, so that what it does across an ``await`` sees one task: anyio
cancel scopes (httpx's ``AsyncClient`` used directly in a step), ``asyncio.current_task()``,
context variables (a body's own never leak into ``run()``). On Python 3.12 and later the task
starts eagerly (``asyncio.eager_task_factory``): a body that finishes without waiting, as most
do, is done before ``start_body`` returns. Before 3.12 the task's first step runs at the loop's
next turn, which ``settle_body`` gives it. A plain function is called directly.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from pyflow_cli.engine.errors import WorkflowTimeoutError
from pyflow_cli.engine.escapes import UserBaseException, contain, reraise_contained
from pyflow_cli.engine.keys import StepKey
from pyflow_cli.engine.lifetime import Lifetime

_log = logging.getLogger("pyflow")

TIMED_OUT_GRACE_MS = 5_000  # how long a timed-out body, once cancelled, may take to stop
_EAGER = sys.version_info >= (3, 12)
# Body coroutines whose task has not taken its first step yet (before Python 3.12 only).
_unstarted: dict[asyncio.Future[Any], Coroutine[Any, Any, Any]] = {}


class Finished:
    """A body's return value (which may itself be an exception object)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


Started = Finished | BaseException | asyncio.Task[Any]
"""What calling a body gave: its value (it finished at once), the failure it raised at once, or
the task that runs it."""


def start_body(life: Lifetime, body: Callable[[Any], Any], argument: Any) -> Started:
    """Call a step body with ``argument``: a plain function runs here; a coroutine gets its
    task."""
    try:
        started = body(argument)
        if inspect.iscoroutine(started):
            return _task_for(life, started)
    except Exception as error:
        return error
    except BaseException as error:  # SystemExit and the like fail the attempt, not the process
        contained = contain(error)
        if contained is error:
            raise
        return contained
    if inspect.isawaitable(started):
        return _task_for(life, _awaited(started))
    return Finished(started)  # a plain function: it has already finished


def _task_for(life: Lifetime, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    loop = asyncio.get_running_loop()
    if _EAGER:
        task: asyncio.Task[Any] = asyncio.eager_task_factory(  # type: ignore[attr-defined,unused-ignore]
            loop, _contained(coro))
    else:  # the loop's create_task, less the factory and name handling it does not need
        task = asyncio.Task(_contained(coro, _unstarted, life.holds_lease), loop=loop)
        _unstarted[task] = coro  # until its first step (see ``cancel_body``)
    life.body_tasks.add(task)  # ending the lifetime cancels it (until it is done: see below)
    return task


async def _contained(coro: Coroutine[Any, Any, Any],
                     unstarted: dict[asyncio.Future[Any], Coroutine[Any, Any, Any]] | None = None,
                     holds_lease: Callable[[], bool] | None = None) -> Any:
    """The body, in its task; what it raises is contained (a task that raised ``SystemExit``
    would stop the event loop). A task that first runs once the lease may have run out (the
    process was frozen between the attempt's start and its task's first step) never starts
    the body: another engine may be running it by now."""
    if unstarted is not None:
        unstarted.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
    if holds_lease is not None and not holds_lease():  # it ended the lifetime
        coro.close()
        raise asyncio.CancelledError
    try:
        return await coro
    except BaseException as error:
        reraise_contained(error)


def cancel_body(task: asyncio.Future[Any]) -> None:
    """Stop a body's task. One cancelled before its first step never starts its body: the body's
    coroutine is closed here, so that it is not left unawaited."""
    coro = _unstarted.pop(task, None)
    task.cancel()
    if coro is not None:
        coro.close()


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


async def settle_body(life: Lifetime, task: asyncio.Task[Any]) -> Finished | BaseException | None:
    """Let a body's task run up to its first wait, if it has not yet; its outcome if it then
    has one (most bodies finish without waiting), else None."""
    if not task.done() and not _EAGER:
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            task.add_done_callback(life.body_tasks.discard)
            cancel_body(task)
            raise
    if not task.done():
        # It goes on: it leaves the lifetime's bodies when it ends (a done callback costs a turn
        # of the loop, spared to the bodies that finish at once).
        task.add_done_callback(life.body_tasks.discard)
        return None
    life.body_tasks.discard(task)
    if task.cancelled() and life.ended:
        raise asyncio.CancelledError
    return outcome(task)


def outcome(task: asyncio.Task[Any]) -> Finished | BaseException:
    """What a finished body task gave; a cancellation user code raised is its failure."""
    if task.cancelled():
        return UserBaseException(asyncio.CancelledError())
    failure = task.exception()
    if failure is None:
        return Finished(task.result())
    contained = contain(failure)
    if isinstance(contained, Exception):
        return contained
    raise contained


async def await_body(life: Lifetime, key: StepKey, timeout_ms: float, attempt: int,
                     task: asyncio.Task[Any]) -> Finished | BaseException:
    """Wait for a body that did not finish at once, up to the step's timeout (real time: a
    timeout bounds real work, so ``--time-scale`` leaves it alone)."""
    if not await _ended_within(life, task, timeout_ms):
        await _stop_timed_out(life, key, attempt, task)
        return WorkflowTimeoutError(timeout_ms)
    if task.cancelled() and life.ended:
        raise asyncio.CancelledError
    return outcome(task)


async def _ended_within(life: Lifetime, task: asyncio.Future[Any], ms: float) -> bool:
    """Whether ``task`` is done within ``ms`` on the lifetime's clock."""
    ended: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def settle(in_time: bool) -> None:
        if not ended.done():
            ended.set_result(in_time)

    task.add_done_callback(lambda _: settle(True))
    timer = life.clock.call_at(life.now() + ms, lambda: settle(False))
    try:
        return await ended
    finally:
        timer.cancel()


async def _stop_timed_out(life: Lifetime, key: StepKey, attempt: int,
                          task: asyncio.Future[Any]) -> None:
    """Cancel a body that ran past its timeout and wait for it to end, so that two copies of a
    step never run at once. A body that is still running ``TIMED_OUT_GRACE_MS`` later (it
    swallows cancellation) is abandoned with a log line; whatever it returns is discarded."""
    task.add_done_callback(_consume_result)
    task.cancel()
    if await _ended_within(life, task, TIMED_OUT_GRACE_MS):
        return
    _log.warning("pyflow: step %s of %s/%s timed out and was still running %d s after being "
                 "cancelled; attempt %d is abandoned (it may go on running) and the step goes "
                 "on per its retry policy", key.target, life.instance.workflow, life.instance.id,
                 TIMED_OUT_GRACE_MS // 1000, attempt)


def _consume_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
