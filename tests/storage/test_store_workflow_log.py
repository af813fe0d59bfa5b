"""What the explorer reads across instances: a workflow's event log (read_workflow_log) and the
engines connected to the store with the version of the code they run."""

from __future__ import annotations

from storekit import WORKFLOW, create, logged, row

from pyflow_cli.engine.changes import NewLogEvent
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.store import EngineRecord, LogQuery, Store


async def _seeded(store: Store) -> None:
    """Two instances of the workflow and one of another, each with a few rows after the two
    that creating an instance writes (queued, start)."""
    first = await create(store, "first", created_ms=1.0)
    second = await create(store, "second", created_ms=2.0)
    other = await create(store, "elsewhere", workflow="other", created_ms=3.0)
    assert await store.commit(logged(row(EventType.STEP_START, 10.0, "charge card-1"), iid=first))
    assert await store.commit(logged(row(EventType.STEP_START, 20.0, "Ship box-1"), iid=second))
    assert await store.commit(logged(row(EventType.STEP_START, 25.0, "charge card-1"), iid=other))
    assert await store.commit(logged(
        row(EventType.ATTEMPT_FAILURE, 30.0, "charge card-1", error={"message": "declined"}),
        NewLogEvent(EventType.WORKFLOW_FAILURE, 40.0, None, None, {}), iid=first))


def _shown(found: list) -> list[tuple[str, EventType, str | None]]:  # type: ignore[type-arg]
    return [(f.instance_id, f.row.event, f.row.target) for f in found]


async def test_a_workflows_log_is_every_row_of_its_instances_newest_first(store: Store) -> None:
    await _seeded(store)
    found = await store.read_workflow_log(WORKFLOW, LogQuery())
    assert _shown(found)[:4] == [
        ("first", EventType.WORKFLOW_FAILURE, None),
        ("first", EventType.ATTEMPT_FAILURE, "charge card-1-target"),
        ("second", EventType.STEP_START, "Ship box-1-target"),
        ("first", EventType.STEP_START, "charge card-1-target")]
    assert {f.instance_id for f in found} == {"first", "second"}
    assert len(found) == 8  # queued and start rows of both instances too
    positions = [f.position for f in found]
    assert positions == sorted(set(positions), reverse=True)
    assert found[1].row.metadata == {"error": {"message": "declined"}}
    assert await store.read_workflow_log("nobody", LogQuery()) == []


async def test_the_log_filters_by_event_step_time_and_sequence(store: Store) -> None:
    await _seeded(store)
    steps = await store.read_workflow_log(WORKFLOW, LogQuery(events=(EventType.STEP_START,)))
    assert _shown(steps) == [("second", EventType.STEP_START, "Ship box-1-target"),
                             ("first", EventType.STEP_START, "charge card-1-target")]
    by_name = await store.read_workflow_log(WORKFLOW, LogQuery(step="SHIP"))
    assert _shown(by_name) == [("second", EventType.STEP_START, "Ship box-1-target")]
    assert await store.read_workflow_log(WORKFLOW, LogQuery(step="%")) == []
    window = await store.read_workflow_log(WORKFLOW, LogQuery(since_ms=20.0, until_ms=40.0))
    assert [f.row.timestamp_ms for f in window] == [30.0, 20.0]
    newest, *_ = await store.read_workflow_log(WORKFLOW, LogQuery())
    older = await store.read_workflow_log(WORKFLOW, LogQuery(before=newest.position, limit=2))
    assert [f.row.event for f in older] == [EventType.ATTEMPT_FAILURE, EventType.STEP_START]
    newer = await store.read_workflow_log(WORKFLOW, LogQuery(after=older[-1].position))
    assert [f.position for f in newer] == [newest.position, older[0].position]
    assert await store.read_workflow_log(WORKFLOW, LogQuery(limit=0)) == []


async def test_rows_written_later_are_read_on_from_the_newest_seen(store: Store) -> None:
    await _seeded(store)
    [newest] = await store.read_workflow_log(WORKFLOW, LogQuery(limit=1))
    second = await store.get_instance(WORKFLOW, "second")
    assert second is not None
    assert await store.commit(logged(row(EventType.STEP_SUCCESS, 50.0, "Ship box-1"),
                                     iid=second.iid))
    fresh = await store.read_workflow_log(WORKFLOW, LogQuery(after=newest.position))
    assert _shown(fresh) == [("second", EventType.STEP_SUCCESS, "Ship box-1-target")]


async def test_engines_are_listed_with_the_version_of_the_code_they_run(store: Store) -> None:
    await store.register_engine(EngineRecord("engine-a", 10, "box", 100.0, "v1"))
    await store.register_engine(EngineRecord("engine-b", 11, "box", 100.0))
    await store.register_engine(EngineRecord("engine-a", 10, "box", 200.0, "v2"))  # a heartbeat
    engines = sorted(await store.list_engines(), key=lambda e: e.id)
    assert engines == [EngineRecord("engine-a", 10, "box", 200.0, "v2"),
                       EngineRecord("engine-b", 11, "box", 100.0, None)]
