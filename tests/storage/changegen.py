"""Hypothesis strategies for sequences of ``Change`` values over two instances whose rows they
keep running into (the same few step keys, timers and events), and a way to replay them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from storekit import new

from pyflow_cli.engine.changes import UNSET, Change, InstanceUpdate, NewLogEvent, StepWrite
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import Store, TimerRecord

KEYS = ("k1", "k2")
TIMER_KINDS = ("sleep", "retry")
EVENTS_PER_INSTANCE = 2


@dataclass(frozen=True)
class Spec:
    """A change before it knows its instance's iid and its events' sequence numbers."""

    instance: int
    log: tuple[NewLogEvent, ...] = ()
    steps: tuple[StepWrite, ...] = ()
    set_timers: tuple[TimerRecord, ...] = ()
    clear_timers: tuple[tuple[str, str], ...] = ()
    shift_timers_ms: float = 0.0
    consume: tuple[tuple[int, str], ...] = ()  # (index of one of the instance's events, key)
    update: InstanceUpdate | None = None
    guard: dict[str, Any] = field(default_factory=dict)
    wipe: dict[str, Any] = field(default_factory=dict)

    def build(self, iids: list[int], seqs: list[list[int]]) -> Change:
        return Change(
            iids[self.instance], log=list(self.log), steps=list(self.steps),
            set_timers=list(self.set_timers), clear_timers=list(self.clear_timers),
            shift_timers_ms=self.shift_timers_ms,
            consume_events=[(seqs[self.instance][n], key) for n, key in self.consume],
            instance=self.update, **self.guard, **self.wipe)


def _maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(None), values)


_times = st.integers(0, 1000).map(float)
_step = st.tuples(
    st.sampled_from(KEYS), st.sampled_from(("do", "sleep")), st.sampled_from(("t1", "t2")),
    _maybe(st.sampled_from(("started", "done", "failed"))), _maybe(st.sampled_from(("1", "2"))),
    _maybe(st.just('"e"')), _maybe(st.just("{}")), _maybe(st.integers(1, 3)), _maybe(st.booleans())
).map(lambda fields: StepWrite(*fields))
_timer = st.tuples(st.sampled_from(KEYS), st.sampled_from(TIMER_KINDS), _times).map(
    lambda fields: TimerRecord(*fields))
_timer_id = st.tuples(st.sampled_from(KEYS), st.sampled_from(TIMER_KINDS))
_log = st.tuples(st.sampled_from((EventType.STEP_START, EventType.SLEEP_COMPLETE)), _times,
                 _maybe(st.sampled_from(KEYS))).map(lambda fields: NewLogEvent(*fields))
_statuses = st.sampled_from((InstanceStatus.QUEUED, InstanceStatus.RUNNING, InstanceStatus.WAITING))


def _or_unset(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(UNSET), values)


_update = st.fixed_dictionaries({
    "status": _or_unset(_statuses), "output_json": _or_unset(_maybe(st.just("1"))),
    "runnable_at": _or_unset(_maybe(_times)), "lease_owner": _or_unset(_maybe(st.just("e1"))),
    "control": _or_unset(_maybe(st.just("c"))), "lifetime": _or_unset(st.integers(0, 2)),
    "bump_signal": st.booleans()}).map(lambda fields: InstanceUpdate(**fields))
_guard = st.one_of(st.just({}), st.just({}), st.just({}),
                   _statuses.map(lambda status: {"expect_status": status}),
                   st.just({"expect_owner": None}))
_wipe = st.one_of(*[st.just({})] * 8, st.just({"wipe_all": True}),
                  st.just({"wipe_keys": ["k1"], "wipe_run_rows": True}))

specs = st.builds(
    Spec, st.integers(0, 1),
    log=st.lists(_log, max_size=2).map(tuple), steps=st.lists(_step, max_size=2).map(tuple),
    set_timers=st.lists(_timer, max_size=2).map(tuple),
    clear_timers=st.lists(_timer_id, max_size=2).map(tuple),
    shift_timers_ms=st.one_of(*[st.just(0.0)] * 4, st.integers(-50, 50).map(float)),
    consume=st.lists(st.tuples(st.integers(0, EVENTS_PER_INSTANCE - 1), st.sampled_from(KEYS)),
                     max_size=1).map(tuple),
    update=_maybe(_update), guard=_guard, wipe=_wipe)
"""One change of a generated sequence."""

plain_specs = specs.map(lambda spec: Spec(spec.instance, spec.log, spec.steps, spec.set_timers,
                                          spec.clear_timers, 0.0, spec.consume, spec.update))
"""A change the engine may merge into another (no guard, wipe or shift)."""


async def seeded(store: Store, name: str) -> tuple[list[int], list[list[int]]]:
    """Two new instances with a step, timers and events for the generated changes to meet."""
    iids = [iid for iid in await store.create_instances(
        [new(f"{name}-{n}") for n in range(2)]) if iid is not None]
    seqs: list[list[int]] = []
    for iid in iids:
        assert await store.commit(Change(
            iid, steps=[StepWrite("k1", "do", "t1", "started", attempts=1)],
            set_timers=[TimerRecord("k1", "sleep", 100.0), TimerRecord("k2", "retry", 200.0)]))
        events = [await store.add_event(iid, "go", f'"{n}"', float(n))
                  for n in range(EVENTS_PER_INSTANCE)]
        assert None not in events
        seqs.append([seq for seq in events if seq is not None])
    return iids, seqs

