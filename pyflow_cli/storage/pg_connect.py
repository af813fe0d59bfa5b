"""Connecting to PostgreSQL, and saying in one line why it did not work.

psycopg is an optional dependency (``pip install 'pyflow-cli[postgres]'``): it is imported here,
when a ``postgresql://`` store is opened, and its absence is one clear error. libpq's messages
name the host and port but never the password; any text that reaches a person is still scrubbed
of the URL's password, in case a message ever quotes it.
"""

from __future__ import annotations

import re
from typing import Any

from pyflow_cli.engine.errors import StorageError
from pyflow_cli.storage.pg_schema import OLDEST_SERVER
from pyflow_cli.storage.url import PostgresLocation

CONNECT_TIMEOUT_S = 10
INSTALL_HINT = "pip install 'pyflow-cli[postgres]'"
_UNREACHABLE = ("connection refused", "could not translate host name", "timeout expired",
                "no route to host", "network is unreachable", "name or service not known",
                "no such file or directory", "connection timed out", "server closed the connection")
_AUTHENTICATION = ("password authentication failed", "authentication failed",
                   "no password supplied", "pg_hba.conf", "role \"")


def psycopg_module() -> Any:
    """psycopg, or the one-line error saying how to install it."""
    try:
        import psycopg
    except ImportError:
        raise StorageError("A postgresql:// store needs psycopg, which is not installed: "
                           f"{INSTALL_HINT}") from None
    return psycopg


async def connect(location: PostgresLocation) -> Any:
    """A new autocommit ``AsyncConnection`` to the location's database, on a supported server."""
    psycopg = psycopg_module()
    try:
        conn = await psycopg.AsyncConnection.connect(location.conninfo, **connect_options(location))
    except psycopg.Error as error:
        raise explain(location, error) from None
    version = conn.info.server_version
    if version // 10000 < OLDEST_SERVER:
        await conn.close()
        raise StorageError(
            f"PostgreSQL at {location.server} is version {version // 10000}.{version % 10000}; "
            f"pyflow needs PostgreSQL {OLDEST_SERVER} or newer. Upgrade the server, or use the "
            "SQLite store (leave out --store).")
    return conn


def connect_options(location: PostgresLocation) -> dict[str, Any]:
    """Keyword arguments of every connection: autocommit (pyflow says BEGIN itself), and a
    connect timeout unless the URL sets one (libpq would otherwise wait forever)."""
    options: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in location.conninfo:
        options["connect_timeout"] = CONNECT_TIMEOUT_S
    return options


def explain(location: PostgresLocation, error: BaseException) -> StorageError:
    """One line for a failed connection: unreachable, refused credentials, missing database."""
    reason = location.scrub(_reason(error))
    lowered = reason.lower()
    if "does not exist" in lowered and "database" in lowered:
        name = location.database or location.user or "?"
        return StorageError(f'Database "{name}" does not exist on PostgreSQL at {location.server}. '
                            f"Create it (createdb {name}), or name an existing one in --store.")
    if any(marker in lowered for marker in _AUTHENTICATION):
        return StorageError(f'PostgreSQL at {location.server} refused user "{location.user or "?"}" '
                            f"({reason}). Check the user and password in --store.")
    if any(marker in lowered for marker in _UNREACHABLE):
        return StorageError(f"Cannot reach PostgreSQL at {location.server}: {reason}. Check the "
                            "host and port in --store, and that the server is running.")
    if "invalid" in lowered and ("uri" in lowered or "option" in lowered or "param" in lowered):
        return StorageError(f"The --store URL is not valid: {reason}.")
    return StorageError(f"Cannot connect to PostgreSQL at {location.server}: {reason}.")


def _reason(error: BaseException) -> str:
    """libpq's own words, without its prefixes: ``Connection refused``, ``FATAL: ...``."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    text = re.sub(r"^connection failed:\s*", "", text)
    text = re.sub(r'^connection to server (at "[^"]*"(, port \d+)?|on socket "[^"]*") failed:\s*',
                  "", text)
    text = re.sub(r"^(FATAL|ERROR):\s+", "", text)
    return text.rstrip(".") or type(error).__name__


async def inspect(location: PostgresLocation) -> tuple[str, int | None, int | None]:
    """What ``pyflow doctor`` reports, read without changing anything: the server's version,
    the schema version of pyflow's tables (None: not created yet) and how many instances."""
    from pyflow_cli.storage.pg_schema import quoted

    conn = await connect(location)
    try:
        cursor = await conn.execute("SHOW server_version")
        server = str((await cursor.fetchone())[0]).split()[0]
        cursor = await conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                                    (f"{quoted(location.schema)}.schema_migrations",))
        if not (await cursor.fetchone())[0]:
            return server, None, None
        schema = quoted(location.schema)
        cursor = await conn.execute(f"SELECT MAX(version) FROM {schema}.schema_migrations")
        version = (await cursor.fetchone())[0]
        cursor = await conn.execute(f"SELECT to_regclass('{schema}.instances') IS NOT NULL")
        count = None
        if (await cursor.fetchone())[0]:
            cursor = await conn.execute(f"SELECT COUNT(*) FROM {schema}.instances")
            count = int((await cursor.fetchone())[0])
        return server, version, count
    finally:
        await conn.close()
