"""The replay-safety check: did ``run()`` make the same step calls when it was replayed?

pyflow replays ``run()`` from the top after every hibernation, and finds each step's stored
result by its cache key, built from the step's name. A name made from ``random``, the time or
anything else that changes between replays gives a key with no stored result: the step runs
again, and the one that ran before is never seen again. This module compares the calls of two
consecutive lifetimes of one instance: a replay that finished (hibernated again, completed or
errored) must have called every primitive the lifetime before it called.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyflow_cli.engine.lifetime import EndReason
from pyflow_cli.engine.modifiers import Call, ObservedLifetime
from pyflow_cli.engine.status import InstanceStatus

_SHOWN_KIND = {"do": "step.do", "sleep": "step.sleep", "wait_for_event": "step.wait_for_event"}
ADVICE = ("Build step names (and sleep durations) only from the event, earlier step results and "
          "constants: never from random, the time or anything else that changes when run() is "
          "replayed.")


class NonDeterminismError(AssertionError):
    """``run()`` made different step calls when it was replayed (see the message)."""


def comparable(before: ObservedLifetime, after: ObservedLifetime) -> bool:
    """Whether ``after`` must have called everything ``before`` called: ``before`` ended by
    hibernating or pausing (not restarted, terminated or stopped), and ``after`` got as far as
    the code goes without waiting on time (it hibernated too, or ``run()`` finished)."""
    if before.end_reason not in (EndReason.HIBERNATE, EndReason.PAUSE):
        return False
    if after.end_reason is EndReason.HIBERNATE:
        return True
    return after.end_reason is None and after.status in (InstanceStatus.COMPLETE,
                                                         InstanceStatus.ERRORED)


def divergence(label: str, before: Sequence[Call], after: Sequence[Call]) -> str | None:
    """The report of what ``after`` (a replay) failed to call that ``before`` called, or None."""
    called = {call.cache_key for call in after}
    missing = [call for call in before if call.cache_key not in called]
    if not missing:
        return None
    lost = missing[0]
    earlier = {call.cache_key for call in before}
    instead = [call for call in after if call.cache_key not in earlier and call.kind == lost.kind]
    same_line = [call for call in instead if call.file == lost.file and call.line == lost.line]
    replacement = next(iter(same_line or instead), None)
    message = (f"run() of {label} is not deterministic: replayed after hibernation, it did not "
               f"call {_shown(lost)} ({lost.where}) again, which it had called before")
    if replacement is not None:
        message += f"; it called {_shown(replacement)} ({replacement.where}) instead"
        if replacement.name == lost.name:
            message += " (the same name with another duration or time: another step)"
    return f"{message}. {ADVICE}"


def _shown(call: Call) -> str:
    return f'{_SHOWN_KIND.get(call.kind, call.kind)}("{call.name}")'
