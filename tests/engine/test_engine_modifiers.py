"""The rules of test modifiers (engine/modifiers.py), as pure values: what stands in for each
attempt, in the reference's order, and how ``times`` takes the next attempts in turn."""

from __future__ import annotations

import pytest

from pyflow_cli.engine.modifiers import IntrospectionError, Modifiers, Selector

STEP = Selector("charge")


def outcome(modifiers: Modifiers, attempt: int, step: Selector = STEP) -> object:
    found = modifiers.attempt(step, attempt)
    if found is None:
        return "body"
    finished, value = found
    return ("result", value) if finished else (type(value).__name__, str(value))


def test_times_take_the_next_attempts_in_turn_across_errors_and_timeouts() -> None:
    modifiers = Modifiers()
    modifiers.mock_step_error(STEP, ValueError("a"), times=2)
    modifiers.force_step_timeout(STEP, times=1)
    modifiers.mock_step_error(STEP, KeyError("b"), times=1)
    assert [outcome(modifiers, n) for n in range(1, 6)] == [
        ("ValueError", "a"), ("ValueError", "a"), ("WorkflowTimeoutError", "Execution timed out after 0ms"),
        ("KeyError", "'b'"), "body"]


def test_an_error_comes_before_a_timeout_and_a_timeout_before_a_result() -> None:
    modifiers = Modifiers()
    modifiers.force_step_timeout(STEP, times=1)
    modifiers.mock_step_result(STEP, {"paid": True})
    assert outcome(modifiers, 1) == ("WorkflowTimeoutError", "Execution timed out after 0ms")
    assert outcome(modifiers, 2) == ("result", {"paid": True})
    always = Modifiers()
    always.mock_step_error(STEP, ValueError("down"), times=None)
    always.force_step_timeout(STEP, times=None)
    assert [outcome(always, n) for n in (1, 7)] == [("ValueError", "down")] * 2


def test_each_attempt_gets_a_fresh_copy_of_the_mocked_error() -> None:
    class Rich(Exception):
        def __init__(self, code: int) -> None:
            super().__init__(f"code {code}")
            self.code = code

    modifiers = Modifiers()
    original = Rich(503)
    modifiers.mock_step_error(STEP, original, times=None)
    first, second = modifiers.attempt(STEP, 1), modifiers.attempt(STEP, 2)
    assert first is not None and second is not None
    assert first[1] is not original and first[1] is not second[1]
    assert isinstance(first[1], Rich) and first[1].code == 503 and str(first[1]) == "code 503"


def test_selectors_name_one_use_of_a_step() -> None:
    modifiers = Modifiers()
    modifiers.mock_step_result(Selector("fetch", 2), "second")
    modifiers.disable_sleeps([Selector("nap", 2)])
    assert outcome(modifiers, 1, Selector("fetch")) == "body"
    assert outcome(modifiers, 1, Selector("fetch", 2)) == ("result", "second")
    assert not modifiers.sleep_skipped(Selector("nap")) and modifiers.sleep_skipped(Selector("nap", 2))
    modifiers.disable_sleeps()
    assert modifiers.sleep_skipped(Selector("anything", 9))


def test_a_result_mock_forbids_later_error_and_timeout_mocks() -> None:
    modifiers = Modifiers()
    modifiers.mock_step_result(STEP, 1)
    for mistake in (lambda: modifiers.mock_step_result(STEP, 2),
                    lambda: modifiers.mock_step_error(STEP, ValueError(), None),
                    lambda: modifiers.force_step_timeout(STEP, 1)):
        with pytest.raises(IntrospectionError, match=r"^\[WorkflowIntrospector\] Trying to "):
            mistake()
