"""Live updates for the explorer: a Server-Sent Events stream fed by the store's commit path.

``LiveHub`` is a ``StoreListener``: once a write is durable it learns which instance changed (its
new status, the kinds of log rows written) and queues a note for every open stream that watches
that workflow or instance. A stream sends what gathered in a short burst as one message per
instance, then the fresh status counts of the workflows concerned; the page re-reads what it
shows through the local API. Nothing polls: with no stream open, a write costs one length check.

A stream opens with a ``hello`` carrying this server's boot id. The browser's ``EventSource``
reconnects by itself after the server restarts; the page then re-reads everything it shows, so
nothing missed while the server was away stays missing.

Every stream also gets the notes about the session as a whole (``notify``): a binding's data
changed (``binding``), a cron ran (``cron``), the config was reloaded (``project``); and, when the
hub has an ``engines`` source, the engines connected to the store (``engines``) at the start and
every ``ENGINES_S`` seconds, so their heartbeats stay current without the page asking.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyflow_cli.api import EngineView
from pyflow_cli.engine.changes import UNSET, Change, NewInstance
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.status import InstanceStatus

BURST_S = 0.02
"""How long a stream gathers notes after the first before sending (one message per burst)."""
HEARTBEAT_S = 15.0
ENGINES_S = 5.0
RETRY_MS = 1000
MAX_PENDING = 5_000
"""Notes a slow reader may have waiting; past that it gets one ``resync`` instead."""

Resolve = Callable[[int], "tuple[str, str] | None"]
Counts = Callable[[str], Awaitable[dict[str, int]]]
Engines = Callable[[], Awaitable[list[EngineView]]]


@dataclass
class _Note:
    workflow: str
    id: str
    status: str | None = None
    events: set[str] = field(default_factory=set)
    deleted: bool = False


class Subscriber:
    """One open stream: what it watches and the notes waiting for it."""

    def __init__(self, workflow: str | None, instance_id: str | None, instances: bool = True) -> None:
        self.workflow = workflow
        self.instance_id = instance_id
        self.instances = instances
        self.pending: dict[tuple[str, str], _Note] = {}
        self.signals: dict[str, tuple[str, dict[str, Any]]] = {}
        self.resync = False
        self.wakeup = asyncio.Event()

    def wants(self, workflow: str, instance_id: str) -> bool:
        return self.instances and ((self.workflow is None or self.workflow == workflow)
                and (self.instance_id is None or self.instance_id == instance_id))

    def add(self, note: _Note) -> None:
        key = (note.workflow, note.id)
        held = self.pending.get(key)
        if held is None:
            if len(self.pending) >= MAX_PENDING:
                self.resync = True
            else:
                self.pending[key] = _Note(note.workflow, note.id, note.status, set(note.events),
                                          note.deleted)
        else:
            held.status = note.status or held.status
            held.events |= note.events
            held.deleted = held.deleted or note.deleted
        self.wakeup.set()

    def signal(self, event: str, data: dict[str, Any]) -> None:
        self.signals[event + json.dumps(data, sort_keys=True)] = (event, data)
        self.wakeup.set()

    def take(self) -> tuple[list[_Note], list[tuple[str, dict[str, Any]]], bool]:
        notes, signals, resync = list(self.pending.values()), list(self.signals.values()), self.resync
        self.pending, self.signals, self.resync = {}, {}, False
        self.wakeup.clear()
        return notes, signals, resync


class LiveHub:
    """Fans durable writes out to the open streams (see the module docstring)."""

    def __init__(self, resolve: Resolve | None = None) -> None:
        self.boot_id = uuid.uuid4().hex
        self.resolve = resolve
        self._names: dict[int, tuple[str, str]] = {}
        self._subscribers: set[Subscriber] = set()
        self.closed = asyncio.Event()
        self.engines: Engines | None = None

    # -- StoreListener ------------------------------------------------------------------------------
    def created(self, new: NewInstance, iid: int) -> None:
        self._names[iid] = (new.workflow, new.id)
        if self._subscribers:
            self._publish(_Note(new.workflow, new.id, InstanceStatus.QUEUED.value,
                                {EventType.WORKFLOW_QUEUED.name}))

    def remember(self, iid: int, workflow: str, instance_id: str, created_ms: float) -> None:
        self._names[iid] = (workflow, instance_id)

    def wants(self, change: Change) -> bool:
        return bool(self._subscribers)

    def changed(self, change: Change) -> None:
        if not self._subscribers:
            return
        name = self._names.get(change.iid)
        if name is None and self.resolve is not None:
            try:
                name = self.resolve(change.iid)
            except Exception:
                name = None  # the store is closing; the page catches up when it reconnects
            if name is not None:
                self._names[change.iid] = name
        if name is None:
            return
        update = change.instance
        status = update.status if update is not None and update.status is not UNSET else None
        self._publish(_Note(name[0], name[1], status.value if status is not None else None,
                            {row.event.name for row in change.log}))

    def deleted(self, workflow: str, ids: Sequence[str]) -> None:
        for instance_id in ids:
            self._publish(_Note(workflow, instance_id, deleted=True))

    def notify(self, event: str, data: dict[str, Any]) -> None:
        """Send ``event`` to every open stream with its next burst (the same note twice in a
        burst is sent once)."""
        for subscriber in self._subscribers:
            subscriber.signal(event, data)

    def binding_changed(self, kind: str, name: str) -> None:
        """``LocalBindings.on_change``: a KV namespace, R2 bucket or D1 database was written."""
        if self._subscribers:
            self.notify("binding", {"kind": kind, "name": name})

    def _publish(self, note: _Note) -> None:
        for subscriber in self._subscribers:
            if subscriber.wants(note.workflow, note.id):
                subscriber.add(note)

    # -- streams ------------------------------------------------------------------------------------
    def close(self) -> None:
        """End every open stream (the server is shutting down)."""
        self.closed.set()
        for subscriber in self._subscribers:
            subscriber.wakeup.set()

    async def stream(self, workflow: str | None, instance_id: str | None,
                     counts: Counts, instances: bool = True) -> AsyncIterator[str]:
        """The text of one SSE stream, until the client leaves or the hub closes; without
        ``instances``, only the notes about the session as a whole."""
        subscriber = Subscriber(workflow, instance_id, instances)
        self._subscribers.add(subscriber)
        loop = asyncio.get_running_loop()
        engines_due = loop.time() + ENGINES_S
        try:
            yield (f"retry: {RETRY_MS}\n" + _event("hello", {"server": self.boot_id})
                   + await self._engines())
            while not self.closed.is_set():
                wait = min(HEARTBEAT_S, engines_due - loop.time()) if self.engines else HEARTBEAT_S
                try:
                    await asyncio.wait_for(subscriber.wakeup.wait(), max(wait, 0.0))
                except TimeoutError:
                    if self.engines is None:
                        yield ": heartbeat\n\n"
                        continue
                if self.closed.is_set():
                    break
                message = ""
                if subscriber.wakeup.is_set():
                    await asyncio.sleep(BURST_S)
                    notes, signals, resync = subscriber.take()
                    message = await _message(notes, signals, resync, counts)
                if self.engines is not None and loop.time() >= engines_due:
                    engines_due = loop.time() + ENGINES_S
                    message += await self._engines()
                yield message or ": heartbeat\n\n"
        finally:
            self._subscribers.discard(subscriber)

    async def _engines(self) -> str:
        if self.engines is None:
            return ""
        try:
            return _event("engines", {"engines": await self.engines()})
        except Exception:
            return ""  # the store is closing: the page reads them again when it reconnects

    @property
    def streams(self) -> int:
        return len(self._subscribers)


async def _message(notes: list[_Note], signals: list[tuple[str, dict[str, Any]]], resync: bool,
                   counts: Counts) -> str:
    parts: list[str] = []
    if resync:
        parts.append(_event("resync", {}))
    parts += [_event(name, data) for name, data in signals]
    touched: dict[str, None] = {}
    for note in notes:
        body: dict[str, Any] = {"workflow": note.workflow, "id": note.id}
        if note.deleted:
            body["deleted"] = True
        if note.status is not None:
            body["status"] = note.status
        if note.events:
            body["events"] = sorted(note.events)
        parts.append(_event("instance", body))
        if note.status is not None or note.deleted:
            touched[note.workflow] = None
    for workflow in touched if not resync else ():
        try:
            parts.append(_event("counts", {"workflow": workflow, "counts": await counts(workflow)}))
        except Exception:
            continue  # a workflow removed by a reload: nothing to count
    return "".join(parts)


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
