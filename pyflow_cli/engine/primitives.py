"""The durable primitives — ``do``, ``sleep``, ``sleep_until``, ``wait_for_event`` — replayed
against a lifetime's stored history (SPEC §2).

A primitive whose key has a stored outcome returns (or raises) it without running anything or
writing anything. Otherwise it does its work, logging each event-log row as it goes; a step's
result is durable before ``do`` returns.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

from pyflow_cli.engine import modifiers, serde, tracebacks
from pyflow_cli.engine.clock import iso_ms
from pyflow_cli.engine.durations import InvalidDurationError, js_number, parse_duration_ms
from pyflow_cli.engine.errors import (
    NonRetryableDelayError,
    WorkflowFatalError,
    WorkflowInternalError,
    WorkflowTimeoutError,
    error_name,
)
from pyflow_cli.engine.escapes import EngineControl, UserBaseException, contain, reraise_contained
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.keys import StepKey
from pyflow_cli.engine.lifetime import Lifetime, RollbackEntry, RollbackSpec, Waiter
from pyflow_cli.engine.limits import MAX_STEP_RESULT_BYTES, format_size, is_valid_step_name
from pyflow_cli.engine.retry import (
    CONFIG_DOCS,
    InvalidStepConfig,
    ResolvedConfig,
    delay_for,
    resolve_config,
    validate_config,
    will_retry,
)
from pyflow_cli.engine.store import (
    Change,
    InboxEvent,
    NewLogEvent,
    StepRecord,
    StepWrite,
    TimerRecord,
)

_log = logging.getLogger("pyflow")

StepBody = Callable[[serde.JsonDict | None], Any]
DYNAMIC_DELAY_TIMEOUT_S = 5.0
TIMED_OUT_GRACE_MS = 5_000  # how long a timed-out body, once cancelled, may take to stop
INTERRUPTED_MESSAGE = "The attempt was interrupted: the engine stopped while it was running"
TIME_TRAVELER = "You can't sleep until a time in the past, time-traveler"


class FatalStepFailure(EngineControl):
    """Ends ``run()`` with a failure user code must not catch (e.g. an unstorable result).

    A ``BaseException`` so that ``except Exception`` in user code lets it through; the lifetime
    also records it, so even a blanket ``except BaseException`` cannot turn it into success.
    """


# -- step.do ------------------------------------------------------------------------------------


def check_step_call(life: Lifetime, name: object, config: object) -> None:
    """The checks made on every ``do`` call, in the reference's order, before anything is logged."""
    life.steps_used += 1
    if life.steps_used > life.definition.step_limit:
        raise WorkflowFatalError(
            f"The limit of {life.definition.step_limit} steps has been reached. "
            "This limit can be changed in your worker configuration."
        )
    if not is_valid_step_name(name):
        raise WorkflowFatalError(
            f'Step name "{name}" exceeds max length (256 chars) or invalid characters found'
        )
    try:
        validate_config(config)
    except InvalidStepConfig as exc:
        raise WorkflowFatalError(
            f'Step config for "{name}" is in a invalid format. See {CONFIG_DOCS}'
        ) from exc


async def do_step(life: Lifetime, name: str, body: StepBody,
                  config: Mapping[str, Any] | None, wants_ctx: bool = True,
                  rollback: RollbackSpec | None = None) -> Any:
    """Run (or replay) one ``step.do``; ``body`` is called with the step's ``ctx`` (or with
    ``None`` when ``wants_ctx`` is false: the body has no use for it). ``rollback`` registers a
    compensation for the step (SPEC §2.12)."""
    if life.rollback_phase:
        raise WorkflowFatalError("Cannot execute steps during rollback phase")
    check_step_call(life, name, config)
    key = life.counter.do(name)
    modifiers.called(life, "do", key, body)
    record = life.history.steps.get(key.cache_key)
    if rollback is not None:
        life.rollback_specs[key.cache_key] = rollback
    if record is not None and record.state == "done":
        value = serde.decode(record.value_json)
        if rollback is not None:
            _register_rollback(life, key, record.attempts, _resolved(config, record), value)
        return value
    if record is not None and record.state == "failed":
        if rollback is not None:
            _register_rollback(life, key, record.attempts, _resolved(config, record))
        raise life.from_step(rebuild_error(life, serde.decode(record.error_json)))
    if life.replay_only:  # re-registering rollbacks: nothing new runs
        if rollback is not None:
            _register_rollback(life, key, record.attempts if record else 1,
                               _resolved(config, record))
        return None
    while life.pause_requested:  # a pause is pending: new steps wait for it
        await life.pause_cleared.wait()
    resolved = _resolved(config, record)
    return await _attempts(life, key, body, resolved, record, wants_ctx)


async def run_rollback_step(life: Lifetime, key: StepKey, body: StepBody,
                            config: Mapping[str, Any] | None) -> Any:
    """Run a rollback as a step of its own (``key`` from ``keys.rollback_key``): attempts,
    retries and timeouts as for ``step.do``, outside the step limit and the key counters."""
    record = life.history.steps.get(key.cache_key)
    if record is not None and record.state == "done":
        return serde.decode(record.value_json)
    if record is not None and record.state == "failed":
        raise rebuild_error(life, serde.decode(record.error_json))
    return await _attempts(life, key, body, _resolved(config, record), record, False)


def _register_rollback(life: Lifetime, key: StepKey, attempt: int, config: ResolvedConfig,
                       output: Any = None) -> None:
    """Register the step's rollback, if it has one, with the step's ctx and output (``None``
    for a failed step): what the handler receives."""
    spec = life.rollback_specs.get(key.cache_key)
    if spec is not None:
        life.rollbacks[key.cache_key] = RollbackEntry(spec, make_ctx(key, max(attempt, 1), config),
                                                      output)


def _has_rollback(life: Lifetime, key: StepKey) -> bool:
    return key.cache_key in life.rollback_specs


def _resolved(config: Mapping[str, Any] | None, record: StepRecord | None) -> ResolvedConfig:
    """The config persisted with the step's first execution wins over the code's current one."""
    fresh = resolve_config(config)
    if record is not None and record.config_json:
        return ResolvedConfig(serde.decode(record.config_json), fresh.delay_function)
    return fresh


async def _attempts(life: Lifetime, key: StepKey, body: StepBody, config: ResolvedConfig,
                    record: StepRecord | None, wants_ctx: bool) -> Any:
    attempt = record.attempts if record is not None else 0
    retry_due: float | None = None
    # Rows not yet handed to the store. A body that finishes without waiting (most do) has its
    # step's start, its attempt's start and its result written as one change.
    opening: Change | None = None
    if record is None:
        opening = life.change()
        flag = _ROLLBACK_FLAG if _has_rollback(life, key) else ""
        metadata: dict[str, Any] = {"config": config.stored}
        if flag:
            metadata["hasRollback"] = True
        opening.log.append(NewLogEvent(key.events.start, life.now(), key.cache_key, key.target,
                                       metadata, '{"config":' + config.stored_json + flag + "}"))
        opening.steps.append(StepWrite(key.cache_key, "do", key.target, state="started",
                                       config_json=config.stored_json, attempts=0))
    elif record.attempt_open:
        # The process stopped during this attempt: it counts as failed (SPEC A6).
        retry_due = await _log_failure(life, key, config, attempt,
                                       WorkflowInternalError(INTERRUPTED_MESSAGE))
    else:
        retry = life.history.timers.get((key.cache_key, "retry"))
        retry_due = retry.due_ms if retry is not None else None
    while True:
        if retry_due is not None:
            await _wait_until(life, modifiers.retry_due(life, key, retry_due))
        attempt += 1
        change = opening if opening is not None else life.change()
        opening = None
        life.step_started(change)
        try:
            finished, outcome = _start_attempt(life, key, body, config, attempt, change, wants_ctx)
            if finished:
                return await _store_result(life, key, attempt, outcome, config, change)
            change.add_step(StepWrite(key.cache_key, "do", key.target, attempts=attempt,
                                      attempt_open=True))
            life.write_soon(change)  # rides along with the result's commit, or follows within ms
            if not isinstance(outcome, BaseException):
                outcome = await _await_body(life, key, config, attempt, outcome)
                if not isinstance(outcome, _Finished):
                    # Logged while the step still counts as running, so a pause waits for it.
                    retry_due = await _log_failure(life, key, config, attempt, outcome)
                    continue
                return await _store_result(life, key, attempt, outcome.value, config,
                                           life.change())
            retry_due = await _log_failure(life, key, config, attempt, outcome)
        finally:
            life.step_finished()


class _Finished:
    """A body's return value (which may itself be an exception object)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _start_attempt(life: Lifetime, key: StepKey, body: StepBody, config: ResolvedConfig,
                   attempt: int, change: Change, wants_ctx: bool) -> tuple[bool, Any]:
    """Log attempt ``attempt``'s start into ``change`` and call the body. Returns ``(True,
    value)`` if it finished at once, else ``(False, x)`` with the exception it raised at once or
    the task that carries it on (the step row says the attempt is open only in that case: a
    result written with its start needs no such mark)."""
    change.log.append(NewLogEvent(key.events.attempt_start, life.now(), key.cache_key,
                                  key.target, {"attempt": attempt}, f'{{"attempt":{attempt}}}'))
    mocked = modifiers.mocked_attempt(life, key, attempt)
    if mocked is not None:
        return mocked
    try:
        started = body(make_ctx(key, attempt, config) if wants_ctx else None)
        if inspect.iscoroutine(started):
            return _start_eagerly(started)
    except Exception as error:
        return False, error
    except BaseException as error:  # SystemExit and the like fail the attempt, not the process
        contained = contain(error)
        if contained is error:
            raise
        return False, contained
    if inspect.isawaitable(started):
        return False, asyncio.ensure_future(started)
    return True, started  # a plain function: it has already finished


async def _await_body(life: Lifetime, key: StepKey, config: ResolvedConfig, attempt: int,
                      task: asyncio.Future[Any]) -> _Finished | BaseException:
    """Wait for a body that did not finish at once, up to the step's timeout (real time: a
    timeout bounds real work, so ``--time-scale`` leaves it alone)."""
    life.body_tasks.add(task)
    task.add_done_callback(life.body_tasks.discard)
    timeout_ms = config.timeout_ms
    if not await _ended_within(life, task, timeout_ms):
        await _stop_timed_out(life, key, attempt, task)
        return WorkflowTimeoutError(timeout_ms)
    if task.cancelled():
        if life.ended:
            raise asyncio.CancelledError
        return UserBaseException(asyncio.CancelledError())  # user code cancelled it, not us
    failure = task.exception()
    if failure is None:
        return _Finished(task.result())
    contained = contain(failure)
    return contained if isinstance(contained, Exception) else _reraise(contained)


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


def _start_eagerly(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """Run ``coro`` up to its first suspension, as Python 3.12's eager tasks do: most step
    bodies finish without ever waiting, and then need no task. Returns ``(True, result)``, or
    ``(False, task)`` with a task carrying on from where the coroutine suspended."""
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return True, stop.value
    return False, asyncio.ensure_future(_carry_on(coro, yielded))


async def _carry_on(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    """Drive a coroutine that suspended on ``yielded`` (a future, or None for a bare yield) the
    way a task would have: resume it when that is done; deliver cancellation into it. What the
    body raises is contained: a task that raised ``SystemExit`` would stop the event loop."""
    try:
        return await _drive(coro, yielded)
    except BaseException as error:
        reraise_contained(error)


async def _drive(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    while True:
        try:
            if yielded is None:
                await asyncio.sleep(0)
            else:
                yielded._asyncio_future_blocking = False
                await asyncio.wait([yielded])
        except asyncio.CancelledError:
            if yielded is not None:
                yielded.cancel()
            try:
                yielded = coro.throw(asyncio.CancelledError())
            except StopIteration as stop:
                return stop.value
            continue
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value


def _reraise(error: BaseException) -> BaseException:
    raise error


def _consume_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def _call(body: StepBody, ctx: serde.JsonDict) -> Any:
    try:
        result = body(ctx)
        if inspect.isawaitable(result):
            result = await result
    except BaseException as error:
        reraise_contained(error)
    return result


def make_ctx(key: StepKey, attempt: int, config: ResolvedConfig) -> serde.JsonDict:
    """The step context: ``attempt``, ``config`` (resolved) and ``step: {name, count}``."""
    step = serde.JsonDict(name=key.name, count=key.count)
    # A fresh copy for each attempt (the config is one level deep), so user code may not change
    # the stored config through it.
    settings = serde.JsonDict((k, serde.JsonDict(v) if isinstance(v, dict) else v)
                              for k, v in config.stored.items())
    return serde.JsonDict(attempt=attempt, config=settings, step=step)


async def _store_result(life: Lifetime, key: StepKey, attempt: int, value: Any,
                        config: ResolvedConfig, change: Change) -> Any:
    """Add the attempt's success to ``change``, commit it, and return the value as stored."""
    try:
        encoded, shown = serde.encode_both(value)
    except serde.NotSerialisableError as exc:
        life.write_soon(change)
        await _fatal_step(life, key, attempt, config,
                          f'Value returned from step "{key.name}" is not serialisable: {exc}',
                          f'The execution of the Workflow instance was terminated, as the step '
                          f'"{key.name}" returned a value which is not serialisable')
    size = serde.byte_size(encoded)
    if size > MAX_STEP_RESULT_BYTES:
        life.write_soon(change)
        await _fatal_step(life, key, attempt, config,
                          f"Step {key.target} output is too large: {format_size(size)}. "
                          "Maximum allowed size is 1MiB.",
                          f'The execution of the Workflow instance was terminated, as the step '
                          f'"{key.name}" returned {format_size(size)}, over the 1 MiB limit. '
                          "Store large data elsewhere and return a reference to it.")
    now = life.now()
    change.log.append(NewLogEvent(key.events.attempt_success, now, key.cache_key, key.target,
                                  {"attempt": attempt}, f'{{"attempt":{attempt}}}'))
    rollback = _ROLLBACK_FLAG if _has_rollback(life, key) else ""
    if value is None:
        change.log.append(NewLogEvent(key.events.success, now, key.cache_key, key.target,
                                      metadata_json="{" + rollback[1:] + "}"))
    else:
        if config.sensitive_output:
            shown = '"[REDACTED]"'
        change.log.append(NewLogEvent(key.events.success, now, key.cache_key, key.target,
                                      metadata_json='{"result":' + shown + rollback + "}"))
    change.add_step(StepWrite(key.cache_key, "do", key.target, state="done", value_json=encoded,
                              attempts=attempt, attempt_open=False))
    _clear_retry_timer(life, key, change)
    await life.write(change)
    if life.ended:
        raise asyncio.CancelledError
    # The value as stored (a replay returns that): only containers can differ from it.
    stored = value if type(value) in _STORED_AS_IS else serde.decode(encoded)
    if life.rollback_specs:
        _register_rollback(life, key, attempt, config, stored)
    return stored


_STORED_AS_IS = frozenset({int, float, str, bool, type(None)})
_ROLLBACK_FLAG = ',"hasRollback":true'  # appended to a step row's metadata JSON


async def _fatal_step(life: Lifetime, key: StepKey, attempt: int, config: ResolvedConfig,
                      attempt_message: str, instance_message: str) -> None:
    error = {"name": "WorkflowFatalError", "message": attempt_message}
    change = life.change()
    change.log.append(life.log(key.events.attempt_failure, key.cache_key, key.target,
                               attempt=attempt, error=error))
    change.log.append(life.log(key.events.failure, key.cache_key, key.target,
                               **_failure_metadata(life, key)))
    change.steps.append(StepWrite(key.cache_key, "do", key.target, state="failed",
                                  error_json=serde.encode_plain(error), attempts=attempt,
                                  attempt_open=False))
    await life.write(change)
    if life.rollback_specs:
        _register_rollback(life, key, attempt, config)
    life.fatal_error = {"name": "WorkflowFatalError", "message": instance_message}
    raise FatalStepFailure(instance_message)


def _clear_retry_timer(life: Lifetime, key: StepKey, change: Change) -> None:
    """Drop the step's retry timer, if it ever had one (most steps never fail)."""
    if life.history.timers.pop((key.cache_key, "retry"), None) is not None or life.retried.pop(
            key.cache_key, False):
        change.clear_timers.append((key.cache_key, "retry"))


def is_non_retryable(error: BaseException) -> bool:
    """Recognised by class name or by a message starting with the name, as in the reference."""
    return (type(error).__name__ == "NonRetryableError"
            or error_name(error) == "NonRetryableError"
            or str(error).startswith("NonRetryableError"))


def error_json(error: BaseException) -> dict[str, Any]:
    """``{name, message}`` of an exception, with where its class lives (to rebuild it on replay)."""
    cls = type(error.original if isinstance(error, UserBaseException) else error)
    return {"name": error_name(error), "message": str(error), "module": cls.__module__,
            "qualname": cls.__qualname__}


async def _log_failure(life: Lifetime, key: StepKey, config: ResolvedConfig, attempt: int,
                       error: BaseException) -> float:
    """Log a failed attempt and return when the next one is due, or fail the step (raising the
    error into ``run()``)."""
    shown = {"name": error_json(error)["name"], "message": str(error)}
    retry_ms: float | None = None
    if is_non_retryable(error):
        message = str(error)
        if life.definition.preserve_non_retryable_message:
            shown = {"name": "NonRetryableError",
                     "message": message.removeprefix("NonRetryableError:").lstrip()}
        else:
            shown = {"name": "WorkflowFatalError",
                     "message": f'Step threw a NonRetryableError with message "{message}"'}
    elif will_retry(config.limit, attempt):
        try:
            retry_ms = await _retry_delay(life, key, config, attempt, error)
        except NonRetryableDelayError as delay_error:
            error = delay_error
            shown = {"name": "NonRetryableDelayError", "message": str(delay_error)}
    change = life.change()
    metadata: dict[str, Any] = {"attempt": attempt, "error": shown}
    if retry_ms is not None:
        metadata["retryDelayMs"] = js_number(retry_ms)
    row = life.log(key.events.attempt_failure, key.cache_key, key.target, **metadata)
    change.log.append(row._replace(traceback=user_traceback(life, error)))
    if retry_ms is not None:
        due = life.now() + life.scaled(retry_ms)
        change.steps.append(StepWrite(key.cache_key, "do", key.target, attempts=attempt,
                                      attempt_open=False))
        change.set_timers.append(TimerRecord(key.cache_key, "retry", due))
        life.retried[key.cache_key] = True
        await life.write(change)
        return due
    stored_error = error_json(error)
    change.log.append(life.log(key.events.failure, key.cache_key, key.target,
                               **_failure_metadata(life, key)))
    change.steps.append(StepWrite(key.cache_key, "do", key.target, state="failed",
                                  error_json=serde.encode_plain(stored_error), attempts=attempt,
                                  attempt_open=False))
    _clear_retry_timer(life, key, change)
    await life.write(change)
    if life.ended:
        raise asyncio.CancelledError
    life.history.steps[key.cache_key] = StepRecord(
        key.cache_key, "do", key.target, "failed", None, serde.encode_plain(stored_error), None,
        attempt, False)
    if life.rollback_specs:
        _register_rollback(life, key, attempt, config)
    raise life.from_step(error)


def user_traceback(life: Lifetime, error: BaseException) -> dict[str, Any] | None:
    """The user's frames of ``error`` (or of what caused it: a failing delay function)."""
    roots = life.definition.source_roots
    found = tracebacks.capture(error, roots)
    if found is None and error.__cause__ is not None:
        found = tracebacks.capture(error.__cause__, roots)
    return found


def _failure_metadata(life: Lifetime, key: StepKey) -> dict[str, Any]:
    return {"hasRollback": True} if _has_rollback(life, key) else {}


async def _retry_delay(life: Lifetime, key: StepKey, config: ResolvedConfig, attempt: int,
                       error: BaseException) -> float:
    base = config.base_delay_ms
    if base is not None:
        delay = delay_for(config.backoff, base, attempt)
    else:
        delay = await _dynamic_delay(life, key, config, attempt, error)
    if delay != delay or delay < 0 or delay == float("inf"):
        raise NonRetryableDelayError(
            f'The delay for step "{key.target}" is {delay}, which is not a valid delay')
    return delay


async def _dynamic_delay(life: Lifetime, key: StepKey, config: ResolvedConfig, attempt: int,
                         error: BaseException) -> float:
    assert config.delay_function is not None
    prefix = f'The delay function for step "{key.target}"'
    argument = serde.JsonDict(ctx=make_ctx(key, attempt, config), error=error)
    try:
        value = await asyncio.wait_for(_call(config.delay_function, argument),
                                       DYNAMIC_DELAY_TIMEOUT_S)
    except TimeoutError:
        raise NonRetryableDelayError(f"{prefix} did not return within 5 seconds") from None
    except Exception as exc:
        raise NonRetryableDelayError(f"{prefix} threw an error: {exc}") from exc
    try:
        return parse_duration_ms(value)
    except InvalidDurationError:
        raise NonRetryableDelayError(
            f"{prefix} returned an invalid delay value (expected a number of ms or a duration "
            'string like "30 seconds")') from None


def rebuild_error(life: Lifetime, stored: Mapping[str, Any]) -> BaseException:
    """Re-create a stored step error so ``except TheClass`` in ``run()`` still works on replay."""
    name, message = str(stored.get("name", "Error")), str(stored.get("message", ""))
    cls = _find_class(life, str(stored.get("module", "")), str(stored.get("qualname", name)))
    if cls is None:
        return StepError(name, message)
    error = cls.__new__(cls)
    error.args = (message,)
    return error if isinstance(error, Exception) else UserBaseException(error)


def _find_class(life: Lifetime, module_name: str, qualname: str) -> type[BaseException] | None:
    candidates = [module_name, life.definition.cls.__module__]
    for candidate in candidates:
        try:
            obj: Any = importlib.import_module(candidate) if candidate else None
        except Exception:
            continue
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            return obj
    return None


class StepError(Exception):
    """Stands in, on replay, for a stored step error whose class can no longer be found."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.recorded_name = name


# -- waits ------------------------------------------------------------------------------------------


async def _wait_until(life: Lifetime, due_ms: float) -> None:
    if due_ms <= life.now():
        return  # already due (a replay after the wake-up, mostly): nothing to wait for
    waiter = life.add_waiter(due_ms)
    await _await_waiter(life, waiter)


async def _await_waiter(life: Lifetime, waiter: Waiter) -> InboxEvent | None:
    timer: asyncio.Future[Any] = asyncio.ensure_future(life.clock.sleep_until(waiter.deadline_ms))
    pending: list[asyncio.Future[Any]] = [timer, waiter.future]
    try:
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        life.remove_waiter(waiter)
    if waiter.future.done():
        return waiter.future.result()
    waiter.future.cancel()
    return None


async def sleep(life: Lifetime, name: str, duration: object) -> None:
    """``step.sleep``: wait ``duration`` (a number of ms or a duration string)."""
    duration_ms = parse_duration_ms(duration)
    await _sleep_keyed(life, life.counter.sleep(name, duration_ms), duration_ms)


async def sleep_until(life: Lifetime, name: str, when: object) -> None:
    """``step.sleep_until``: wait until a ``datetime``, epoch milliseconds or an ISO string."""
    target_ms = to_epoch_ms(when)
    key = life.counter.sleep_until(name, target_ms)
    if key.cache_key not in life.history.steps and target_ms < life.now() and not life.replay_only:
        raise ValueError(TIME_TRAVELER)
    await _sleep_keyed(life, key, target_ms - life.now())


async def _sleep_keyed(life: Lifetime, key: StepKey, duration_ms: float) -> None:
    modifiers.called(life, "sleep", key)
    record = life.history.steps.get(key.cache_key)
    if (record is not None and record.state == "done") or life.replay_only:
        return
    timer = life.history.timers.get((key.cache_key, "sleep"))
    if timer is None:
        due = life.now() + life.scaled(max(duration_ms, 0.0))
        timer = TimerRecord(key.cache_key, "sleep", due)
        life.history.timers[(key.cache_key, "sleep")] = timer
        change = life.change()
        change.log.append(life.log(EventType.SLEEP_START, key.cache_key, key.target,
                                   durationMs=js_number(duration_ms)))
        change.steps.append(StepWrite(key.cache_key, "sleep", key.target, state="started"))
        change.set_timers.append(timer)
        life.write_soon(change)
    await _wait_until(life, modifiers.sleep_due(life, key, timer.due_ms))
    change = life.change()
    change.log.append(life.log(EventType.SLEEP_COMPLETE, key.cache_key, key.target))
    change.steps.append(StepWrite(key.cache_key, "sleep", key.target, state="done",
                                  value_json="true"))
    change.clear_timers.append((key.cache_key, "sleep"))
    if life.ended:
        raise asyncio.CancelledError
    # Nobody needs to wait for this row: were it lost, the due timer would end the sleep again
    # at once on replay, and any later durable write commits it first (writes are in order).
    life.write_soon(change)
    life.history.steps[key.cache_key] = StepRecord(key.cache_key, "sleep", key.target, "done",
                                                   "true", None, None, 0, False)


def to_epoch_ms(when: object) -> float:
    """A ``datetime`` (naive = UTC), epoch milliseconds, or an ISO 8601 string, in epoch ms."""
    if isinstance(when, datetime):
        moment = when if when.tzinfo else when.replace(tzinfo=UTC)
        return moment.timestamp() * 1000.0
    if isinstance(when, int | float) and not isinstance(when, bool):
        return float(when)
    if isinstance(when, str):
        try:
            return to_epoch_ms(datetime.fromisoformat(when.replace("Z", "+00:00")))
        except ValueError:
            pass
    raise ValueError(
        f"sleep_until needs a datetime, epoch milliseconds or an ISO 8601 string, got {when!r}")


async def wait_for_event(life: Lifetime, name: str, event_type: str, timeout: object) -> Any:
    """``step.wait_for_event``: the next event of ``event_type``, or ``WorkflowTimeoutError``."""
    timeout_ms = parse_duration_ms(timeout)
    key = life.counter.wait_for_event(name)
    modifiers.called(life, "wait_for_event", key)
    record = life.history.steps.get(key.cache_key)
    if record is not None and record.state == "done":
        return _event_result(serde.decode(record.value_json))
    if record is not None and record.state == "failed":
        raise WorkflowTimeoutError(timeout_ms)
    if life.replay_only:
        return None
    timer = life.history.timers.get((key.cache_key, "timeout"))
    if timer is None:
        timer = TimerRecord(key.cache_key, "timeout", life.now() + life.scaled(timeout_ms))
        life.history.timers[(key.cache_key, "timeout")] = timer
        change = life.change()
        change.log.append(life.log(EventType.WAIT_START, key.cache_key, key.target,
                                   event=event_type))
        change.steps.append(StepWrite(key.cache_key, "wait", key.target, state="started"))
        change.set_timers.append(timer)
        life.write_soon(change)
    if modifiers.event_times_out(life, key):
        return await _time_out(life, key, timeout_ms)
    event = life.take_event(event_type)
    if event is None and timer.due_ms > life.now():
        waiter = life.add_waiter(timer.due_ms, event_type)
        event = await _await_waiter(life, waiter)
    if event is None:
        return await _time_out(life, key, timeout_ms)
    timestamp = iso_ms(event.timestamp_ms)
    shown = {"payload": serde.shown(event.payload_json), "type": event.type, "timestamp": timestamp}
    # The stored payload keeps its tagged values (a datetime stays a datetime); the log row
    # shows them as JSON.
    value_json = (f'{{"payload":{event.payload_json},' if event.payload_json is not None else "{"
                  ) + f'"type":{serde.encode_plain(event.type)},"timestamp":"{timestamp}"}}'
    if event.payload_json is None:
        del shown["payload"]
    change = life.change()
    change.log.append(life.log(EventType.WAIT_COMPLETE, key.cache_key, key.target, **shown))
    change.steps.append(StepWrite(key.cache_key, "wait", key.target, state="done",
                                  value_json=value_json))
    change.consume_events.append((event.seq, key.cache_key))
    change.clear_timers.append((key.cache_key, "timeout"))
    await life.write(change)
    if life.ended:
        raise asyncio.CancelledError
    life.history.steps[key.cache_key] = StepRecord(key.cache_key, "wait", key.target, "done",
                                                   value_json, None, None, 0, False)
    return _event_result(serde.decode(value_json))


async def _time_out(life: Lifetime, key: StepKey, timeout_ms: float) -> Any:
    error = WorkflowTimeoutError(timeout_ms)
    change = life.change()
    change.log.append(life.log(EventType.WAIT_TIMED_OUT, key.cache_key, key.target,
                               name="WorkflowTimeoutError", message=str(error)))
    change.steps.append(StepWrite(key.cache_key, "wait", key.target, state="failed",
                                  error_json=serde.encode_plain(error_json(error))))
    change.clear_timers.append((key.cache_key, "timeout"))
    await life.write(change)
    if life.ended:
        raise asyncio.CancelledError
    life.history.steps[key.cache_key] = StepRecord(key.cache_key, "wait", key.target, "failed",
                                                   None, None, None, 0, False)
    raise error


def _event_result(stored: Any) -> Any:
    result = serde.attrify(stored)
    timestamp = result.get("timestamp")
    if isinstance(timestamp, str):
        result["timestamp"] = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return result
