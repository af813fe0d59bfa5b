"""Shared helpers for the workload scripts: timing, statistics, memory, machine facts, JSON output,
and the two harnesses (pyflow and DBOS) the workloads run on.

Nothing here imports pyflow or DBOS at module level: the same script runs under the project's
virtualenv (pyflow) and under the separate DBOS venv, and each only imports what its system needs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
REPO = HERE.parent

# -- statistics -------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100.0 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(values: Iterable[float], unit: str, better: str = "higher", **extra: Any) -> dict[str, Any]:
    """Median, min and max of the repetitions, with the raw samples."""
    samples = [float(v) for v in values]
    out: dict[str, Any] = {
        "median": statistics.median(samples) if samples else None,
        "min": min(samples) if samples else None,
        "max": max(samples) if samples else None,
        "unit": unit,
        "better": better,
        "samples": [round(v, 6) for v in samples],
    }
    out.update(extra)
    return out


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.{digits}g}"


def print_metrics(title: str, metrics: dict[str, dict[str, Any]]) -> None:
    print(f"\n== {title}")
    width = max((len(name) for name in metrics), default=10)
    for name, m in metrics.items():
        if m.get("median") is None:
            print(f"  {name:<{width}}  skipped: {m.get('reason', '')}")
            continue
        reps = len(m.get("samples", []))
        print(f"  {name:<{width}}  median {fmt(m['median']):>10} {m['unit']:<12} "
              f"(min {fmt(m['min'])}, max {fmt(m['max'])}, n={reps})"
              + (f"  [{m['note']}]" if m.get("note") else ""))


# -- memory -----------------------------------------------------------------------------------------


def _status_kb(field: str, pid: int | str = "self") -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb(pid: int | str = "self") -> float | None:
    """Resident set size now (VmRSS), in MB (10^6 bytes)."""
    kb = _status_kb("VmRSS", pid)
    return None if kb is None else kb * 1024 / 1e6


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """Peak resident set size (VmHWM) since start or since ``reset_peak_rss``, in MB."""
    kb = _status_kb("VmHWM", pid)
    return None if kb is None else kb * 1024 / 1e6


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# -- machine ----------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = None
    kb = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    kb = float(line.split()[1])
                    break
    except OSError:
        pass
    if kb is not None:
        mem_gb = round(kb / 1024 / 1024, 1)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gb": mem_gb,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "filesystem_tmp": _fs_type(tempfile.gettempdir()),
        "commit_floor_us": commit_floor_us(),
    }


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (all cores, /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


_FLOOR: dict[str, float] = {}


def commit_floor_us(count: int = 200) -> dict[str, float]:
    """Median wall time of one tiny durable SQLite commit in the temp directory (the floor under
    any sequential durable step): WAL + synchronous=FULL, and rollback journal + FULL."""
    if _FLOOR:
        return _FLOOR
    for name, journal in (("wal_full", "WAL"), ("delete_full", "DELETE")):
        path = Path(tempfile.mkdtemp(prefix="pyflow-floor-")) / "floor.sqlite"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute(f"PRAGMA journal_mode={journal}")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
        times = []
        for _i in range(count):
            t = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (v) VALUES (?)", ("x" * 100,))
            conn.execute("COMMIT")
            times.append((time.perf_counter() - t) * 1e6)
        conn.close()
        _FLOOR[name] = round(statistics.median(times), 1)
    return _FLOOR


def _fs_type(path: str) -> str:
    try:
        out = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True,
                             timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# -- command line and output ------------------------------------------------------------------------


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--system", choices=("pyflow", "dbos"), default="pyflow")
    p.add_argument("--durability", choices=("full", "normal"), default="full",
                   help="pyflow: SqliteStore durability (full = WAL + synchronous=FULL)")
    p.add_argument("--journal", choices=("default", "wal"), default="default",
                   help="DBOS: SQLite journal mode of its system database (default = rollback "
                        "journal DELETE, synchronous=FULL; wal = WAL, synchronous=FULL)")
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions")
    p.add_argument("--reps", type=int, default=None, help="repetitions (default per workload)")
    p.add_argument("--json", type=Path, default=None, help="where to write the JSON result")
    p.add_argument("--workdir", type=Path, default=None,
                   help="directory for databases (default: a fresh temporary directory)")
    p.add_argument("--store", default=None, metavar="URL",
                   help="a postgresql:// database instead of SQLite, for either system (each "
                        "run in a new schema of it; pg_server.py makes one per system)")
    return p


def label(args: argparse.Namespace) -> str:
    if getattr(args, "store", None):
        return f"{args.system}-postgres"
    if args.system == "pyflow":
        return f"pyflow-{args.durability}"
    return f"dbos-{args.journal}"


def durability_text(args: argparse.Namespace) -> str:
    if getattr(args, "store", None):
        return ("PostgreSQL, synchronous_commit=on (pyflow default)" if args.system == "pyflow"
                and args.durability == "full" else "PostgreSQL, synchronous_commit=off"
                if args.system == "pyflow" else "PostgreSQL, synchronous_commit=on (DBOS default)")
    if args.system == "pyflow":
        return ("SQLite WAL, synchronous=FULL (pyflow default)" if args.durability == "full"
                else "SQLite WAL, synchronous=NORMAL")
    return ("SQLite rollback journal (DELETE), synchronous=FULL (DBOS default)"
            if args.journal == "default" else "SQLite WAL, synchronous=FULL")


def w1_wrangler_toml(name: str) -> str:
    """The wrangler.toml of a project running W1 as a Worker would: workflow ``w1``, bound as
    ``W1``, class ``Steps``."""
    return (f'name = "{name}"\nmain = "src/entry.py"\ncompatibility_date = "2025-10-01"\n\n'
            '[[workflows]]\nname = "w1"\nbinding = "W1"\nclass_name = "Steps"\n')


def workdir(args: argparse.Namespace, name: str) -> Path:
    base = args.workdir or Path(tempfile.mkdtemp(prefix=f"pyflow-bench-{name}-"))
    base.mkdir(parents=True, exist_ok=True)
    return base


def write_result(args: argparse.Namespace, workload: str, metrics: dict[str, dict[str, Any]],
                 config: dict[str, Any]) -> Path:
    out = {
        "workload": workload,
        "system": args.system,
        "label": label(args),
        "durability": durability_text(args),
        "quick": bool(args.quick),
        "config": config,
        "metrics": metrics,
        "machine": machine(),
        "versions": versions(args.system),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    path = args.json or RESULTS / f"{workload}-{label(args)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"  -> {path}")
    return path


def versions(system: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    names = (["pyflow-cli", "aiosqlite", "psycopg"] if system == "pyflow"
             else ["dbos", "sqlalchemy", "psycopg"])
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


# -- pyflow harness ---------------------------------------------------------------------------------


class ObservedStore:
    """Wraps a pyflow store and notices when an instance's final status is durably committed.

    Only ``commit`` and ``create_instances`` are intercepted (the public ``Store`` port); the rest
    is delegated. Completion time = the moment the commit carrying ``complete``/``errored`` has
    resolved, i.e. the row is durable (as durable as the store's ``synchronous`` setting makes it).
    The overhead is one Python call per commit.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.finished = 0
        self.finished_at: dict[int, float] = {}
        self.iid_of: dict[str, int] = {}
        self._waiters: dict[int, asyncio.Future[float]] = {}
        self._count_target: int | None = None
        self._count_event: asyncio.Event | None = None
        from pyflow_cli.engine.status import InstanceStatus

        self._terminal = {InstanceStatus.COMPLETE, InstanceStatus.ERRORED,
                          InstanceStatus.TERMINATED}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def commit(self, change: Any, *args: Any, **kwargs: Any) -> Any:
        result = self._inner.commit(change, *args, **kwargs)
        update = change.instance
        status = getattr(update, "status", None) if update is not None else None
        if status in self._terminal:
            future = asyncio.ensure_future(result)
            future.add_done_callback(lambda f, iid=change.iid: self._on_final(iid, f))
            return future
        return result

    def _on_final(self, iid: int, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None or future.result() is False:
            return
        if iid in self.finished_at:
            return
        now = time.perf_counter()
        self.finished_at[iid] = now
        self.finished += 1
        waiter = self._waiters.pop(iid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)
        if (self._count_event is not None and self._count_target is not None
                and self.finished >= self._count_target):
            self._count_event.set()

    async def create_instances(self, instances: Sequence[Any], lease: Any = None,
                               limits: Any = None) -> list[int | None]:
        iids: list[int | None] = await self._inner.create_instances(instances, lease, limits)
        for new, iid in zip(instances, iids, strict=True):
            if iid is not None:
                self.iid_of[new.id] = iid
        return iids

    async def wait_finished(self, instance_id: str) -> float:
        """perf_counter time at which ``instance_id``'s final status was committed."""
        iid = self.iid_of[instance_id]
        if iid in self.finished_at:
            return self.finished_at[iid]
        waiter = self._waiters.get(iid)
        if waiter is None:
            waiter = self._waiters[iid] = asyncio.get_running_loop().create_future()
        return await waiter

    async def wait_count(self, count: int, timeout: float | None = None) -> float:
        """Wait until ``count`` instances have finished in total; returns perf_counter time."""
        if self.finished < count:
            self._count_target = count
            self._count_event = asyncio.Event()
            if self.finished < count:
                await asyncio.wait_for(self._count_event.wait(), timeout)
            self._count_target = self._count_event = None
        return time.perf_counter()


class PyflowHarness:
    """Store + engine + service for workflows ``{name: WorkflowEntrypoint subclass}``."""

    def __init__(self, workflows: dict[str, Any], state_dir: Path, durability: str = "full",
                 options: Any = None, start_engine: bool = True, clock: Any = None,
                 store: str | None = None) -> None:
        self.store_url = store  # a PostgreSQL URL: a fresh schema of it unless it names one
        self.workflows = workflows
        self.clock = clock
        self.state_dir = state_dir
        self.durability = durability
        self.options = options
        self.start_engine = start_engine

    async def __aenter__(self) -> PyflowHarness:
        from pyflow_cli.engine.clock import SystemClock
        from pyflow_cli.engine.entrypoint import WorkflowDefinition
        from pyflow_cli.engine.lifetime import EngineOptions
        from pyflow_cli.engine.worker import Engine
        from pyflow_cli.service import WorkflowInfo, WorkflowService
        from pyflow_cli.storage.factory import build_store, store_clock
        from pyflow_cli.storage.url import DB_NAME, SqliteLocation, parse_store_url

        if self.store_url is not None:
            url = self.store_url if "schema=" in self.store_url else with_schema(self.store_url)
            location: Any = parse_store_url(url, Path.cwd())
        else:
            location = SqliteLocation(self.state_dir / DB_NAME)
        self.raw_store = build_store(location, self.durability)
        self.store = ObservedStore(self.raw_store)
        await self.raw_store.open()
        self.clock = self.clock or (store_clock(self.raw_store) if self.store_url else SystemClock())
        defs = {name: WorkflowDefinition(name=name, cls=cls, class_name=cls.__name__,
                                         script_name="bench")
                for name, cls in self.workflows.items()}
        self.engine = Engine(self.store, defs, self.clock, self.options or EngineOptions())
        infos = {name: WorkflowInfo(name, cls.__name__, "bench")
                 for name, cls in self.workflows.items()}
        self.service = WorkflowService(self.store, infos, self.clock, self.engine)
        if self.start_engine:
            await self.engine.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.start_engine:
            await self.engine.stop()
        await self.raw_store.close()

    async def create_many(self, workflow: str, items: list[dict[str, Any]]) -> list[str]:
        """Create instances in batches of 100 (the API's limit); returns the ids."""
        ids: list[str] = []
        for k in range(0, len(items), 100):
            result = await self.service.create_batch(workflow, items[k:k + 100])
            ids += result.created
        return ids


# -- DBOS harness -----------------------------------------------------------------------------------


def dbos_database(path: Path, journal: str) -> str:
    """Prepare a DBOS SQLite system database file; returns its URL.

    ``wal``: the file is created in WAL mode before DBOS opens it (journal_mode=WAL is persistent
    in the file; DBOS does not change it). ``default``: DBOS creates the file itself, so SQLite's
    default rollback journal (DELETE). Neither changes ``synchronous``, so it is SQLite's default,
    FULL, on every DBOS connection.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    if journal == "wal":
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.close()
    return f"sqlite:///{path}"


def dbos_launch(path: Path, journal: str, name: str = "bench", store: str | None = None) -> Any:
    """(Re)configure and launch DBOS on a fresh SQLite file, or with ``store`` (a PostgreSQL
    database) on a new schema of it."""
    import logging

    from dbos import DBOS

    config: dict[str, Any] = {"name": name, "log_level": "WARNING"}
    if store is not None:
        config["system_database_url"] = store.split("?", 1)[0]
        config["dbos_system_schema"] = new_schema("dbos")
    else:
        config["system_database_url"] = dbos_database(path, journal)
    DBOS(config=config)
    DBOS.launch()
    logging.getLogger("dbos").setLevel(logging.WARNING)
    if store is not None:
        return "postgresql"
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    return mode


def new_schema(prefix: str = "bench") -> str:
    import uuid

    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def with_schema(url: str, schema: str | None = None) -> str:
    """A pyflow store URL on ``schema`` (default: a new one) of the database ``url`` names."""
    return f"{url}{'&' if '?' in url else '?'}schema={schema or new_schema()}"


def dbos_destroy() -> None:
    from dbos import DBOS

    DBOS.destroy(destroy_registry=False)


def run_async(main: Callable[[], Any]) -> Any:
    return asyncio.run(main())


def python_for(system: str) -> str:
    return sys.executable
