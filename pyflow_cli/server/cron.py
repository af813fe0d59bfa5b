"""Five-field cron expressions (UTC, as Cloudflare runs Cron Triggers) and a small scheduler.

Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or JAN-DEC), day of week
(0-7 or SUN-SAT; 0 and 7 are Sunday). Each field is ``*``, a value, a range ``a-b``, a step
(``*/n``, ``a-b/n``, ``a/n``) or a comma list of those. The Quartz-style extensions Cloudflare
accepts are supported too: ``?`` (any) in the day fields, ``L`` (last day of the month), ``LW``
(last weekday), ``15W`` (weekday nearest the 15th) in day of month, and ``5L`` (last Friday) and
``1#2`` (second Monday) in day of week. When both day fields are restricted, a day matches if
either does (as in Vixie cron).
"""

from __future__ import annotations

import asyncio
import calendar
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pyflow_cli.engine.clock import Clock
from pyflow_cli.engine.supervisor import Supervised

_MONTHS = {name: i for i, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
_WEEKDAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_SEARCH_DAYS = 366 * 8 + 2  # every day pattern repeats within 8 years (leap days included)


class CronError(ValueError):
    """A cron expression that cannot be parsed; the message names the field and the value."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_MINUTE = _Field("minute", 0, 59, {})
_HOUR = _Field("hour", 0, 23, {})
_DOM = _Field("day-of-month", 1, 31, {})
_MONTH = _Field("month", 1, 12, _MONTHS)
_DOW = _Field("day-of-week", 0, 7, _WEEKDAYS)


@dataclass(frozen=True)
class CronExpression:
    """A parsed cron expression; ``next_after`` gives its next fire time."""

    source: str
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    days: frozenset[int]  # plain days of month
    weekdays: frozenset[int]  # plain weekdays, 0 = Sunday
    last_day_offsets: frozenset[int]  # "L" -> 0, "L-3" -> 3
    nearest_weekdays: frozenset[int]  # "15W" -> 15; "LW" -> 0
    last_weekdays: frozenset[int]  # "5L" -> 5
    nth_weekdays: frozenset[tuple[int, int]]  # "1#2" -> (1, 2)
    dom_any: bool
    dow_any: bool

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = self._dom_matches(day)
        dow = self._dow_matches(day)
        if self.dom_any and self.dow_any:
            return True
        if self.dom_any:
            return dow
        if self.dow_any:
            return dom
        return dom or dow

    def _dom_matches(self, day: date) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]
        if day.day in self.days or (last - day.day) in self.last_day_offsets:
            return True
        return any(_nearest_weekday(day.year, day.month, target or last) == day.day
                   for target in self.nearest_weekdays)

    def _dow_matches(self, day: date) -> bool:
        weekday = (day.weekday() + 1) % 7  # Python: Monday = 0; cron: Sunday = 0
        if weekday in self.weekdays:
            return True
        last = calendar.monthrange(day.year, day.month)[1]
        if weekday in self.last_weekdays and day.day + 7 > last:
            return True
        return (weekday, (day.day - 1) // 7 + 1) in self.nth_weekdays

    def next_after(self, moment: datetime) -> datetime | None:
        """The first matching minute strictly after ``moment`` (UTC); None if it never fires."""
        start = (moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1))
        day = start.date()
        for offset in range(_SEARCH_DAYS):
            current = day + timedelta(days=offset)
            if not self.matches_day(current):
                continue
            for hour in sorted(self.hours):
                for minute in sorted(self.minutes):
                    candidate = datetime(current.year, current.month, current.day, hour, minute,
                                         tzinfo=UTC)
                    if candidate >= start:
                        return candidate
        return None


def _nearest_weekday(year: int, month: int, target: int) -> int:
    """The weekday (Mon-Fri) nearest to day ``target``, not leaving the month (Quartz ``W``)."""
    last = calendar.monthrange(year, month)[1]
    target = min(target, last)
    weekday = date(year, month, target).weekday()
    if weekday == 5:  # Saturday -> Friday, or Monday when the 1st is a Saturday
        return target - 1 if target > 1 else target + 2
    if weekday == 6:  # Sunday -> Monday, or Friday when it is the last day
        return target + 1 if target < last else target - 2
    return target


def parse_cron(text: str) -> CronExpression:
    """Parse a five-field cron expression; ``CronError`` says which field is wrong and why."""
    parts = text.split()
    if len(parts) != 5:
        raise CronError(f'Invalid cron expression "{text}": expected 5 fields (minute hour '
                        f'day-of-month month day-of-week), got {len(parts)}.')
    minute, hour, dom, month, dow = parts
    dom_spec = _DaySpec()
    dow_spec = _DaySpec()
    for item in dom.split(","):
        _dom_item(text, item, dom_spec)
    for item in dow.split(","):
        _dow_item(text, item, dow_spec)
    return CronExpression(
        source=text,
        minutes=_values(text, minute, _MINUTE),
        hours=_values(text, hour, _HOUR),
        months=_values(text, month, _MONTH),
        days=frozenset(dom_spec.values),
        weekdays=frozenset(d % 7 for d in dow_spec.values),
        last_day_offsets=frozenset(dom_spec.last_offsets),
        nearest_weekdays=frozenset(dom_spec.nearest),
        last_weekdays=frozenset(dow_spec.last_weekdays),
        nth_weekdays=frozenset(dow_spec.nth),
        dom_any=dom in ("*", "?"),
        dow_any=dow in ("*", "?"),
    )


class _DaySpec:
    """What the items of one day field asked for, before it is frozen into the expression."""

    def __init__(self) -> None:
        self.values: set[int] = set()
        self.last_offsets: set[int] = set()
        self.nearest: set[int] = set()
        self.last_weekdays: set[int] = set()
        self.nth: set[tuple[int, int]] = set()


def _dom_item(text: str, item: str, spec: _DaySpec) -> None:
    upper = item.upper()
    if upper == "?":
        spec.values.update(range(1, 32))
    elif upper == "L":
        spec.last_offsets.add(0)
    elif upper.startswith("L-"):
        spec.last_offsets.add(_number(text, upper[2:], _Field(_DOM.name, 0, 30, {})))
    elif upper == "LW":
        spec.nearest.add(0)
    elif upper.endswith("W"):
        spec.nearest.add(_number(text, upper[:-1], _DOM))
    else:
        spec.values.update(_values(text, item, _DOM))


def _dow_item(text: str, item: str, spec: _DaySpec) -> None:
    upper = item.upper()
    if upper == "?":
        spec.values.update(range(7))
    elif upper == "L":
        spec.values.add(6)
    elif upper.endswith("L"):
        spec.last_weekdays.add(_number(text, upper[:-1], _DOW) % 7)
    elif "#" in upper:
        day, _, nth = upper.partition("#")
        spec.nth.add((_number(text, day, _DOW) % 7, _number(text, nth, _Field("week", 1, 5, {}))))
    else:
        spec.values.update(_values(text, item, _DOW))


def _values(text: str, spec: str, field: _Field) -> frozenset[int]:
    result: set[int] = set()
    for item in spec.split(","):
        result.update(_item(text, item, field))
    return frozenset(result)


def _item(text: str, item: str, field: _Field) -> range:
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        step = _number(text, step_text, _Field(f"{field.name} step", 1, field.high + 1, {}))
    if base == "*" or (base == "?" and field in (_DOM, _DOW)):
        low, high = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _number(text, first, field), _number(text, last, field)
        if low > high:
            raise CronError(f'Invalid cron expression "{text}": {field.name} range "{base}" starts '
                            "after it ends. Write the smaller value first.")
    else:
        low = _number(text, base, field)
        high = field.high if slash else low
    return range(low, high + 1, step)


def _number(text: str, value: str, field: _Field) -> int:
    upper = value.upper()
    if upper in field.names:
        return field.names[upper]
    if not value.isdigit():
        named = f" or a name ({min(field.names, key=field.names.__getitem__)}-" \
                f"{max(field.names, key=field.names.__getitem__)})" if field.names else ""
        raise CronError(f'Invalid cron expression "{text}": {field.name} value "{value}" is not a '
                        f"number{named}.")
    number = int(value)
    if not field.low <= number <= field.high:
        raise CronError(f'Invalid cron expression "{text}": {field.name} value {number} is out of '
                        f"range {field.low}-{field.high}.")
    return number


# --- scheduling ---------------------------------------------------------------------------------

CronAction = Callable[[str, float], Awaitable[None]]
"""Called with the cron expression and the scheduled time (epoch ms)."""


@dataclass(frozen=True)
class CronEntry:
    """One schedule: an expression and what to do when it fires."""

    expression: CronExpression
    action: CronAction
    label: str = ""


class CronScheduler:
    """Fires each entry at its next scheduled minute, on an injected clock, until stopped. Its
    loop is supervised: if it dies it is started again, and ``on_give_up`` hears of one that
    keeps dying."""

    def __init__(self, entries: Sequence[CronEntry], clock: Clock,
                 on_error: Callable[[CronEntry, BaseException], None] | None = None,
                 report: Callable[[str], None] | None = None,
                 on_give_up: Callable[[str], None] | None = None) -> None:
        self.entries = list(entries)
        self.clock = clock
        self.on_error = on_error
        self.report = report or (lambda message: None)
        self.on_give_up = on_give_up or self.report
        self._loop: Supervised | None = None
        self._fired: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self.entries and self._loop is None:
            self._loop = Supervised("cron scheduler", self._run, self.report,
                                    lambda what: self.on_give_up(what))
            self._loop.start()

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()
            self._loop = None
        if self._fired:
            await asyncio.gather(*self._fired, return_exceptions=True)

    def replace(self, entries: Sequence[CronEntry]) -> None:
        """Swap the schedule (after a config reload); the next wait is recomputed at once."""
        if self._loop is not None:
            self._loop.cancel()
            self._loop = None
        self.entries = list(entries)
        self.start()

    async def _run(self) -> None:
        while True:
            now = datetime.fromtimestamp(self.clock.now_ms() / 1000.0, tz=UTC)
            upcoming = [(entry.expression.next_after(now), entry) for entry in self.entries]
            due_times = [when for when, _ in upcoming if when is not None]
            if not due_times:
                return
            first = min(due_times)
            await self.clock.sleep_until(first.timestamp() * 1000.0)
            for when, entry in upcoming:
                if when == first:
                    self._fire(entry, first.timestamp() * 1000.0)

    def _fire(self, entry: CronEntry, scheduled_ms: float) -> None:
        async def run() -> None:
            try:
                await entry.action(entry.expression.source, scheduled_ms)
            except Exception as exc:
                if self.on_error is not None:
                    self.on_error(entry, exc)

        task = asyncio.create_task(run(), name=f"pyflow-cron-{entry.expression.source}")
        self._fired.add(task)
        task.add_done_callback(self._fired.discard)
