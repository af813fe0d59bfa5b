"""A group of commits applied in one transaction leaves exactly the state the same commits leave
applied one at a time, and so does a run of changes merged with ``Change.absorb`` (what a
lifetime does with a write nobody waits for)."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from backends import StoreFactory
from changegen import Spec, plain_specs, seeded, specs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storekit import Snapshot, create, snapshot

from pyflow_cli.engine.changes import Change
from pyflow_cli.engine.store import Store, TimerRecord

_settings = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
_names = itertools.count()


@pytest.fixture
async def two_stores(store_factory: StoreFactory) -> tuple[Store, Store]:
    """Opened once for all the examples of a test; each example makes its own instances."""
    return await store_factory.open(durable=False), await store_factory.open(durable=False)


async def _one_at_a_time(store: Store, changes: list[Change]) -> list[bool]:
    return [await store.commit(change) for change in changes]


async def _grouped(factory: StoreFactory, store: Store, changes: list[Change]) -> list[bool]:
    async with factory.hold_commits(store):
        pending = [store.commit(change) for change in changes]
    return list(await asyncio.gather(*pending))


async def _snapshots(store: Store, iids: list[int], baselines: list[int] | None = None
                     ) -> list[Snapshot]:
    shots = [await snapshot(store, iid) for iid in iids]
    if baselines is None:
        return shots
    # Merged signal bumps count once: the signal only promises to change.
    return [Snapshot((*shot.record[:-1], shot.record[-1] != base), shot.log, shot.steps,
                     shot.timers, shot.inbox) for shot, base in zip(shots, baselines, strict=True)]


@_settings
@given(sequence=st.lists(specs, min_size=1, max_size=12))
async def test_a_group_leaves_the_state_the_same_commits_leave_one_at_a_time(
        store_factory: StoreFactory, two_stores: tuple[Store, Store], sequence: list[Spec]) -> None:
    alone, together = two_stores
    name = f"x{next(_names)}"
    iids_alone, seqs_alone = await seeded(alone, name)
    iids_together, seqs_together = await seeded(together, name)
    results = await _one_at_a_time(alone, [s.build(iids_alone, seqs_alone) for s in sequence])
    assert await _grouped(store_factory, together,
                          [s.build(iids_together, seqs_together) for s in sequence]) == results
    assert await _snapshots(together, iids_together) == await _snapshots(alone, iids_alone)


@_settings
@given(sequence=st.lists(plain_specs, min_size=1, max_size=10))
async def test_changes_merged_by_absorb_leave_the_state_they_leave_one_at_a_time(
        store_factory: StoreFactory, two_stores: tuple[Store, Store], sequence: list[Spec]) -> None:
    alone, merged = two_stores
    name = f"m{next(_names)}"
    iids_alone, seqs_alone = await seeded(alone, name)
    iids_merged, seqs_merged = await seeded(merged, name)
    baselines = [(await snapshot(alone, iid)).record[-1] for iid in iids_alone]
    await _one_at_a_time(alone, [s.build(iids_alone, seqs_alone) for s in sequence])
    runs: list[Change] = []
    for spec in sequence:
        change = spec.build(iids_merged, seqs_merged)
        if runs and runs[-1].iid == change.iid:
            runs[-1].absorb(change)
        else:
            runs.append(change)
    assert await _grouped(store_factory, merged, runs) == [True] * len(runs)
    assert await _snapshots(merged, iids_merged, baselines) == await _snapshots(
        alone, iids_alone, baselines)


# -- the cases that told the two apart, by name ------------------------------------------------------


async def test_a_timer_cleared_and_then_set_again_in_one_group_stays_set(
        store_factory: StoreFactory) -> None:
    store = await store_factory.open()
    iid = await create(store)
    assert await store.commit(Change(iid, set_timers=[TimerRecord("k", "retry", 10.0)]))
    async with store_factory.hold_commits(store):
        cleared = store.commit(Change(iid, clear_timers=[("k", "retry")]))
        set_again = store.commit(Change(iid, set_timers=[TimerRecord("k", "retry", 20.0)]))
    assert (await cleared, await set_again) == (True, True)
    assert (await store.load_history(iid)).timers == {("k", "retry"): TimerRecord("k", "retry", 20.0)}


async def test_a_shift_in_a_group_moves_only_the_timers_stored_before_it(
        store_factory: StoreFactory) -> None:
    store = await store_factory.open()
    iid = await create(store)
    other = await create(store, "b")
    assert await store.commit(Change(iid, set_timers=[TimerRecord("old", "sleep", 100.0)]))
    async with store_factory.hold_commits(store):
        pending = [store.commit(Change(other, set_timers=[TimerRecord("x", "sleep", 1.0)])),
                   store.commit(Change(iid, shift_timers_ms=25.0,
                                       set_timers=[TimerRecord("new", "retry", 500.0)]))]
    assert await asyncio.gather(*pending) == [True, True]
    assert (await store.load_history(iid)).timers == {
        ("old", "sleep"): TimerRecord("old", "sleep", 125.0),
        ("new", "retry"): TimerRecord("new", "retry", 500.0)}


async def test_a_timer_cleared_by_one_change_and_set_by_the_next_survives_their_merge(
        store: Store) -> None:
    iid = await create(store)
    assert await store.commit(Change(iid, set_timers=[TimerRecord("k", "sleep", 10.0)]))
    merged = Change(iid, clear_timers=[("k", "sleep")]).absorb(
        Change(iid, set_timers=[TimerRecord("k", "sleep", 30.0)]))
    assert await store.commit(merged)
    assert (await store.load_history(iid)).timers == {("k", "sleep"): TimerRecord("k", "sleep", 30.0)}
