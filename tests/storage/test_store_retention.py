"""Retention in the store: finished instances that ended before a time are deleted with every
row they own, in bounded batches; nothing unfinished or leased is touched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from backends import SqliteFactory
from storekit import WORKFLOW, create, row

from pyflow_cli.engine.changes import Change, InstanceUpdate, NewLogEvent, StepWrite
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.retention import PurgeQuery
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import Store, TimerRecord

_ENDS = {InstanceStatus.COMPLETE: EventType.WORKFLOW_SUCCESS,
         InstanceStatus.ERRORED: EventType.WORKFLOW_FAILURE,
         InstanceStatus.TERMINATED: EventType.WORKFLOW_TERMINATED}


async def _finished(store: Store, instance_id: str, status: InstanceStatus, ended: float,
                    workflow: str = WORKFLOW, value: str = '"v"') -> int:
    """An instance with a step, a timer and an event that ended (its last row) at ``ended``."""
    iid = await create(store, instance_id, workflow=workflow)
    await store.add_event(iid, "go", None, ended - 1)
    assert await store.commit(Change(iid, log=[row(ts=ended - 1)],
                                     steps=[StepWrite("k", "do", "k-1", "done", value)],
                                     set_timers=[TimerRecord("k", "retry", ended + 5)]))
    assert await store.commit(Change(iid, log=[NewLogEvent(_ENDS[status], ended)],
                                     instance=InstanceUpdate(status=status)))
    return iid


async def _gone(store: Store, iid: int) -> bool:
    history = await store.load_history(iid)
    return (await store.get_instance_by_iid(iid) is None and not await store.read_log(iid)
            and not history.steps and not history.timers and not history.inbox)


async def test_finished_instances_that_ended_before_the_time_go_with_every_row(
        store: Store) -> None:
    old = [await _finished(store, f"old-{s.value}", s, 100.0) for s in _ENDS]
    recent = await _finished(store, "recent", InstanceStatus.COMPLETE, 500.0)
    running = await create(store, "running", created_ms=10.0)
    assert await store.commit(Change(running, instance=InstanceUpdate(
        status=InstanceStatus.RUNNING)))
    query = PurgeQuery(200.0)
    assert await store.count_purgeable(query) == 3
    assert await store.purge_finished(query, 10) == 3
    for iid in old:
        assert await _gone(store, iid)
    assert await store.get_instance_by_iid(recent) is not None
    assert (await store.get_instance_by_iid(running)) is not None
    assert await store.purge_finished(query, 10) == 0
    assert await store.status_counts(WORKFLOW) == {"complete": 1, "running": 1}


async def test_a_purge_deletes_at_most_its_limit_oldest_first(store: Store) -> None:
    iids = [await _finished(store, f"i{n}", InstanceStatus.COMPLETE, 100.0 + n) for n in range(5)]
    assert await store.purge_finished(PurgeQuery(1000.0), 2) == 2
    assert [await store.get_instance_by_iid(iid) is None for iid in iids] == [True, True, False,
                                                                               False, False]


async def test_a_purge_keeps_to_its_workflow_and_statuses(store: Store) -> None:
    errored = await _finished(store, "e", InstanceStatus.ERRORED, 100.0)
    complete = await _finished(store, "c", InstanceStatus.COMPLETE, 100.0)
    elsewhere = await _finished(store, "x", InstanceStatus.ERRORED, 100.0, workflow="other")
    query = PurgeQuery(200.0, WORKFLOW, (InstanceStatus.ERRORED,))
    assert await store.count_purgeable(query) == 1
    assert await store.purge_finished(query, 10) == 1
    assert await _gone(store, errored)
    assert await store.get_instance_by_iid(complete) is not None
    assert await store.get_instance_by_iid(elsewhere) is not None
    with pytest.raises(ValueError, match="only finished instances"):
        PurgeQuery(200.0, statuses=(InstanceStatus.RUNNING,))


async def test_an_instance_restarted_or_leased_since_it_ended_is_kept(store: Store) -> None:
    restarted = await _finished(store, "restarted", InstanceStatus.ERRORED, 100.0)
    assert await store.commit(Change(restarted, instance=InstanceUpdate(
        status=InstanceStatus.QUEUED, runnable_at=300.0)))
    held = await _finished(store, "held", InstanceStatus.TERMINATED, 100.0)
    assert await store.commit(Change(held, instance=InstanceUpdate(lease_owner="e",
                                                                   lease_expires=900.0)))
    assert await store.purge_finished(PurgeQuery(1000.0), 10) == 0
    # Finished again later: it is old once that end is.
    assert await store.commit(Change(restarted, log=[NewLogEvent(EventType.WORKFLOW_SUCCESS, 700.0)],
                                     instance=InstanceUpdate(status=InstanceStatus.COMPLETE)))
    assert await store.purge_finished(PurgeQuery(650.0), 10) == 0
    assert await store.purge_finished(PurgeQuery(701.0), 10) == 1


async def test_the_sqlite_file_shrinks_after_a_purge(tmp_path: Path) -> None:
    factory = SqliteFactory(tmp_path)
    location = factory.new_location()
    store = await factory.open(location)
    big = '"' + "x" * 20_000 + '"'
    for n in range(200):
        await _finished(store, f"i{n}", InstanceStatus.COMPLETE, 100.0, value=big)
    keep = await _finished(store, "keep", InstanceStatus.COMPLETE, 900.0, value=big)
    await factory.close(store)  # the last connection checkpoints the log into the file
    path = Path(location) / "pyflow.sqlite"
    before = os.path.getsize(path)
    store = await factory.open(location)
    assert await store.purge_finished(PurgeQuery(500.0), 1000) == 200
    await factory.close(store)
    after = os.path.getsize(path)
    assert after < before / 10, (before, after)
    store = await factory.open(location)
    assert (await store.load_history(keep)).steps["k"].value_json == big
    await factory.close(store)  # an open store's aiosqlite thread would keep pytest from exiting
