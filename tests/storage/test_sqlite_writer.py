"""The SQLite group-commit writer (``pyflow_cli/storage/writer.py``) on its own: batching, order,
a failing operation or commit, lazy writes, closing, and when its awaitables resolve."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pyflow_cli.engine.errors import StorageError
from pyflow_cli.storage.writer import RESOLVE_CHUNK, GroupCommitWriter

Op = Callable[[sqlite3.Connection], Any]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "writer.sqlite"
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (x INTEGER NOT NULL)")
        conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.execute("CREATE TABLE child (p INTEGER REFERENCES parent (id) "
                     "DEFERRABLE INITIALLY DEFERRED)")
    return path


def _connector(path: Path) -> Callable[[], sqlite3.Connection]:
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn
    return connect


@pytest.fixture
def make_writer(db: Path) -> Iterator[Callable[..., GroupCommitWriter]]:
    made: list[GroupCommitWriter] = []

    def make(linger_s: float = 0.01) -> GroupCommitWriter:
        writer = GroupCommitWriter(_connector(db), linger_s=linger_s)
        writer.start()
        made.append(writer)
        return writer

    yield make
    for writer in made:
        writer.close()


def _rows(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT x FROM t ORDER BY rowid")]


def insert(x: int) -> Op:
    return lambda conn: conn.execute("INSERT INTO t VALUES (?)", (x,)).lastrowid


class Gate:
    """An operation that holds the writer thread (and so its batch) until opened."""

    def __init__(self) -> None:
        self.entered, self.opened = threading.Event(), threading.Event()

    def __call__(self, conn: sqlite3.Connection) -> str:
        self.entered.set()
        self.opened.wait(10)
        return "gate"

    async def reached(self) -> None:
        await asyncio.to_thread(self.entered.wait, 10)


async def test_operations_queued_while_the_writer_is_busy_share_the_next_commit(
        make_writer: Callable[..., GroupCommitWriter], db: Path) -> None:
    writer = make_writer()
    gate = Gate()
    held = writer.submit(gate)
    await gate.reached()
    assert not writer.idle
    pending = [writer.submit(insert(n)) for n in range(20)]
    batches = writer.batches
    gate.opened.set()
    assert await held == "gate"
    await asyncio.gather(*pending)
    assert writer.batches == batches + 2  # the gate's, then all twenty in one
    assert _rows(db) == list(range(20))


async def test_a_failing_operation_undoes_only_itself(
        make_writer: Callable[..., GroupCommitWriter], db: Path) -> None:
    writer = make_writer()

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (99)")
        raise ValueError("no")

    gate = Gate()
    writer.submit(gate)
    await gate.reached()
    first, failing, last = writer.submit(insert(1)), writer.submit(half_then_fail), writer.submit(insert(3))
    gate.opened.set()
    assert isinstance(await first, int) and isinstance(await last, int)
    with pytest.raises(ValueError, match="no"):
        await failing
    assert _rows(db) == [1, 3]


class Plain:
    """An operation that can be applied together with others of its kind (like a plain change)."""

    calls: ClassVar[list[str]] = []

    def __init__(self, x: int | None) -> None:
        self.x = x

    def __call__(self, conn: sqlite3.Connection) -> str:
        Plain.calls.append(f"one {self.x}")
        conn.execute("INSERT INTO t VALUES (?)", (self.x,))
        return f"did {self.x}"

    @staticmethod
    def apply_many(conn: sqlite3.Connection, operations: list[Plain]) -> list[str]:
        Plain.calls.append(f"many {len(operations)}")
        conn.executemany("INSERT INTO t VALUES (?)", [(op.x,) for op in operations])
        return [f"did {op.x}" for op in operations]


async def test_a_run_of_operations_of_one_kind_is_applied_at_once_then_one_by_one_if_that_fails(
        make_writer: Callable[..., GroupCommitWriter], db: Path) -> None:
    writer = make_writer()
    Plain.calls = []
    gate = Gate()
    writer.submit(gate)
    await gate.reached()
    together = [writer.submit(Plain(n)) for n in (1, 2)]
    between = writer.submit(insert(3))
    with_bad = [writer.submit(Plain(n)) for n in (4, None, 6)]  # NULL breaks NOT NULL
    gate.opened.set()
    assert await asyncio.gather(*together) == ["did 1", "did 2"]
    assert isinstance(await between, int)
    assert await with_bad[0] == "did 4" and await with_bad[2] == "did 6"
    with pytest.raises(sqlite3.IntegrityError):
        await with_bad[1]
    assert Plain.calls == ["many 2", "many 3", "one 4", "one None", "one 6"]
    assert _rows(db) == [1, 2, 3, 4, 6]


async def test_a_failing_commit_fails_every_operation_of_its_batch_and_the_writer_goes_on(
        make_writer: Callable[..., GroupCommitWriter], db: Path) -> None:
    writer = make_writer()
    gate = Gate()
    writer.submit(gate)
    await gate.reached()
    innocent = writer.submit(insert(1))
    # A deferred foreign key is checked at COMMIT, which then fails for the whole batch.
    orphan = writer.submit(lambda conn: conn.execute("INSERT INTO child VALUES (7)"))
    gate.opened.set()
    for pending in (innocent, orphan):
        with pytest.raises(sqlite3.IntegrityError):
            await pending
    assert _rows(db) == []
    assert isinstance(await writer.submit(insert(2)), int)
    assert _rows(db) == [2]


async def test_an_awaitable_resolves_only_once_its_batch_is_committed(
        make_writer: Callable[..., GroupCommitWriter], db: Path) -> None:
    writer = make_writer()
    first, second = Gate(), Gate()
    writer.submit(first)
    await first.reached()
    written = writer.submit(insert(1))
    writer.submit(second)  # in the same batch as the insert, after it
    first.opened.set()
    await second.reached()
    await asyncio.sleep(0.01)
    assert not written.done()
    assert _rows(db) == []  # applied, not committed: nobody else sees it
    second.opened.set()
    await written
    assert _rows(db) == [1]


async def test_a_lazy_operation_waits_to_share_the_next_urgent_commit(
        make_writer: Callable[..., GroupCommitWriter], db: Path) -> None:
    writer = make_writer(linger_s=30.0)
    batches = writer.batches
    lazy = writer.submit(insert(1), lazy=True)
    await asyncio.sleep(0.05)
    assert not lazy.done()
    urgent = writer.submit(insert(2))
    await asyncio.gather(lazy, urgent)
    assert writer.batches == batches + 1
    assert _rows(db) == [1, 2]


async def test_a_lazy_operation_alone_is_committed_after_the_linger(
        make_writer: Callable[..., GroupCommitWriter], db: Path) -> None:
    writer = make_writer(linger_s=0.02)
    await asyncio.wait_for(writer.submit(insert(1), lazy=True), 5)
    assert _rows(db) == [1]


async def test_closing_commits_what_is_queued_and_resolves_it(
        make_writer: Callable[..., GroupCommitWriter], db: Path) -> None:
    writer = make_writer(linger_s=30.0)
    pending = [writer.submit(insert(n), lazy=True) for n in range(3)]
    writer.close()
    assert _rows(db) == [0, 1, 2]
    assert len(await asyncio.gather(*pending)) == 3
    with pytest.raises(StorageError, match="closed"):
        await writer.submit(insert(9))


def test_a_connection_that_cannot_open_is_reported_by_start(tmp_path: Path) -> None:
    def connect() -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        GroupCommitWriter(connect).start()


async def test_a_batch_s_awaitables_resolve_a_chunk_per_loop_turn(
        make_writer: Callable[..., GroupCommitWriter]) -> None:
    """Waking hundreds of steps in one loop turn would hold up everything else on the loop."""
    writer = make_writer()
    gate = Gate()
    writer.submit(gate)
    await gate.reached()
    pending = [writer.submit(insert(n)) for n in range(RESOLVE_CHUNK * 3 + 5)]
    gate.opened.set()
    await pending[0]
    assert sum(future.done() for future in pending) == RESOLVE_CHUNK
    await asyncio.gather(*pending)
