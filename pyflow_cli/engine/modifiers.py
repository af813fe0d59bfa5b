"""Test modifiers (SPEC §7): what a test asked to change about one instance's run, and the few
decisions the engine takes from them.

A test may mock a step's result or error, force a step or an event wait to time out, and skip
sleeps and retry delays. Those wishes are a ``Modifiers`` value per instance, kept by the test
environment for as long as it lives, so they hold across hibernation and replays. Each lifetime
of an instance under test gets ``TestHooks`` (``Lifetime.test``) pointing at them; the
primitives ask through the module functions below, one call at each point that can change:

* ``mocked_attempt`` — before a step body is called: a mocked error, a forced timeout or a mocked
  result stands in for it;
* ``sleep_due`` / ``retry_due`` — when a sleep or a retry delay is waited for: a skipped one is
  due now;
* ``event_times_out`` — when an event wait starts: a forced timeout ends it at once;
* ``called`` — at every primitive: records the call (and where user code made it) for the
  replay-safety check of ``pyflow_cli.testing``.

Outside tests ``Lifetime.test`` is None and every function returns at once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from pyflow_cli.engine import tracebacks
from pyflow_cli.engine.errors import WorkflowTimeoutError
from pyflow_cli.engine.events import DO_EVENTS
from pyflow_cli.engine.keys import StepKey

if TYPE_CHECKING:
    from pyflow_cli.engine.entrypoint import WorkflowDefinition
    from pyflow_cli.engine.lifetime import EndReason, Lifetime
    from pyflow_cli.engine.status import InstanceStatus
    from pyflow_cli.engine.store import InstanceRecord

PREFIX = "[WorkflowIntrospector]"


class ObservedLifetime(Protocol):
    """What a test harness reads of a lifetime it was handed (``Engine(test_hooks=...)``): which
    instance it runs, with what code, and how it ended. Nothing outside the engine changes a
    lifetime."""

    @property
    def instance(self) -> InstanceRecord: ...

    @property
    def definition(self) -> WorkflowDefinition: ...

    @property
    def end_reason(self) -> EndReason | None: ...

    @property
    def status(self) -> InstanceStatus: ...


class IntrospectionError(Exception):
    """A test asked for something the introspection API cannot do; messages are the
    reference's (``[WorkflowIntrospector] ...``)."""


@dataclass(frozen=True)
class Selector:
    """A step as a test names it: its name and which use of that name (1 for the first)."""

    name: str
    index: int = 1

    def __str__(self) -> str:
        return f"{self.name}-{self.index}"


@dataclass
class Modifiers:
    """Everything a test changed about one instance's run. Attempt numbers count from 1 over the
    step's whole life (``times`` claims the next ones, as the reference's failure index does)."""

    all_sleeps_skipped: bool = False
    skipped_sleeps: set[Selector] = field(default_factory=set)
    all_retry_delays_skipped: bool = False
    skipped_retry_delays: set[Selector] = field(default_factory=set)
    results: dict[Selector, Any] = field(default_factory=dict)
    errors: dict[Selector, Exception] = field(default_factory=dict)
    errors_at: dict[tuple[Selector, int], Exception] = field(default_factory=dict)
    timeouts: set[Selector] = field(default_factory=set)
    timeouts_at: set[tuple[Selector, int]] = field(default_factory=set)
    next_failure: dict[Selector, int] = field(default_factory=dict)
    event_timeouts: set[Selector] = field(default_factory=set)

    # -- what a test asks for ------------------------------------------------------------------
    def disable_sleeps(self, steps: Sequence[Selector] | None = None) -> None:
        if steps is None:
            self.all_sleeps_skipped = True
        else:
            self.skipped_sleeps.update(steps)

    def disable_retry_delays(self, steps: Sequence[Selector] | None = None) -> None:
        if steps is None:
            self.all_retry_delays_skipped = True
        else:
            self.skipped_retry_delays.update(steps)

    def mock_step_result(self, step: Selector, value: Any) -> None:
        if step in self.results:
            raise IntrospectionError(f"{PREFIX} Trying to mock step '{step.name}' multiple times!")
        self.results[step] = value

    def mock_step_error(self, step: Selector, error: Exception, times: int | None) -> None:
        self._refuse_after_result(step, "mock error on")
        if times is None:
            self.errors[step] = error
        else:
            for attempt in self._claim_attempts(step, times):
                self.errors_at[(step, attempt)] = error

    def force_step_timeout(self, step: Selector, times: int | None) -> None:
        self._refuse_after_result(step, "force timeout on")
        if times is None:
            self.timeouts.add(step)
        else:
            self.timeouts_at.update((step, attempt) for attempt in self._claim_attempts(step, times))

    def force_event_timeout(self, step: Selector) -> None:
        self.event_timeouts.add(step)

    def _refuse_after_result(self, step: Selector, what: str) -> None:
        if step in self.results:
            raise IntrospectionError(
                f"{PREFIX} Trying to {what} step '{step.name}' after mocking its result!")

    def _claim_attempts(self, step: Selector, times: int) -> range:
        start = self.next_failure.get(step, 1)
        self.next_failure[step] = start + times
        return range(start, start + times)

    # -- what the engine asks ------------------------------------------------------------------
    def attempt(self, step: Selector, attempt: int) -> tuple[bool, Any] | None:
        """What stands in for attempt ``attempt`` of ``step``, in the reference's order: a mocked
        error, then a forced timeout, then a mocked result. ``(True, value)`` is a result,
        ``(False, error)`` a failure; None lets the body run."""
        error = self.errors.get(step) or self.errors_at.get((step, attempt))
        if error is not None:
            return False, _fresh(error)
        if step in self.timeouts or (step, attempt) in self.timeouts_at:
            return False, WorkflowTimeoutError(0)
        if step in self.results:
            return True, self.results[step]
        return None

    def sleep_skipped(self, step: Selector) -> bool:
        return self.all_sleeps_skipped or step in self.skipped_sleeps

    def retry_delay_skipped(self, step: Selector) -> bool:
        return self.all_retry_delays_skipped or step in self.skipped_retry_delays


def _fresh(error: Exception) -> Exception:
    """A new exception like ``error`` (same class, arguments and attributes) for each attempt, so
    one attempt's traceback does not pile onto the next's."""
    fresh = type(error).__new__(type(error))
    fresh.args = error.args
    fresh.__dict__.update(error.__dict__)
    return fresh


@dataclass(frozen=True)
class Call:
    """One primitive call of a lifetime, and where user code made it (file and line; empty
    when no user frame was found)."""

    kind: str  # "do" | "sleep" | "wait_for_event"
    name: str
    target: str
    cache_key: str
    file: str = ""
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.file else "line unknown"


@dataclass
class TestHooks:
    """What one lifetime of an instance under test consults: the instance's modifiers, its own
    count of sleeps by name (a sleep selector's index counts uses of the name, whatever the
    duration, as the reference's does), and the calls it made."""

    __test__ = False  # not a pytest test class, whatever its name

    modifiers: Modifiers
    roots: Sequence[str] = ()
    calls: list[Call] = field(default_factory=list)
    _sleeps_by_name: dict[str, int] = field(default_factory=dict)
    _sleep_selectors: dict[str, Selector] = field(default_factory=dict)

    def record(self, kind: str, key: StepKey, body: Callable[..., Any] | None) -> None:
        index = key.count
        if kind == "sleep":
            index = self._sleeps_by_name[key.name] = self._sleeps_by_name.get(key.name, 0) + 1
            self._sleep_selectors[key.cache_key] = Selector(key.name, index)
        file, line = _user_location(self.roots, body)
        self.calls.append(Call(kind, key.name, key.target, key.cache_key, file, line))

    def sleep_selector(self, key: StepKey) -> Selector:
        return self._sleep_selectors.get(key.cache_key, Selector(key.name, key.count))


def _user_location(roots: Sequence[str], body: Callable[..., Any] | None) -> tuple[str, int]:
    """The innermost user frame on the stack; for a step run in a task of its own (no user frame
    above it), where its function is defined."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if tracebacks.is_user_file(filename, roots):
            return tracebacks.shown_path(filename, roots), frame.f_lineno
        frame = frame.f_back
    for code in _codes(body):
        if tracebacks.is_user_file(code.co_filename, roots):
            return tracebacks.shown_path(code.co_filename, roots), code.co_firstlineno
    return "", 0


def _codes(body: Callable[..., Any] | None) -> list[Any]:
    """The code of ``body`` and of the functions it closes over (a step body pyflow wrapped)."""
    if body is None:
        return []
    found = [getattr(body, "__code__", None)]
    for cell in getattr(body, "__closure__", None) or ():
        found.append(getattr(cell.cell_contents, "__code__", None))
    return [code for code in found if code is not None]


# -- the engine's side: one call at each point ---------------------------------------------------


def called(life: Lifetime, kind: str, key: StepKey, body: Callable[..., Any] | None = None
           ) -> None:
    """A primitive was called (``kind``: do, sleep or wait_for_event)."""
    if life.test is not None:
        life.test.record(kind, key, body)


def mocked_attempt(life: Lifetime, key: StepKey, attempt: int) -> tuple[bool, Any] | None:
    """What stands in for this attempt's body: ``(True, value)`` (a result) or ``(False,
    error)`` (a failure), or None."""
    if life.test is None or key.events is not DO_EVENTS:  # rollbacks are never mocked
        return None
    return life.test.modifiers.attempt(Selector(key.name, key.count), attempt)


def sleep_due(life: Lifetime, key: StepKey, due_ms: float) -> float:
    """When the sleep ``key`` ends: ``due_ms``, or now if the test skips it."""
    if life.test is not None and life.test.modifiers.sleep_skipped(life.test.sleep_selector(key)):
        return life.now()
    return due_ms


def retry_due(life: Lifetime, key: StepKey, due_ms: float) -> float:
    """When the next attempt of step ``key`` starts: ``due_ms``, or now if the test skips the
    delay."""
    if life.test is not None and life.test.modifiers.retry_delay_skipped(
            Selector(key.name, key.count)):
        return life.now()
    return due_ms


def event_times_out(life: Lifetime, key: StepKey) -> bool:
    """Whether the test forced the event wait ``key`` to time out at once."""
    return life.test is not None and Selector(key.name, key.count) in life.test.modifiers.event_timeouts
