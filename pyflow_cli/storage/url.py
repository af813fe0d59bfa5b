"""Where the workflow store lives: ``--store URL`` / ``PYFLOW_STORE``, parsed once at the edge.

- ``sqlite:///path/to/pyflow.sqlite``, ``sqlite:relative/path`` or a plain path: a SQLite file; a
  path that is a directory (or ends with ``/``) means ``pyflow.sqlite`` in it.
- ``postgresql://user[:password]@host[:port]/database[?options]`` (``postgres://`` too): a
  PostgreSQL database. ``schema=NAME`` among the options puts pyflow's tables in that schema
  (default ``pyflow``); every other option goes to libpq as it is (``sslmode``,
  ``connect_timeout``, ``application_name``...).

Nothing here connects to anything, and the password never leaves ``conninfo``: every text meant
for people (``shown``, ``server``) is built without it. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode

from pyflow_cli.engine.errors import StorageError

DB_NAME = "pyflow.sqlite"
DEFAULT_SCHEMA = "pyflow"
DEFAULT_PORT = 5432
ENV_VAR = "PYFLOW_STORE"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class SqliteLocation:
    """A SQLite database file."""

    path: Path

    @property
    def shown(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class PostgresLocation:
    """A PostgreSQL database, and the schema pyflow's tables live in."""

    conninfo: str = field(repr=False)  # a libpq URL, password included: for connecting only
    shown: str  # the URL without its password
    server: str  # host:port, for messages
    user: str | None
    database: str | None
    schema: str = DEFAULT_SCHEMA

    def scrub(self, text: str) -> str:
        """``text`` with the URL's password (as given, and decoded) replaced by ``***``: for any
        text that may reach a person and might quote what it was given."""
        for secret in self._passwords():
            text = text.replace(secret, "***")
        return text

    def _passwords(self) -> list[str]:
        found: list[str] = []
        userinfo = self.conninfo.partition("://")[2].partition("/")[0].rpartition("@")[0]
        if ":" in userinfo:
            found.append(userinfo.partition(":")[2])
        query = self.conninfo.partition("?")[2]
        found += [value for key, value in parse_qsl(query) if key == "password"]
        return sorted({p for raw in found for p in (raw, unquote(raw)) if p}, key=len, reverse=True)


StoreLocation = SqliteLocation | PostgresLocation


def resolve_store(flag: str | None, environ: Mapping[str, str], cwd: Path) -> StoreLocation | None:
    """The store ``--store`` names, else ``PYFLOW_STORE``; None: the project's default."""
    given = flag if flag is not None else environ.get(ENV_VAR) or None
    if given is None:
        return None
    location = parse_store_url(given, cwd)
    if isinstance(location, SqliteLocation):
        _check_directory(location, "--store" if flag is not None else ENV_VAR)
    return location


def _check_directory(location: SqliteLocation, named_by: str) -> None:
    """A SQLite store someone named must be in a directory that exists: pyflow creates the file,
    never the directories of a path that may be a typo (a command would then read a new, empty
    store, or an engine run instances no one else finds)."""
    folder = location.path.parent
    if folder.is_dir():
        return
    what = "is not a directory" if folder.exists() else "does not exist"
    raise StorageError(f"The directory of the SQLite store {location.path} {what}: create it, or "
                       f"fix the path in {named_by}.")


def scrub(location: StoreLocation | None, text: str) -> str:
    """``text`` without the password of ``location`` (if it has one)."""
    return location.scrub(text) if isinstance(location, PostgresLocation) else text


def parse_store_url(text: str, cwd: Path) -> StoreLocation:
    """The location ``text`` names (relative paths start at ``cwd``); ``StorageError`` if it is
    not a store URL pyflow knows."""
    text = text.strip()
    if not text:
        raise StorageError("--store is empty: give a path, sqlite:///path or "
                           "postgresql://user@host/database.")
    lowered = text.lower()
    if lowered.startswith(_SCHEMES):
        return _postgres(text)
    if lowered.startswith("sqlite:"):
        rest = text[len("sqlite:"):]
        return sqlite_location(rest[2:] if rest.startswith("//") else rest, cwd)
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", text)
    if scheme:
        raise StorageError(f'Unknown store "{scheme.group(1)}://...": use a path, sqlite:///path '
                           "or postgresql://user@host/database.")
    return sqlite_location(text, cwd)


def sqlite_location(path: str | Path, cwd: Path) -> SqliteLocation:
    """The SQLite file at ``path``, or ``pyflow.sqlite`` in it if it is a directory."""
    is_dir = str(path).endswith(("/", "\\")) or (cwd / path).is_dir()
    resolved = (cwd / path).resolve()
    return SqliteLocation(resolved / DB_NAME if is_dir else resolved)


def _postgres(text: str) -> PostgresLocation:
    scheme, _, rest = text.partition("://")
    rest, _, fragment = rest.partition("#")
    authority, slash, tail = rest.partition("/")
    path, _, query = tail.partition("?")
    if not slash and "?" in authority:
        authority, _, query = authority.partition("?")
    userinfo, at, hosts = authority.rpartition("@")
    if not at:
        userinfo, hosts = "", authority
    user = userinfo.partition(":")[0]  # the password stays in conninfo only
    options = parse_qsl(query, keep_blank_values=True)
    schema = DEFAULT_SCHEMA
    kept: list[tuple[str, str]] = []
    for key, value in options:
        if key == "schema":
            schema = value
        else:
            kept.append((key, value))
    if not _SCHEMA_NAME.match(schema):
        raise StorageError(f'schema="{schema}" in --store is not a valid schema name: use letters, '
                           "digits and _ (not starting with a digit), at most 63.")
    if fragment:
        raise StorageError("A PostgreSQL --store URL has no #fragment: remove it.")
    database = unquote(path) or None
    base = f"{scheme}://{authority}/{path}" if slash or path else f"{scheme}://{authority}"
    conninfo = base + (f"?{urlencode(kept)}" if kept else "")
    shown_auth = (unquote(user) + "@" if user else "") + hosts
    shown_query = urlencode([(k, v) for k, v in kept if k.lower() != "password"]
                            + ([("schema", schema)] if schema != DEFAULT_SCHEMA else []))
    shown = f"postgresql://{shown_auth}/{path}" + (f"?{shown_query}" if shown_query else "")
    named = dict(kept)
    server = _server(hosts or ",".join(
        f"{h}:{named['port']}" if "port" in named else h
        for h in named.get("host", "").split(",")))
    return PostgresLocation(conninfo=conninfo, shown=shown, server=server,
                            user=unquote(user) or None, database=database, schema=schema)


def _server(hosts: str) -> str:
    """``host:port`` of the first host (libpq tries them in turn), for messages."""
    first = hosts.split(",")[0] or "localhost"
    if first.startswith("["):  # [::1]:5433
        host, _, port = first[1:].partition("]")
        port = port.lstrip(":")
        return f"[{host}]:{port or DEFAULT_PORT}"
    host, _, port = first.partition(":")
    return f"{unquote(host) or 'localhost'}:{port or DEFAULT_PORT}"
