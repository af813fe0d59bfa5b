"""The one place cache keys and display names are built (SPEC §2.3).

Each primitive counts its uses per lifetime under a counter key; the n-th use gets the cache key
``sha1hex(<hashed>)-n`` and the display name (``target``) ``<name>-n``. Deterministic code therefore
maps to the same keys on every replay.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

from pyflow_cli.engine.errors import format_ms
from pyflow_cli.engine.events import DO_EVENTS, ROLLBACK_EVENTS, StepEvents


@dataclass(frozen=True)
class StepKey:
    """Where a primitive's state is stored (``cache_key``) and how it is shown (``target``)."""

    cache_key: str
    target: str
    name: str
    count: int
    events: StepEvents = DO_EVENTS  # a rollback step writes the ROLLBACK_* rows instead


@lru_cache(maxsize=4096)  # the same few step names come back in every instance
def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def do_key(name: str, count: int) -> StepKey:
    """The key of the ``count``-th ``step.do`` named ``name`` in a lifetime."""
    return StepKey(f"{_sha1(name)}-{count}", f"{name}-{count}", name, count)


@dataclass
class KeyCounter:
    """Per-lifetime counters; a fresh one is made for every execution of ``run()``."""

    _counts: dict[str, int] = field(default_factory=dict)

    def _next(self, counter: str) -> int:
        n = self._counts.get(counter, 0) + 1
        self._counts[counter] = n
        return n

    def do(self, name: str) -> StepKey:
        return do_key(name, self._next("run-" + name))

    def sleep(self, name: str, duration_ms: float) -> StepKey:
        hashed = name + format_ms(duration_ms)
        n = self._next("sleep-" + hashed)
        return StepKey(f"{_sha1(hashed)}-{n}", f"{name}-{n}", name, n)

    def sleep_until(self, name: str, target_ms: float) -> StepKey:
        # pyflow keys sleep_until by its target, not by the time left, so that a replay after
        # hibernation finds the finished sleep instead of starting a new one (SPEC §2.9 notes the
        # reference re-keys it on every replay).
        hashed = name + "@" + format_ms(target_ms)
        n = self._next("sleepUntil-" + hashed)
        return StepKey(f"{_sha1(hashed)}-{n}", f"{name}-{n}", name, n)

    def wait_for_event(self, name: str) -> StepKey:
        n = self._next("waitForEvent-" + name)
        return StepKey(f"{_sha1(f'{name}-{n}')}-{n}", f"{name}-{n}", name, n)


ROLLBACK_KEY_PREFIX = "rollback:"  # cannot start a step's own key (sha1 hex)


def rollback_key(step: StepKey) -> StepKey:
    """Where the rollback of ``step`` is stored: its own group, shown under the step's target."""
    return StepKey(ROLLBACK_KEY_PREFIX + step.cache_key, step.target, step.target, 1,
                   ROLLBACK_EVENTS)


def split_target(target: str) -> tuple[str, int]:
    """``"charge card-2"`` -> ``("charge card", 2)``; a target without a counter has count 1."""
    base, sep, count = target.rpartition("-")
    if sep and count.isdigit():
        return base, int(count)
    return target, 1
