"""The cron parser (five fields, names, Quartz extensions) and the scheduler on a manual clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from pyflow_cli.engine import supervisor
from pyflow_cli.engine.clock import ManualClock
from pyflow_cli.server.cron import CronEntry, CronError, CronScheduler, parse_cron

START = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)  # a Thursday


def next_of(expression: str, after: datetime = START) -> datetime | None:
    return parse_cron(expression).next_after(after)


@pytest.mark.parametrize(("expression", "expected"), [
    ("* * * * *", datetime(2026, 1, 1, 0, 1)),
    ("*/15 * * * *", datetime(2026, 1, 1, 0, 15)),
    ("5,35 */6 * * *", datetime(2026, 1, 1, 0, 5)),
    ("0 9 * * MON-FRI", datetime(2026, 1, 1, 9, 0)),
    ("0 9 * * sat,sun", datetime(2026, 1, 3, 9, 0)),
    ("0 0 1 JAN-MAR/2 *", datetime(2026, 3, 1, 0, 0)),
    ("0 0 29 2 *", datetime(2028, 2, 29, 0, 0)),
    ("0 0 L * *", datetime(2026, 1, 31, 0, 0)),
    ("0 0 LW * *", datetime(2026, 1, 30, 0, 0)),  # the 31st is a Saturday
    ("0 0 1W * *", datetime(2026, 2, 2, 0, 0)),  # Feb 1st 2026 is a Sunday
    ("0 12 * * 1#2", datetime(2026, 1, 12, 12, 0)),
    ("0 12 * * 5L", datetime(2026, 1, 30, 12, 0)),
    ("0 0 * * 7", datetime(2026, 1, 4, 0, 0)),  # 7 is Sunday too
    ("0 0 13 * 5", datetime(2026, 1, 2, 0, 0)),  # both day fields: either matches (Friday 2nd)
    ("0 0 ? * 4", datetime(2026, 1, 8, 0, 0)),
    ("30 23 31 12 *", datetime(2026, 12, 31, 23, 30)),
])
def test_next_fire_times(expression: str, expected: datetime) -> None:
    assert next_of(expression) == expected.replace(tzinfo=UTC)


def test_next_is_strictly_after_a_matching_minute() -> None:
    assert next_of("0 * * * *", datetime(2026, 1, 1, 5, 0, tzinfo=UTC)) == \
        datetime(2026, 1, 1, 6, 0, tzinfo=UTC)


def test_an_impossible_date_never_fires() -> None:
    assert next_of("0 0 30 2 *") is None


@pytest.mark.parametrize(("expression", "message"), [
    ("* * * *", "expected 5 fields"),
    ("61 * * * *", "minute value 61 is out of range 0-59"),
    ("* 24 * * *", "hour value 24 is out of range 0-23"),
    ("* * 0 * *", "day-of-month value 0 is out of range 1-31"),
    ("* * * 13 *", "month value 13 is out of range 1-12"),
    ("* * * * FUNDAY", 'day-of-week value "FUNDAY" is not a number or a name (SUN-SAT)'),
    ("10-5 * * * *", 'minute range "10-5" starts after it ends'),
    ("*/0 * * * *", "minute step value 0 is out of range"),
    ("@daily", "expected 5 fields"),
])
def test_errors_name_the_field_and_value(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_cron(expression)


async def test_scheduler_fires_each_entry_at_its_minute() -> None:
    clock = ManualClock(START.timestamp() * 1000)
    fired: list[tuple[str, float]] = []

    async def record(cron: str, scheduled_ms: float) -> None:
        fired.append((cron, scheduled_ms))

    scheduler = CronScheduler([CronEntry(parse_cron("* * * * *"), record),
                               CronEntry(parse_cron("*/2 * * * *"), record)], clock)
    scheduler.start()
    for _ in range(4):
        await asyncio.sleep(0.01)
        deadline = clock.next_deadline()
        assert deadline is not None
        clock.set(deadline)
        await asyncio.sleep(0.01)
    await scheduler.stop()
    minute = 60_000.0
    base = datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000
    assert fired == [("* * * * *", base + minute), ("* * * * *", base + 2 * minute),
                     ("*/2 * * * *", base + 2 * minute), ("* * * * *", base + 3 * minute),
                     ("* * * * *", base + 4 * minute), ("*/2 * * * *", base + 4 * minute)]


async def test_a_failing_action_is_reported_and_the_schedule_goes_on() -> None:
    clock = ManualClock(START.timestamp() * 1000)
    errors: list[str] = []
    calls = 0

    async def fail(cron: str, scheduled_ms: float) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("nope")

    scheduler = CronScheduler([CronEntry(parse_cron("* * * * *"), fail)], clock,
                              on_error=lambda entry, exc: errors.append(str(exc)))
    scheduler.start()
    for _ in range(2):
        await asyncio.sleep(0.01)
        clock.set(clock.next_deadline() or 0)
        await asyncio.sleep(0.01)
    await scheduler.stop()
    assert calls == 2 and errors == ["nope", "nope"]


class _StumblingClock(ManualClock):
    """A clock whose first wait fails, as a bug in the scheduler's loop would."""

    stumbles = 1

    async def sleep_until(self, deadline_ms: float) -> None:
        if self.stumbles:
            self.stumbles -= 1
            raise RuntimeError("stumbled")
        await super().sleep_until(deadline_ms)


async def test_a_scheduler_loop_that_dies_is_started_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "OUTAGE_FIRST_PAUSE_S", 0.01)
    clock = _StumblingClock(START.timestamp() * 1000)
    fired: list[str] = []
    reports: list[str] = []

    async def record(cron: str, scheduled_ms: float) -> None:
        fired.append(cron)

    scheduler = CronScheduler([CronEntry(parse_cron("* * * * *"), record)], clock,
                              report=reports.append)
    scheduler.start()
    for _ in range(100):
        deadline = clock.next_deadline()
        if deadline is not None:
            clock.set(deadline)
            await asyncio.sleep(0.01)
            break
        await asyncio.sleep(0.01)
    await scheduler.stop()
    assert fired == ["* * * * *"]
    assert reports == ["the cron scheduler stopped unexpectedly (RuntimeError: stumbled); "
                       "starting it again in 0.01 s"]
