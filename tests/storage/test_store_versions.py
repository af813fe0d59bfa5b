"""Versions of the user's code in the store: numbered in the order first recorded, counted by
instance, filtered on; each attempt's log row keeps the version it ran on."""

from __future__ import annotations

from storekit import WORKFLOW, create

from pyflow_cli.engine.changes import Change, NewLogEvent
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.store import Store
from pyflow_cli.engine.versions import VersionRecord


async def test_versions_are_numbered_in_the_order_first_recorded(store: Store) -> None:
    assert await store.list_versions() == []
    first = await store.record_version("aaa", 10.0)
    second = await store.record_version("bbb", 20.0)
    again = await store.record_version("aaa", 30.0)
    assert (first.label, second.label) == ("v1", "v2")
    assert again == first == VersionRecord("aaa", 1, 10.0)  # first seen stays
    await create(store, "x", version_id="bbb")
    await create(store, "y", version_id="bbb", workflow="other")
    await create(store, "z", version_id=None)
    assert await store.list_versions() == [VersionRecord("aaa", 1, 10.0, 0),
                                           VersionRecord("bbb", 2, 20.0, 2)]


async def test_instances_are_listed_by_version(store: Store) -> None:
    await create(store, "old", version_id="aaa", created_ms=1.0)
    await create(store, "new", version_id="bbb", created_ms=2.0)
    await create(store, "new-too", version_id="bbb", created_ms=3.0)
    page = await store.list_instances(WORKFLOW, version_id="bbb")
    assert ([r.id for r in page.records], page.total) == (["new-too", "new"], 2)
    assert (await store.list_instances(WORKFLOW, version_id="ccc")).total == 0


async def test_a_log_row_keeps_the_version_it_was_written_with(store: Store) -> None:
    iid = await create(store, "a")
    assert await store.commit(Change(iid, log=[
        NewLogEvent(EventType.ATTEMPT_START, 5.0, "k", "k-1", {"attempt": 1}, version="aaa"),
        NewLogEvent(EventType.ATTEMPT_FAILURE, 6.0, "k", "k-1", {"attempt": 1})]))
    log = await store.read_log(iid)
    assert [(r.event, r.version) for r in log[-2:]] == [(EventType.ATTEMPT_START, "aaa"),
                                                         (EventType.ATTEMPT_FAILURE, None)]
