"""Leases, engines and signals: claim_runnable, renew_leases, the engine registry, signalled,
next_runnable_ms."""

from __future__ import annotations

from storekit import WORKFLOW, create, new, record

from pyflow_cli.engine.changes import Change, InstanceUpdate
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import EngineRecord, Store


async def _due(store: Store, instance_id: str, runnable_at: float | None,
               workflow: str = WORKFLOW, **update: object) -> int:
    iid = await create(store, instance_id, workflow=workflow)
    assert await store.commit(Change(iid, instance=InstanceUpdate(runnable_at=runnable_at,
                                                                  **update)))  # type: ignore[arg-type]
    return iid


async def test_a_claim_leases_due_unleased_instances_earliest_first_up_to_the_limit(
        store: Store) -> None:
    late = await _due(store, "late", 300.0)
    early = await _due(store, "early", 100.0)
    middle = await _due(store, "middle", 200.0)
    await _due(store, "future", 2000.0)
    await _due(store, "never", None)
    await _due(store, "elsewhere", 50.0, workflow="other")
    claimed = await store.claim_runnable("engine-1", 1000.0, 500.0, 2, [WORKFLOW])
    assert [r.iid for r in claimed] == [early, middle]
    for found in claimed:
        # The records come back as they now are: leased to the claimant.
        assert (found.lease_owner, found.lease_expires) == ("engine-1", 1500.0)
        assert found == await record(store, found.iid)
    assert [r.iid for r in await store.claim_runnable("engine-2", 1000.0, 500.0, 10, [WORKFLOW])] == [
        late]
    assert await store.claim_runnable("engine-2", 1000.0, 500.0, 10, [WORKFLOW]) == []


async def test_a_claim_takes_only_the_workflows_asked_for(store: Store) -> None:
    mine = await _due(store, "a", 1.0)
    theirs = await _due(store, "b", 1.0, workflow="other")
    assert await store.claim_runnable("e", 10.0, 5.0, 10, []) == []
    assert await store.claim_runnable("e", 10.0, 5.0, 0, [WORKFLOW, "other"]) == []
    claimed = await store.claim_runnable("e", 10.0, 5.0, 10, ["other", WORKFLOW, "third"])
    assert sorted(r.iid for r in claimed) == sorted([mine, theirs])


async def test_a_lease_is_live_until_its_expiry_and_then_anyone_may_take_it(store: Store) -> None:
    iid = await _due(store, "a", 1.0)
    assert [r.iid for r in await store.claim_runnable("engine-1", 10.0, 90.0, 5, [WORKFLOW])] == [iid]
    assert await store.claim_runnable("engine-2", 99.0, 90.0, 5, [WORKFLOW]) == []
    assert await store.claim_runnable("engine-2", 100.0, 90.0, 5, [WORKFLOW]) == []  # expires at 100
    taken = await store.claim_runnable("engine-2", 100.5, 90.0, 5, [WORKFLOW])
    assert [(r.iid, r.lease_owner, r.lease_expires) for r in taken] == [(iid, "engine-2", 190.5)]


async def test_an_expired_lease_is_taken_only_when_its_instance_is_due(store: Store) -> None:
    sleeping = await _due(store, "sleeping", 500.0, lease_owner="dead", lease_expires=5.0)
    at_rest = await _due(store, "at-rest", None, lease_owner="dead", lease_expires=5.0)
    assert await store.claim_runnable("engine-1", 100.0, 10.0, 5, [WORKFLOW]) == []
    assert [r.iid for r in await store.claim_runnable("engine-1", 600.0, 10.0, 5, [WORKFLOW])] == [
        sleeping]
    assert (await record(store, at_rest)).lease_owner == "dead"


async def test_claims_take_waking_instances_then_expired_leases_then_queued_ones(
        store: Store) -> None:
    # Admission order (engine/admission.py): an instance waking from a sleep, a retry delay or
    # an event first, then one whose engine stopped, then a queued one.
    queued = await _due(store, "queued", 1.0)
    expired = await _due(store, "expired", 2.0, lease_owner="dead", lease_expires=2.0)
    waking = await _due(store, "due", 50.0, status=InstanceStatus.WAITING)
    for wanted in (waking, expired, queued):
        assert [r.iid for r in await store.claim_runnable("e", 100.0, 10.0, 1, [WORKFLOW])] == [
            wanted]


async def test_an_engine_may_claim_its_own_expired_lease_again(store: Store) -> None:
    iid = await _due(store, "a", 1.0, lease_owner="engine-1", lease_expires=5.0)
    claimed = await store.claim_runnable("engine-1", 10.0, 100.0, 5, [WORKFLOW])
    assert [(r.iid, r.lease_expires) for r in claimed] == [(iid, 110.0)]


async def test_renewing_extends_the_owners_leases_on_the_given_instances_only(
        store: Store) -> None:
    [a, b, stranded] = await store.create_instances([new("a"), new("b"), new("s")],
                                                    lease=("engine-1", 50.0))
    [other] = await store.create_instances([new("c")], lease=("engine-2", 50.0))
    assert a is not None and b is not None and other is not None
    assert sorted(await store.renew_leases("engine-1", 500.0, [a, b, other])) == sorted([a, b])
    page = await store.list_instances(WORKFLOW)
    assert sorted((r.id, r.lease_expires) for r in page.records) == [
        ("a", 500.0), ("b", 500.0), ("c", 50.0), ("s", 50.0)]
    assert stranded is not None


async def test_renewing_says_which_leases_are_no_longer_the_owner_s(store: Store) -> None:
    [kept, taken, released] = await store.create_instances(
        [new("a"), new("b"), new("c")], lease=("engine-1", 50.0))
    assert kept is not None and taken is not None and released is not None
    # engine-1 stalled: its lease on b ran out and engine-2 took b; c's lease was released
    assert await store.commit(Change(taken, instance=InstanceUpdate(runnable_at=10.0)))
    assert [r.iid for r in await store.claim_runnable("engine-2", 60.0, 100.0, 5, [WORKFLOW])
            ] == [taken]
    assert await store.commit(Change(released, instance=InstanceUpdate(lease_owner=None)))
    assert await store.renew_leases("engine-1", 500.0, [kept, taken, released]) == [kept]
    assert (await record(store, taken)).lease_expires == 160.0  # engine-2's, left alone


async def test_engines_register_renew_and_unregister_releasing_their_leases(store: Store) -> None:
    await store.register_engine(EngineRecord("engine-1", 11, "host-a", 1.0))
    await store.register_engine(EngineRecord("engine-2", 22, "host-b", 2.0))
    await store.register_engine(EngineRecord("engine-1", 11, "host-a", 3.0))  # a heartbeat
    assert sorted(await store.list_engines(), key=lambda e: e.id) == [
        EngineRecord("engine-1", 11, "host-a", 3.0), EngineRecord("engine-2", 22, "host-b", 2.0)]
    [held, kept] = await store.create_instances([new("a")], lease=("engine-1", 1e12)) + \
        await store.create_instances([new("b")], lease=("engine-2", 1e12))
    assert held is not None and kept is not None
    await store.unregister_engine("engine-1")
    assert [e.id for e in await store.list_engines()] == ["engine-2"]
    released = await record(store, held)
    assert (released.lease_owner, released.lease_expires) == (None, None)
    assert released.runnable_at == 1000.0  # claimable again at once
    assert (await record(store, kept)).lease_owner == "engine-2"
    await store.unregister_engine("never-registered")


async def test_signalled_lists_the_owner_s_instances_with_their_signals(store: Store) -> None:
    [a, b] = await store.create_instances([new("a"), new("b")], lease=("engine-1", 1e12))
    await store.create_instances([new("c")], lease=("engine-2", 1e12))
    await create(store, "d")
    assert a is not None and b is not None
    before = dict(await store.signalled("engine-1"))
    assert set(before) == {a, b}
    assert await store.commit(Change(b, instance=InstanceUpdate(control='{"action":"pause"}',
                                                                bump_signal=True)))
    await store.add_event(a, "go", None, 1.0)
    after = dict(await store.signalled("engine-1"))
    assert after[a] != before[a] and after[b] != before[b]
    assert await store.signalled("nobody") == []


async def test_the_next_runnable_time_is_the_earliest_among_unleased_instances(
        store: Store) -> None:
    assert await store.next_runnable_ms([WORKFLOW]) is None
    await _due(store, "later", 300.0)
    await _due(store, "leased", 10.0, lease_owner="e", lease_expires=1e12)
    # An expired lease is not counted: the engines' periodic claims find those.
    await _due(store, "expired", 20.0, lease_owner="e", lease_expires=1.0)
    await _due(store, "elsewhere", 5.0, workflow="other")
    await _due(store, "at-rest", None)
    assert await store.next_runnable_ms([WORKFLOW]) == 300.0
    assert await store.next_runnable_ms([WORKFLOW, "other"]) == 5.0
    assert await store.next_runnable_ms(["nothing"]) is None


async def test_a_claim_leaves_status_and_due_time_alone(store: Store) -> None:
    iid = await _due(store, "a", 5.0, status=InstanceStatus.WAITING)
    [claimed] = await store.claim_runnable("e", 10.0, 10.0, 1, [WORKFLOW])
    assert (claimed.status, claimed.runnable_at) == (InstanceStatus.WAITING, 5.0)
    assert claimed.iid == iid


async def test_a_control_request_reaches_only_the_engine_that_holds_the_lease(store: Store) -> None:
    """``request_control``: the owner finds it through ``signalled``; anyone else is refused."""
    iid = await _due(store, "a", 1.0)
    assert len(await store.claim_runnable("engine-1", 10.0, 90.0, 5, [WORKFLOW])) == 1
    before = await record(store, iid)
    assert not await store.request_control(iid, "engine-2", '{"action":"pause"}')
    assert await record(store, iid) == before
    assert await store.request_control(iid, "engine-1", '{"action":"pause"}')
    asked = await record(store, iid)
    assert asked.control == '{"action":"pause"}' and asked.signal != before.signal
    assert (asked.status, asked.lease_owner, asked.lease_expires) == (
        before.status, before.lease_owner, before.lease_expires)
    assert (iid, asked.signal) in await store.signalled("engine-1")
    assert not await store.request_control(iid + 1000, "engine-1", '{"action":"pause"}')


async def test_a_control_request_for_an_unleased_instance_is_refused(store: Store) -> None:
    iid = await _due(store, "a", None)
    assert not await store.request_control(iid, "engine-1", '{"action":"pause"}')
    assert (await record(store, iid)).control is None
