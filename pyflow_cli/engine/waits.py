"""``step.sleep``, ``step.sleep_until`` and ``step.wait_for_event`` replayed against the
lifetime's history (SPEC §2.9-2.10), and the waits they and retries share: a wait is resolved by
its deadline on the lifetime's clock, by a matching event, or by the lifetime ending.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pyflow_cli.engine import modifiers, serde
from pyflow_cli.engine.changes import StepWrite
from pyflow_cli.engine.clock import iso_ms
from pyflow_cli.engine.durations import js_number, parse_duration_ms
from pyflow_cli.engine.errors import WorkflowTimeoutError
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.keys import StepKey
from pyflow_cli.engine.lifetime import Lifetime, Waiter
from pyflow_cli.engine.step_errors import error_json
from pyflow_cli.engine.store import InboxEvent, TimerRecord

TIME_TRAVELER = "You can't sleep until a time in the past, time-traveler"


async def wait_until(life: Lifetime, due_ms: float) -> None:
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
        change = life.change()
        change.log.append(life.log(EventType.SLEEP_START, key.cache_key, key.target,
                                   durationMs=js_number(duration_ms)))
        change.steps.append(StepWrite(key.cache_key, "sleep", key.target, state="started"))
        change.set_timers.append(timer)
        life.write_soon(change)
    await wait_until(life, modifiers.sleep_due(life, key, timer.due_ms))
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
    raise error


def _event_result(stored: Any) -> Any:
    result = serde.attrify(stored)
    timestamp = result.get("timestamp")
    if isinstance(timestamp, str):
        result["timestamp"] = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return result
