"""Running user SQL on a D1 database file as D1 runs it.

- a query may hold several ``;``-separated statements: all run, the last one's rows are the result,
  and only the last may take parameters;
- what D1 forbids is refused (transaction statements, ``ATTACH``, pragmas outside D1's list),
  through SQLite's authorizer, switched on only while user SQL is prepared;
- bound values are converted as D1 converts them (``True`` is 1, bytes are a BLOB), results as they
  reach Python code on Cloudflare (a BLOB is a list of byte values, a whole REAL is an ``int``);
- SQLite's errors are worded as D1 words them: ``<message>: SQLITE_CONSTRAINT (extended:
  SQLITE_CONSTRAINT_UNIQUE)``.
"""

from __future__ import annotations

import re
import sqlite3
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pyflow_cli.bindings.errors import D1Error
from pyflow_cli.bindings.values import js_number

TRANSACTION_REFUSED = (
    "To execute a transaction, please use the batch() API instead of the SQL BEGIN TRANSACTION or "
    "SAVEPOINT statements: a batch runs atomically, and is rolled back if a statement fails."
)
MULTI_STATEMENT_PARAMETERS = ("When executing multiple SQL statements in a single call, only the last "
                              "statement can have parameters.")
WRONG_BINDINGS = "Wrong number of parameter bindings for SQL query."
NO_STATEMENTS = "No SQL statements detected."
ALLOWED_PRAGMAS = frozenset({
    "table_list", "table_info", "table_xinfo", "data_version", "page_size", "case_sensitive_like",
    "foreign_keys", "defer_foreign_keys", "ignore_check_constraints", "legacy_alter_table",
    "recursive_triggers", "reverse_unordered_selects", "foreign_key_check", "foreign_key_list",
    "index_info", "index_list", "index_xinfo", "quick_check", "optimize",
})
_PRIMARY_CODES = {getattr(sqlite3, name): name for name in (
    "SQLITE_ERROR", "SQLITE_INTERNAL", "SQLITE_PERM", "SQLITE_ABORT", "SQLITE_BUSY", "SQLITE_LOCKED",
    "SQLITE_NOMEM", "SQLITE_READONLY", "SQLITE_INTERRUPT", "SQLITE_IOERR", "SQLITE_CORRUPT",
    "SQLITE_NOTFOUND", "SQLITE_FULL", "SQLITE_CANTOPEN", "SQLITE_PROTOCOL", "SQLITE_EMPTY",
    "SQLITE_SCHEMA", "SQLITE_TOOBIG", "SQLITE_CONSTRAINT", "SQLITE_MISMATCH", "SQLITE_MISUSE",
    "SQLITE_NOLFS", "SQLITE_AUTH", "SQLITE_FORMAT", "SQLITE_RANGE", "SQLITE_NOTADB")}
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(\*/|$)", re.DOTALL)
_TABLE_ACTIONS = frozenset({sqlite3.SQLITE_READ, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_INSERT,
                            sqlite3.SQLITE_DELETE, sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_DROP_TABLE,
                            sqlite3.SQLITE_ALTER_TABLE, sqlite3.SQLITE_CREATE_INDEX})


@dataclass
class QueryResult:
    """One query's columns, rows (values as Python code gets them) and D1's ``meta``."""

    columns: list[str]
    rows: list[list[Any]]
    meta: dict[str, Any]


def split(sql: str) -> list[str]:
    """The statements of ``sql`` (empty ones, such as a lone comment, left out)."""
    statements = []
    start = 0
    for at in (m.start() for m in re.finditer(";", sql)):
        piece = sql[start:at + 1]
        if sqlite3.complete_statement(piece):
            if has_content(piece):
                statements.append(piece)
            start = at + 1
    if has_content(sql[start:]):
        statements.append(sql[start:])
    return statements


def has_content(sql: str) -> bool:
    return bool(_COMMENTS.sub("", sql).strip().strip(";").strip())


def bind_value(value: Any) -> Any:
    """A value for ``bind()``: D1 takes numbers, text, null, booleans (as 0/1) and bytes."""
    if value is None or isinstance(value, str | float):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise D1Error(f"Type 'int' not supported for value '{value}' (beyond 64 bits)", "D1_TYPE_ERROR")
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, Sequence) and not isinstance(value, str) and all(
            isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in value):
        return bytes(value)
    raise D1Error(f"Type '{type(value).__name__}' not supported for value '{value}'", "D1_TYPE_ERROR")


def result_value(value: Any) -> Any:
    """A column value as it reaches Python code on Cloudflare."""
    if isinstance(value, bytes):
        return list(value)
    return js_number(value)


class _Guard:
    """The authorizer: what D1 refuses, and why (for the message)."""

    def __init__(self) -> None:
        self.active = False
        self.reason: str | None = None

    def __call__(self, action: int, arg1: str | None, arg2: str | None, _db: str | None,
                 _trigger: str | None) -> int:
        if not self.active:
            return sqlite3.SQLITE_OK
        if action in (sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT):
            self.reason = TRANSACTION_REFUSED
            return sqlite3.SQLITE_DENY
        if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() not in ALLOWED_PRAGMAS:
            return sqlite3.SQLITE_DENY
        if action in _TABLE_ACTIONS and (arg1 or "").startswith("_cf_"):
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() == "load_extension":
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK


class D1Connection(sqlite3.Connection):
    """A connection to a D1 database file, with its authorizer (inactive until user SQL runs)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = _Guard()
        self.set_authorizer(self.guard)


@contextmanager
def _guarded(conn: sqlite3.Connection) -> Iterator[_Guard]:
    if not isinstance(conn, D1Connection):
        raise TypeError("D1 queries need a D1Connection (sqlite3.connect(..., factory=D1Connection))")
    guard = conn.guard
    guard.active, guard.reason = True, None
    try:
        yield guard
    finally:
        guard.active = False


def execute(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> QueryResult:
    """Run one query (one or more statements); raises ``D1Error`` as D1 words it."""
    statements = split(sql)
    if not statements:
        raise D1Error(NO_STATEMENTS)
    changes_before, rowid_before = conn.execute("SELECT total_changes(), last_insert_rowid()").fetchone()
    size_before = database_size(conn)
    started = time.perf_counter()
    with _guarded(conn) as guard:
        try:
            for number, statement in enumerate(statements, 1):
                last = number == len(statements)
                cursor = _run(conn, statement, params if last else (), bool(params) and not last)
            columns = [d[0] for d in cursor.description or ()]
            rows = [[result_value(v) for v in row] for row in cursor.fetchall()]
        except sqlite3.Error as exc:
            raise D1Error(guard.reason or message(exc)) from None
    duration = (time.perf_counter() - started) * 1000
    changes_after, rowid_after = conn.execute("SELECT total_changes(), last_insert_rowid()").fetchone()
    size_after = database_size(conn)
    changes = changes_after - changes_before
    return QueryResult(columns, rows, {
        "served_by": "pyflow", "served_by_primary": True, "total_attempts": 1,
        "timings": {"sql_duration_ms": duration}, "duration": duration, "changes": changes,
        "last_row_id": rowid_after, "changed_db": bool(changes) or rowid_after != rowid_before
        or size_after != size_before, "size_after": size_after, "rows_read": len(rows),
        "rows_written": changes,
    })


def _run(conn: sqlite3.Connection, statement: str, params: Sequence[Any], earlier: bool) -> sqlite3.Cursor:
    try:
        with warnings.catch_warnings():  # D1 binds :name and $name parameters by position too
            warnings.simplefilter("ignore", DeprecationWarning)
            return conn.execute(statement, tuple(params))
    except sqlite3.ProgrammingError as exc:
        if "number of bindings" not in str(exc):
            raise
        raise D1Error(MULTI_STATEMENT_PARAMETERS if earlier else WRONG_BINDINGS) from None


def message(exc: sqlite3.Error) -> str:
    """SQLite's error as D1 words it: ``<message>: <code> (extended: <extended code>)``."""
    name = getattr(exc, "sqlite_errorname", None)
    code = getattr(exc, "sqlite_errorcode", None)
    if not name or code is None:
        return str(exc)
    primary = _PRIMARY_CODES.get(code & 0xFF, name)
    return f"{exc}: {primary}" + (f" (extended: {name})" if name != primary else "")


def database_size(conn: sqlite3.Connection) -> int:
    page_count = conn.execute("PRAGMA page_count").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int(page_count) * int(page_size)


def exec_lines(conn: sqlite3.Connection, sql: str) -> tuple[int, float]:
    """``exec()``: each non-empty line of ``sql`` is a query; (queries run, milliseconds)."""
    lines = [(n, line) for n, line in enumerate(sql.strip().split("\n"), 1)
             if line.strip() and not line.strip().startswith("--")]
    if not lines:
        raise D1Error(f"Error in line 1: : {NO_STATEMENTS}", "D1_EXEC_ERROR")
    duration = 0.0
    for number, line in lines:
        try:
            duration += execute(conn, line).meta["duration"]
        except D1Error as exc:
            raise D1Error(f"Error in line {number}: {line}: {exc.cause}", "D1_EXEC_ERROR") from None
    return len(lines), duration
