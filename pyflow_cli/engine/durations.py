"""The duration grammar shared by sleeps, retry delays, step timeouts and event timeouts (SPEC A4).

A duration is a number of milliseconds, a numeric string (also milliseconds), or ``"<number> <unit>"``
with a unit from ``UNITS`` (singular or plural, any case) or one of the short forms. Unlike the
reference, an unknown unit is an error, never a silent millisecond count.
"""

from __future__ import annotations

import re
from datetime import timedelta

_SECOND = 1000.0
UNITS: dict[str, float] = {
    "millisecond": 1.0,
    "ms": 1.0,
    "second": _SECOND,
    "s": _SECOND,
    "sec": _SECOND,
    "minute": 60 * _SECOND,
    "m": 60 * _SECOND,
    "min": 60 * _SECOND,
    "hour": 3600 * _SECOND,
    "h": 3600 * _SECOND,
    "hr": 3600 * _SECOND,
    "day": 86400 * _SECOND,
    "d": 86400 * _SECOND,
    "week": 7 * 86400 * _SECOND,
    "w": 7 * 86400 * _SECOND,
    "month": 30 * 86400 * _SECOND,
    "year": 365 * 86400 * _SECOND,
    "y": 365 * 86400 * _SECOND,
}

_DURATION = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*([a-zA-Z]+)\s*$")

_NUMBER = re.compile(r"^\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)\s*$")

Duration = int | float | str | timedelta


class InvalidDurationError(ValueError):
    """A duration value that the grammar does not accept."""


def _unit_factor(unit: str) -> float | None:
    unit = unit.lower()
    if unit in UNITS:
        return UNITS[unit]
    if unit.endswith("s") and unit[:-1] in UNITS and len(unit) > 2:
        return UNITS[unit[:-1]]
    return None


def parse_duration_ms(value: object) -> float:
    """Return ``value`` in milliseconds, or raise ``InvalidDurationError`` naming the value."""
    if isinstance(value, bool):
        raise InvalidDurationError(f"Invalid duration {value!r}: expected a number of milliseconds "
                                   'or a string like "30 seconds".')
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidDurationError(f"Invalid duration {value!r}: it must be a finite number.")
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds() * 1000.0
    if isinstance(value, str):
        if _NUMBER.match(value):
            return float(value)
        match = _DURATION.match(value)
        if match:
            factor = _unit_factor(match.group(2))
            if factor is not None:
                return float(match.group(1)) * factor
        return _fail(value)
    raise InvalidDurationError(
        f"Invalid duration {value!r}: expected a number of milliseconds or a string like "
        '"30 seconds", got ' + type(value).__name__ + "."
    )


def _fail(value: str) -> float:
    raise InvalidDurationError(
        f'Invalid duration "{value}": use "<number> <unit>" with a unit of ms, second, minute, '
        'hour, day, week, month or year (e.g. "30 seconds", "1.5 hours"), or a number of '
        "milliseconds."
    )


def js_number(ms: float) -> int | float:
    """``3600000.0`` -> ``3600000``: how the log shows a millisecond count (as JSON numbers do)."""
    return int(ms) if ms == int(ms) else ms
