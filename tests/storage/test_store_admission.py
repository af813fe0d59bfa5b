"""Admission in the store (engine/admission.py): claims under a running limit, the admission
order, WORKFLOW_START written at admission, and the checks of a create under the queued limit
and the creation rate — the same for every backend."""

from __future__ import annotations

import asyncio

import pytest
from backends import StoreFactory
from storekit import WORKFLOW, create, new, record

from pyflow_cli.engine.admission import CreationLimits, CreationRate, RunningLimit
from pyflow_cli.engine.changes import Change, InstanceUpdate
from pyflow_cli.engine.errors import QueueFullError, RateLimitedError
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import Store

DEFERRED = CreationLimits(start_on_admission=True)


async def _queued(store: Store, count: int, start: float = 1.0) -> list[int]:
    iids = await store.create_instances(
        [new(f"q{n}", created_ms=start + n) for n in range(count)], limits=DEFERRED)
    assert None not in iids
    return [iid for iid in iids if iid is not None]


async def test_a_limited_claim_leases_only_what_the_limit_leaves(store: Store) -> None:
    iids = await _queued(store, 6)
    first = await store.claim_runnable("a", 100.0, 50.0, 10, [WORKFLOW], RunningLimit(3, 0))
    assert [r.iid for r in first] == iids[:3]  # creation order
    # Another engine: the three live leases of "a" count.
    assert await store.claim_runnable("b", 100.0, 50.0, 10, [WORKFLOW], RunningLimit(3, 0)) == []
    # The claimant's own instances count as it says, whatever its leases show.
    assert await store.claim_runnable("a", 100.0, 50.0, 10, [WORKFLOW], RunningLimit(3, 3)) == []
    more = await store.claim_runnable("a", 100.0, 50.0, 10, [WORKFLOW], RunningLimit(5, 3))
    assert [r.iid for r in more] == iids[3:5]
    # Leases that lapsed hold no slot: their instances are claimable again, in the same claim.
    taken = await store.claim_runnable("b", 151.0, 50.0, 10, [WORKFLOW], RunningLimit(2, 0))
    assert [r.iid for r in taken] == iids[:2]


async def test_without_a_limit_a_claim_takes_everything_due(store: Store) -> None:
    await _queued(store, 4)
    await store.claim_runnable("a", 100.0, 50.0, 2, [WORKFLOW], RunningLimit(2, 0))
    assert len(await store.claim_runnable("b", 100.0, 50.0, 10, [WORKFLOW])) == 2


async def test_an_admitted_instance_gets_its_start_row_at_the_claim(store: Store) -> None:
    [waiting_start] = await _queued(store, 1)
    [started] = await store.create_instances([new("s", created_ms=2.0)])
    assert started is not None
    assert [r.event for r in await store.read_log(waiting_start)] == [EventType.WORKFLOW_QUEUED]
    assert [r.event for r in await store.read_log(started)] == [EventType.WORKFLOW_QUEUED,
                                                                EventType.WORKFLOW_START]
    await store.claim_runnable("a", 100.0, 50.0, 10, [WORKFLOW], RunningLimit(5, 0))
    log = await store.read_log(waiting_start)
    assert [(r.event, r.timestamp_ms) for r in log] == [(EventType.WORKFLOW_QUEUED, 1.0),
                                                         (EventType.WORKFLOW_START, 100.0)]
    assert len(await store.read_log(started)) == 2  # it had one: no second


async def test_two_stores_racing_for_the_last_slots_never_pass_the_limit(
        store_factory: StoreFactory) -> None:
    location = store_factory.new_location()
    first = await store_factory.open(location)
    second = await store_factory.open(location)
    await _queued(first, 40)
    claims = [store.claim_runnable(f"engine-{n}", 100.0, 50.0, 3, [WORKFLOW], RunningLimit(5, 0))
              for n, store in enumerate([first, second] * 6)]
    claimed = [r for batch in await asyncio.gather(*claims) for r in batch]
    assert len(claimed) == 5
    assert len({r.iid for r in claimed}) == 5


async def test_a_create_over_the_queued_limit_is_refused_and_creates_nothing(
        store: Store) -> None:
    limits = CreationLimits(max_queued=3)
    assert None not in await store.create_instances([new("a"), new("b")], limits=limits)
    with pytest.raises(QueueFullError, match="at most 3 may wait to start"):
        await store.create_instances([new("c"), new("d")], limits=limits)
    assert await store.get_instance(WORKFLOW, "c") is None
    # An id that exists already is not a new queued instance: it does not count.
    existing, fresh = await store.create_instances([new("a"), new("c")], limits=limits)
    assert existing is None and fresh is not None
    assert (await store.status_counts(WORKFLOW)) == {"queued": 3}
    # Instances that started hold no place in the queue.
    for iid in (1, 2):
        assert await store.commit(Change(iid, instance=InstanceUpdate(
            status=InstanceStatus.RUNNING)))
    assert None not in await store.create_instances([new("e"), new("f")], limits=limits)


async def test_a_create_faster_than_the_rate_is_refused_with_when_to_retry(store: Store) -> None:
    limits = CreationLimits(rate=CreationRate(3, 10_000.0))
    for n, at in enumerate((1000.0, 2000.0, 3000.0)):
        await store.create_instances([new(f"i{n}", created_ms=at)], limits=limits)
    with pytest.raises(RateLimitedError) as refused:
        await store.create_instances([new("late", created_ms=5000.0)], limits=limits)
    assert refused.value.retry_after_s == pytest.approx(6.0)  # when the one of 1000 leaves
    with pytest.raises(RateLimitedError) as refused:
        await store.create_instances([new("x", created_ms=11_500.0), new("y", created_ms=11_500.0)],
                                     limits=limits)
    assert refused.value.retry_after_s == pytest.approx(0.5)  # two must leave: 2000 at 12000
    assert await store.create_instances([new("ok", created_ms=11_001.0)], limits=limits) != [None]
    assert await store.get_instance(WORKFLOW, "late") is None
    assert await create(store, "unlimited", created_ms=11_002.0)  # no limits: no check
    assert (await record(store, 1)).status is InstanceStatus.QUEUED
