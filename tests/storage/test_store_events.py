"""Events and histories: add_event, load_inbox, read_log, load_history(ies)."""

from __future__ import annotations

import pytest
from storekit import WORKFLOW, create, new, record, row

from pyflow_cli.engine.changes import Change, InstanceUpdate, StepWrite
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import InboxEvent, StepRecord, Store, TimerRecord


async def test_events_queue_oldest_first_with_increasing_sequence_numbers(store: Store) -> None:
    iid = await create(store)
    other = await create(store, "b")
    seqs = [await store.add_event(iid, "go", '{"n":1}', 10.0),
            await store.add_event(other, "go", None, 11.0),
            await store.add_event(iid, "stop", None, 12.0)]
    assert seqs[0] is not None and seqs[2] is not None
    assert seqs == sorted(set(seqs))  # type: ignore[type-var]
    assert await store.load_inbox(iid) == [InboxEvent(seqs[0], "go", '{"n":1}', 10.0),
                                           InboxEvent(seqs[2], "stop", None, 12.0)]
    assert (await store.load_history(iid)).inbox == await store.load_inbox(iid)


async def test_an_event_changes_the_signal(store: Store) -> None:
    iid = await create(store)
    start = (await record(store, iid)).signal
    await store.add_event(iid, "go", None, 10.0)
    assert (await record(store, iid)).signal != start


@pytest.mark.parametrize(("status", "runnable_at", "woken_at"), [
    (InstanceStatus.WAITING, 5000.0, 10.0),
    (InstanceStatus.WAITING, None, 10.0),
    (InstanceStatus.WAITING, 5.0, 5.0),  # due earlier already
    (InstanceStatus.RUNNING, 5000.0, 10.0),
    (InstanceStatus.QUEUED, 5000.0, 10.0),
    (InstanceStatus.WAITING_FOR_PAUSE, 5000.0, 10.0),
    (InstanceStatus.PAUSED, None, None),
    (InstanceStatus.COMPLETE, None, None),
    (InstanceStatus.ERRORED, None, None),
    (InstanceStatus.TERMINATED, None, None),
])
async def test_an_event_wakes_an_active_instance_by_its_timestamp_and_no_other(
        store: Store, status: InstanceStatus, runnable_at: float | None,
        woken_at: float | None) -> None:
    iid = await create(store)
    assert await store.commit(Change(iid, instance=InstanceUpdate(status=status,
                                                                  runnable_at=runnable_at)))
    await store.add_event(iid, "go", None, 10.0)
    assert (await record(store, iid)).runnable_at == woken_at
    assert len(await store.load_inbox(iid)) == 1  # kept either way


async def test_an_event_for_an_instance_that_does_not_exist_is_not_stored(store: Store) -> None:
    iid = await create(store)
    await store.delete_instances(WORKFLOW, ["a"])
    assert await store.add_event(iid, "go", None, 10.0) is None
    assert await store.load_inbox(iid) == []


async def test_reading_the_log_after_a_sequence_number_returns_the_later_rows(store: Store) -> None:
    iid = await create(store)
    assert await store.commit(Change(iid, log=[row(ts=1.0), row(ts=2.0), row(ts=3.0)]))
    log = await store.read_log(iid)
    assert await store.read_log(iid, after_seq=0) == log
    assert await store.read_log(iid, after_seq=log[2].seq) == log[3:]
    assert await store.read_log(iid, after_seq=log[-1].seq) == []


async def test_a_history_holds_steps_timers_and_unconsumed_events(store: Store) -> None:
    iid = await create(store)
    first = await store.add_event(iid, "go", '"x"', 1.0)
    second = await store.add_event(iid, "go", None, 2.0)
    assert first is not None and second is not None
    assert await store.commit(Change(
        iid, steps=[StepWrite("k1", "do", "one-1", "done", "1", None, '{"retries":{}}', 2, False),
                    StepWrite("k2", "wait", "w-1", "started")],
        set_timers=[TimerRecord("k2", "timeout", 99.0), TimerRecord("k3", "retry", 77.0)],
        consume_events=[(first, "k2")]))
    history = await store.load_history(iid)
    assert history.steps == {
        "k1": StepRecord("k1", "do", "one-1", "done", "1", None, '{"retries":{}}', 2, False),
        "k2": StepRecord("k2", "wait", "w-1", "started", None, None, None, 0, False)}
    assert history.timers == {("k2", "timeout"): TimerRecord("k2", "timeout", 99.0),
                              ("k3", "retry"): TimerRecord("k3", "retry", 77.0)}
    assert history.inbox == [InboxEvent(second, "go", None, 2.0)]


async def test_histories_of_many_instances_at_once_match_their_single_histories(
        store: Store) -> None:
    iids = [iid for iid in await store.create_instances([new(f"i{n}") for n in range(620)])
            if iid is not None]
    for n, iid in enumerate(iids[::60]):
        await store.add_event(iid, "go", None, float(n))
        assert await store.commit(Change(iid, steps=[StepWrite(f"k{n}", "do", "t", "done")],
                                         set_timers=[TimerRecord(f"k{n}", "sleep", float(n))]))
    wanted = [*iids, 999_999]
    histories = await store.load_histories(wanted)
    assert set(histories) == set(wanted)
    for iid in iids[::60] + iids[1:3] + [999_999]:
        assert histories[iid] == await store.load_history(iid)
    assert sum(len(h.steps) for h in histories.values()) == len(iids[::60])
    assert await store.load_histories([]) == {}


async def test_log_rows_keep_their_event_type(store: Store) -> None:
    iid = await create(store)
    events = [e for e in EventType if e not in (EventType.WORKFLOW_QUEUED, EventType.WORKFLOW_START)]
    assert await store.commit(Change(iid, log=[row(e, ts=float(n)) for n, e in enumerate(events)]))
    assert [r.event for r in await store.read_log(iid)][2:] == events


async def test_pending_timers_read_as_stored_shifted_and_cleared(store: Store) -> None:
    iid = await create(store)
    assert await store.read_timers(iid) == []
    assert await store.commit(Change(iid, set_timers=[TimerRecord("k", "sleep", 50.0),
                                                      TimerRecord("j", "retry", 60.0)]))
    assert sorted(await store.read_timers(iid), key=lambda t: t.cache_key) == [
        TimerRecord("j", "retry", 60.0), TimerRecord("k", "sleep", 50.0)]
    assert await store.commit(Change(iid, shift_timers_ms=100.0, clear_timers=[("j", "retry")]))
    assert await store.read_timers(iid) == [TimerRecord("k", "sleep", 150.0)]
    assert await store.read_timers(999_999) == []
