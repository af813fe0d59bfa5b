"""The one place that turns a store location into a store.

Everything else holds a ``Store`` (the port, ``engine/store.py``) and a ``StoreLocation``
(``url.py``); no module outside ``storage/`` names a backend class. The backends' own libraries
(aiosqlite, psycopg) are imported only when a store of theirs is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyflow_cli.engine.clock import Clock
from pyflow_cli.storage.url import PostgresLocation, SqliteLocation, StoreLocation

if TYPE_CHECKING:
    from pyflow_cli.engine.store import Store


def build_store(location: StoreLocation, durability: str = "full") -> Store:
    """A store for ``location``, not opened yet. ``durability="normal"`` trades a crash of the
    machine (SQLite) or of the database server (PostgreSQL) losing the last commits for speed."""
    if isinstance(location, PostgresLocation):
        from pyflow_cli.storage.pg_connect import psycopg_module

        psycopg_module()  # its absence is one clear line, before anything else happens
        from pyflow_cli.storage.postgres import PostgresStore

        return PostgresStore(location, durability)
    from pyflow_cli.storage.sqlite import SqliteStore

    return SqliteStore(file=location.path, durability=durability)


async def open_store(location: StoreLocation, *, verify: bool = False,
                     durability: str = "full") -> Store:
    """``build_store``, opened. ``verify`` (an engine is about to run on it): check a SQLite
    file's integrity first, within a time budget."""
    store = build_store(location, durability)
    if isinstance(location, SqliteLocation) and verify:
        from pyflow_cli.storage.health import QUICK_CHECK_BUDGET_S
        from pyflow_cli.storage.sqlite import SqliteStore

        assert isinstance(store, SqliteStore)
        await store.open(verify_s=QUICK_CHECK_BUDGET_S)
    else:
        await store.open()
    return store


def store_clock(store: Store) -> Clock:
    """The clock an engine on ``store`` goes by: the database's own on a shared database (so
    machines whose clocks disagree agree on leases and timers), else the machine's."""
    from pyflow_cli.storage.clock import DatabaseClock, MachineClock

    clock = getattr(store, "clock", None)
    return clock if isinstance(clock, DatabaseClock) else MachineClock()
