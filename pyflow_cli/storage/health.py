"""Is the state database usable? Integrity checks, and clear errors for a damaged or read-only one.

An engine must not run on a damaged database: it would answer some reads with errors and lose
writes. ``quick_check`` runs SQLite's ``PRAGMA quick_check`` (page and b-tree structure, not
index contents) within a time budget when a server or engine opens the store: about 0.3 s for
100,000 instances (215 MB, warm cache), milliseconds for a usual project. A store too big to check
within the budget is not held up; ``pyflow doctor`` runs the full ``integrity_check``.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from pyflow_cli.engine.errors import StorageError

QUICK_CHECK_BUDGET_S = 1.0
"""How long opening a store for an engine may spend checking it."""
_CORRUPT = ("malformed", "not a database", "corrupt")
_READ_ONLY = ("readonly", "read-only")


class StoreDamaged(StorageError):
    """The state database failed an integrity check (or SQLite found it corrupt)."""

    code = "pyflow.storage.damaged"


class StoreReadOnly(StorageError):
    """pyflow needs to write to the state database and may not."""

    code = "pyflow.storage.read_only"


def damaged(path: Path, problem: str) -> StoreDamaged:
    return StoreDamaged(
        f"The state database {path} is damaged ({problem}). Restore it from a backup, or move "
        f"it and its -wal and -shm files aside to start with an empty state; `pyflow doctor` "
        "lists every problem.")


def read_only(path: Path, detail: str) -> StoreReadOnly:
    return StoreReadOnly(
        f"The state database {path} is read-only ({detail}), and pyflow needs to write to it. "
        f"Make {path.parent} and the files in it writable for this user, or pass --persist-to "
        "a writable directory.")


def explain(path: Path, error: BaseException) -> StorageError | None:
    """The clear error for an SQLite error that means a damaged or read-only database, if it is
    one (None for anything else)."""
    if not isinstance(error, sqlite3.Error):
        return None
    text = str(error)
    if isinstance(error, sqlite3.DatabaseError) and any(word in text for word in _CORRUPT):
        return damaged(path, text)
    if any(word in text for word in _READ_ONLY):
        return read_only(path, text)
    return None


def _first_problem(rows: list[tuple[str]]) -> str | None:
    lines = [line for row in rows for line in str(row[0]).splitlines()
             if line and not line.startswith("***")]
    if not lines or lines == ["ok"]:
        return None
    return lines[0]


def quick_check(path: Path, budget_s: float = QUICK_CHECK_BUDGET_S) -> None:
    """Raise ``StoreDamaged`` if ``PRAGMA quick_check`` finds a problem within ``budget_s``.

    A database that does not exist yet is fine; a check that runs out of time proves nothing
    and raises nothing."""
    if not path.exists():
        return
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error:
        return  # opening it for real reports what is wrong
    # The check is one SQLite operation: sqlite3_interrupt() from a timer ends it on time.
    timer = threading.Timer(budget_s, conn.interrupt)
    try:
        conn.execute("PRAGMA query_only = 1")
        timer.start()
        try:
            rows = conn.execute("PRAGMA quick_check(20)").fetchall()
        except sqlite3.DatabaseError as exc:
            if any(word in str(exc) for word in _CORRUPT):
                raise damaged(path, str(exc)) from exc
            return  # out of time, or cannot be read here: opening it for real tells
    finally:
        timer.cancel()
        timer.join()
        conn.close()
    problem = _first_problem(rows)
    if problem is not None:
        raise damaged(path, problem)


def integrity_report(path: Path) -> list[str]:
    """Every problem ``PRAGMA integrity_check`` finds (at most 100); empty when healthy."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        rows = conn.execute("PRAGMA integrity_check(100)").fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()
    lines = [line for row in rows for line in str(row[0]).splitlines()
             if line and not line.startswith("***")]
    return [] if lines == ["ok"] else lines
