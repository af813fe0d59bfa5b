"""D1 migrations: numbered ``.sql`` files in a database's ``migrations_dir``, applied in order and
recorded in its ``migrations_table`` (``d1_migrations``), as wrangler's ``d1 migrations`` does.

A migration runs in one transaction with the row that records it, so it is applied whole or not
at all (and a failed one can be fixed and applied again).
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from pyflow_cli.bindings import d1_sql
from pyflow_cli.bindings.d1 import D1Store
from pyflow_cli.bindings.errors import D1Error
from pyflow_cli.engine.errors import InvalidInputError
from pyflow_cli.project.config import ProjectConfig
from pyflow_cli.project.resources import D1DatabaseConfig

_NUMBERED = re.compile(r"(\d+)_.*\.sql")


def folder(project: ProjectConfig, database: D1DatabaseConfig) -> Path:
    return (project.root / database.migrations_dir).resolve()


def files(directory: Path) -> list[str]:
    """The migration files in ``directory``, in the order they apply (by name)."""
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if p.is_file() and p.suffix == ".sql")


def create(directory: Path, message: str, now_ms: float) -> Path:
    """The next numbered file (``0003_<message>.sql``), holding a header comment."""
    if not message.strip():
        raise InvalidInputError('The migration needs a message, e.g. "create users".')
    directory.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for name in files(directory) if (m := _NUMBERED.fullmatch(name))]
    number = f"{max(numbers, default=0) + 1:04d}"
    path = directory / f"{number}_{message.strip().replace(' ', '_')}.sql"
    stamp = datetime.fromtimestamp(now_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
    path.write_text(f"-- Migration number: {number} \t {stamp.replace('+00:00', 'Z')}\n", encoding="utf-8")
    return path


async def applied(store: D1Store, table: str) -> set[str]:
    """The names of the migrations the database has recorded."""
    def read(conn: sqlite3.Connection) -> set[str]:
        exists = conn.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?",
                              (table,)).fetchone()
        if not exists:
            return set()
        return {row[0] for row in conn.execute(f"SELECT name FROM {_quoted(table)}")}

    return await store.file.run(read)


async def history(store: D1Store, table: str) -> list[tuple[int, str, str]]:
    """The migrations the database has recorded, in the order they were applied:
    ``(id, name, applied_at)``."""
    def read(conn: sqlite3.Connection) -> list[tuple[int, str, str]]:
        exists = conn.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?",
                              (table,)).fetchone()
        if not exists:
            return []
        return [(row[0], str(row[1]), str(row[2])) for row in conn.execute(
            f"SELECT id, name, applied_at FROM {_quoted(table)} ORDER BY id")]

    return await store.file.run(read)


async def pending(store: D1Store, project: ProjectConfig, database: D1DatabaseConfig) -> list[str]:
    """The migration files not applied to the database yet, in order."""
    done = await applied(store, database.migrations_table)
    return [name for name in files(folder(project, database)) if name not in done]


async def apply(store: D1Store, path: Path, table: str) -> None:
    """Run one migration file and record it, in one transaction; ``D1Error`` if it fails."""
    try:
        sql = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"Cannot read {path}: {exc}.") from None

    def run(conn: sqlite3.Connection) -> None:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {_quoted(table)} (id INTEGER PRIMARY KEY "
                     "AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT "
                     "CURRENT_TIMESTAMP NOT NULL)")
        for statement in d1_sql.split(sql):
            d1_sql.execute(conn, statement)
        conn.execute(f"INSERT INTO {_quoted(table)} (name) VALUES (?)", (path.name,))

    try:
        await store.file.run(run)
    except sqlite3.Error as exc:
        raise D1Error(d1_sql.message(exc)) from None


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
