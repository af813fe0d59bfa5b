"""The port's promises about order, grouping and durability (see the ``Store`` docstring)."""

from __future__ import annotations

import asyncio

import pytest
from backends import StoreFactory
from storekit import WORKFLOW, create, new, record, row, snapshot

from pyflow_cli.engine.changes import Change, InstanceUpdate, StepWrite
from pyflow_cli.engine.errors import StorageError
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import Store, TimerRecord


def _value(iid: int, value: str) -> Change:
    return Change(iid, log=[row(ts=float(value))], steps=[StepWrite("k", "do", "k-1", value_json=value)])


async def test_commits_are_applied_in_the_order_they_were_called(store: Store) -> None:
    iid = await create(store)
    pending = [store.commit(_value(iid, str(n)), urgent=n % 3 == 0) for n in range(1, 30)]
    assert await asyncio.gather(*pending) == [True] * 29
    assert (await store.load_history(iid)).steps["k"].value_json == "29"
    assert [r.timestamp_ms for r in await store.read_log(iid)][2:] == [float(n) for n in range(1, 30)]


async def test_commits_in_one_group_are_applied_in_the_order_they_were_called(
        store_factory: StoreFactory) -> None:
    store = await store_factory.open()
    iid = await create(store)
    async with store_factory.hold_commits(store):
        pending = [store.commit(_value(iid, str(n))) for n in range(1, 30)]
    assert await asyncio.gather(*pending) == [True] * 29
    assert (await store.load_history(iid)).steps["k"].value_json == "29"
    assert [r.timestamp_ms for r in await store.read_log(iid)][2:] == [float(n) for n in range(1, 30)]


async def test_a_guard_sees_every_write_committed_before_it_in_the_same_group(
        store_factory: StoreFactory) -> None:
    store = await store_factory.open()
    iid = await create(store)
    async with store_factory.hold_commits(store):
        running = store.commit(Change(iid, instance=InstanceUpdate(status=InstanceStatus.RUNNING)))
        held = store.commit(Change(iid, log=[row()], expect_status=InstanceStatus.RUNNING,
                                   instance=InstanceUpdate(lease_owner="me")))
        stale = store.commit(Change(iid, log=[row()], expect_status=InstanceStatus.QUEUED))
        owned = store.commit(Change(iid, expect_owner="me",
                                    instance=InstanceUpdate(status=InstanceStatus.COMPLETE)))
    assert [await running, await held, await stale, await owned] == [True, True, False, True]
    assert (await record(store, iid)).status is InstanceStatus.COMPLETE
    assert len(await store.read_log(iid)) == 3


async def test_the_other_writes_take_their_place_in_the_same_order(store: Store) -> None:
    """A commit called before an awaited write is applied before it, whatever the method."""
    iid = await create(store)
    before_delete = store.commit(_value(iid, "1"))
    assert await store.delete_instances(WORKFLOW, ["a"]) == ["a"]
    assert await before_delete is True  # applied, then deleted
    assert await store.commit(_value(iid, "2")) is False  # the instance is gone

    again = await create(store, "b")  # runnable from 1000.0 on
    paused = store.commit(Change(again, instance=InstanceUpdate(status=InstanceStatus.PAUSED)))
    await store.add_event(again, "go", None, 1.0)  # would wake it at 1.0 if it were not paused
    assert await paused is True
    assert (await record(store, again)).runnable_at == 1000.0


async def test_each_change_of_a_group_is_applied_atomically_and_a_failing_one_alone_fails(
        store_factory: StoreFactory) -> None:
    """Many changes of many instances share one group; one the backend cannot apply fails alone,
    with none of its rows written, and the others are applied."""
    store = await store_factory.open()
    iids = [await create(store, f"i{n}") for n in range(4)]
    broken = Change(iids[1], log=[row(ts=1.0)], set_timers=[TimerRecord("t", "sleep", 1.0)],
                    steps=[StepWrite("k", None, "k-1")])  # type: ignore[arg-type]  # kind is required
    before = await snapshot(store, iids[1])
    async with store_factory.hold_commits(store):
        good = [store.commit(_value(iid, "7")) for iid in iids]
        bad = store.commit(broken)
        guarded = store.commit(Change(iids[2], log=[row()], expect_status=InstanceStatus.QUEUED))
        later = store.commit(_value(iids[0], "8"))
    assert await asyncio.gather(*good) == [True] * 4
    with pytest.raises(Exception):  # noqa: B017  # the backend's own error
        await bad
    assert (await guarded, await later) == (True, True)
    assert (await snapshot(store, iids[1])).timers == before.timers
    assert len(await store.read_log(iids[1])) == 3  # its own _value row only
    assert [(await store.load_history(i)).steps["k"].value_json for i in iids] == ["8", "7", "7", "7"]


async def test_log_sequence_numbers_count_each_instance_s_rows_and_a_tail_misses_nothing(
        store_factory: StoreFactory) -> None:
    """Each instance numbers its rows 1, 2, 3... in the order they are committed, without gaps;
    a row never shows up below one already seen, so reading on from the last sequence number
    seen (``after_seq``) misses nothing."""
    store = await store_factory.open()
    iids = [await create(store, f"i{n}") for n in range(3)]
    seen: dict[int, list[int]] = {iid: [r.seq for r in await store.read_log(iid)] for iid in iids}
    for turn in range(12):
        if turn % 4 == 0:
            async with store_factory.hold_commits(store):
                pending = [store.commit(Change(iid, log=[row(ts=turn), row(ts=turn + 0.5)]))
                           for iid in iids]
        else:
            pending = [store.commit(Change(iids[turn % 3], log=[row(ts=turn), row(ts=turn + 0.5)]))]
        await asyncio.gather(*pending)
        for iid in iids:
            tail = await store.read_log(iid, after_seq=seen[iid][-1])
            seen[iid] += [r.seq for r in tail]
    for iid in iids:
        log = await store.read_log(iid)
        assert [r.seq for r in log] == seen[iid] == list(range(1, len(log) + 1))
        # The rows of one change stand next to each other, in the order written.
        stamps = [r.timestamp_ms for r in log[2:]]
        assert all(stamps[n + 1] == stamps[n] + 0.5 for n in range(0, len(stamps), 2))
        assert stamps == sorted(stamps)


async def test_log_numbers_go_on_after_rows_a_restart_wiped_and_never_go_back(
        store: Store) -> None:
    """A reader that saw rows up to n before a restart wiped them reads on after n: the new
    rows must be numbered above it."""
    iid = await create(store)
    assert await store.commit(Change(iid, log=[row(key="k1"), row(key="k2"), row(key="k3")]))
    assert [r.seq for r in await store.read_log(iid)] == [1, 2, 3, 4, 5]
    assert await store.commit(Change(iid, wipe_keys=["k2"], log=[row(key="k4")]))
    assert [r.seq for r in await store.read_log(iid)] == [1, 2, 3, 5, 6]
    assert [r.group_key for r in await store.read_log(iid, after_seq=5)] == ["k4"]
    assert await store.commit(Change(iid, wipe_all=True, log=[row(key=None), row(key="k5")]))
    assert [r.seq for r in await store.read_log(iid)] == [7, 8]
    other = await create(store, "b")
    assert [r.seq for r in await store.read_log(other)] == [1, 2]  # every instance on its own


async def test_a_commit_resolves_only_once_another_store_on_the_same_location_sees_it(
        store_factory: StoreFactory) -> None:
    location = store_factory.new_location()
    store = await store_factory.open(location)
    iid = await create(store)
    observer = await store_factory.open(location)
    for n in range(5):
        pending = store.commit(_value(iid, str(n)), urgent=n % 2 == 0)
        assert await pending is True
        assert (await observer.load_history(iid)).steps["k"].value_json == str(n)
        assert len(await observer.read_log(iid)) == 3 + n


async def test_a_write_nobody_urgently_waits_for_is_still_committed(store: Store) -> None:
    iid = await create(store)
    assert await asyncio.wait_for(store.commit(_value(iid, "1"), urgent=False), 5) is True
    assert (await store.load_history(iid)).steps["k"].value_json == "1"


async def test_cancelling_the_awaitable_does_not_cancel_the_write(store: Store) -> None:
    iid = await create(store)
    pending = store.commit(_value(iid, "1"))
    assert isinstance(pending, asyncio.Future)
    pending.cancel()
    await store.commit(Change(iid))  # any later write resolves after the first is applied
    assert (await store.load_history(iid)).steps["k"].value_json == "1"


async def test_closing_applies_every_write_already_called_and_resolves_it(
        store_factory: StoreFactory) -> None:
    location = store_factory.new_location()
    store = await store_factory.open(location)
    iids = await store.create_instances([new(f"i{n}") for n in range(10)])
    pending = [store.commit(_value(iid or 0, "9"), urgent=False) for iid in iids]
    pending.append(store.commit(Change(iids[0] or 0, log=[row(EventType.WORKFLOW_SUCCESS)])))
    await store_factory.close(store)
    assert await asyncio.gather(*pending) == [True] * 11
    reopened = await store_factory.open(location)
    for iid in iids:
        assert iid is not None
        assert (await reopened.load_history(iid)).steps["k"].value_json == "9"
    assert (await reopened.read_log(iids[0] or 0))[-1].event is EventType.WORKFLOW_SUCCESS


async def test_a_commit_after_close_fails_with_a_storage_error(store_factory: StoreFactory) -> None:
    store = await store_factory.open()
    iid = await create(store)
    await store_factory.close(store)
    with pytest.raises(StorageError):
        await store.commit(_value(iid, "1"))


async def test_a_closed_store_reopens_with_everything_it_committed(
        store_factory: StoreFactory) -> None:
    location = store_factory.new_location()
    store = await store_factory.open(location)
    iid = await create(store)
    assert await store.commit(_value(iid, "5"))
    before = await snapshot(store, iid)
    await store_factory.close(store)
    reopened = await store_factory.open(location)
    assert await snapshot(reopened, iid) == before
