"""``Change`` values as the PostgreSQL ``apply_changes`` function takes them (``pg_schema.py``).

A change becomes one JSON object with short keys (only the parts it has), so a whole run of
changes is one parameter of one statement. The encoding also does what one SQL statement per
part cannot: several writes of one step row, or of one timer, become one (later fields win; a
timer both set and cleared is cleared), exactly as applying them in turn would leave them.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from pyflow_cli.engine.changes import UNSET, Change, InstanceUpdate, NewLogEvent, StepWrite
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.status import InstanceStatus

APPLIED, DROPPED, FENCED = "t", "f", "x"
_KEEP_ON_RUN_WIPE = [int(EventType.WORKFLOW_QUEUED), int(EventType.WORKFLOW_START)]
_UPDATABLE = [f.name for f in fields(InstanceUpdate) if f.name != "bump_signal"]


def encode_changes(changes: list[Change]) -> str:
    """The JSON array ``apply_changes`` applies, in order."""
    return json.dumps([_encode(change) for change in changes], separators=(",", ":"),
                      allow_nan=False)


def _encode(change: Change) -> dict[str, Any]:
    out: dict[str, Any] = {"i": change.iid}
    if change.fence is not None:
        out["f"] = [change.fence.owner, change.fence.epoch]
    guards = _guards(change)
    if guards:
        out["g"] = guards
    if change.wipe_all:
        out["wa"] = 1
    elif change.wipe_keys or change.wipe_run_rows:
        out["wr"] = change.wipe_run_rows
        out["wk"] = list(change.wipe_keys)
        out["keep"] = _KEEP_ON_RUN_WIPE
    if change.log:
        out["l"] = [_row(e) for e in change.log]
    if change.steps:
        out["s"] = [_step(step) for step in _merged_steps(change.steps)]
    if change.shift_timers_ms:
        out["sh"] = change.shift_timers_ms
    last: dict[tuple[str, str], float | None] = {}  # None: cleared
    for timer in change.set_timers:
        last[(timer.cache_key, timer.kind)] = timer.due_ms
    for key in change.clear_timers:
        last[key] = None
    kept = [[key, kind, due] for (key, kind), due in last.items() if due is not None]
    cleared = [[key, kind] for (key, kind), due in last.items() if due is None]
    if kept:
        out["ts"] = kept
    if cleared:
        out["tc"] = cleared
    if change.consume_events:
        out["c"] = [[seq, key] for seq, key in change.consume_events]
    if change.instance is not None:
        update = _update(change.instance)
        if update:
            out["u"] = update
        if change.instance.bump_signal:
            out["b"] = 1
    return out


def _row(e: NewLogEvent) -> list[Any]:
    row = [e.timestamp_ms, int(e.event), e.group_key, e.target, e.encoded_metadata(),
           e.encoded_traceback(), e.version]
    if e.runner is not None:
        row.append(e.runner.engine)
    return row


def _guards(change: Change) -> dict[str, Any]:
    guards: dict[str, Any] = {}
    if change.expect_status is not None:
        guards["s"] = change.expect_status.value
    if change.expect_owner is not UNSET:
        guards["o"] = change.expect_owner
    if change.expect_lifetime is not None:
        guards["l"] = change.expect_lifetime
    if change.expect_signal is not None:
        guards["n"] = change.expect_signal
    return guards


def _merged_steps(steps: list[StepWrite]) -> list[StepWrite]:
    """One write per step row (an upsert cannot touch a row twice in one statement)."""
    merged: dict[str, StepWrite] = {}
    for step in steps:
        earlier = merged.get(step.cache_key)
        merged[step.cache_key] = step if earlier is None else earlier.updated_by(step)
    return list(merged.values())


def _step(step: StepWrite) -> list[Any]:
    return [step.cache_key, step.kind, step.target, step.state, step.value_json, step.error_json,
            step.config_json, step.attempts,
            None if step.attempt_open is None else int(step.attempt_open)]


def _update(update: InstanceUpdate) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in _UPDATABLE:
        value = getattr(update, name)
        if value is not UNSET:
            values[name] = value.value if isinstance(value, InstanceStatus) else value
    return values
