"""Group commit on PostgreSQL: one connection, one transaction per batch, sent as one pipeline.

Callers enqueue operations and get a future, as with the SQLite writer (``writer.py``): urgent
ones start a batch at once, lazy ones wait up to ``linger_s`` to share one. A batch is ``BEGIN``,
one statement per operation (a run of consecutive ``Change`` writes is a single statement),
``COMMIT``, all sent in psycopg's pipeline mode: the batch costs about one round trip and one
WAL flush, whatever its size. Futures resolve only after the ``COMMIT`` succeeded. Then the
wake-up notes of what the batch wrote (an operation's ``notes``) are announced, out of the
batch's transaction (``pg_wakeups.py``).

If a statement of the batch fails, the transaction is rolled back and the batch applied again
one operation at a time, each in a savepoint, so that the failing one fails alone. A deadlock
with another process's transaction (both lock instance rows) retries the whole batch. If the
connection is lost, the batch's callers get a ``StoreUnavailable`` (its outcome is unknown: a
lifetime resumes from what was committed; the batch is never applied again, since its ``COMMIT``
may have gone through) and a later batch connects again; while the server
cannot be reached, batches fail at once until the next try is due (``pg_health.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import psycopg

from pyflow_cli.engine.errors import StorageError
from pyflow_cli.storage.pg_health import ServerHealth
from pyflow_cli.storage.writer import outcome, resolve_in_chunks

Connect = Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]
Announce = Callable[[psycopg.AsyncConnection[Any], list[str]], Awaitable[None]]
_DEADLOCK_RETRIES = 3


class Operation(Protocol):
    """One write: it sends one statement on a cursor, and reads its result after the commit."""

    async def send(self, cursor: psycopg.AsyncCursor[Any]) -> None: ...

    def result(self, rows: list[Any]) -> Any:
        """The caller's value; an exception instance (returned, not raised) refuses the write,
        which must then have written nothing."""
        ...


class Batchable(Operation, Protocol):
    """Operations of one class that consecutive runs send as one statement."""

    @classmethod
    async def send_many(cls, cursor: psycopg.AsyncCursor[Any], run: list[Any]) -> None: ...

    @classmethod
    def results_many(cls, rows: list[Any], run: list[Any]) -> list[Any]: ...


_Item = tuple[Operation, "asyncio.Future[Any]"]


class PgWriter:
    """The writer task and its queue."""

    def __init__(self, connect: Connect, health: ServerHealth, announce: Announce | None = None,
                 linger_s: float = 0.01) -> None:
        self._connect = connect
        self._health = health
        self._announce = announce
        self._linger_s = linger_s
        self._retry_at = 0.0  # while the server cannot be reached: when to try again
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._queue: list[_Item] = []
        self._urgent = asyncio.Event()
        self._lazy_since: float | None = None
        self._closed = False
        self._committing = False
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.operations = 0

    async def start(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn
        self._task = asyncio.create_task(self._run(), name="pyflow-postgres-writer")

    def submit(self, operation: Operation, lazy: bool = False) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._closed:
            future.set_exception(StorageError("The state database is closed: pyflow is shutting "
                                              "down. Try again once it runs."))
            return future
        self._queue.append((operation, future))
        if not lazy:
            self._urgent.set()
        elif self._lazy_since is None:
            self._lazy_since = time.monotonic()
            asyncio.get_running_loop().call_later(self._linger_s, self._urgent.set)
        return future

    async def close(self) -> None:
        """Commit what is queued, then close the connection."""
        self._closed = True
        self._urgent.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing being committed."""
        return not self._queue and not self._committing

    async def _run(self) -> None:
        while True:
            await self._urgent.wait()
            self._urgent.clear()
            batch, self._queue, self._lazy_since = self._queue, [], None
            if batch:
                self._committing = True
                try:
                    results = await self._commit(batch)
                finally:
                    self._committing = False
                self.batches += 1
                self.operations += len(batch)
                resolve_in_chunks(results)
                await self._announce_notes(batch, results)
            if self._closed:
                if not self._queue:
                    return
                self._urgent.set()  # queued while closing: committed before the end

    async def _announce_notes(self, batch: list[_Item],
                              results: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
        if self._announce is None or self._conn is None:
            return
        notes = [note for (operation, _), (_, ok, value) in zip(batch, results, strict=True)
                 if ok and hasattr(operation, "notes") for note in operation.notes(value)]
        if notes:
            try:
                await self._announce(self._conn, notes)
            except psycopg.Error:  # lost: engines find the work by polling
                await self._rollback()

    async def _commit(self, batch: list[_Item]) -> list[tuple[asyncio.Future[Any], bool, Any]]:
        try:
            conn = await self._connection()
        except Exception as error:  # the server cannot be reached (said once, in pg_health)
            return self._failed(batch, error)
        for attempt in range(_DEADLOCK_RETRIES + 1):
            try:
                conn = await self._connection()
                values = await _pipelined(conn, batch)
                return [outcome(future, value) for (_, future), value in zip(batch, values,
                                                                              strict=True)]
            except psycopg.errors.DeadlockDetected:
                await self._rollback()
                if attempt == _DEADLOCK_RETRIES:
                    break
            except psycopg.OperationalError as error:
                if self._broken() or not _rolled_back(error):
                    await self._drop()
                    return self._failed(batch, error)
                await self._rollback()
                break
            except Exception:  # one operation cannot be applied: find it
                await self._rollback()
                break
        try:
            return await self._one_by_one(await self._connection(), batch)
        except (psycopg.Error, StorageError) as error:
            await self._rollback()
            return self._failed(batch, error)

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            now = time.monotonic()
            if self._health.down and now < self._retry_at:
                raise self._health.error
            try:
                self._conn = await self._connect()
            except Exception as error:
                failure = self._health.lost(error)
                self._retry_at = time.monotonic() + self._health.pause_s()
                raise failure from None
            self._health.back()
        return self._conn

    def _broken(self) -> bool:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            self._conn = None
            return True
        return False

    async def _drop(self) -> None:
        """Close the connection (a later batch makes another)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _rollback(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            await conn.execute("ROLLBACK")
        except psycopg.Error:
            with contextlib.suppress(Exception):
                await conn.close()
            self._conn = None

    def _failed(self, batch: list[_Item], error: BaseException
                ) -> list[tuple[asyncio.Future[Any], bool, Any]]:
        failure = self._health.lost(error)
        if failure is not error:
            failure.__cause__ = error
        return [(future, False, failure) for _, future in batch]

    @staticmethod
    async def _one_by_one(conn: psycopg.AsyncConnection[Any], batch: list[_Item]
                          ) -> list[tuple[asyncio.Future[Any], bool, Any]]:
        results: list[tuple[asyncio.Future[Any], bool, Any]] = []
        await conn.execute("BEGIN")
        for operation, future in batch:
            await conn.execute("SAVEPOINT op")
            try:
                cursor = conn.cursor()
                await operation.send(cursor)
                rows = await cursor.fetchall() if cursor.description else []
                await conn.execute("RELEASE SAVEPOINT op")
                results.append(outcome(future, operation.result(rows)))
            except psycopg.Error as error:
                if conn.broken:
                    raise
                await conn.execute("ROLLBACK TO SAVEPOINT op")
                results.append((future, False, error))
            except Exception as error:  # could not even be sent (a value it cannot encode)
                await conn.execute("ROLLBACK TO SAVEPOINT op")
                results.append((future, False, error))
        await conn.execute("COMMIT")
        return results


def _rolled_back(error: psycopg.OperationalError) -> bool:
    """Whether ``error`` is the server refusing a statement of the batch, which rolled the batch
    back (a lock or statement timeout, say): the batch can be applied again. Any other (the
    connection failing, maybe after its ``COMMIT`` went through: the server ending the session
    sends its last message then, and libpq may only report it as being busy) leaves the outcome
    unknown, and applying the batch again would write it twice or have its fences refuse what
    was written."""
    state = error.sqlstate
    return state is not None and not state.startswith(("08", "57P"))


async def _pipelined(conn: psycopg.AsyncConnection[Any], batch: list[_Item]) -> list[Any]:
    """The batch in one transaction, one pipeline; each operation's value, in order."""
    runs = _runs([operation for operation, _ in batch])
    async with conn.pipeline() as pipeline:
        await conn.execute("BEGIN")
        cursors = []
        for run in runs:
            cursor = conn.cursor()
            first = run[0]
            if len(run) > 1:
                await type(first).send_many(cursor, run)  # type: ignore[attr-defined]
            else:
                await first.send(cursor)
            cursors.append(cursor)
        await conn.execute("COMMIT")
        await pipeline.sync()
    values: list[Any] = []
    for run, cursor in zip(runs, cursors, strict=True):
        rows = await cursor.fetchall() if cursor.description else []
        if len(run) > 1:
            values += type(run[0]).results_many(rows, run)  # type: ignore[attr-defined]
        else:
            values.append(run[0].result(rows))
    return values


def _runs(operations: list[Operation]) -> list[list[Operation]]:
    """Consecutive operations of one class that can be sent as one statement, together."""
    runs: list[list[Operation]] = []
    for operation in operations:
        if (runs and hasattr(operation, "send_many")
                and type(runs[-1][0]) is type(operation)):
            runs[-1].append(operation)
        else:
            runs.append([operation])
    return runs
