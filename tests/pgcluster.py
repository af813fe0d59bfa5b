"""A PostgreSQL server for the tests, started at most once per test session.

- ``PYFLOW_TEST_POSTGRES_URL`` set: that database is used (the tests create and drop schemas of
  their own in it, named ``pyflow_test_<session>_...``).
- Otherwise a throwaway cluster from the installed binaries (``pg_config --bindir``): ``initdb``
  in a temporary directory, ``postgres`` on a free port of 127.0.0.1, password authentication
  over TCP. ``initdb`` and ``postgres`` refuse to run as root, so as root they run as the
  ``postgres`` user. The server dies with the test process (even a killed one) and its directory
  is removed at the end.
- Otherwise the tests that need it are skipped, saying why; ``PYFLOW_REQUIRE_POSTGRES=1`` (CI)
  makes that a failure.

Each test gets a schema of its own (``location()``), so tests never see each other's rows and
no test pays for a new database.

The benchmarks start their cluster with this module too (``Cluster``, ``find_bindir``), with
durable settings instead of the tests' ``TEST_SETTINGS``; it imports pytest only to skip a test.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

ENV_URL = "PYFLOW_TEST_POSTGRES_URL"
ENV_REQUIRE = "PYFLOW_REQUIRE_POSTGRES"
READY_TIMEOUT_S = 30.0
TEST_SETTINGS = {"fsync": "off", "full_page_writes": "off", "max_connections": "300"}
"""The tests' server keeps nothing across a crash of the machine: it need not wait for the disk."""


@dataclass
class Server:
    """A database the tests may create schemas in."""

    url: str  # postgresql://user:password@host:port/database
    password: str | None = None
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = ""
    database: str = ""
    prefix: str = field(default_factory=lambda: f"pyflow_test_{secrets.token_hex(3)}_")
    _made: int = 0

    def location(self, schema: str | None = None, **options: str) -> str:
        """A store URL on a schema of its own (a new, unused one unless ``schema`` is given)."""
        if schema is None:
            self._made += 1
            schema = f"{self.prefix}{self._made}"
        query = "&".join(f"{k}={quote(v)}" for k, v in {"schema": schema, **options}.items())
        return f"{self.url}{'&' if '?' in self.url else '?'}{query}"

    def connect(self) -> Any:
        """A plain (synchronous, autocommit) psycopg connection, for test set-up and checks."""
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def drop_schemas(self) -> None:
        with contextlib.suppress(Exception), self.connect() as conn:
            names = [row[0] for row in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (self.prefix + "%",))]
            for name in names:
                conn.execute(f'DROP SCHEMA "{name}" CASCADE')


_state: Server | str | None = None
_cluster: Cluster | None = None


def shared_server() -> Server:
    """The session's server, started on first use; skips (or fails, with
    ``PYFLOW_REQUIRE_POSTGRES=1``) the calling test if there is none."""
    global _state
    if _state is None:
        try:
            _state = start()
        except Exception as exc:  # any failure to start is a reason to report
            _state = f"the throwaway cluster did not start ({type(exc).__name__}: {exc})"
    if isinstance(_state, str):
        unavailable(_state)
    return _state


def unavailable(reason: str) -> NoReturn:
    """Skip the calling test, saying why; fail it instead when CI requires PostgreSQL."""
    import pytest

    if os.environ.get(ENV_REQUIRE) == "1":
        pytest.fail(f"PostgreSQL is required ({ENV_REQUIRE}=1), but {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL: {reason}")


def stop_shared() -> None:
    """Drop the session's schemas (a given server) or remove the throwaway cluster."""
    global _state, _cluster
    if isinstance(_state, Server) and _cluster is None:
        _state.drop_schemas()
    if _cluster is not None:
        _cluster.stop()
        _cluster = None
    _state = None


def start() -> Server | str:
    global _cluster
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    given = os.environ.get(ENV_URL)
    if given:
        server = Server(given)
        try:
            server.connect().close()
        except Exception as exc:
            return f"{ENV_URL} cannot be reached ({type(exc).__name__})"
        atexit.register(stop_shared)
        return server
    bindir = find_bindir(ENV_URL)
    if isinstance(bindir, str):
        return bindir
    _cluster = Cluster(bindir)
    server = _cluster.start()
    atexit.register(stop_shared)
    return server


def find_bindir(env_url: str) -> Path | str:
    """The installed PostgreSQL server's binaries, or why there are none (``env_url``: the
    variable that would name a server instead)."""
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return f"pg_config is not on PATH (install PostgreSQL, or set {env_url})"
    bindir = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 check=True).stdout.strip())
    if not (bindir / "initdb").exists():
        return f"{bindir} has no initdb (install the PostgreSQL server, or set {env_url})"
    return bindir


class Cluster:
    """A throwaway cluster: ``initdb`` in a temporary directory, one server on a free port, run
    with ``settings`` (``postgres -c name=value``)."""

    def __init__(self, bindir: Path, settings: dict[str, str] | None = None) -> None:
        self.bindir = bindir
        self.settings = TEST_SETTINGS if settings is None else settings
        self.user = "postgres" if os.geteuid() == 0 else None
        self.directory = Path(tempfile.mkdtemp(prefix="pyflow-pg-"))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        password = "pw-" + secrets.token_hex(8)
        pwfile = self.directory / "pwfile"
        pwfile.write_text(password + "\n")
        if self.user is not None:
            os.chown(pwfile, pwd.getpwnam(self.user).pw_uid, -1)
        data = self.directory / "data"
        self._run([str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres",
                   f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=trust",
                   "-E", "UTF8", "--no-instructions"])
        port = _free_port()
        log = open(self.directory / "server.log", "wb")  # noqa: SIM115  # the server's lifetime
        self.process = subprocess.Popen(
            [str(self.bindir / "postgres"), "-D", str(data), "-p", str(port),
             "-k", str(self.directory), "-c", "listen_addresses=127.0.0.1",
             *(arg for name, value in self.settings.items() for arg in ("-c", f"{name}={value}"))],
            user=self.user, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        log.close()
        server = Server(f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres",
                        password, "127.0.0.1", port, "postgres", "postgres")
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                server.connect().close()
                break
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((self.directory / "server.log").read_text()[-500:]) from None
                time.sleep(0.1)
        return server

    def _run(self, args: list[str]) -> None:
        result = subprocess.run(args, user=self.user, capture_output=True, text=True,
                                cwd=self.directory)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name}: {result.stderr.strip()[-500:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # immediate shutdown: nothing to keep
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def _die_with_parent() -> None:
    """In the server's process, before it starts: quit (immediate shutdown) when the test
    process that started it dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGQUIT)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
