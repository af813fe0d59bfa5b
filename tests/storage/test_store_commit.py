"""``Store.commit``: what each part of a ``Change`` writes, its guards and its wipes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from storekit import create, record, row, snapshot

from pyflow_cli.engine.changes import UNSET, Change, InstanceUpdate, NewLogEvent, StepWrite
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import StepRecord, Store, TimerRecord


async def test_log_rows_are_appended_in_order_with_their_metadata(store: Store) -> None:
    iid = await create(store)
    change = Change(iid).logs(
        NewLogEvent(EventType.STEP_START, 10.0, "k", "step-1", {"attempt": 1, "nested": [1, "x"]}),
        NewLogEvent(EventType.STEP_SUCCESS, 11.0, "k", "step-1", metadata_json='{"result":2}'),
        NewLogEvent(EventType.WORKFLOW_RUNNING, 12.0))
    assert await store.commit(change) is True
    log = (await store.read_log(iid))[2:]
    assert [(r.event, r.timestamp_ms, r.group_key, r.target, r.metadata) for r in log] == [
        (EventType.STEP_START, 10.0, "k", "step-1", {"attempt": 1, "nested": [1, "x"]}),
        (EventType.STEP_SUCCESS, 11.0, "k", "step-1", {"result": 2}),
        (EventType.WORKFLOW_RUNNING, 12.0, None, None, {})]


async def test_a_step_write_creates_the_row_and_a_later_one_keeps_what_it_leaves_none(
        store: Store) -> None:
    iid = await create(store)
    assert await store.commit(Change(iid, steps=[StepWrite("k", "do", "k-1", attempts=1,
                                                           attempt_open=True)]))
    first = (await store.load_history(iid)).steps["k"]
    # A row written without a state reads as "started"; attempt_open is a bool.
    assert first == StepRecord("k", "do", "k-1", "started", None, None, None, 1, True)
    assert await store.commit(Change(iid, steps=[
        StepWrite("k", "do", "k-1", state="done", value_json="42", config_json='{"c":1}',
                  attempt_open=False)]))
    assert (await store.load_history(iid)).steps["k"] == StepRecord(
        "k", "do", "k-1", "done", "42", None, '{"c":1}', 1, False)
    assert await store.commit(Change(iid, steps=[StepWrite("k", "do", "k-1", error_json='"e"')]))
    assert (await store.load_history(iid)).steps["k"] == StepRecord(
        "k", "do", "k-1", "done", "42", '"e"', '{"c":1}', 1, False)


async def test_a_step_row_keeps_the_kind_and_target_it_was_created_with(store: Store) -> None:
    iid = await create(store)
    assert await store.commit(Change(iid, steps=[StepWrite("k", "sleep", "nap-1")]))
    assert await store.commit(Change(iid, steps=[StepWrite("k", "do", "other-1", state="done")]))
    step = (await store.load_history(iid)).steps["k"]
    assert (step.kind, step.target, step.state) == ("sleep", "nap-1", "done")


async def test_timers_are_set_replaced_and_cleared_by_cache_key_and_kind(store: Store) -> None:
    iid = await create(store)
    assert await store.commit(Change(iid, set_timers=[TimerRecord("k", "sleep", 50.0),
                                                      TimerRecord("k", "retry", 60.0),
                                                      TimerRecord("j", "sleep", 70.0)]))
    assert await store.commit(Change(iid, set_timers=[TimerRecord("k", "sleep", 55.0)],
                                     clear_timers=[("k", "retry"), ("absent", "sleep")]))
    assert (await store.load_history(iid)).timers == {
        ("k", "sleep"): TimerRecord("k", "sleep", 55.0), ("j", "sleep"): TimerRecord("j", "sleep", 70.0)}


async def test_a_timer_set_and_cleared_in_one_change_is_cleared(store: Store) -> None:
    iid = await create(store)
    assert await store.commit(Change(iid, set_timers=[TimerRecord("k", "sleep", 50.0)],
                                     clear_timers=[("k", "sleep")]))
    assert (await store.load_history(iid)).timers == {}


async def test_a_shift_moves_the_timers_stored_before_the_change_not_the_ones_it_sets(
        store: Store) -> None:
    iid = await create(store)
    other = await create(store, "b")
    for target in (iid, other):
        assert await store.commit(Change(target, set_timers=[TimerRecord("old", "sleep", 100.0)]))
    assert await store.commit(Change(iid, shift_timers_ms=25.0,
                                     set_timers=[TimerRecord("new", "retry", 500.0)]))
    assert (await store.load_history(iid)).timers == {
        ("old", "sleep"): TimerRecord("old", "sleep", 125.0),
        ("new", "retry"): TimerRecord("new", "retry", 500.0)}
    assert (await store.load_history(other)).timers == {
        ("old", "sleep"): TimerRecord("old", "sleep", 100.0)}


async def test_consumed_events_leave_the_inbox(store: Store) -> None:
    iid = await create(store)
    first = await store.add_event(iid, "go", '{"x":1}', 10.0)
    second = await store.add_event(iid, "go", None, 11.0)
    assert first is not None and second is not None
    assert await store.commit(Change(iid, consume_events=[(first, "wait-key")]))
    assert [e.seq for e in await store.load_inbox(iid)] == [second]
    assert [e.seq for e in (await store.load_history(iid)).inbox] == [second]


async def test_an_instance_update_sets_what_it_names_clears_none_and_leaves_unset(
        store: Store) -> None:
    iid = await create(store)
    assert await store.commit(Change(iid, instance=InstanceUpdate(
        status=InstanceStatus.RUNNING, output_json="1", error_json='"e"', runnable_at=77.0,
        lease_owner="me", lease_expires=88.0, paused_at=99.0, version_id="v2", control='{"a":1}',
        lifetime=3)))
    before = await record(store, iid)
    assert (before.status, before.output_json, before.error_json, before.runnable_at,
            before.lease_owner, before.lease_expires, before.paused_at, before.version_id,
            before.control, before.lifetime) == (InstanceStatus.RUNNING, "1", '"e"', 77.0, "me",
                                                 88.0, 99.0, "v2", '{"a":1}', 3)
    assert await store.commit(Change(iid, instance=InstanceUpdate(output_json=None,
                                                                  runnable_at=None)))
    after = await record(store, iid)
    assert (after.output_json, after.runnable_at) == (None, None)
    assert after == replace(before, output_json=None, runnable_at=None)


async def test_a_signal_bump_changes_the_signal(store: Store) -> None:
    iid = await create(store)
    start = (await record(store, iid)).signal
    assert await store.commit(Change(iid, instance=InstanceUpdate(bump_signal=True)))
    bumped = (await record(store, iid)).signal
    assert bumped != start
    assert await store.commit(Change(iid, instance=InstanceUpdate(bump_signal=True)))
    assert (await record(store, iid)).signal not in (start, bumped)


async def test_an_empty_change_commits_and_writes_nothing(store: Store) -> None:
    iid = await create(store)
    before = await snapshot(store, iid)
    assert await store.commit(Change(iid)) is True
    assert await snapshot(store, iid) == before


# -- guards (compare-and-set) -----------------------------------------------------------------------


def _guarded_write(iid: int, **guard: object) -> Change:
    return Change(iid, log=[row()], steps=[StepWrite("k", "do", "k-1", state="done")],
                  set_timers=[TimerRecord("k", "retry", 5.0)],
                  instance=InstanceUpdate(status=InstanceStatus.COMPLETE), **guard)  # type: ignore[arg-type]


async def _leased(store: Store) -> int:
    iid = await create(store)
    assert await store.commit(Change(iid, instance=InstanceUpdate(
        status=InstanceStatus.RUNNING, lease_owner="engine-1", lease_expires=1e12, lifetime=2)))
    assert await store.commit(Change(iid, instance=InstanceUpdate(bump_signal=True)))
    return iid


@pytest.mark.parametrize("guard", [
    {"expect_status": InstanceStatus.WAITING},
    {"expect_owner": "engine-2"},
    {"expect_owner": None},
    {"expect_lifetime": 1},
    {"expect_signal": 0},
    {"expect_status": InstanceStatus.RUNNING, "expect_owner": "engine-1", "expect_lifetime": 1},
], ids=["status", "owner", "unleased", "lifetime", "signal", "one-of-three"])
async def test_a_change_whose_guard_fails_writes_nothing_and_resolves_false(
        store: Store, guard: dict[str, object]) -> None:
    iid = await _leased(store)
    before = await snapshot(store, iid)
    assert await store.commit(_guarded_write(iid, **guard)) is False
    assert await snapshot(store, iid) == before


async def test_a_change_whose_guards_all_hold_is_applied(store: Store) -> None:
    iid = await _leased(store)
    signal = (await record(store, iid)).signal
    assert await store.commit(_guarded_write(
        iid, expect_status=InstanceStatus.RUNNING, expect_owner="engine-1", expect_lifetime=2,
        expect_signal=signal)) is True
    assert (await record(store, iid)).status is InstanceStatus.COMPLETE
    assert (await store.load_history(iid)).steps["k"].state == "done"


async def test_an_owner_guard_of_none_means_nobody_holds_the_lease(store: Store) -> None:
    iid = await create(store)
    assert await store.commit(Change(iid, log=[row()], expect_owner=None)) is True
    assert await store.commit(Change(iid, instance=InstanceUpdate(lease_owner="engine-1")))
    assert await store.commit(Change(iid, log=[row()], expect_owner=None)) is False
    assert Change(iid).expect_owner is UNSET  # no owner guard unless one is asked for


async def test_a_change_for_an_instance_that_does_not_exist_writes_nothing(store: Store) -> None:
    """Guarded or not: a lifetime may still write after its instance was deleted elsewhere."""
    iid = await create(store)
    await store.delete_instances("wf", ["a"])
    plain = Change(iid, log=[row()], steps=[StepWrite("k", "do", "k-1", state="done")],
                   set_timers=[TimerRecord("k", "sleep", 1.0)])
    assert await store.commit(plain) is False
    assert await store.commit(_guarded_write(iid, expect_status=InstanceStatus.QUEUED)) is False
    assert await store.commit(Change(iid, wipe_all=True, log=[row()])) is False
    assert await store.read_log(iid) == []
    history = await store.load_history(iid)
    assert (history.steps, history.timers) == ({}, {})


# -- wipes (restart) --------------------------------------------------------------------------------


async def _with_history(store: Store) -> int:
    iid = await create(store)
    change = Change(iid).logs(
        NewLogEvent(EventType.WORKFLOW_RUNNING, 2.0),
        NewLogEvent(EventType.STEP_START, 3.0, "k1", "one-1"),
        NewLogEvent(EventType.STEP_SUCCESS, 4.0, "k1", "one-1"),
        NewLogEvent(EventType.STEP_START, 5.0, "k2", "two-1"),
        NewLogEvent(EventType.SLEEP_START, 6.0, "k3", "nap-1"),
        NewLogEvent(EventType.WORKFLOW_SUCCESS, 7.0))
    change.steps += [StepWrite("k1", "do", "one-1", "done", "1"), StepWrite("k2", "do", "two-1"),
                     StepWrite("k3", "sleep", "nap-1")]
    change.set_timers += [TimerRecord("k2", "retry", 10.0), TimerRecord("k3", "sleep", 20.0)]
    assert await store.commit(change)
    await store.add_event(iid, "go", None, 8.0)
    return iid


async def test_a_full_wipe_leaves_only_what_the_change_writes_and_the_instance_row(
        store: Store) -> None:
    iid = await _with_history(store)
    assert await store.commit(Change(iid, wipe_all=True, instance=InstanceUpdate(lifetime=1)).logs(
        NewLogEvent(EventType.WORKFLOW_QUEUED, 30.0, metadata={"params": {}}),
        NewLogEvent(EventType.WORKFLOW_START, 30.0)))
    assert [(r.event, r.timestamp_ms) for r in await store.read_log(iid)] == [
        (EventType.WORKFLOW_QUEUED, 30.0), (EventType.WORKFLOW_START, 30.0)]
    history = await store.load_history(iid)
    assert (history.steps, history.timers, history.inbox) == ({}, {}, [])
    assert (await record(store, iid)).lifetime == 1


async def test_a_wipe_from_a_step_removes_those_steps_and_the_run_s_own_rows(store: Store) -> None:
    iid = await _with_history(store)
    assert await store.commit(Change(iid, wipe_keys=["k2", "k3"], wipe_run_rows=True))
    log = await store.read_log(iid)
    assert [(r.event, r.group_key) for r in log] == [
        (EventType.WORKFLOW_QUEUED, None), (EventType.WORKFLOW_START, None),
        (EventType.STEP_START, "k1"), (EventType.STEP_SUCCESS, "k1")]
    history = await store.load_history(iid)
    assert list(history.steps) == ["k1"] and history.timers == {}
    assert len(history.inbox) == 1  # events sent are kept
