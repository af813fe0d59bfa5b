"""Group commit: one thread owns the write connection and commits many changes at once.

Callers on the event loop enqueue an operation (a function of the connection) and get a future,
which an operation that returns an exception (a refusal: it wrote nothing) makes raise it.
The thread takes everything queued, runs each operation inside its own savepoint (one failing
operation does not undo the others), commits once, and then resolves all the futures with one
hop back to the loop. Under load, hundreds of step results share one fsync.

An operation may be *lazy*: nobody waits for it, so the thread holds it back for up to
``linger_s`` hoping an urgent one (a step result someone awaits) comes along to share its
commit. A step's ``ATTEMPT_START`` row and its result then cost one fsync, not two.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pyflow_cli.engine.errors import StateLostError, StorageError

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], Any]


class GroupCommitWriter:
    """A dedicated writer thread with a queue of operations."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], linger_s: float = 0.01,
                 explain: Callable[[BaseException], Exception | None] | None = None,
                 check: Callable[[], None] | None = None) -> None:
        self._connect = connect
        self._linger_s = linger_s
        self._explain = explain or (lambda error: None)
        self._check = check  # raises if the database may no longer be written (before a batch)
        self._died: Exception | None = None
        self._queue: list[tuple[Operation, asyncio.Future[Any]]] = []
        self._urgent = 0
        self._lazy_since: float | None = None
        self._committing = False
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self.batches = 0
        self.operations = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pyflow-sqlite-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._open_error is not None:
            raise self._open_error

    def submit(self, operation: Operation, lazy: bool = False) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        with self._cond:
            if self._closed:
                future.set_exception(StorageError("The state database is closed: pyflow is "
                                                  "shutting down. Try again once it runs."))
                return future
            if self._died is not None:
                future.set_exception(self._died)
                return future
            self._queue.append((operation, future))
            if not lazy:
                self._urgent += 1
                if self._urgent == 1:
                    self._cond.notify()
            elif self._lazy_since is None:
                self._lazy_since = time.monotonic()
                self._cond.notify()
        return future

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # reported to start()
            self._open_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop(conn)
        except BaseException as exc:  # a bug: fail what waits and what comes, never hang it
            self._stopped_by(exc)
        finally:
            conn.close()

    def _loop(self, conn: sqlite3.Connection) -> None:
        while True:
            with self._cond:
                while not self._ready_to_commit():
                    self._cond.wait(self._wait_time())
                if not self._queue and self._closed:
                    return
                batch, self._queue = self._queue, []
                self._urgent, self._lazy_since = 0, None
                self._committing = True
            try:
                self._commit(conn, batch)
            finally:
                with self._cond:
                    self._committing = False

    def _stopped_by(self, exc: BaseException) -> None:
        died = StateLostError(f"The state store's writer stopped ({type(exc).__name__}: {exc}); "
                              "nothing more can be stored. Restart the process.")
        with self._cond:
            self._died = died
            waiting, self._queue = self._queue, []
        _hand_back([(future, False, died) for _, future in waiting])

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing being committed."""
        with self._cond:
            return not self._queue and not self._committing

    @staticmethod
    def _apply_run(conn: sqlite3.Connection, run: list[tuple[Operation, asyncio.Future[Any]]]
                   ) -> list[tuple[asyncio.Future[Any], bool, Any]]:
        """Apply a run of operations: all at once through their ``apply_many`` if they have one
        (one ``executemany`` per table instead of statements per operation), else one by one,
        each in a savepoint so that a failing one undoes only itself."""
        apply_many = getattr(run[0][0], "apply_many", None)
        if apply_many is not None and len(run) > 1:
            conn.execute("SAVEPOINT run")
            try:
                values = apply_many(conn, [operation for operation, _ in run])
            except Exception:
                conn.execute("ROLLBACK TO run")
                conn.execute("RELEASE run")
            else:
                conn.execute("RELEASE run")
                return [outcome(future, value) for (_, future), value in zip(run, values, strict=True)]
        results: list[tuple[asyncio.Future[Any], bool, Any]] = []
        for operation, future in run:
            conn.execute("SAVEPOINT op")
            try:
                value = operation(conn)
            except Exception as exc:
                conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
                results.append((future, False, exc))
            else:
                conn.execute("RELEASE op")
                results.append(outcome(future, value))
        return results

    def _ready_to_commit(self) -> bool:
        if self._urgent or self._closed:
            return True
        return self._lazy_since is not None and time.monotonic() - self._lazy_since >= self._linger_s

    def _wait_time(self) -> float | None:
        if self._lazy_since is None:
            return None
        return max(0.0, self._linger_s - (time.monotonic() - self._lazy_since))

    def _commit(self, conn: sqlite3.Connection,
                batch: list[tuple[Operation, asyncio.Future[Any]]]) -> None:
        results: list[tuple[asyncio.Future[Any], bool, Any]] = []
        try:
            if self._check is not None:
                self._check()
            conn.execute("BEGIN IMMEDIATE")
            for run in _runs(batch):
                results += self._apply_run(conn, run)
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # a failed COMMIT may have ended it
                    conn.execute("ROLLBACK")
            results = [(future, False, exc) for _, future in batch]
        # An error that means the database itself is unusable (read-only, damaged) reaches the
        # caller as the one clear error saying so.
        results = [(future, ok, value if ok else self._explain(value) or value)
                   for future, ok, value in results]
        self.batches += 1
        self.operations += len(batch)
        _hand_back(results)


def _hand_back(results: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    """Resolve futures on their own loops (from the writer thread)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for item in results:
        by_loop.setdefault(item[0].get_loop(), []).append(item)
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(resolve_in_chunks, items)


def _runs(batch: list[tuple[Operation, asyncio.Future[Any]]]
          ) -> list[list[tuple[Operation, asyncio.Future[Any]]]]:
    """Split a batch into runs of consecutive operations that can be applied together."""
    runs: list[list[tuple[Operation, asyncio.Future[Any]]]] = []
    for item in batch:
        apply_many = getattr(item[0], "apply_many", None)
        if runs and apply_many is not None and getattr(runs[-1][0][0], "apply_many", None) is apply_many:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def outcome(future: asyncio.Future[Any], value: Any) -> tuple[asyncio.Future[Any], bool, Any]:
    """An operation that refuses (it wrote nothing) returns its exception: its caller gets it."""
    return (future, not isinstance(value, Exception), value)


def resolve_in_chunks(items: list[tuple[asyncio.Future[Any], bool, Any]], start: int = 0) -> None:
    """Resolve a commit's futures, ``RESOLVE_CHUNK`` per turn of the event loop. Each one wakes
    a waiting step: resolved all at once, the hundreds of a group commit would run in one turn,
    and everything else on the loop (an HTTP request, a timer) would wait behind all of them."""
    end = min(start + RESOLVE_CHUNK, len(items))
    for future, ok, value in items[start:end]:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
    if end < len(items):
        asyncio.get_running_loop().call_soon(resolve_in_chunks, items, end)


RESOLVE_CHUNK = 32
