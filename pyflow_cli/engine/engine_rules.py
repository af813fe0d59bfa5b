"""The platform's rules as one engine applies them (the rules themselves: ``admission.py``,
``retention.py``, ``versions.py``): what its claims tell the store, when a due instance waits for
a slot rather than for its time, its retention sweep, and numbering the code it runs."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from pyflow_cli.engine.admission import PlatformRules, RunningLimit
from pyflow_cli.engine.clock import Clock
from pyflow_cli.engine.entrypoint import WorkflowDefinition
from pyflow_cli.engine.retention import RetentionSweeper
from pyflow_cli.engine.store import Store

Loop = tuple[str, Callable[[], Coroutine[Any, Any, None]]]


class EngineRules:
    def __init__(self, store: Store, clock: Clock, rules: PlatformRules) -> None:
        self.store = store
        self.clock = clock
        self.rules = rules
        self._recorded: set[str] = set()

    @property
    def limits_running(self) -> bool:
        """Under a running limit only a claim admits an instance (none is adopted at creation),
        and every finished run frees a slot of the store's."""
        return self.rules.limits_running

    def running_limit(self, own_running: int) -> RunningLimit | None:
        """What a claim passes the store: the limit, and how many this engine runs already."""
        limit = self.rules.max_running
        return RunningLimit(limit, own_running) if limit is not None else None

    def waits_for_a_slot(self, due_ms: float) -> bool:
        """Whether an instance due at ``due_ms`` waits for a running instance to end (which
        wakes the scheduler) rather than for its time."""
        return self.rules.limits_running and due_ms <= self.clock.now_ms()

    def loops(self) -> list[Loop]:
        """The engine's background loops for the rules: the retention sweep, if one is set."""
        if self.rules.retention_ms is None:
            return []
        sweeper = RetentionSweeper(self.store, self.clock, self.rules.retention_ms)
        return [("retention sweep", sweeper.run)]

    async def record_versions(self, version: str | None,
                              workflows: Mapping[str, WorkflowDefinition]) -> None:
        """Number each version of the code the engine runs (``version``, and that of each of
        its ``workflows``: each project's module is a version of its own) in the store once:
        at start, and after a reload."""
        versions = {version, *(w.version_id for w in workflows.values())} - {None}
        for version in sorted(v for v in versions - self._recorded if v is not None):
            await self.store.record_version(version, self.clock.now_ms())
            self._recorded.add(version)
