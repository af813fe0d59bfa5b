"""``Change`` and its parts as values: which changes may be merged, and what a merge holds.
(That a merged change writes what its parts write one after another is a property tested
against the stores in test_store_groups.py.)"""

from __future__ import annotations

import pytest

from pyflow_cli.engine.changes import UNSET, Change, InstanceUpdate, NewLogEvent, StepWrite
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import TimerRecord


@pytest.mark.parametrize("fields", [
    {"expect_status": InstanceStatus.RUNNING}, {"expect_owner": None}, {"expect_owner": "e"},
    {"expect_lifetime": 0}, {"expect_signal": 0}, {"wipe_all": True}, {"wipe_keys": ["k"]},
    {"wipe_run_rows": True}, {"shift_timers_ms": 5.0},
])
def test_a_guard_a_wipe_or_a_shift_makes_a_change_not_plain(fields: dict[str, object]) -> None:
    assert not Change(1, **fields).plain  # type: ignore[arg-type]


def test_a_change_of_rows_and_fields_is_plain() -> None:
    change = Change(1, log=[NewLogEvent(EventType.STEP_START, 1.0)],
                    steps=[StepWrite("k", "do", "t")], set_timers=[TimerRecord("k", "sleep", 1.0)],
                    clear_timers=[("j", "retry")], consume_events=[(1, "k")],
                    instance=InstanceUpdate(status=InstanceStatus.RUNNING, bump_signal=True))
    assert change.plain


def test_absorbing_refuses_changes_that_are_not_plain_or_of_another_instance() -> None:
    with pytest.raises(AssertionError):
        Change(1).absorb(Change(1, expect_signal=0))
    with pytest.raises(AssertionError):
        Change(1, shift_timers_ms=1.0).absorb(Change(1))
    with pytest.raises(AssertionError):
        Change(1).absorb(Change(2))


def test_absorbing_appends_log_rows_and_consumed_events_and_returns_the_change() -> None:
    first = Change(1, log=[NewLogEvent(EventType.STEP_START, 1.0)], consume_events=[(1, "a")])
    later = Change(1, log=[NewLogEvent(EventType.STEP_SUCCESS, 2.0)], consume_events=[(2, "b")])
    assert first.absorb(later) is first
    assert [row.event for row in first.log] == [EventType.STEP_START, EventType.STEP_SUCCESS]
    assert first.consume_events == [(1, "a"), (2, "b")]


def test_absorbing_merges_successive_writes_of_one_step_row() -> None:
    first = Change(1, steps=[StepWrite("j", "do", "j-1", state="done"),
                             StepWrite("k", "do", "k-1", attempts=1, attempt_open=True)])
    first.absorb(Change(1, steps=[StepWrite("k", "do", "k-1", state="done", value_json="5",
                                            attempt_open=False),
                                  StepWrite("j", "do", "j-1", error_json="e")]))
    assert first.steps == [
        StepWrite("j", "do", "j-1", state="done"),
        StepWrite("k", "do", "k-1", "done", "5", None, None, 1, False),
        StepWrite("j", "do", "j-1", error_json="e")]  # not next to its last write: kept apart


def test_a_merged_step_write_keeps_what_the_later_leaves_none_and_the_first_kind_and_target(
        ) -> None:
    merged = StepWrite("k", "sleep", "nap-1", "started", "1", "e", "c", 2, True).updated_by(
        StepWrite("k", "do", "other-1", state="done", attempts=3))
    assert merged == StepWrite("k", "sleep", "nap-1", "done", "1", "e", "c", 3, True)


@pytest.mark.parametrize(("first", "later", "sets", "clears"), [
    ({"set_timers": [TimerRecord("k", "sleep", 1.0)]}, {"clear_timers": [("k", "sleep")]},
     [], [("k", "sleep")]),
    ({"clear_timers": [("k", "sleep")]}, {"set_timers": [TimerRecord("k", "sleep", 2.0)]},
     [TimerRecord("k", "sleep", 2.0)], []),
    ({"set_timers": [TimerRecord("k", "sleep", 1.0)]}, {"set_timers": [TimerRecord("k", "sleep", 2.0)]},
     [TimerRecord("k", "sleep", 2.0)], []),
    ({"set_timers": [TimerRecord("k", "sleep", 1.0)]}, {"clear_timers": [("k", "retry")]},
     [TimerRecord("k", "sleep", 1.0)], [("k", "retry")]),
], ids=["set-then-clear", "clear-then-set", "set-twice", "other-kind"])
def test_a_timer_the_later_change_touches_is_what_the_later_change_made_it(
        first: dict[str, object], later: dict[str, object], sets: list[TimerRecord],
        clears: list[tuple[str, str]]) -> None:
    merged = Change(1, **first).absorb(Change(1, **later))  # type: ignore[arg-type]
    assert (merged.set_timers, merged.clear_timers) == (sets, clears)


def test_merged_instance_updates_take_every_field_the_later_sets() -> None:
    first = InstanceUpdate(status=InstanceStatus.RUNNING, output_json="1", lease_owner="e")
    later = InstanceUpdate(status=InstanceStatus.COMPLETE, lease_owner=None, bump_signal=True)
    merged = first.updated_by(later)
    assert (merged.status, merged.output_json, merged.lease_owner, merged.bump_signal) == (
        InstanceStatus.COMPLETE, "1", None, True)
    assert merged.runnable_at is UNSET
    assert first.updated_by(InstanceUpdate()).bump_signal is False
    change = Change(1).absorb(Change(1, instance=later))
    assert change.instance == later
