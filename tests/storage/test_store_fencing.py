"""Fenced leases: a claim by a new holder increases the lease epoch, and a change carrying a fence
(owner, epoch) that is no longer the instance's lease writes nothing and raises ``LeaseLost``."""

from __future__ import annotations

import asyncio

import pytest
from backends import StoreFactory
from storekit import WORKFLOW, create, new, record, row, snapshot

from pyflow_cli.engine.changes import Change, InstanceUpdate, StepWrite
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import FIRST_EPOCH, Lease, LeaseLost, Store, TimerRecord


async def _claimed(store: Store, owner: str = "engine-1", now: float = 2000.0,
                   lease_ms: float = 100.0, instance_id: str = "a") -> tuple[int, Lease]:
    """A new instance claimed by ``owner`` until ``now + lease_ms``; its iid and lease."""
    iid = await create(store, instance_id)
    [claimed] = await store.claim_runnable(owner, now, lease_ms, 1, [WORKFLOW])
    assert claimed.iid == iid and claimed.lease is not None
    return iid, claimed.lease


def _step_result(iid: int, fence: Lease | None, **guards: object) -> Change:
    return Change(iid, log=[row()], steps=[StepWrite("k", "do", "k-1", "done", "42")],
                  set_timers=[TimerRecord("k", "retry", 9.0)],
                  instance=InstanceUpdate(status=InstanceStatus.RUNNING), fence=fence,
                  **guards)  # type: ignore[arg-type]


async def test_a_claim_by_a_new_holder_increases_the_lease_epoch(store: Store) -> None:
    iid = await create(store)
    assert (await record(store, iid)).lease_epoch == 0
    assert (await record(store, iid)).lease is None
    [first] = await store.claim_runnable("engine-1", 2000.0, 100.0, 1, [WORKFLOW])
    assert first.lease == Lease("engine-1", first.lease_epoch) and first.lease_epoch > 0
    assert (await record(store, iid)).lease == first.lease
    await store.renew_leases("engine-1", 5000.0, [iid])  # a renewal is the same lease
    assert (await record(store, iid)).lease == first.lease
    [other] = await store.claim_runnable("engine-2", 6000.0, 100.0, 1, [WORKFLOW])
    assert other.lease == Lease("engine-2", other.lease_epoch)
    assert other.lease_epoch > first.lease_epoch
    assert await store.commit(Change(iid, instance=InstanceUpdate(lease_owner=None)))
    [back] = await store.claim_runnable("engine-1", 7000.0, 100.0, 1, [WORKFLOW])
    assert back.lease_epoch > other.lease_epoch  # released, then claimed: a new lease


async def test_an_engine_taking_back_its_own_expired_lease_keeps_it(store: Store) -> None:
    """Nobody took the instance meanwhile: the engine never stopped holding it, and what it is
    still running may go on writing (a clock that jumped, a heartbeat late under load)."""
    iid, lease = await _claimed(store, "engine-1", lease_ms=10.0)
    [again] = await store.claim_runnable("engine-1", 3000.0, 100.0, 1, [WORKFLOW])
    assert again.lease == lease and again.lease_expires == 3100.0
    assert await store.commit(_step_result(iid, lease)) is True


async def test_instances_created_with_a_lease_start_at_the_first_epoch(store: Store) -> None:
    [held] = await store.create_instances([new("a")], lease=("engine-1", 9000.0))
    free = await create(store, "b")
    assert held is not None
    assert (await record(store, held)).lease == Lease("engine-1", FIRST_EPOCH)
    assert (await record(store, free)).lease_epoch == 0
    assert await store.commit(_step_result(held, Lease("engine-1", FIRST_EPOCH))) is True


async def test_a_change_fenced_by_the_current_lease_is_applied(store: Store) -> None:
    iid, lease = await _claimed(store)
    assert await store.commit(_step_result(iid, lease)) is True
    assert (await store.load_history(iid)).steps["k"].value_json == "42"
    guarded = _step_result(iid, lease, expect_status=InstanceStatus.RUNNING)
    assert await store.commit(guarded) is True


@pytest.mark.parametrize("guarded", [False, True], ids=["plain", "guarded"])
async def test_a_stale_holder_s_write_raises_lease_lost_and_writes_nothing(
        store: Store, guarded: bool) -> None:
    iid, stale = await _claimed(store, "engine-1", lease_ms=10.0)
    [taken] = await store.claim_runnable("engine-2", 3000.0, 100.0, 1, [WORKFLOW])
    before = await snapshot(store, iid)
    change = _step_result(iid, stale, **({"expect_status": InstanceStatus.QUEUED} if guarded else {}))
    with pytest.raises(LeaseLost) as refused:
        await store.commit(change)
    assert (refused.value.iid, refused.value.fence) == (iid, stale)
    assert await snapshot(store, iid) == before
    assert (await record(store, iid)).lease == taken.lease


async def test_an_engine_that_lost_an_instance_stays_fenced_out_if_it_claims_it_again(
        store: Store) -> None:
    iid, old = await _claimed(store, "engine-1", lease_ms=10.0)
    await store.claim_runnable("engine-2", 3000.0, 10.0, 1, [WORKFLOW])
    [again] = await store.claim_runnable("engine-1", 4000.0, 100.0, 1, [WORKFLOW])
    assert again.lease_owner == "engine-1" and again.lease != old
    with pytest.raises(LeaseLost):
        await store.commit(_step_result(iid, old))
    assert await store.commit(_step_result(iid, again.lease)) is True


async def test_a_released_lease_fences_out_its_holder(store: Store) -> None:
    iid, lease = await _claimed(store)
    assert await store.commit(Change(iid, instance=InstanceUpdate(lease_owner=None,
                                                                  lease_expires=None)))
    with pytest.raises(LeaseLost):
        await store.commit(_step_result(iid, lease))
    await store.unregister_engine("engine-1")
    with pytest.raises(LeaseLost):
        await store.commit(Change(iid, log=[row()], fence=lease))


async def test_the_fence_is_checked_before_the_guards(store: Store) -> None:
    iid, stale = await _claimed(store, lease_ms=10.0)
    await store.claim_runnable("engine-2", 3000.0, 100.0, 1, [WORKFLOW])
    with pytest.raises(LeaseLost):
        await store.commit(Change(iid, log=[row()], fence=stale, expect_status=InstanceStatus.PAUSED))


async def test_a_fenced_change_for_a_deleted_instance_resolves_false(store: Store) -> None:
    iid, lease = await _claimed(store)
    await store.delete_instances(WORKFLOW, ["a"])
    assert await store.commit(_step_result(iid, lease)) is False


async def test_in_a_group_a_fenced_out_change_fails_alone_and_sees_the_writes_before_it(
        store_factory: StoreFactory) -> None:
    store = await store_factory.open()
    iid, lease = await _claimed(store)
    other, other_lease = await _claimed(store, "engine-3", instance_id="b")
    async with store_factory.hold_commits(store):
        first = store.commit(Change(iid, log=[row(ts=1.0)], fence=lease))
        released = store.commit(Change(iid, fence=lease, instance=InstanceUpdate(
            lease_owner=None, lease_expires=None)))
        late = store.commit(Change(iid, log=[row(ts=2.0)], fence=lease))  # after its release
        elsewhere = store.commit(Change(other, log=[row(ts=3.0)], fence=other_lease))
    assert (await first, await released, await elsewhere) == (True, True, True)
    with pytest.raises(LeaseLost):
        await late
    assert [r.timestamp_ms for r in await store.read_log(iid)][2:] == [1.0]
    assert [r.timestamp_ms for r in await store.read_log(other)][2:] == [3.0]


async def test_a_write_nobody_waits_for_is_fenced_too(store: Store) -> None:
    iid, stale = await _claimed(store, lease_ms=10.0)
    await store.claim_runnable("engine-2", 3000.0, 100.0, 1, [WORKFLOW])
    before = await snapshot(store, iid)
    lazy = store.commit(_step_result(iid, stale), urgent=False)
    with pytest.raises(LeaseLost):
        await asyncio.wait_for(lazy, 5)
    assert await snapshot(store, iid) == before


async def test_stores_claiming_at_once_never_hand_an_instance_to_two_engines(
        store_factory: StoreFactory) -> None:
    """Two stores on the same data (two processes) claim the same due instances concurrently:
    each instance goes to exactly one of them."""
    location = store_factory.new_location()
    stores = [await store_factory.open(location) for _ in range(3)]
    iids = await stores[0].create_instances([new(f"i{n}") for n in range(150)])

    async def claim_all(store: Store, owner: str) -> list[int]:
        mine: list[int] = []
        while True:
            batch = await store.claim_runnable(owner, 2000.0, 1e9, 7, [WORKFLOW])
            if not batch:
                return mine
            mine += [r.iid for r in batch]

    claims = await asyncio.gather(*(claim_all(s, f"engine-{n}") for n, s in enumerate(stores)))
    everything = [iid for claimed in claims for iid in claimed]
    assert sorted(everything) == sorted(iid for iid in iids if iid is not None)
    assert len(everything) == len(set(everything))
