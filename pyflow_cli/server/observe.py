"""Terminal lines about instances and steps, read off the writes the engine makes.

``ObservedStore`` wraps the store (whichever backend) with listeners on its writes: every
change the engine or the service commits carries the event-log rows that describe it (the log
is the truth), so the dev server can print a line per instance event (``info``) and per step
event (``debug``), and push live updates to the explorer, without the engine knowing about
either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pyflow_cli.engine.admission import CreationLimits, RunningLimit
from pyflow_cli.engine.changes import Change, NewInstance, NewLogEvent
from pyflow_cli.engine.events import EventType, TriggerSource
from pyflow_cli.engine.store import InstanceRecord, Store
from pyflow_cli.engine.tracebacks import text_of
from pyflow_cli.server.logs import DevLog

_TRIGGERS = {TriggerSource.API: "🌎 API", TriggerSource.BINDING: "🔗 Binding",
             TriggerSource.EVENT: "📩 Event", TriggerSource.CRON: "⏰ Cron",
             TriggerSource.CLI: "🖥️ CLI"}
_INFO_EVENTS = {
    EventType.WORKFLOW_SUCCESS: "✅ complete",
    EventType.WORKFLOW_FAILURE: "❌ errored",
    EventType.WORKFLOW_TERMINATED: "🚫 terminated",
    EventType.WORKFLOW_PAUSED: "⏸️ paused",
    EventType.WORKFLOW_QUEUED: "🔁 restarted",
    EventType.ROLLBACK_START: "↩️ rolling back",
    EventType.ROLLBACK_COMPLETE: "↩️ rolled back",
    EventType.ROLLBACK_FAILED: "↩️ rollback failed",
}


_LINE_EVENTS = frozenset({EventType.WORKFLOW_RUNNING, *_INFO_EVENTS})
"""The events of the lines printed at ``info`` (besides any row with a traceback)."""


class StoreListener(Protocol):
    """Told about writes once they are durable. Runs on the event loop: it must be quick and
    must not raise."""

    def created(self, new: NewInstance, iid: int) -> None: ...

    def remember(self, iid: int, workflow: str, instance_id: str, created_ms: float) -> None:
        """An instance this process now runs (claimed): which iid is which instance."""
        ...

    def wants(self, change: Change) -> bool:
        """Whether ``changed(change)`` would do anything. Asked before the commit: a write no
        listener wants costs no callback (most of a busy server's writes are step rows that only
        ``--log-level debug`` prints)."""
        ...

    def changed(self, change: Change) -> None: ...

    def deleted(self, workflow: str, ids: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class _Known:
    workflow: str
    id: str
    created_ms: float


class InstanceLog:
    """Formats instance and step events as lines on a ``DevLog``."""

    def __init__(self, log: DevLog) -> None:
        self.log = log
        self._known: dict[int, _Known] = {}
        self._started: set[int] = set()

    def remember(self, iid: int, workflow: str, instance_id: str, created_ms: float) -> None:
        self._known[iid] = _Known(workflow, instance_id, created_ms)

    def created(self, new: NewInstance, iid: int) -> None:
        self.remember(iid, new.workflow, new.id, new.created_ms)
        if not self.log.enabled("info"):
            return
        try:
            trigger = f" ({_TRIGGERS[TriggerSource(new.trigger)]})"
        except (ValueError, KeyError):
            trigger = ""
        self.log.info(f"{new.workflow} {new.id}: 🕒 queued{trigger}")

    def deleted(self, workflow: str, ids: Sequence[str]) -> None:
        """Nothing to print: deleting is the user's own request, answered where they asked."""

    def wants(self, change: Change) -> bool:
        if self.log.enabled("debug"):
            return True
        if self.log.enabled("info"):
            return any(row.event in _LINE_EVENTS or row.traceback is not None
                       for row in change.log)
        return self.log.enabled("warn") and any(row.traceback is not None for row in change.log)

    def changed(self, change: Change) -> None:
        try:
            self._changed(change)
        except Exception as exc:  # a log line must never disturb the engine
            self.log.debug(f"cannot describe a change of instance #{change.iid}: {exc!r}")

    def _changed(self, change: Change) -> None:
        known = self._known.get(change.iid)
        name = f"{known.workflow} {known.id}" if known else f"instance #{change.iid}"
        for row in change.log:
            self._row(change.iid, name, known, row)

    def _row(self, iid: int, name: str, known: _Known | None, row: NewLogEvent) -> None:
        event = row.event
        if event is EventType.WORKFLOW_RUNNING:
            if iid not in self._started:
                self._started.add(iid)
                self.log.info(f"{name}: ▶ running")
            else:
                self.log.debug(f"{name}: ▶ running")
            return
        if event in _INFO_EVENTS:
            text = f"{name}: {_INFO_EVENTS[event]}"
            if event is EventType.WORKFLOW_FAILURE:
                error = row.metadata.get("error") or {}
                text += f": {error.get('name', 'Error')}: {error.get('message', '')}"
            if event in (EventType.WORKFLOW_SUCCESS, EventType.WORKFLOW_FAILURE) and known:
                text += f" ({_duration(row.timestamp_ms - known.created_ms)})"
            if event is EventType.ROLLBACK_START:
                text += f" {_steps(row.metadata.get('totalSteps'))}"
            if event in (EventType.ROLLBACK_COMPLETE, EventType.ROLLBACK_FAILED):
                text += (f" ({row.metadata.get('completedSteps')} of "
                         f"{_steps(row.metadata.get('totalSteps'))})")
            if event is EventType.WORKFLOW_QUEUED:
                self._started.discard(iid)
            if row.traceback is not None:
                text += "\n" + _frames(row.traceback)
            self.log.info(text)
            return
        if row.traceback is None and not self.log.enabled("debug"):
            return  # a step line nobody reads
        step = _step_line(row)
        if step is not None and row.traceback is not None:
            # A failure of the user's code: one block at the default level, frames below.
            self.log.warn(f"{name}: {step}\n{_frames(row.traceback)}")
        elif step is not None:
            self.log.debug(f"{name}: {step}")


def _step_line(row: NewLogEvent) -> str | None:
    target, meta = row.target or "", row.metadata
    event = row.event
    if event is EventType.WORKFLOW_WAITING:
        return "⏰ waiting"
    if event is EventType.STEP_START:
        return f'step "{target}" started'
    if event is EventType.STEP_SUCCESS:
        return f'step "{target}" succeeded'
    if event is EventType.STEP_FAILURE:
        return f'step "{target}" failed'
    if event is EventType.ROLLBACK_STEP_SUCCESS:
        return f'rollback of "{target}" done'
    if event is EventType.ROLLBACK_ATTEMPT_FAILURE:
        error = meta.get("error") or {}
        return (f'rollback of "{target}" attempt {meta.get("attempt")} failed: '
                f"{error.get('name', 'Error')}: {error.get('message', '')}")
    if event is EventType.ROLLBACK_STEP_FAILURE:
        error = meta.get("error")
        reason = f": {error.get('name')}: {error.get('message')}" if isinstance(error, dict) else ""
        return f'rollback of "{target}" failed{reason}'
    if event is EventType.ATTEMPT_FAILURE:
        error = meta.get("error") or {}
        retry = meta.get("retryDelayMs")
        again = f", retrying in {_duration(float(retry))}" if retry is not None else ""
        return (f'step "{target}" attempt {meta.get("attempt")} failed: '
                f"{error.get('name', 'Error')}: {error.get('message', '')}{again}")
    if event is EventType.SLEEP_START:
        return f'💤 sleeping "{target}"'
    if event is EventType.WAIT_START:
        return f'👀 waiting for event "{meta.get("event", "")}" ("{target}")'
    if event is EventType.WAIT_COMPLETE:
        return f'📩 event "{meta.get("type", "")}" received ("{target}")'
    if event is EventType.WAIT_TIMED_OUT:
        return f'⌛ wait "{target}" timed out'
    return None


def _frames(trace: Mapping[str, Any]) -> str:
    """A stored traceback's frames, indented under the line they belong to."""
    text = text_of(trace.get("frames") or [], int(trace.get("omitted") or 0))
    return "\n".join("    " + part for part in text.split("\n"))


def _steps(count: object) -> str:
    return f"{count} step" + ("" if count == 1 else "s")


def _duration(ms: float) -> str:
    if ms < 1000:
        return f"{max(ms, 0):.0f}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    minutes, seconds = divmod(int(ms / 1000), 60)
    return f"{minutes}m {seconds}s"


class ObservedStore:
    """A store that tells its listeners about every write once it is durable; everything else
    goes straight to the store it wraps."""

    def __init__(self, inner: Store, *listeners: StoreListener) -> None:
        self.inner = inner
        self.listeners = list(listeners)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def commit(self, change: Change, *args: Any, **kwargs: Any) -> Awaitable[bool]:
        result = self.inner.commit(change, *args, **kwargs)
        if not change.log:
            return result
        listeners = [listener for listener in self.listeners if listener.wants(change)]
        if not listeners:
            return result

        def tell() -> None:
            for listener in listeners:
                listener.changed(change)

        if isinstance(result, asyncio.Future):
            def done(future: asyncio.Future[bool]) -> None:
                if not future.cancelled() and future.exception() is None and future.result():
                    tell()
            result.add_done_callback(done)
        else:
            tell()
        return result

    async def create_instances(self, instances: Sequence[NewInstance],
                               lease: tuple[str, float] | None = None,
                               limits: CreationLimits | None = None) -> list[int | None]:
        iids = await self.inner.create_instances(instances, lease, limits)
        for listener in self.listeners:
            for new, iid in zip(instances, iids, strict=True):
                if iid is not None:
                    listener.created(new, iid)
        return iids

    async def delete_instances(self, workflow: str, ids: Sequence[str] | None) -> list[str]:
        deleted = await self.inner.delete_instances(workflow, ids)
        if deleted:
            for listener in self.listeners:
                listener.deleted(workflow, deleted)
        return deleted

    async def claim_runnable(self, owner: str, now_ms: float, lease_ms: float, limit: int,
                             workflows: Sequence[str],
                             running: RunningLimit | None = None) -> list[InstanceRecord]:
        records = await self.inner.claim_runnable(owner, now_ms, lease_ms, limit, workflows,
                                                  running)
        for listener in self.listeners:
            for record in records:
                listener.remember(record.iid, record.workflow, record.id, record.created_ms)
        return records

    def instance_name(self, iid: int) -> tuple[str, str] | None:
        """(workflow, id) of instance ``iid`` if the store can read it right here (SQLite: a
        primary-key lookup), else None (the listeners know the instances created or claimed
        in this process)."""
        read = getattr(self.inner, "instance_name", None)
        return read(iid) if read is not None else None
