"""Wake-up notes between the engines on one PostgreSQL schema: LISTEN/NOTIFY.

A note is short text: ``w<ms>`` (work is due at that time, 0 for now: a new instance, one
released, resumed or put to sleep until then) or ``s<iid>`` (that instance was signalled: a
control request or an event for the engine that holds it). The writer gathers the notes of
what a batch wrote and, once the batch has committed, sends them in a transaction of their own
(``send``): a transaction that notifies takes a lock every notifying commit of the database
waits for, so it is kept short and out of the group commit, and it does not wait for its
commit to be flushed (nothing in it needs to survive a crash). Notes are joined into as few
notifications as fit PostgreSQL's payload limit.

Every engine listens on a connection of its own (``PgWakeups.follow``) and reconnects by itself
after a drop, then looks at everything (notes sent meanwhile were lost). A note can be lost in
other ways too, so engines still poll, only less often: notes make engines quick, never correct.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Iterable
from typing import Any

import psycopg

from pyflow_cli.engine.errors import StorageError
from pyflow_cli.engine.wakeups import Wakeup
from pyflow_cli.storage import pg_connect
from pyflow_cli.storage.pg_health import ServerHealth
from pyflow_cli.storage.url import PostgresLocation

KEEPALIVE_S = 5.0
"""How long the listener waits for a note before it checks that its connection still works."""
MAX_PAYLOAD = 7000  # bytes of one notification (PostgreSQL refuses 8000 and more)


def channel(schema: str) -> str:
    """The channel of a schema's engines: an identifier (no quoting) under 63 characters."""
    return "pyflow_" + hashlib.sha1(schema.encode()).hexdigest()[:20]


def due(ms: float | None) -> str:
    """The note for work due at ``ms`` (None: now)."""
    return f"w{int(ms) if ms is not None and ms > 0 else 0}"


def signalled(iid: int) -> str:
    return f"s{iid}"


def payloads(notes: Iterable[str]) -> list[str]:
    """The notes of a batch as notifications: each note once, the work notes as the earliest."""
    work: int | None = None
    others: dict[str, None] = {}
    for note in notes:
        if note[0] == "w":
            at = int(note[1:])
            work = at if work is None else min(work, at)
        else:
            others[note] = None
    ordered = ([f"w{work}"] if work is not None else []) + list(others)
    sent: list[str] = []
    for note in ordered:
        if sent and len(sent[-1]) + 1 + len(note) <= MAX_PAYLOAD:
            sent[-1] += " " + note
        else:
            sent.append(note)
    return sent


def decode(payload: str) -> list[Wakeup]:
    """The wake-ups of a notification (anything unknown in it is skipped)."""
    found: list[Wakeup] = []
    for note in payload.split():
        kind, number = note[:1], note[1:]
        if not number.isdigit():
            continue
        if kind == "w":
            found.append(Wakeup(due_ms=float(number)))
        elif kind == "s":
            found.append(Wakeup(iid=int(number)))
    return found


async def send(conn: psycopg.AsyncConnection[Any], schema_sql: str, name: str,
               notes: list[str]) -> None:
    """Send ``notes`` on ``name`` in one short transaction of their own (one round trip)."""
    async with conn.pipeline():
        await conn.execute("BEGIN")
        await conn.execute("SET LOCAL synchronous_commit TO off")
        await conn.execute(f"SELECT {schema_sql}.notify(%s, %s::text[])",
                           (name, payloads(notes)))
        await conn.execute("COMMIT")


class PgWakeups:
    """``WakeupFeed`` on a listening connection of its own."""

    def __init__(self, location: PostgresLocation, health: ServerHealth) -> None:
        self.location = location
        self.health = health
        self.channel = channel(location.schema)

    async def follow(self, deliver: Callable[[Wakeup], None]) -> None:
        while True:
            conn: Any = None
            try:
                conn = await pg_connect.connect(self.location)
                await conn.execute(f"LISTEN {self.channel}")
                self.health.back()
                deliver(Wakeup(everything=True))
                while True:
                    async for notification in conn.notifies(timeout=KEEPALIVE_S):
                        for wakeup in decode(notification.payload):
                            deliver(wakeup)
                    await asyncio.wait_for(conn.execute("SELECT 1"), KEEPALIVE_S)
            except (psycopg.Error, OSError, TimeoutError, StorageError) as error:
                self.health.lost(error)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(self.health.pause_s())
