"""The modifier a test gets in ``modify(fn)`` / ``modify_all(fn)``: SPEC §7's
``WorkflowInstanceModifier`` in Python form (snake_case, with the reference's camelCase names as
aliases for ported tests).

Steps are selected as the reference selects them — ``{"name": "charge card", "index": 2}`` is
the second use of that name (``index`` defaults to 1) — or by the name alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pyflow_cli.engine import serde
from pyflow_cli.engine.modifiers import Modifiers, Selector
from pyflow_cli.testing.registry import MockedEvent, Operation

StepSelector = str | Mapping[str, Any] | Selector


def to_selector(step: object) -> Selector:
    """``"name"``, ``{"name": ..., "index": ...}`` or a ``Selector``, as a ``Selector``."""
    if isinstance(step, Selector):
        return step
    if isinstance(step, str) and step:
        return Selector(step)
    if isinstance(step, Mapping) and set(step) <= {"name", "index"}:
        name, index = step.get("name"), step.get("index")
        index = 1 if index is None else index
        if (isinstance(name, str) and name and isinstance(index, int)
                and not isinstance(index, bool) and index >= 1):
            return Selector(name, index)
    raise TypeError(f'A step is selected by its name or {{"name": ..., "index": n}} (n from 1 for '
                    f"the first use of the name), got {step!r}")


def _selectors(steps: Sequence[StepSelector] | None) -> list[Selector] | None:
    if steps is None:
        return None
    if isinstance(steps, str | Mapping):
        raise TypeError(f"steps must be a list of step selectors, got {steps!r}")
    return [to_selector(step) for step in steps]


def _times(times: object) -> int | None:
    if times is None or (isinstance(times, int) and not isinstance(times, bool) and times >= 1):
        return times
    raise ValueError(f"times must be a number of attempts from 1 up (or None for every attempt), "
                     f"got {times!r}")


class InstanceModifier:
    """Changes what one instance (or, recording, every new instance) does when it runs."""

    def __init__(self, apply: Callable[[Operation], Awaitable[None]]) -> None:
        self._apply = apply

    async def disable_sleeps(self, steps: Sequence[StepSelector] | None = None) -> None:
        """Every sleep (or the selected ones) ends at once; it is still logged."""
        chosen = _selectors(steps)
        await self._apply(lambda m: m.disable_sleeps(chosen))

    async def disable_retry_delays(self, steps: Sequence[StepSelector] | None = None) -> None:
        """Retries of every step (or of the selected ones) start without waiting."""
        chosen = _selectors(steps)
        await self._apply(lambda m: m.disable_retry_delays(chosen))

    async def mock_step_result(self, step: StepSelector, value: Any) -> None:
        """The step's attempts return ``value`` without calling its body (still logged)."""
        chosen = to_selector(step)
        try:
            serde.encode(value)
        except serde.NotSerialisableError as exc:
            raise TypeError(f"The mocked result of step '{chosen.name}' cannot be stored: {exc}"
                            ) from exc
        await self._apply(lambda m: m.mock_step_result(chosen, value))

    async def mock_step_error(self, step: StepSelector, error: Exception,
                              times: int | None = None) -> None:
        """The step's attempts raise ``error`` (a copy of it each time): the next ``times``
        attempts, or every attempt."""
        chosen, count = to_selector(step), _times(times)
        if not isinstance(error, Exception):
            raise TypeError(f"mock_step_error needs an exception to raise, such as "
                            f"ConnectionError('API down'), got {error!r}")
        await self._apply(lambda m: m.mock_step_error(chosen, error, count))

    async def force_step_timeout(self, step: StepSelector, times: int | None = None) -> None:
        """The step's attempts time out at once (``Execution timed out after 0ms``): the next
        ``times`` attempts, or every attempt."""
        chosen, count = to_selector(step), _times(times)
        await self._apply(lambda m: m.force_step_timeout(chosen, count))

    async def mock_event(self, event: Mapping[str, Any] | None = None, *, type: str | None = None,
                         payload: Any = None) -> None:
        """Send an event to the instance — now, or as soon as it is created:
        ``mock_event({"type": "approval", "payload": {...}})`` or
        ``mock_event(type=..., payload=...)``."""
        if event is not None:
            type, payload = event.get("type"), event.get("payload")
        if not isinstance(type, str) or not type:
            raise TypeError('mock_event needs an event type: mock_event({"type": "...", '
                            '"payload": ...})')
        try:
            serde.encode(payload)
        except serde.NotSerialisableError as exc:
            raise TypeError(f'The payload of mocked event "{type}" cannot be stored: {exc}'
                            ) from exc
        await self._apply(MockedEvent(type, payload))

    async def force_event_timeout(self, step: StepSelector) -> None:
        """The selected ``wait_for_event`` times out as soon as it starts."""
        chosen = to_selector(step)
        await self._apply(lambda m: m.force_event_timeout(chosen))

    # The reference's names, for tests ported from vitest.
    disableSleeps = disable_sleeps
    disableRetryDelays = disable_retry_delays
    mockStepResult = mock_step_result
    mockStepError = mock_step_error
    forceStepTimeout = force_step_timeout
    mockEvent = mock_event
    forceEventTimeout = force_event_timeout


class Recording:
    """The operations ``modify_all`` records for every new instance; each is tried on a scratch
    instance first, so a mistake (mocking a step twice) is reported where it is made."""

    def __init__(self, operations: list[Operation]) -> None:
        self.operations = operations
        self._scratch = Modifiers()

    async def record(self, operation: Operation) -> None:
        if not isinstance(operation, MockedEvent):
            operation(self._scratch)
        self.operations.append(operation)
