"""``env.DB``: a D1 database, shaped as Cloudflare Python code sees ``D1Database``.

    stmt = env.DB.prepare("SELECT * FROM users WHERE id = ?").bind(1)
    await stmt.first()            # the first row as a dict, or None; first("name") one column
    await stmt.all()              # {success, results: [rows], meta: {duration, changes, ...}}
    await stmt.run()              # the same (D1 returns rows from run() too)
    await stmt.raw(columnNames=True)   # [[column names], [values], ...]
    await env.DB.batch([stmt1, stmt2])  # atomic: all or nothing
    await env.DB.exec("CREATE TABLE t (x);\\nINSERT INTO t VALUES (1);")   # {count, duration}
    session = env.DB.withSession("first-primary"); session.getBookmark()

The database is a real SQLite file (``<state>/d1/<database_id>.sqlite``) that ``sqlite3`` opens.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyflow_cli.bindings import d1_sql
from pyflow_cli.bindings.d1_sql import D1Connection, QueryResult
from pyflow_cli.bindings.errors import D1Error
from pyflow_cli.bindings.sqlitefile import BindingFile
from pyflow_cli.bindings.values import options
from pyflow_cli.engine.serde import JsonDict, attrify

CONSTRAINTS = ("first-primary", "first-unconstrained")
READ_ONLY_REFUSAL = ("attempt to write a readonly database: SQLITE_READONLY. This query runs "
                     "read-only; allow writes to run a statement that changes the database.")


@dataclass(frozen=True)
class Column:
    """A column as ``PRAGMA table_info`` describes it."""

    name: str
    type: str
    not_null: bool
    default: str | None
    primary_key: int


@dataclass(frozen=True)
class TableInfo:
    """A user table: its columns, its ``CREATE`` statement and how many rows it has."""

    name: str
    sql: str
    rows: int
    columns: list[Column]


class D1Store:
    """A D1 database file; the binding, ``pyflow d1`` and the explorer all run SQL through it."""

    def __init__(self, path: Path) -> None:
        self.file = BindingFile(path, pragmas=("PRAGMA foreign_keys = ON",), factory=D1Connection)
        self._bookmark = 0
        self._lock = threading.Lock()

    async def query(self, queries: Sequence[tuple[str, Sequence[Any]]],
                    read_only: bool = False) -> list[QueryResult]:
        """Run queries in one transaction: every result, or ``D1Error`` and nothing changed.
        ``read_only`` refuses any that would write (SQLite's ``query_only``)."""
        if not queries:
            raise D1Error(d1_sql.NO_STATEMENTS)

        def run(conn: sqlite3.Connection) -> list[QueryResult]:
            if not read_only:
                return [d1_sql.execute(conn, sql, params) for sql, params in queries]
            conn.execute("PRAGMA query_only = ON")
            try:
                return [d1_sql.execute(conn, sql, params) for sql, params in queries]
            except D1Error as exc:
                if "SQLITE_READONLY" in exc.cause:
                    raise D1Error(READ_ONLY_REFUSAL) from None
                raise
            finally:
                conn.execute("PRAGMA query_only = OFF")

        return await self.file.run(run)

    async def exec(self, sql: str) -> tuple[int, float]:
        return await self.file.run(lambda conn: d1_sql.exec_lines(conn, sql))

    async def script(self, sql: str) -> list[QueryResult]:
        """Every statement of ``sql`` (a ``.sql`` file), one result each, in one transaction."""
        statements = d1_sql.split(sql)
        if not statements:
            raise D1Error(d1_sql.NO_STATEMENTS)
        return await self.query([(statement, ()) for statement in statements])

    async def tables(self) -> list[str]:
        """The user's tables, by name (the explorer's index)."""
        return await self.file.run(lambda conn: [row[0] for row in conn.execute(
            f"SELECT name FROM sqlite_schema WHERE {_USER_TABLES} ORDER BY name")])

    async def describe(self) -> list[TableInfo]:
        """Every user table with its columns, ``CREATE`` statement and row count (the
        explorer's list of tables)."""
        def read(conn: sqlite3.Connection) -> list[TableInfo]:
            found = []
            for name, sql in conn.execute(
                    f"SELECT name, sql FROM sqlite_schema WHERE {_USER_TABLES} ORDER BY name"):
                quoted = _quoted(name)
                rows = conn.execute(f"SELECT COUNT(*) FROM {quoted}").fetchone()[0]
                columns = [Column(c[1], c[2], bool(c[3]), c[4], c[5])
                           for c in conn.execute(f"PRAGMA table_info({quoted})")]
                found.append(TableInfo(name, sql or "", rows, columns))
            return found

        return await self.file.run(read)

    async def read_table(self, table: str, offset: int = 0, limit: int = 100) -> QueryResult:
        """A page of a table's rows, in rowid order where it has one (the explorer's paging)."""
        if table not in await self.tables():
            raise D1Error(f"no such table: {table}: SQLITE_ERROR")
        [result] = await self.query([(f"SELECT * FROM {_quoted(table)} LIMIT ? OFFSET ?",
                                      (limit, offset))])
        return result

    def bookmark(self) -> str:
        """A new bookmark, later than any given before (D1's opaque, ordered commit position)."""
        with self._lock:
            self._bookmark = max(self._bookmark + 1, time.time_ns() // 1000)
            value = self._bookmark
        return f"{value >> 32:08x}-{value & 0xFFFFFFFF:08x}-00000000-{0:032x}"

    def close(self) -> None:
        self.file.close()


_USER_TABLES = ("type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                "AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class D1Database:
    """The object behind ``env.<BINDING>`` for one ``[[d1_databases]]`` entry."""

    def __init__(self, store: D1Store, binding: str) -> None:
        self._store = store
        self._binding = binding
        self._session = D1DatabaseSession(store, None, track=False)

    def __repr__(self) -> str:
        return f"<D1Database {self._binding}>"

    def prepare(self, query: str) -> D1PreparedStatement:
        """A statement to ``bind`` values to and run."""
        return self._session.prepare(query)

    async def batch(self, statements: Sequence[D1PreparedStatement]) -> list[JsonDict]:
        """Run statements in order in one transaction: every result, or nothing changes."""
        return await self._session.batch(statements)

    async def exec(self, query: str) -> JsonDict:
        """Run queries, one per line, without parameters: ``{count, duration}``."""
        if not isinstance(query, str):
            raise TypeError(f"exec() takes SQL text, got {type(query).__name__}.")
        count, duration = await self._store.exec(query)
        return JsonDict(count=count, duration=duration)

    def withSession(self, constraint_or_bookmark: str | None = None) -> D1DatabaseSession:
        """A session: ``"first-primary"``, ``"first-unconstrained"`` (the default) or a bookmark
        from ``getBookmark()`` to read at least that fresh. Locally every read is fresh."""
        text = (constraint_or_bookmark or "").strip() or "first-unconstrained"
        return D1DatabaseSession(self._store, text)

    with_session = withSession


class D1DatabaseSession:
    """``prepare`` and ``batch`` within a session; ``getBookmark()`` after each query."""

    def __init__(self, store: D1Store, constraint_or_bookmark: str | None, track: bool = True) -> None:
        self._store = store
        self._bookmark = None if constraint_or_bookmark in (None, *CONSTRAINTS) else constraint_or_bookmark
        self._track = track

    def prepare(self, query: str) -> D1PreparedStatement:
        if not isinstance(query, str):
            raise TypeError(f"prepare() takes SQL text, got {type(query).__name__}.")
        return D1PreparedStatement(self, query, ())

    async def batch(self, statements: Sequence[D1PreparedStatement]) -> list[JsonDict]:
        for statement in statements:
            if not isinstance(statement, D1PreparedStatement):
                raise TypeError("batch() takes a list of prepared statements (DB.prepare(...)), "
                                f"got {type(statement).__name__}.")
        results = await self._query([(s.statement, s.params) for s in statements])
        return [_result(r) for r in results]

    def getBookmark(self) -> str | None:
        """The latest bookmark the session has seen, or ``None`` before its first query."""
        return self._bookmark

    async def _query(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[QueryResult]:
        results = await self._store.query(queries)
        if self._track:
            self._bookmark = self._store.bookmark()
        return results

    get_bookmark = getBookmark


class D1PreparedStatement:
    """A query with its bound values; run it with ``first``, ``all``, ``run`` or ``raw``."""

    def __init__(self, session: D1DatabaseSession, statement: str, params: tuple[Any, ...]) -> None:
        self._session = session
        self.statement = statement
        self.params = params

    def __repr__(self) -> str:
        return f"<D1PreparedStatement {self.statement!r}>"

    def bind(self, *values: Any) -> D1PreparedStatement:
        """A copy with ``values`` for the ``?`` placeholders; ``bool`` binds as 0/1, ``None`` as
        NULL, bytes as a BLOB."""
        return D1PreparedStatement(self._session, self.statement,
                                   tuple(d1_sql.bind_value(v) for v in values))

    async def _one(self) -> QueryResult:
        [result] = await self._session._query([(self.statement, self.params)])
        return result

    async def first(self, column: str | None = None) -> Any:
        """The first row (a dict), that row's ``column``, or ``None`` when there are no rows."""
        result = await self._one()
        if not result.rows:
            return None
        row = _rows(result)[0]
        if column is None:
            return row
        if column not in row:
            raise D1Error(f"Column not found ({column})", "D1_COLUMN_NOTFOUND")
        return row[column]

    async def all(self) -> JsonDict:
        """``{success, meta, results}`` with every row as a dict."""
        return _result(await self._one())

    async def run(self) -> JsonDict:
        """The same as ``all()`` (D1 returns the rows from ``run()`` too)."""
        return _result(await self._one())

    async def raw(self, options_: Any = None, /, **kwargs: Any) -> list[list[Any]]:
        """Rows as lists of values; ``columnNames=True`` puts the column names first."""
        opts = options(options_, kwargs, "raw")
        result = await self._one()
        head = [list(result.columns)] if opts.get("columnNames") else []
        return head + [list(row) for row in result.rows]


def _rows(result: QueryResult) -> list[JsonDict]:
    return [JsonDict(zip(result.columns, row, strict=True)) for row in result.rows]


def _result(result: QueryResult) -> JsonDict:
    return JsonDict(success=True, meta=attrify(result.meta), results=_rows(result))
