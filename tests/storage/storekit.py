"""Helpers for the storage contract suite: new instances, and what the port shows of one."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from pyflow_cli.engine.changes import Change, NewInstance, NewLogEvent
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.store import InboxEvent, InstanceRecord, StepRecord, Store, TimerRecord

WORKFLOW = "wf"


def new(instance_id: str = "a", workflow: str = WORKFLOW, created_ms: float = 1000.0,
        params_json: str = '{"n":1}', trigger: int = 0, version_id: str | None = "v1") -> NewInstance:
    return NewInstance(workflow, instance_id, params_json, created_ms, trigger, version_id)


async def create(store: Store, instance_id: str = "a", **fields: Any) -> int:
    """Create one instance; its iid."""
    [iid] = await store.create_instances([new(instance_id, **fields)])
    assert iid is not None
    return iid


async def record(store: Store, iid: int) -> InstanceRecord:
    found = await store.get_instance_by_iid(iid)
    assert found is not None
    return found


def row(event: EventType = EventType.STEP_START, ts: float = 5.0, key: str | None = "k",
        **metadata: Any) -> NewLogEvent:
    return NewLogEvent(event, ts, key, None if key is None else f"{key}-target", metadata)


def logged(*events: NewLogEvent, iid: int) -> Change:
    return Change(iid, log=list(events))


@dataclass(frozen=True)
class Snapshot:
    """Everything the port shows of one instance, less the numbers the store assigns (iid, log
    and inbox sequence numbers), so that two stores given the same writes compare equal."""

    record: tuple[Any, ...]
    log: list[tuple[Any, ...]]
    steps: dict[str, StepRecord]
    timers: dict[tuple[str, str], TimerRecord]
    inbox: list[tuple[Any, ...]]


async def snapshot(store: Store, iid: int, *, signal_changed_only: bool = False) -> Snapshot:
    found = await record(store, iid)
    values = [getattr(found, f.name) for f in fields(found) if f.name not in ("iid", "signal")]
    values.append(found.signal > 0 if signal_changed_only else found.signal)
    log = await store.read_log(iid)
    history = await store.load_history(iid)
    return Snapshot(
        tuple(values),
        [(r.event, r.timestamp_ms, r.group_key, r.target, r.metadata) for r in log],
        history.steps, history.timers,
        [_event(e) for e in history.inbox])


def _event(event: InboxEvent) -> tuple[Any, ...]:
    return (event.type, event.payload_json, event.timestamp_ms)
