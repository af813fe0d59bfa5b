"""``pyflow doctor``: check the project's state database from end to end.

Engines check a store quickly (and within a time budget) when they open it; this command runs
SQLite's full ``integrity_check`` on every page and index, however long it takes, and says
whether pyflow may write there. On a PostgreSQL store (``--store postgresql://...``) it connects,
and reports the server and pyflow's schema there, changing nothing.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pyflow_cli.cli.invocation import Invocation, begin, run
from pyflow_cli.engine.errors import PyflowError

if TYPE_CHECKING:
    from pyflow_cli.storage.url import PostgresLocation

SHOWN_PROBLEMS = 10


def doctor(ctx: typer.Context) -> None:
    """Check the project's state database: every page and index, its schema, whether it is
    writable."""
    from pyflow_cli.cli.doc import Field, labelled
    from pyflow_cli.storage.health import damaged, integrity_report, read_only
    from pyflow_cli.storage.url import DB_NAME, PostgresLocation, SqliteLocation
    from pyflow_cli.workspace import state_dir

    inv = begin(ctx)
    store = inv.state.options.store
    if isinstance(store, PostgresLocation):
        _postgres(inv, store)
        return
    path = (store.path if isinstance(store, SqliteLocation)
            else state_dir(inv.project, inv.state.options.persist_to) / DB_NAME)
    if not path.exists():
        inv.ui.success(f"No state database yet ({path}): nothing to check. The first "
                       "`pyflow dev` or `pyflow workflows trigger` creates it.")
        return
    started = time.monotonic()
    problems = integrity_report(path)
    took = time.monotonic() - started
    fields = [Field("State database", str(path)), Field("Size", _size(path))]
    if not problems:
        fields += [Field("Schema version", _scalar(path, "SELECT MAX(version) FROM "
                                                       "schema_migrations")),
                   Field("Instances", _scalar(path, "SELECT COUNT(*) FROM instances"))]
    fields.append(Field("Integrity", f"ok ({took:.1f} s)" if not problems else
                        f"{len(problems)}{'+' if len(problems) >= 100 else ''} problems"))
    inv.ui.doc(labelled(fields))
    for problem in problems[:SHOWN_PROBLEMS]:
        inv.ui.print(f"  - {problem}")
    if len(problems) > SHOWN_PROBLEMS:
        inv.ui.print(f"  … and {len(problems) - SHOWN_PROBLEMS} more")
    if problems:
        raise PyflowError(damaged(path, problems[0]).message)
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        raise PyflowError(read_only(path, "no write permission").message)
    inv.ui.success("✅ The state database is healthy.")


def _postgres(inv: Invocation, store: PostgresLocation) -> None:
    from pyflow_cli.cli.doc import Field, labelled
    from pyflow_cli.storage.pg_connect import inspect
    from pyflow_cli.storage.pg_schema import LATEST_VERSION

    server, version, count = run(inspect(store))
    fields = [Field("Store", f"PostgreSQL, {store.shown}"), Field("Server", f"PostgreSQL {server}"),
              Field("Schema", f"{store.schema}, version {version}" if version is not None
                    else f"{store.schema}, not created yet")]
    if count is not None:
        fields.append(Field("Instances", str(count)))
    inv.ui.doc(labelled(fields))
    if version is not None and version > LATEST_VERSION:
        raise PyflowError(f'The PostgreSQL schema "{store.schema}" has schema version {version}, '
                          f"newer than this pyflow understands ({LATEST_VERSION}). Upgrade pyflow.")
    if version is None:
        inv.ui.success("✅ The PostgreSQL server is reachable; the first `pyflow dev` or "
                       "`pyflow workflows trigger` creates pyflow's tables.")
    else:
        inv.ui.success("✅ The PostgreSQL store is reachable"
                       + ("." if version == LATEST_VERSION else
                          "; its schema is brought up to date when pyflow next opens it."))


def _size(path: Path) -> str:
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.1f} kB"


def _scalar(path: Path, sql: str) -> str:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return str(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"unreadable ({exc})"


def register(app: typer.Typer) -> None:
    """Add ``doctor`` to the root ``pyflow`` app."""
    app.command("doctor")(doctor)
