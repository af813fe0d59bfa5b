"""What a cluster of processes keeps in the store besides instances: engines described (kind,
workflows, start), the runner of each attempt, and roles one process holds at a time."""

from __future__ import annotations

import asyncio

from backends import StoreFactory
from storekit import WORKFLOW, create, logged

from pyflow_cli.engine.changes import NewLogEvent
from pyflow_cli.engine.events import EventType, Runner
from pyflow_cli.engine.store import EngineRecord, LogQuery, Store


async def test_an_engine_is_recorded_with_its_kind_workflows_and_start(store: Store) -> None:
    engine = EngineRecord("engine-1", 11, "host-a", 5.0, "v9", "worker", ("a", "b"), 1.5)
    await store.register_engine(engine)
    await store.register_engine(EngineRecord("engine-2", 22, "host-b", 6.0))  # as an older pyflow
    assert sorted(await store.list_engines(), key=lambda e: e.id) == [
        engine, EngineRecord("engine-2", 22, "host-b", 6.0)]


async def test_an_attempt_start_keeps_its_runner_and_other_rows_have_none(store: Store) -> None:
    iid = await create(store)
    started = NewLogEvent(EventType.ATTEMPT_START, 5.0, "k", "t-1", {"attempt": 1},
                          version="v9", runner=Runner("engine-1", "v9"))
    unversioned = NewLogEvent(EventType.ATTEMPT_START, 6.0, "k", "t-1", {"attempt": 2},
                              runner=Runner("engine-2", None))
    assert await store.commit(logged(started, NewLogEvent(EventType.ATTEMPT_SUCCESS, 5.5, "k"),
                                     unversioned, iid=iid))
    rows = await store.read_log(iid)
    assert [(r.event, r.metadata, r.runner) for r in rows[2:]] == [
        (EventType.ATTEMPT_START, {"attempt": 1}, Runner("engine-1", "v9")),
        (EventType.ATTEMPT_SUCCESS, {}, None),
        (EventType.ATTEMPT_START, {"attempt": 2}, Runner("engine-2", None))]
    newest = await store.read_workflow_log(WORKFLOW, LogQuery(limit=1))
    assert newest[0].row.runner == Runner("engine-2", None)


async def test_a_role_has_one_holder_until_its_time_runs_out(store: Store) -> None:
    assert await store.hold_role("crons", "engine-1", 100.0, 200.0)
    assert await store.hold_role("crons", "engine-1", 150.0, 250.0)  # kept, and extended
    assert not await store.hold_role("crons", "engine-2", 240.0, 340.0)
    assert not await store.hold_role("crons", "engine-2", 250.0, 350.0)  # expires at 250
    assert await store.hold_role("other", "engine-2", 250.0, 350.0)  # roles are separate
    assert await store.hold_role("crons", "engine-2", 250.5, 350.0)
    assert not await store.hold_role("crons", "engine-1", 260.0, 360.0)  # lost it


async def test_a_released_role_may_be_taken_at_once(store: Store) -> None:
    assert await store.hold_role("crons", "engine-1", 100.0, 200.0)
    await store.release_role("crons", "engine-2")  # not the holder: nothing happens
    assert not await store.hold_role("crons", "engine-2", 110.0, 210.0)
    await store.release_role("crons", "engine-1")
    assert await store.hold_role("crons", "engine-2", 110.0, 210.0)


async def test_an_unregistered_engine_gives_up_its_roles(store: Store) -> None:
    await store.register_engine(EngineRecord("engine-1", 11, "host-a", 5.0))
    assert await store.hold_role("crons", "engine-1", 100.0, 200.0)
    await store.unregister_engine("engine-1")
    assert await store.hold_role("crons", "engine-2", 110.0, 210.0)


async def test_processes_asking_for_a_role_at_once_never_both_get_it(
        store_factory: StoreFactory) -> None:
    location = store_factory.new_location()
    stores = [await store_factory.open(location) for _ in range(3)]
    for round_ in range(5):
        now = 1000.0 * (round_ + 1)  # every earlier holder has expired
        held = await asyncio.gather(*(s.hold_role("crons", f"engine-{n}", now, now + 500.0)
                                      for n, s in enumerate(stores)))
        assert sum(held) == 1, held
