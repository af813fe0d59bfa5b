"""One SQLite file behind a binding (a KV namespace, an R2 bucket, a D1 database).

Every operation is a function of the connection, run on the file's own thread by the same
group-commit writer the state store uses: the event loop never waits on SQLite, concurrent calls
(many instances using one namespace) queue on that thread and share commits, and each operation
runs in its own savepoint, so a failing one leaves nothing behind. An operation has returned only
once its transaction is committed with ``synchronous=FULL`` in WAL mode: a write that returned
survives a crash of the process (and a power cut). Other processes (``pyflow kv ...`` while
``pyflow dev`` runs) open the same file; SQLite's locking keeps them consistent.

The file is opened on first use, so a binding nobody touches creates nothing. ``on_change``, when
set, is called on the event loop after each committed operation that changed a row (the dev
server tells the explorer's open pages).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from pyflow_cli.engine.errors import StorageError
from pyflow_cli.storage.writer import GroupCommitWriter

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10_000


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL. Two processes opening a new file at once may find it locked: the
    switch does not wait through ``busy_timeout`` as other statements do, so wait here."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class BindingFile:
    """A lazily opened SQLite file with its writer thread; ``schema`` is run when it opens."""

    def __init__(self, path: Path, schema: str = "", pragmas: tuple[str, ...] = (),
                 factory: type[sqlite3.Connection] = sqlite3.Connection) -> None:
        self.path = path
        self._schema = schema
        self._pragmas = pragmas
        self._factory = factory
        self._writer: GroupCommitWriter | None = None
        self.on_change: Callable[[], None] | None = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               factory=self._factory)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _enable_wal(conn)
        conn.execute("PRAGMA synchronous = FULL")
        for pragma in self._pragmas:
            conn.execute(pragma)
        if self._schema:
            conn.executescript(self._schema)
        return conn

    def run(self, operation: Callable[[sqlite3.Connection], T]) -> Awaitable[T]:
        """Run ``operation`` on the file's thread, in a transaction committed before the result
        (or the operation's exception) is delivered."""
        writer = self._writer
        if writer is None:
            writer = self._open()
        if self.on_change is None:
            future: Awaitable[T] = writer.submit(operation)
            return future
        changed = False

        def observed(conn: sqlite3.Connection) -> T:
            nonlocal changed
            before = conn.total_changes
            result = operation(conn)
            changed = conn.total_changes != before
            return result

        watched = writer.submit(observed)
        watched.add_done_callback(lambda done: self._changed(done) if changed else None)
        return watched

    def _changed(self, done: asyncio.Future[Any]) -> None:
        if self.on_change is not None and not done.cancelled() and done.exception() is None:
            self.on_change()

    def _open(self) -> GroupCommitWriter:
        writer = GroupCommitWriter(self._connect, linger_s=0.0)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            writer.start()
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"Cannot open {self.path}: {exc}. Check the --persist-to "
                               "directory and that the file is a SQLite database.") from exc
        self._writer = writer
        return writer

    @property
    def opened(self) -> bool:
        return self._writer is not None

    def close(self) -> None:
        """Finish what is queued and close the file (a later ``run`` opens it again)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
