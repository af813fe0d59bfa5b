"""W1: N instances x S trivial steps, all started at once — steps per second.

Timed from the first create call until the last instance's final status is durably committed
(pyflow: the commit of ``complete`` has resolved; DBOS: the last ``handle.get_result()`` returned).
Sizes N = 1000 (the headline) and N = 200 (the no-collapse check: N=1000 must keep >= 80% of
N=200's steps/s). Peak RSS is the process's VmHWM, reset before each repetition.

Further runs with the largest N also probe status queries while W1 runs: one query every 5 ms
(after the previous answer) of an instance created so far (pyflow: ``WorkflowService.status``,
in the same event loop as the engine; DBOS: ``DBOS.get_workflow_status`` from a second thread),
latency p50/p99/max pooled over the probe runs.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

from common import (
    PyflowHarness,
    dbos_destroy,
    dbos_launch,
    durability_text,
    label,
    parser,
    peak_rss_mb,
    percentile,
    print_metrics,
    reset_peak_rss,
    summary,
    workdir,
    write_result,
)
from pg_server import ServerWatch

PROBE_INTERVAL_S = 0.005


# -- pyflow ---------------------------------------------------------------------------------------


def pyflow_workflow(steps: int, async_bodies: bool = False) -> type:
    from pyflow_cli.engine.entrypoint import WorkflowEntrypoint

    async def one() -> int:
        return 1

    body = one if async_bodies else (lambda: 1)

    class Steps(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> int:
            for i in range(steps):
                await step.do(f"s{i}", body)
            return 1

    return Steps


def time_commits(store: Any) -> list[float] | None:
    """PostgreSQL: add up the time the store's writer spends inside its commits (from sending a
    batch until its results are read back), into the returned list's one item."""
    writer = getattr(store, "_writer", None)
    if writer is None:
        return None
    total = [0.0]
    commit = writer._commit

    async def timed(batch: Any) -> Any:
        t = time.perf_counter()
        try:
            return await commit(batch)
        finally:
            total[0] += time.perf_counter() - t

    writer._commit = timed
    return total


async def pyflow_once(base: Path, durability: str, n: int, steps: int, probe: bool,
                      store: str | None = None, async_bodies: bool = False,
                      watch: ServerWatch | None = None) -> dict[str, Any]:
    wf = pyflow_workflow(steps, async_bodies)
    async with PyflowHarness({"w1": wf}, base, durability, store=store) as h:
        in_commit = time_commits(h.raw_store) if store is not None else None
        ids = [f"i{k}" for k in range(n)]
        created: list[str] = []
        latencies: list[float] = []
        lags: list[float] = []  # how late the prober woke from its sleep: event-loop lag
        done = asyncio.Event()

        async def prober() -> None:
            rng = random.Random(1)
            while not done.is_set():
                if created:
                    target = rng.choice(created)
                    t = time.perf_counter()
                    await h.service.status("w1", target)
                    latencies.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                await asyncio.sleep(PROBE_INTERVAL_S)
                lags.append((time.perf_counter() - t - PROBE_INTERVAL_S) * 1000)

        probe_task = asyncio.create_task(prober()) if probe else None
        reset_peak_rss()
        if watch is not None:
            watch.start()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        for k in range(0, n, 100):
            chunk = ids[k:k + 100]
            await h.service.create_batch("w1", [{"id": i} for i in chunk])
            created.extend(chunk)
        t_created = time.perf_counter()
        t_end = await h.store.wait_count(n, timeout=600)
        cpu_s = time.process_time() - cpu0
        if watch is not None:
            watch.stop()
        done.set()
        if probe_task is not None:
            await probe_task
        rss = peak_rss_mb()
        counts = await h.store.status_counts("w1")
        assert counts.get("complete", 0) == n, counts
        writer = getattr(h.raw_store, "_writer", None)  # PostgreSQL: the group-commit writer
        batches = {"batches": writer.batches, "operations": writer.operations} if (
            store is not None and writer is not None) else {}
        if in_commit is not None:
            batches["in_commit_s"] = in_commit[0]
    return {"seconds": t_end - t0, "create_s": t_created - t0, "peak_rss_mb": rss,
            "cpu_s": cpu_s, "latencies_ms": latencies, "loop_lag_ms": lags, **batches}


# -- DBOS -----------------------------------------------------------------------------------------

_DBOS_STEPS = {"n": 10}


def dbos_register() -> Any:
    from dbos import DBOS

    @DBOS.step()
    def trivial(i: int) -> int:
        return 1

    @DBOS.workflow()
    def steps_wf() -> int:
        for i in range(_DBOS_STEPS["n"]):
            trivial(i)
        return 1

    return steps_wf


def dbos_once(base: Path, journal: str, n: int, steps: int, probe: bool, wf: Any, rep: int,
              store: str | None = None, watch: ServerWatch | None = None) -> dict[str, Any]:
    from dbos import DBOS

    _DBOS_STEPS["n"] = steps
    dbos_launch(base / f"dbos-{n}-{rep}.sqlite", journal, store=store)
    try:
        handles: list[Any] = []
        latencies: list[float] = []
        stop = threading.Event()

        def prober() -> None:
            rng = random.Random(1)
            while not stop.is_set():
                if handles:
                    target = rng.choice(handles[:]).get_workflow_id()
                    t = time.perf_counter()
                    DBOS.get_workflow_status(target)
                    latencies.append((time.perf_counter() - t) * 1000)
                time.sleep(PROBE_INTERVAL_S)

        thread = threading.Thread(target=prober, daemon=True) if probe else None
        if thread is not None:
            thread.start()
        reset_peak_rss()
        if watch is not None:
            watch.start()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        for _ in range(n):
            handles.append(DBOS.start_workflow(wf))
        t_created = time.perf_counter()
        for handle in handles:
            handle.get_result()
        t_end = time.perf_counter()
        cpu_s = time.process_time() - cpu0
        if watch is not None:
            watch.stop()
        stop.set()
        if thread is not None:
            thread.join()
        rss = peak_rss_mb()
    finally:
        dbos_destroy()
    return {"seconds": t_end - t0, "create_s": t_created - t0, "peak_rss_mb": rss,
            "cpu_s": cpu_s, "latencies_ms": latencies}


# -- main -----------------------------------------------------------------------------------------


def add_server_metrics(metrics: dict[str, dict[str, Any]], runs: list[dict[str, Any]], n: int,
                       steps: int) -> None:
    """PostgreSQL: the server's CPU per step beside the process's, and the database work per
    step (commits, statements, WAL records and flushes; start-up and shut-down included)."""
    batches = [r for r in runs if r.get("batches")]
    if batches and "in_commit_s" in batches[0]:
        metrics[f"writer_in_commit_share_n{n}"] = summary(
            [r["in_commit_s"] / r["seconds"] for r in batches], "of the time",
            note="pyflow's writer: time with a batch in flight (sent, results not yet read) / "
                 "the run's time (its create calls, teardown too)")
    if batches:
        metrics[f"group_commits_per_step_n{n}"] = summary(
            [r["batches"] / steps for r in batches], "commits", "lower",
            note="pyflow's writer: batches (one transaction, one pipeline each), whole run")
        metrics[f"changes_per_group_commit_n{n}"] = summary(
            [r["operations"] / r["batches"] for r in batches], "changes",
            note="pyflow's writer: operations per batch, whole run")
    foreign = [max(0.0, r["machine_busy_s"] - r["cpu_s"] - r["server_cpu_s"]) / r["seconds"]
               for r in runs if "server_cpu_s" in r and "machine_busy_s" in r]
    if foreign:
        metrics[f"foreign_cores_n{n}"] = summary(
            foreign, "cores", "lower",
            note="CPU other processes used meanwhile, in cores (of the machine's "
                 f"{os.cpu_count()})")
    cpu = [r["server_cpu_s"] * 1e6 / steps for r in runs if "server_cpu_s" in r]
    if cpu:
        metrics[f"server_cpu_us_per_step_n{n}"] = summary(
            cpu, "µs", "lower", note="every PostgreSQL server process, over the timed span")
    for name in ("commits", "statements", "wal_records", "wal_flushes", "wal_bytes"):
        values = [r["db_per_step"][name] for r in runs if name in r.get("db_per_step", {})]
        if values:
            metrics[f"db_{name}_per_step_n{n}"] = summary(
                values, name.split("_")[-1] if name != "wal_bytes" else "bytes", "lower",
                note="per step, whole run (start-up and shut-down included)")



def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=None, help="instance counts N")
    p.add_argument("--steps", type=int, default=10, help="steps per instance S")
    p.add_argument("--no-probe", action="store_true", help="skip the status-query runs")
    p.add_argument("--async-bodies", action="store_true",
                   help="pyflow: step bodies are coroutine functions (each runs in a task)")
    p.add_argument("--probe-reps", type=int, default=None,
                   help="runs with status probes, latencies pooled (default: pyflow 3, DBOS 1 — "
                        "a DBOS run is 10-20x longer, so it yields as many samples)")
    args = p.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    sizes = args.sizes or ([1000, 200] if (args.system == "pyflow" or not args.quick) else [200])
    base = workdir(args, "w1")
    wf = dbos_register() if args.system == "dbos" else None

    def once(n: int, probe: bool, rep: int) -> dict[str, Any]:
        with ServerWatch(args.store, n * args.steps) as watch:
            if args.system == "pyflow":
                run = asyncio.run(pyflow_once(base / f"pyflow-{n}-{rep}-{int(probe)}",
                                              args.durability, n, args.steps, probe, args.store,
                                              args.async_bodies, watch))
            else:
                run = dbos_once(base, args.journal, n, args.steps, probe, wf,
                                rep + 100 * int(probe), args.store, watch)
        return {**run, **watch.result}

    metrics: dict[str, dict[str, Any]] = {}
    rates: dict[int, list[float]] = {}
    for n in sizes:
        runs = [once(n, False, rep) for rep in range(reps)]
        rates[n] = [n * args.steps / r["seconds"] for r in runs]
        metrics[f"steps_per_s_n{n}"] = summary(rates[n], "steps/s")
        metrics[f"seconds_n{n}"] = summary([r["seconds"] for r in runs], "s", "lower")
        metrics[f"create_s_n{n}"] = summary([r["create_s"] for r in runs], "s", "lower",
                                            note="time spent in the create calls")
        metrics[f"peak_rss_mb_n{n}"] = summary([r["peak_rss_mb"] for r in runs], "MB", "lower")
        metrics[f"cpu_us_per_step_n{n}"] = summary(
            [r["cpu_s"] * 1e6 / (n * args.steps) for r in runs], "µs", "lower",
            note="process CPU (every thread) per step: steadier than steps/s on a shared machine")
        if args.store:
            add_server_metrics(metrics, runs, n, n * args.steps)
        print(f"  N={n}: " + ", ".join(f"{x:,.0f}" for x in rates[n]) + " steps/s")
    if len(sizes) >= 2:
        big, small = max(sizes), min(sizes)
        import statistics

        ratio = statistics.median(rates[big]) / statistics.median(rates[small])
        metrics["scale_ratio"] = summary([ratio], "x", note=f"median N={big} / median N={small}")
    if not args.no_probe:
        n = max(sizes)
        probe_reps = args.probe_reps or (1 if args.quick or args.system == "dbos" else 3)
        probe_runs = [once(n, True, rep) for rep in range(probe_reps)]
        lat = [x for r in probe_runs for x in r["latencies_ms"]]
        extra = {"note": f"{len(lat)} status queries pooled over {probe_reps} W1 run(s), N={n}"}
        metrics["status_p50_ms"] = summary([percentile(lat, 50)], "ms", "lower", **extra)
        metrics["status_p99_ms"] = summary([percentile(lat, 99)], "ms", "lower", **extra)
        metrics["status_max_ms"] = summary([max(lat) if lat else float("nan")], "ms", "lower",
                                           **extra)
        lags = [x for r in probe_runs for x in r.get("loop_lag_ms", [])]
        if lags:  # pyflow: a request over HTTP would wait this long for the loop to serve it
            metrics["loop_lag_p99_ms"] = summary(
                [percentile(lags, 99)], "ms", "lower",
                note=f"lateness of the prober's {PROBE_INTERVAL_S * 1000:.0f} ms sleep, "
                     f"{len(lags)} samples")
        metrics[f"steps_per_s_n{n}_with_probes"] = summary(
            [n * args.steps / r["seconds"] for r in probe_runs], "steps/s")
        metrics["status_queries"] = summary([len(lat)], "queries")
    print_metrics(f"W1 throughput — {label(args)} ({durability_text(args)})", metrics)
    write_result(args, "w1", metrics, {"sizes": sizes, "steps": args.steps, "reps": reps,
                                       "probe_interval_s": PROBE_INTERVAL_S})


if __name__ == "__main__":
    main()
