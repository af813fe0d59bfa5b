"""Where the time goes in a pyflow workload: per-thread CPU, the writer thread's SQLite time, and
a cProfile of the event-loop thread.

    .venv/bin/python benchmarks/profile_workload.py w1        # 1000 x 10 steps
    .venv/bin/python benchmarks/profile_workload.py w2        # 1 x 1000 steps
    .venv/bin/python benchmarks/profile_workload.py w3        # 300 x create->complete
    .venv/bin/python benchmarks/profile_workload.py w4 -n 20000

Two runs of the workload:
1. unprofiled, with CPU time per thread (``/proc/self/task/*/stat``) and the writer connection's
   statements timed (a ``sqlite3.Connection`` subclass: time in ``COMMIT`` — the fsync — versus
   the other statements); the writer's commit count and operations per commit;
2. under ``cProfile`` (the event-loop thread only: cProfile does not follow other threads), top
   functions by own time and own time summed per module.
This is diagnostic code: it patches ``sqlite3.connect`` inside ``pyflow_cli.storage.sqlite``.
Output goes to stdout and ``results/profile-<workload>.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sqlite3
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar

from common import RESULTS, PyflowHarness

TICK = os.sysconf("SC_CLK_TCK")
PROFILER: cProfile.Profile | None = None  # W4: enabled only around the wake-up phase


class _Delta:
    def __init__(self, batches: int, operations: int) -> None:
        self.batches, self.operations = batches, operations


def snapshot() -> tuple[dict[int, float], dict[int, str]]:
    """CPU seconds per live thread, and their names (taken before the store closes its threads)."""
    return thread_cpu(), {t.native_id: t.name for t in threading.enumerate()
                          if t.native_id is not None}


def thread_cpu() -> dict[int, float]:
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, IndexError):
            continue
    return out


class TimedConnection(sqlite3.Connection):
    stats: ClassVar[dict[str, list[float]]] = defaultdict(lambda: [0, 0.0, 0])

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        t = time.perf_counter()
        try:
            return super().execute(sql, *args)
        finally:
            entry = TimedConnection.stats[_kind(sql)]
            entry[0] += 1
            entry[1] += time.perf_counter() - t

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        rows = len(args[0]) if args and hasattr(args[0], "__len__") else 0
        t = time.perf_counter()
        try:
            return super().executemany(sql, *args)
        finally:
            entry = TimedConnection.stats[_kind(sql) + " (many)"]
            entry[0] += 1
            entry[1] += time.perf_counter() - t
            entry[2] += rows


def _kind(sql: str) -> str:
    words = sql.split()
    head = words[0].upper() if words else "?"
    if head in ("INSERT", "UPDATE", "DELETE", "SELECT") and len(words) > 2:
        table = next((w for w in words[1:6] if w.lower() not in
                      ("or", "ignore", "replace", "into", "from", "*")), "?")
        return f"{head} {table.split('(')[0]}"
    return head


def patch_writer_connection() -> None:
    import pyflow_cli.storage.sqlite as module

    real = sqlite3.connect

    class Shim:
        def __getattr__(self, name: str) -> Any:
            return getattr(sqlite3, name)

        @staticmethod
        def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            kwargs.setdefault("factory", TimedConnection)
            return real(*args, **kwargs)

    module.sqlite3 = Shim()  # type: ignore[assignment]


async def workload(name: str, n: int | None) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix=f"pyflow-profile-{name}-"))
    if name == "w1":
        from w1_throughput import pyflow_workflow

        n = n or 1000
        async with PyflowHarness({"w": pyflow_workflow(10)}, base) as h:
            t0 = time.perf_counter()
            await h.create_many("w", [{} for _ in range(n)])
            await h.store.wait_count(n)
            return {"wall": time.perf_counter() - t0, "units": n * 10, "unit": "steps",
                    "writer": h.raw_store._writer, "cpu": snapshot(), "db": h.raw_store.path}
    if name == "w2":
        from w1_throughput import pyflow_workflow

        n = n or 1000
        async with PyflowHarness({"w": pyflow_workflow(n)}, base) as h:
            t0 = time.perf_counter()
            iid = await h.service.create("w")
            await h.store.wait_finished(iid)
            return {"wall": time.perf_counter() - t0, "units": n, "unit": "steps",
                    "writer": h.raw_store._writer, "cpu": snapshot(), "db": h.raw_store.path}
    if name == "w3":
        from w1_throughput import pyflow_workflow

        n = n or 300
        async with PyflowHarness({"w": pyflow_workflow(1)}, base) as h:
            t0 = time.perf_counter()
            for _ in range(n):
                iid = await h.service.create("w")
                await h.store.wait_finished(iid)
            return {"wall": time.perf_counter() - t0, "units": n, "unit": "instances",
                    "writer": h.raw_store._writer, "cpu": snapshot(), "db": h.raw_store.path}
    if name == "w4":
        from w4_sleepers import pyflow_run

        n = n or 20_000
        marks: dict[str, Any] = {}

        def before_wake(h: Any) -> None:
            marks["writer"] = h.raw_store._writer
            marks["b0"], marks["o0"] = h.raw_store._writer.batches, h.raw_store._writer.operations
            marks["cpu0"] = thread_cpu()
            TimedConnection.stats.clear()
            marks["t0"] = time.perf_counter()
            if PROFILER is not None:
                PROFILER.enable()

        def after_wake(h: Any) -> None:
            if PROFILER is not None:
                PROFILER.disable()
            marks["t1"] = time.perf_counter()
            marks["cpu"] = snapshot()

        out = await pyflow_run(base, "full", n, "jump", 0, False,
                               {"before_wake": before_wake, "after_wake": after_wake})
        writer = marks["writer"]
        return {"wall": marks["t1"] - marks["t0"], "units": n, "unit": "wake-ups",
                "writer": _Delta(writer.batches - marks["b0"], writer.operations - marks["o0"]),
                "cpu": marks["cpu"], "cpu0": marks["cpu0"], "w4": out}
    raise SystemExit(f"unknown workload {name}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload", choices=("w1", "w2", "w3", "w4"))
    p.add_argument("-n", type=int, default=None)
    p.add_argument("--top", type=int, default=30)
    args = p.parse_args()
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text)
        lines.append(text)

    patch_writer_connection()
    names_before = {t.native_id: t.name for t in threading.enumerate()}
    cpu0, p0 = thread_cpu(), time.process_time()
    names: dict[int, str] = dict(names_before)

    def remember_names() -> None:
        for t in threading.enumerate():
            if t.native_id is not None:
                names[t.native_id] = t.name

    async def run_clean() -> dict[str, Any]:
        async def watch() -> None:
            while True:
                remember_names()
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        try:
            return await workload(args.workload, args.n)
        finally:
            watcher.cancel()

    result = asyncio.run(run_clean())
    cpu1 = thread_cpu()
    if "cpu" in result:
        cpu1, live_names = result["cpu"]
        names.update(live_names)
    if "cpu0" in result:
        cpu0 = result["cpu0"]
    wall = result["wall"]
    say(f"== {args.workload}: {result['units']:,} {result['unit']} in {wall:.2f}s wall "
        f"({result['units'] / wall:,.0f}/s), process CPU {time.process_time() - p0:.2f}s")
    say("-- CPU per thread (s, and % of the workload's wall time)")
    main_tid = threading.main_thread().native_id
    by_name: dict[str, float] = defaultdict(float)
    for tid, cpu in cpu1.items():
        used = cpu - cpu0.get(tid, 0.0)
        label = "event loop (main)" if tid == main_tid else names.get(tid, f"thread {tid}")
        if label.startswith("Thread-") or label.startswith("aiosqlite"):
            label = "aiosqlite reader / other"
        by_name[label] += used
    for label, used in sorted(by_name.items(), key=lambda kv: -kv[1]):
        if used > 0:
            say(f"   {label:<28} {used:7.2f}s  {100 * used / wall:5.0f}%")
    writer = result.get("writer")
    if writer is not None:
        say(f"-- writer: {writer.batches:,} commits, {writer.operations:,} operations "
            f"({writer.operations / max(writer.batches, 1):.1f} per commit, "
            f"{result['units'] / max(writer.batches, 1):.2f} {result['unit']} per commit)")
    say("-- writer/reader SQLite statements (pyflow_cli.storage.sqlite connections)")
    total = sum(v[1] for v in TimedConnection.stats.values())
    say("   (statement wall time on the writer/reader threads, including waits for the GIL)")
    for kind, (count, seconds, rows) in sorted(TimedConnection.stats.items(),
                                               key=lambda kv: -kv[1][1])[:12]:
        per_row = f", {rows:,} rows, {1e6 * seconds / rows:5.1f} us/row" if rows else ""
        say(f"   {kind:<26} {count:8,} calls {seconds:7.3f}s  "
            f"{1e6 * seconds / max(count, 1):7.1f} us/call{per_row}")
    say(f"   {'total':<26} {'':8}       {total:7.3f}s")
    if result.get("db"):
        conn = sqlite3.connect(result["db"])
        tables = ("instances", "steps", "log", "timers", "inbox")
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
        conn.close()
        say("-- rows in the store afterwards: " + ", ".join(f"{t} {c:,}" for t, c in counts.items())
            + f" ({counts['log'] / result['units']:.2f} log rows per {result['unit'][:-1]})")
    if "w4" in result:
        say("-- W4: " + ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                                  for k, v in result["w4"].items()))

    TimedConnection.stats.clear()
    global PROFILER
    profiler = cProfile.Profile()
    if args.workload == "w4":
        PROFILER = profiler  # enabled around the wake-up phase only
        result2 = asyncio.run(workload(args.workload, args.n))
    else:
        profiler.enable()
        result2 = asyncio.run(workload(args.workload, args.n))
        profiler.disable()
    say(f"\n== cProfile of the event-loop thread ({result2['wall']:.2f}s wall under the profiler)")
    stats = pstats.Stats(profiler)
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(args.top)
    body = buf.getvalue()
    start = body.find("   ncalls")
    say(body[start:].rstrip())
    per_module: dict[str, float] = defaultdict(float)
    for (filename, _, func), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        key = ("idle: " if "epoll" in func else "C: ") + func if filename == "~" else _module(filename)
        per_module[key] += tottime
    grand = sum(per_module.values())
    say("\n-- own time per module (event-loop thread; C functions listed one by one; "
        "'idle' = waiting for I/O or the writer)")
    for module, seconds in sorted(per_module.items(), key=lambda kv: -kv[1])[:20]:
        say(f"   {module:<48} {seconds:7.3f}s  {100 * seconds / grand:5.1f}%")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"profile-{args.workload}.txt"
    out.write_text("\n".join(lines) + "\n")
    print(f"\n-> {out}")


def _module(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins / C (" + filename + ")" if filename != "~" else "builtins / C"
    for marker in ("pyflow_cli/", "asyncio/", "aiosqlite/", "benchmarks/"):
        if marker in filename:
            return marker + filename.split(marker, 1)[1]
    return os.path.basename(filename)


if __name__ == "__main__":
    main()
