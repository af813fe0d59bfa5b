"""The port's instance rows: create_instances, delete_instances and the instance reads."""

from __future__ import annotations

from storekit import WORKFLOW, create, new, record, row

from pyflow_cli.engine.changes import Change, InstanceUpdate, StepWrite
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import Store, TimerRecord


async def test_a_new_instance_is_queued_runnable_now_with_its_queued_and_start_rows(
        store: Store) -> None:
    [iid] = await store.create_instances([new("a", created_ms=1234.5, params_json='{"n":7}',
                                              trigger=1, version_id="ver")])
    assert iid is not None
    found = await record(store, iid)
    assert (found.workflow, found.id, found.status, found.created_ms, found.params_json,
            found.version_id, found.trigger) == (WORKFLOW, "a", InstanceStatus.QUEUED, 1234.5,
                                                 '{"n":7}', "ver", 1)
    assert (found.runnable_at, found.lease_owner, found.lease_expires, found.paused_at) == (
        1234.5, None, None, None)
    assert (found.output_json, found.error_json, found.control) == (None, None, None)
    assert (found.lifetime, found.signal) == (0, 0)
    log = await store.read_log(iid)
    assert [(r.event, r.timestamp_ms, r.group_key) for r in log] == [
        (EventType.WORKFLOW_QUEUED, 1234.5, None), (EventType.WORKFLOW_START, 1234.5, None)]
    assert log[0].metadata == {"params": {"n": 7}, "trigger": {"source": 1}}
    assert log[1].metadata == {}


async def test_ids_taken_already_yield_none_in_place_and_leave_the_existing_instance_alone(
        store: Store) -> None:
    first = await create(store, "a", params_json='{"first":true}')
    created = await store.create_instances([new("b"), new("a", params_json='{"second":true}'),
                                            new("c"), new("c")])
    assert created[1] is None and created[3] is None
    assert None not in (created[0], created[2])
    assert len({first, created[0], created[2]}) == 3
    assert (await record(store, first)).params_json == '{"first":true}'
    assert len(await store.read_log(first)) == 2


async def test_the_same_id_in_another_workflow_is_another_instance(store: Store) -> None:
    mine = await create(store, "a")
    theirs = await create(store, "a", workflow="other")
    assert mine != theirs
    assert (await store.get_instance("other", "a")) == await record(store, theirs)
    assert (await store.get_instance(WORKFLOW, "a")) == await record(store, mine)


async def test_instances_created_with_a_lease_are_held_by_that_engine(store: Store) -> None:
    iids = await store.create_instances([new("a"), new("b")], lease=("engine-1", 9000.0))
    for iid in iids:
        assert iid is not None
        found = await record(store, iid)
        assert (found.lease_owner, found.lease_expires) == ("engine-1", 9000.0)
    assert await store.claim_runnable("engine-2", 5000.0, 1000.0, 10, [WORKFLOW]) == []


async def test_deleting_removes_every_row_of_the_instance_and_nothing_else(store: Store) -> None:
    gone = await create(store, "a")
    kept = await create(store, "b")
    other = await create(store, "a", workflow="other")
    for iid in (gone, kept, other):
        change = Change(iid, log=[row()], steps=[StepWrite("k", "do", "k-1", state="done")],
                        set_timers=[TimerRecord("k", "sleep", 50.0)])
        assert await store.commit(change)
        await store.add_event(iid, "go", None, 10.0)
    assert await store.delete_instances(WORKFLOW, ["a", "missing", "a"]) == ["a"]
    assert await store.get_instance(WORKFLOW, "a") is None
    assert await store.get_instance_by_iid(gone) is None
    assert await store.read_log(gone) == []
    history = await store.load_history(gone)
    assert (history.steps, history.timers, history.inbox) == ({}, {}, [])
    assert await store.load_inbox(gone) == []
    for iid in (kept, other):
        history = await store.load_history(iid)
        assert (len(history.steps), len(history.timers), len(history.inbox)) == (1, 1, 1)
        assert len(await store.read_log(iid)) == 3


async def test_deleting_without_ids_deletes_every_instance_of_the_workflow(store: Store) -> None:
    await store.create_instances([new("a"), new("b")])
    kept = await create(store, "c", workflow="other")
    assert sorted(await store.delete_instances(WORKFLOW, None)) == ["a", "b"]
    assert (await store.list_instances(WORKFLOW)).total == 0
    assert await store.get_instance_by_iid(kept) is not None
    assert await store.delete_instances(WORKFLOW, None) == []


async def test_an_id_created_again_after_a_delete_starts_with_no_history(store: Store) -> None:
    first = await create(store, "a")
    assert await store.commit(Change(first, log=[row()], steps=[StepWrite("k", "do", "k-1", "done")]))
    await store.delete_instances(WORKFLOW, ["a"])
    second = await create(store, "a")
    assert (await store.load_history(second)).steps == {}
    assert [r.event for r in await store.read_log(second)] == [EventType.WORKFLOW_QUEUED,
                                                               EventType.WORKFLOW_START]


async def test_instance_ids_are_never_reused(store: Store) -> None:
    """A write still on its way for a deleted instance (a lifetime in another process whose lease
    ran out) must never land on a new instance: the newest instance deleted, the next one created
    gets another iid."""
    first = await create(store, "a")
    await store.delete_instances(WORKFLOW, ["a"])
    second = await create(store, "b")
    assert second != first
    assert await store.get_instance_by_iid(first) is None


async def test_reads_of_missing_instances_find_nothing(store: Store) -> None:
    assert await store.get_instance(WORKFLOW, "nope") is None
    assert await store.get_instance_by_iid(12345) is None
    assert await store.latest_instance(WORKFLOW) is None
    assert await store.read_log(12345) == []
    assert await store.load_inbox(12345) == []
    history = await store.load_history(12345)
    assert (history.steps, history.timers, history.inbox) == ({}, {}, [])
    assert await store.status_counts(WORKFLOW) == {}
    page = await store.list_instances(WORKFLOW)
    assert (page.records, page.total) == ([], 0)


async def test_the_latest_instance_is_the_newest_created_and_the_last_created_on_a_tie(
        store: Store) -> None:
    await store.create_instances([new("old", created_ms=1.0), new("tie-1", created_ms=5.0),
                                  new("tie-2", created_ms=5.0), new("early", created_ms=2.0)])
    await create(store, "elsewhere", workflow="other", created_ms=99.0)
    latest = await store.latest_instance(WORKFLOW)
    assert latest is not None and latest.id == "tie-2"


async def test_lists_filter_by_status_and_creation_time_and_page_in_either_order(
        store: Store) -> None:
    iids = await store.create_instances([new(f"i{n}", created_ms=float(n % 5)) for n in range(10)])
    await create(store, "elsewhere", workflow="other")
    for iid in iids[:4]:
        assert iid is not None
        await store.commit(Change(iid, instance=InstanceUpdate(status=InstanceStatus.COMPLETE)))

    def ids(page_records: list[object]) -> list[str]:
        return [r.id for r in page_records]  # type: ignore[attr-defined]

    everything = await store.list_instances(WORKFLOW, limit=100)
    assert everything.total == 10
    # Newest first; among equal creation times, the last created first.
    assert ids(everything.records) == ["i9", "i4", "i8", "i3", "i7", "i2", "i6", "i1", "i5", "i0"]
    oldest = await store.list_instances(WORKFLOW, limit=100, newest_first=False)
    assert ids(oldest.records) == list(reversed(ids(everything.records)))
    page = await store.list_instances(WORKFLOW, offset=2, limit=3)
    assert (ids(page.records), page.total) == (["i8", "i3", "i7"], 10)
    done = await store.list_instances(WORKFLOW, statuses=[InstanceStatus.COMPLETE], limit=100)
    assert (sorted(ids(done.records)), done.total) == (["i0", "i1", "i2", "i3"], 4)
    both = await store.list_instances(
        WORKFLOW, statuses=[InstanceStatus.COMPLETE, InstanceStatus.QUEUED], limit=1)
    assert both.total == 10 and len(both.records) == 1
    window = await store.list_instances(WORKFLOW, created_from_ms=1.0, created_to_ms=2.0, limit=100)
    assert (sorted(ids(window.records)), window.total) == (["i1", "i2", "i6", "i7"], 4)
    assert (await store.list_instances(WORKFLOW, offset=10)).records == []


async def test_status_counts_count_the_workflow_s_instances_by_status(store: Store) -> None:
    iids = await store.create_instances([new(f"i{n}") for n in range(5)])
    await create(store, "elsewhere", workflow="other")
    for iid, status in zip(iids, (InstanceStatus.COMPLETE, InstanceStatus.COMPLETE,
                                  InstanceStatus.ERRORED), strict=False):
        assert iid is not None
        await store.commit(Change(iid, instance=InstanceUpdate(status=status)))
    assert await store.status_counts(WORKFLOW) == {"complete": 2, "errored": 1, "queued": 2}


async def test_a_page_past_the_end_is_empty_however_far(store: Store) -> None:
    await store.create_instances([new("a"), new("b")])
    for offset in (2, 10**6, 2**63, 2**70):
        page = await store.list_instances(WORKFLOW, offset=offset, limit=2**70)
        assert (page.records, page.total) == ([], 2)
