"""The write vocabulary of the storage port: ``Change`` — everything one use case writes about
one instance, applied atomically — and what it is made of: log rows (``NewLogEvent``), step rows
(``StepWrite``), instance fields (``InstanceUpdate``), and new instances (``NewInstance``).

The engine builds changes; a ``Store`` (``store.py``) commits them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, NamedTuple

from pyflow_cli.engine.events import EventType, Runner
from pyflow_cli.engine.serde import encode_plain
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import Lease, StepRecord, TimerRecord


class _Unset:
    """Marks an ``InstanceUpdate`` field that is left as it is (``None`` means SQL NULL)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


class NewLogEvent(NamedTuple):
    """An event-log row to write. A tuple, as the engine makes several per step."""

    event: EventType
    timestamp_ms: float
    group_key: str | None = None
    target: str | None = None
    metadata: Mapping[str, Any] = MappingProxyType({})
    metadata_json: str | None = None  # already-encoded metadata (spares encoding it again)
    # A failure's user traceback (engine/tracebacks), stored beside the row and never in its
    # metadata, whose shape is the reference's.
    traceback: Mapping[str, Any] | None = None
    # The version of the user's code that wrote it (engine/versions): set on ATTEMPT_START rows.
    version: str | None = None
    # On an attempt's start: the engine and the code version that ran it (``LogEvent.runner``).
    runner: Runner | None = None

    def encoded_metadata(self) -> str:
        if self.metadata_json is not None:
            return self.metadata_json
        return encode_plain(dict(self.metadata)) if self.metadata else "{}"

    def encoded_traceback(self) -> str | None:
        return encode_plain(dict(self.traceback)) if self.traceback is not None else None


class StepWrite(NamedTuple):
    """Upsert of a step row; ``None`` fields keep their stored value."""

    cache_key: str
    kind: str
    target: str
    state: str | None = None
    value_json: str | None = None
    error_json: str | None = None
    config_json: str | None = None
    attempts: int | None = None
    attempt_open: bool | None = None

    def applied_to(self, row: StepRecord | None) -> StepRecord:
        """The step row as it is after this write (``row``: as it was, if it existed)."""
        if row is None:
            return StepRecord(self.cache_key, self.kind, self.target, self.state or "started",
                              self.value_json, self.error_json, self.config_json,
                              self.attempts or 0, bool(self.attempt_open))
        return StepRecord(
            row.cache_key, row.kind, row.target,
            self.state if self.state is not None else row.state,
            self.value_json if self.value_json is not None else row.value_json,
            self.error_json if self.error_json is not None else row.error_json,
            self.config_json if self.config_json is not None else row.config_json,
            self.attempts if self.attempts is not None else row.attempts,
            self.attempt_open if self.attempt_open is not None else row.attempt_open)

    def updated_by(self, later: StepWrite) -> StepWrite:
        """This write followed by ``later`` (same step), as one write. A step row keeps the
        kind and target it was created with."""
        return StepWrite(
            self.cache_key, self.kind, self.target,
            later.state if later.state is not None else self.state,
            later.value_json if later.value_json is not None else self.value_json,
            later.error_json if later.error_json is not None else self.error_json,
            later.config_json if later.config_json is not None else self.config_json,
            later.attempts if later.attempts is not None else self.attempts,
            later.attempt_open if later.attempt_open is not None else self.attempt_open)


@dataclass(frozen=True)
class InstanceUpdate:
    """Fields of the instance row to set; ``UNSET`` leaves one alone, ``None`` clears it."""

    status: Any = UNSET
    output_json: Any = UNSET
    error_json: Any = UNSET
    runnable_at: Any = UNSET
    lease_owner: Any = UNSET
    lease_expires: Any = UNSET
    paused_at: Any = UNSET
    version_id: Any = UNSET
    control: Any = UNSET
    lifetime: Any = UNSET
    bump_signal: bool = False

    def updated_by(self, later: InstanceUpdate) -> InstanceUpdate:
        """These fields, with every field ``later`` sets taking its value."""
        changed = {f.name: getattr(later, f.name) for f in fields(later)
                   if getattr(later, f.name) is not UNSET and f.name != "bump_signal"}
        return replace(self, bump_signal=self.bump_signal or later.bump_signal, **changed)


@dataclass
class Change:
    """Everything one use case writes about one instance, applied atomically, in this order:
    guards (if one fails, nothing), wipes, log rows, step writes, the shift of the timers stored
    before the change, timers set, timers cleared (so a timer both set and cleared is cleared),
    events consumed, the instance update. A change for an instance that does not exist (never
    created, or deleted) writes nothing, as if a guard had failed."""

    iid: int
    log: list[NewLogEvent] = field(default_factory=list)
    steps: list[StepWrite] = field(default_factory=list)
    set_timers: list[TimerRecord] = field(default_factory=list)
    clear_timers: list[tuple[str, str]] = field(default_factory=list)
    shift_timers_ms: float = 0.0
    consume_events: list[tuple[int, str]] = field(default_factory=list)  # (inbox seq, cache key)
    instance: InstanceUpdate | None = None
    # Wipes, for restart: everything (``wipe_all``: log, steps, timers, inbox), or the given step
    # keys' rows plus (``wipe_run_rows``) every workflow-level row but QUEUED and START.
    wipe_all: bool = False
    wipe_keys: Sequence[str] = ()
    wipe_run_rows: bool = False
    # The writer's lease: the change is applied only if the instance's lease is still this one
    # (owner and epoch); otherwise nothing is written and ``commit`` raises ``LeaseLost``.
    # Checked before the guards. Every write a lifetime makes carries one.
    fence: Lease | None = None
    # Applied only if the row still matches (compare-and-set); otherwise the change is dropped
    # and ``commit`` resolves to False.
    expect_status: InstanceStatus | None = None
    expect_owner: Any = UNSET
    expect_lifetime: int | None = None
    expect_signal: int | None = None

    @property
    def plain(self) -> bool:
        """No guard, no wipe and no shift (a fence is fine): it can be merged with
        (``absorb``) or applied together with other plain changes."""
        return (self.expect_status is None and self.expect_owner is UNSET
                and self.expect_lifetime is None and self.expect_signal is None
                and not self.wipe_all and not self.wipe_keys and not self.wipe_run_rows
                and not self.shift_timers_ms)

    def absorb(self, later: Change) -> Change:
        """Make ``self`` also do what ``later`` does, after what it does (both plain, same
        instance), so that committing it writes what committing both in turn would (but for
        the signal: two bumps make one change of it). Successive writes of one step row become
        one; a timer ``later`` sets or clears replaces what ``self`` did to it. Returns ``self``."""
        assert self.plain and later.plain and self.iid == later.iid
        assert later.fence is None or later.fence == self.fence or self.fence is None
        self.fence = self.fence or later.fence
        if later.instance is not None:
            self.instance = (later.instance if self.instance is None
                             else self.instance.updated_by(later.instance))
        self.log += later.log
        for step in later.steps:
            self.add_step(step)
        if later.set_timers or later.clear_timers:
            touched = {(t.cache_key, t.kind) for t in later.set_timers} | set(later.clear_timers)
            self.set_timers = [t for t in self.set_timers if (t.cache_key, t.kind) not in touched]
            self.clear_timers = [c for c in self.clear_timers if c not in touched]
            self.set_timers += later.set_timers
            self.clear_timers += later.clear_timers
        self.consume_events += later.consume_events
        return self

    def add_step(self, step: StepWrite) -> None:
        """Write ``step`` after the others; merged with the last write if it is of the same row."""
        if self.steps and self.steps[-1].cache_key == step.cache_key:
            self.steps[-1] = self.steps[-1].updated_by(step)
        else:
            self.steps.append(step)

    def logs(self, *events: NewLogEvent) -> Change:
        self.log.extend(events)
        return self


@dataclass(frozen=True)
class NewInstance:
    workflow: str
    id: str
    params_json: str
    created_ms: float
    trigger: int
    version_id: str | None
    shown_params_json: str | None = None  # as the log shows the params, if not params_json

    def queued_metadata(self) -> str:
        """The metadata of its ``WORKFLOW_QUEUED`` row, encoded (the params as shown)."""
        params = self.shown_params_json or self.params_json
        return '{"params":' + params + ',"trigger":{"source":' + str(self.trigger) + "}}"
