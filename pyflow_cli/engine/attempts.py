"""``step.do``: run (or replay) one step against the lifetime's history — the checks made on
every call, the attempt loop with its retries and timeouts, storing the result, failing the
step (SPEC §2.1-2.7), and rollback steps (§2.12).

A step whose key has a stored outcome returns (or raises) it without running anything or
writing anything. Otherwise each attempt logs its start, runs the body (``bodies``) and logs
its end; the step's result is durable before ``do_step`` returns.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from pyflow_cli.engine import modifiers, serde
from pyflow_cli.engine.bodies import Finished, Started, await_body, settle_body, start_body
from pyflow_cli.engine.changes import Change, NewLogEvent, StepWrite
from pyflow_cli.engine.durations import InvalidDurationError, js_number, parse_duration_ms
from pyflow_cli.engine.errors import (
    NonRetryableDelayError,
    WorkflowFatalError,
    WorkflowInternalError,
)
from pyflow_cli.engine.escapes import reraise_contained
from pyflow_cli.engine.keys import StepKey
from pyflow_cli.engine.lifetime import Lifetime, RollbackEntry, RollbackSpec
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
from pyflow_cli.engine.step_errors import (
    FatalStepFailure,
    error_json,
    is_non_retryable,
    rebuild_error,
    user_traceback,
)
from pyflow_cli.engine.store import StepRecord, TimerRecord
from pyflow_cli.engine.waits import wait_until

StepBody = Callable[[serde.JsonDict | None], Any]
DYNAMIC_DELAY_TIMEOUT_S = 5.0
INTERRUPTED_MESSAGE = "The attempt was interrupted: the engine stopped while it was running"


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
            await wait_until(life, modifiers.retry_due(life, key, retry_due))
        if life.holds_lease is not None and not life.holds_lease():
            raise asyncio.CancelledError  # its lease may have run out: it ended
        if life.ended:  # ended meanwhile (its engine stops, say): no new attempt starts
            raise asyncio.CancelledError
        attempt += 1
        change = opening if opening is not None else life.change()
        opening = None
        life.step_started(change)
        try:
            change.log.append(NewLogEvent(key.events.attempt_start, life.now(), key.cache_key,
                                          key.target, {"attempt": attempt},
                                          f'{{"attempt":{attempt}}}',
                                          version=life.definition.version_id, runner=life.runner))
            mocked = modifiers.mocked_attempt(life, key, attempt)
            if mocked is not None:  # a test's stand-in for the body
                started: Started = Finished(mocked[1]) if mocked[0] else mocked[1]
            else:
                started = start_body(life, body,
                                     make_ctx(key, attempt, config) if wants_ctx else None)
            if isinstance(started, asyncio.Task):
                settled = await settle_body(life, started)
                if settled is not None:
                    started = settled
            if isinstance(started, Finished):  # most bodies: one change from start to result
                return await _store_result(life, key, attempt, started.value, config, change)
            # Only an attempt that goes on past this turn is marked open: a result written
            # with its start needs no such mark.
            change.add_step(StepWrite(key.cache_key, "do", key.target, attempts=attempt,
                                      attempt_open=True))
            life.write_soon(change)  # rides along with the result's commit, or follows within ms
            if isinstance(started, asyncio.Task):
                started = await await_body(life, key, config.timeout_ms, attempt, started)
                if isinstance(started, Finished):
                    return await _store_result(life, key, attempt, started.value, config,
                                               life.change())
            # Logged while the step still counts as running, so a pause waits for it.
            retry_due = await _log_failure(life, key, config, attempt, started)
        finally:
            life.step_finished()


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
    if (key.cache_key, "retry") in life.history.timers:
        change.clear_timers.append((key.cache_key, "retry"))


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
    if life.rollback_specs:
        _register_rollback(life, key, attempt, config)
    raise life.from_step(error)


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


