"""The PostgreSQL server the benchmarks run on, and what they read from it.

- ``PYFLOW_BENCH_POSTGRES_URL`` set: that server (its user must be allowed to create databases).
- Otherwise a throwaway cluster from the installed binaries, started by the tests' own code
  (``tests/pgcluster.py``: ``initdb``, one server on a free port, as the ``postgres`` user when
  run as root), but durable: ``fsync``, ``full_page_writes`` and ``synchronous_commit`` keep their
  defaults (on), unlike the tests' server. ``pg_stat_statements`` is loaded so that the
  statements each system sends can be counted; it costs both systems alike.

Each system gets a database of its own (``database_url``), dropped and created afresh per
invocation; each run inside it uses a schema of its own (pyflow: ``?schema=``, DBOS:
``dbos_system_schema``).

``Probe`` and ``ServerWatch`` read, outside any timed span, what the server did: the CPU time of
its processes (the postmaster's and its children's, living and reaped, from ``/proc``), and one
database's commits, WAL records and flushes and top-level statements. Only psycopg is needed
(DBOS's virtualenv has it too), imported when used.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from common import REPO, machine_busy_s

ENV_URL = "PYFLOW_BENCH_POSTGRES_URL"
BENCH_SETTINGS = {
    "max_connections": "300",
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "top",
    # fsync, full_page_writes and synchronous_commit are left at their defaults: on.
}


class BenchServer:
    """A server (given or started) and the databases made on it."""

    def __init__(self, url: str, cluster: Any = None) -> None:
        self.url = url
        self.cluster = cluster
        self.made: list[str] = []
        self._pid: int | None = None
        self._pid_known = False

    @classmethod
    def start(cls) -> BenchServer:
        given = os.environ.get(ENV_URL)
        if given:
            return cls(given)
        sys.path.insert(0, str(REPO / "tests"))
        import pgcluster  # the tests' throwaway cluster

        bindir = pgcluster.find_bindir(ENV_URL)
        if isinstance(bindir, str):
            raise SystemExit(f"No PostgreSQL server for the benchmarks: {bindir}.")
        cluster = pgcluster.Cluster(bindir, BENCH_SETTINGS)
        return cls(cluster.start().url, cluster)

    def database_url(self, name: str) -> str:
        """A new, empty database ``name`` on the server (dropped first if it exists)."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        url = with_database(self.url, name)
        with psycopg.connect(url, autocommit=True) as conn, contextlib.suppress(psycopg.Error):
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")  # if it is loaded
        return url

    def settings(self) -> dict[str, str]:
        """The server's version and the settings that decide durability."""
        import psycopg

        names = ("server_version", "fsync", "synchronous_commit", "full_page_writes",
                 "wal_sync_method", "shared_buffers", "max_connections")
        with psycopg.connect(self.url, autocommit=True) as conn:
            return {name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
                    for name in names}

    def cpu_s(self) -> float:
        """CPU seconds the server has used so far (0 if it is not a process of this machine)."""
        import psycopg

        if not self._pid_known:
            with psycopg.connect(self.url, autocommit=True) as conn:
                self._pid = postmaster_pid(conn)
            self._pid_known = True
        return server_cpu_s(self._pid) or 0.0

    def floor_us(self, count: int = 300) -> dict[str, float]:
        """Medians on one connection: a round trip (``SELECT 1``) and a durable commit of a
        one-row insert (the least a sequential durable step can cost on this server)."""
        import statistics
        import time

        import psycopg

        trips, commits = [], []
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS pyflow_bench_floor (v text)")
            for _ in range(count):
                t = time.perf_counter()
                conn.execute("SELECT 1")
                trips.append(time.perf_counter() - t)
                t = time.perf_counter()
                conn.execute("INSERT INTO pyflow_bench_floor (v) VALUES (%s)", ("x" * 100,))
                commits.append(time.perf_counter() - t)
            conn.execute("DROP TABLE pyflow_bench_floor")
        return {"round_trip_us": round(statistics.median(trips) * 1e6, 1),
                "durable_commit_us": round(statistics.median(commits) * 1e6, 1)}

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            return
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            for name in self.made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def without_options(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(query=""))


# -- what the server did ----------------------------------------------------------------------------


def _cpu_s(pid: int | str) -> float:
    """User + system CPU of a process and of its reaped children (utime, stime, cutime, cstime)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _children(parent: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent:
            pids.append(int(entry))
    return pids


def postmaster_pid(conn: Any) -> int | None:
    """The server's main process, if it runs on this machine and we may read its directory."""
    try:
        data = conn.execute("SHOW data_directory").fetchone()[0]
        pid = int((Path(data) / "postmaster.pid").read_text().split()[0])
    except Exception:
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def server_cpu_s(pid: int | None) -> float | None:
    """CPU seconds the whole server has used: the postmaster, its living children and the
    children it has reaped."""
    if pid is None:
        return None
    return _cpu_s(pid) + sum(_cpu_s(child) for child in _children(pid))


class Probe:
    """Snapshots of one database's activity, taken on a connection of its own."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(without_options(url), autocommit=True)
        self.database = urlsplit(url).path.lstrip("/")
        self.pid = postmaster_pid(self.conn)
        self.statements = self._has_statements()

    def _has_statements(self) -> bool:
        try:
            self.conn.execute("SELECT 1 FROM pg_stat_statements LIMIT 1")
            return True
        except Exception:
            return False

    def cpu_s(self) -> float | None:
        return server_cpu_s(self.pid)

    def counters(self) -> dict[str, float]:
        """Commits of the database, WAL records, bytes and flushes of the server, and the
        top-level statements run in the database (if pg_stat_statements is loaded). Counters
        reach these views when a backend goes idle or exits: read them after the system's
        connections closed."""
        self.conn.execute("SELECT pg_stat_clear_snapshot()")
        out: dict[str, float] = {}
        row = self.conn.execute("SELECT xact_commit, xact_rollback FROM pg_stat_database "
                                "WHERE datname = %s", (self.database,)).fetchone()
        out["commits"], out["rollbacks"] = float(row[0]), float(row[1])
        wal = self.conn.execute("SELECT wal_records, wal_bytes, wal_sync FROM pg_stat_wal"
                                ).fetchone()
        out["wal_records"], out["wal_bytes"], out["wal_flushes"] = (float(x) for x in wal)
        if self.statements:
            calls = self.conn.execute(
                "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s "
                "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
                (self.database,)).fetchone()
            out["statements"] = float(calls[0])
        return out

    def reset_statements(self) -> None:
        if self.statements:
            self.conn.execute("SELECT pg_stat_statements_reset()")

    def close(self) -> None:
        self.conn.close()


def per_step(before: dict[str, float], after: dict[str, float], steps: int) -> dict[str, float]:
    return {name: (after[name] - before[name]) / steps for name in after if name in before}


class ServerWatch:
    """What the server did during one run of a workload: its CPU over the timed span
    (``start``/``stop``) and the database's counters per step over the whole run (read once the
    system's connections have closed: start-up and shut-down are included). Without a store URL
    (SQLite) it does nothing."""

    def __init__(self, store: str | None, steps: int) -> None:
        self.store = store
        self.steps = steps
        self.result: dict[str, Any] = {}
        self._probe: Probe | None = None
        self._cpu0: float | None = None
        self._busy0 = 0.0

    def __enter__(self) -> ServerWatch:
        if self.store is not None:
            self._probe = Probe(self.store)
            self._before = self._probe.counters()
        return self

    def start(self) -> None:
        if self._probe is not None:
            self._cpu0 = self._probe.cpu_s()
            self._busy0 = machine_busy_s()

    def stop(self) -> None:
        if self._probe is not None and self._cpu0 is not None:
            cpu = self._probe.cpu_s()
            self.result["machine_busy_s"] = machine_busy_s() - self._busy0
            if cpu is not None:
                self.result["server_cpu_s"] = cpu - self._cpu0

    def __exit__(self, *exc: Any) -> None:
        if self._probe is None:
            return
        import time

        time.sleep(0.5)  # the closed connections' backends report their counters as they exit
        after = self._probe.counters()
        self.result["db_per_step"] = per_step(self._before, after, self.steps)
        self._probe.close()
