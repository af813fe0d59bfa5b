"""The storage contract suite's seam: the backends it runs against.

Every test in tests/storage/ that takes ``store_factory`` (or ``store``) runs once per entry of
``BACKENDS``, and speaks to the store only through the ``Store`` port
(``pyflow_cli/engine/store.py``). A backend is a ``StoreFactory``: it opens stores on fresh or
existing locations and offers the few hooks the port cannot express (holding commits so that
they share one group transaction, building a database at an older schema version). A new
backend joins the suite by implementing ``StoreFactory`` and adding one entry to ``BACKENDS``.
PostgreSQL runs on the session's server (``tests/pgcluster.py``): each location is a schema of
its own; without a server its tests are skipped, saying why.

Tests of one backend's own machinery (the SQLite group-commit writer) take no backend fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pgcluster import shared_server

from pyflow_cli.engine.store import Store
from pyflow_cli.storage import pg_schema
from pyflow_cli.storage.factory import build_store
from pyflow_cli.storage.schema import MIGRATIONS, migrate
from pyflow_cli.storage.sqlite import DB_NAME, SqliteStore
from pyflow_cli.storage.url import PostgresLocation, parse_store_url

Row = Mapping[str, Any]


class StoreFactory(ABC):
    """Opens stores of one backend for a test, and closes whatever the test left open."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self._open: list[Store] = []
        self._made = 0

    def new_location(self) -> str:
        """A place for a new, empty store (a directory, a database name...)."""
        self._made += 1
        return str(self.tmp_path / f"store-{self._made}")

    async def open(self, location: str | None = None, *, durable: bool = True) -> Store:
        """A store opened on ``location`` (a new, empty one if None). ``durable=False`` lets the
        backend skip flushing to disk, for tests about what is written rather than whether it
        survives a power cut."""
        store = self._make(location or self.new_location(), durable)
        await store.open()
        self._open.append(store)
        return store

    async def close(self, store: Store) -> None:
        self._open.remove(store)
        await store.close()

    async def close_all(self) -> None:
        while self._open:
            await self.close(self._open[-1])

    @abstractmethod
    def _make(self, location: str, durable: bool) -> Store: ...

    @abstractmethod
    def hold_commits(self, store: Store) -> contextlib.AbstractAsyncContextManager[None]:
        """While held, writes reach ``store`` but none is applied; on exit they are applied
        together, as one group transaction if the backend groups commits."""

    # -- migrations -------------------------------------------------------------------------------
    @property
    @abstractmethod
    def schema_versions(self) -> Sequence[int]:
        """Every schema version of the backend, oldest first; the last is the current one."""

    @abstractmethod
    def create_at_version(self, version: int) -> str:
        """A new location holding an empty database at schema ``version``."""

    @abstractmethod
    def insert_rows(self, location: str, table: str, rows: Sequence[Row]) -> None:
        """Write rows straight into a table of a closed database (as an older pyflow did)."""

    @abstractmethod
    def read_rows(self, location: str, table: str, columns: Sequence[str]) -> list[tuple[Any, ...]]:
        """The given columns of every row of a table of a closed database, sorted."""

    @abstractmethod
    def schema_version(self, location: str) -> int: ...


class SqliteFactory(StoreFactory):
    """``SqliteStore``: a location is a state directory holding ``pyflow.sqlite``."""

    def _make(self, location: str, durable: bool) -> Store:
        return SqliteStore(location, durability="full" if durable else "normal")

    @contextlib.asynccontextmanager
    async def hold_commits(self, store: Store) -> AsyncIterator[None]:
        # The writer thread runs one batch at a time: a write that blocks it makes every write
        # after it queue up, and they all go into its next batch.
        assert isinstance(store, SqliteStore)
        entered, release = threading.Event(), threading.Event()

        def block(conn: sqlite3.Connection) -> None:
            entered.set()
            release.wait(10)

        blocker = store._writer.submit(block)
        await asyncio.to_thread(entered.wait, 10)
        try:
            yield
        finally:
            release.set()
            await blocker

    @property
    def schema_versions(self) -> Sequence[int]:
        return [version for version, _, _ in MIGRATIONS]

    def create_at_version(self, version: int) -> str:
        location = self.new_location()
        Path(location).mkdir()
        with contextlib.closing(self._connect(location)) as conn:
            migrate(conn, upto=version)
        return location

    def insert_rows(self, location: str, table: str, rows: Sequence[Row]) -> None:
        with contextlib.closing(self._connect(location)) as conn:
            for row in rows:
                conn.execute(f"INSERT INTO {table} ({', '.join(row)}) "
                             f"VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
                if "iid" in row:
                    # As in a real database: an iid in any table was handed out to an instance
                    # once (where iids come from a sequence, schema v3 on, it has gone past it).
                    conn.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) "
                                 "WHERE name = 'instances'", (row["iid"],))

    def read_rows(self, location: str, table: str, columns: Sequence[str]) -> list[tuple[Any, ...]]:
        with contextlib.closing(self._connect(location)) as conn:
            return conn.execute(f"SELECT {', '.join(columns)} FROM {table} "
                                f"ORDER BY {', '.join(columns)}").fetchall()

    def schema_version(self, location: str) -> int:
        with contextlib.closing(self._connect(location)) as conn:
            return int(conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0])

    @staticmethod
    def _connect(location: str) -> sqlite3.Connection:
        return sqlite3.connect(Path(location) / DB_NAME, isolation_level=None)


class PostgresFactory(StoreFactory):
    """``PostgresStore``: a location is a store URL naming a schema of its own."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.server = shared_server()

    def new_location(self) -> str:
        return self.server.location()

    def _make(self, location: str, durable: bool) -> Store:
        return build_store(self._parse(location), "full" if durable else "normal")

    @contextlib.asynccontextmanager
    async def hold_commits(self, store: Store) -> AsyncIterator[None]:
        # The writer sends one batch at a time: an operation that waits in the middle of one
        # makes every write after it queue up for the next.
        entered, release = asyncio.Event(), asyncio.Event()

        class Block:
            async def send(self, cursor: Any) -> None:
                entered.set()
                await release.wait()
                await cursor.execute("SELECT 1")

            def result(self, rows: list[Any]) -> None:
                return None

        blocker = store._writer.submit(Block())  # type: ignore[attr-defined]
        await asyncio.wait_for(entered.wait(), 10)
        try:
            yield
        finally:
            release.set()
            await blocker

    @property
    def schema_versions(self) -> Sequence[int]:
        return [version for version, _, _ in pg_schema.MIGRATIONS]

    def create_at_version(self, version: int) -> str:
        location = self.new_location()

        async def migrate_to() -> None:
            import psycopg

            async with await psycopg.AsyncConnection.connect(self.server.url,
                                                             autocommit=True) as conn:
                await pg_schema.migrate(conn, self._parse(location).schema, upto=version)

        _in_thread(migrate_to)
        return location

    def insert_rows(self, location: str, table: str, rows: Sequence[Row]) -> None:
        schema = pg_schema.quoted(self._parse(location).schema)
        with self.server.connect() as conn:
            for row in rows:
                conn.execute(f"INSERT INTO {schema}.{table} ({', '.join(row)}) "
                             f"VALUES ({', '.join(['%s'] * len(row))})", tuple(row.values()))
            # As the older pyflow that wrote them would have: new ids come after them, and an
            # iid in any table was handed out to an instance once.
            for name, column in (("instances", "iid"), ("inbox", "seq")):
                if table == name:
                    conn.execute(f"SELECT setval(pg_get_serial_sequence('{schema}.{name}', "
                                 f"'{column}'), (SELECT MAX({column}) FROM {schema}.{name}))")
            iids = [row["iid"] for row in rows if "iid" in row]
            if iids and table != "instances":
                sequence = f"pg_get_serial_sequence('{schema}.instances', 'iid')"
                conn.execute(f"SELECT setval({sequence}, GREATEST((SELECT last_value FROM "
                             f"{schema}.instances_iid_seq), %s))", (max(iids),))

    def read_rows(self, location: str, table: str, columns: Sequence[str]) -> list[tuple[Any, ...]]:
        schema = pg_schema.quoted(self._parse(location).schema)
        with self.server.connect() as conn:
            return list(conn.execute(f"SELECT {', '.join(columns)} FROM {schema}.{table} "
                                     f"ORDER BY {', '.join(columns)}").fetchall())

    def schema_version(self, location: str) -> int:
        schema = pg_schema.quoted(self._parse(location).schema)
        with self.server.connect() as conn:
            row = conn.execute(f"SELECT MAX(version) FROM {schema}.schema_migrations").fetchone()
            return int(row[0])

    def _parse(self, location: str) -> PostgresLocation:
        parsed = parse_store_url(location, self.tmp_path)
        assert isinstance(parsed, PostgresLocation)
        return parsed


def _in_thread(work: Any) -> None:
    """Run the coroutine function ``work`` to completion on a loop of its own (the calling
    test's loop is busy running it)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(work())
        except BaseException as exc:  # handed back to the caller
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


BACKENDS = [pytest.param(SqliteFactory, id="sqlite"), pytest.param(PostgresFactory, id="postgres")]
