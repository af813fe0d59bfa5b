"""Run W1, W3 and W6 on PostgreSQL, pyflow beside DBOS 3.4.0 on the same server in one go, then
W1 with 1, 2 and 4 (``--workers``) ``pyflow worker`` processes; print the figures with the ratio
pyflow/DBOS and what each system asked of the database per step, and write
``results/latest-postgres.json``.

    .venv/bin/python benchmarks/postgres.py            # full run, ~10 min on 2 cores
    .venv/bin/python benchmarks/postgres.py --quick    # smoke run, ~2 min
    PYFLOW_BENCH_POSTGRES_URL=postgresql://user:pw@host/db .venv/bin/python benchmarks/postgres.py

The server: ``PYFLOW_BENCH_POSTGRES_URL``, or a throwaway cluster started from the installed
binaries (``pg_server.py``), durable either way (fsync and synchronous_commit on). Each system
gets a database of its own on it. DBOS runs in its own virtualenv, as for ``run.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import run
from common import REPO, RESULTS, fmt, machine
from pg_server import BenchServer, Probe

WORKLOADS = ("w1", "w3", "w6", "w1-workers")

# (workload, metric, title, ratio meaningful?) — W6's totals depend on N, which differs.
HEADLINES: list[tuple[str, str, str, bool]] = [
    ("w1", "steps_per_s_n1000", "W1 steps/s, 1000x10", True),
    ("w1", "steps_per_s_n200", "W1 steps/s, 200x10", True),
    ("w1", "cpu_us_per_step_n1000", "W1 CPU/step in the system's process, µs", True),
    ("w1", "server_cpu_us_per_step_n1000", "W1 CPU/step in the PostgreSQL server, µs", True),
    ("w1", "db_statements_per_step_n1000", "W1 statements/step", True),
    ("w1", "db_commits_per_step_n1000", "W1 commits/step", True),
    ("w1", "db_wal_flushes_per_step_n1000", "W1 WAL flushes/step", True),
    ("w1", "db_wal_bytes_per_step_n1000", "W1 WAL bytes/step", True),
    ("w1", "changes_per_group_commit_n1000", "W1 changes per group commit (pyflow)", False),
    ("w1", "writer_in_commit_share_n1000", "W1 time with a batch in flight (pyflow)", False),
    ("w1", "foreign_cores_n1000", "W1 cores used by other processes", False),
    ("w1", "status_p99_ms", "status() p99 during W1, ms", True),
    ("w1", "peak_rss_mb_n1000", "W1 peak RSS, 1000 in flight, MB", True),
    ("w3", "p50_ms", "W3 create->complete p50, ms", True),
    ("w3", "p99_ms", "W3 create->complete p99, ms", True),
    ("w3", "db_commits_per_instance", "W3 commits/instance", True),
    ("w3", "db_statements_per_instance", "W3 statements/instance", True),
    ("w6", "all_running_s", "W6 all running again, s", False),
    ("w6", "recovered_per_s", "W6 recovered instances/s", True),
    ("w6", "lost", "W6 instances lost", False),
    ("w6", "completed_step_reruns", "W6 completed steps re-run", False),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run, ~2 minutes")
    p.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    p.add_argument("--skip-dbos", action="store_true")
    p.add_argument("--reps", type=int, default=None, help="repetitions of every workload")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4],
                   help="numbers of pyflow worker processes for W1 (the first is the reference)")
    p.add_argument("--dbos-venv", type=Path, default=REPO.parent / "dbos-venv")
    args = p.parse_args()

    dbos_python = None if args.skip_dbos else str(run.ensure_dbos_venv(args.dbos_venv))
    server = BenchServer.start()
    try:
        settings = {**server.settings(), **{k: str(v) for k, v in server.floor_us().items()}}
        print("PostgreSQL " + ", ".join(f"{k}={v}" for k, v in settings.items()), flush=True)
        urls = {"pyflow": server.database_url("bench_pyflow")}
        if dbos_python is not None:
            urls["dbos"] = server.database_url("bench_dbos")
        started = time.perf_counter()
        load_before = uptime()
        results = run_all(args, urls, dbos_python, server.cpu_s)
        elapsed = time.perf_counter() - started
        inside = inside_statements(urls["pyflow"], args.quick) if "w1" in args.only else []
    finally:
        server.stop()
    summary = report(results, args, elapsed, settings, load_before)
    summary["w1_pyflow_statements_inside_functions"] = inside
    name = "latest-postgres-quick.json" if args.quick else "latest-postgres.json"
    (RESULTS / name).write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwrote {RESULTS / name}; total {elapsed / 60:.1f} min")


def run_all(args: argparse.Namespace, urls: dict[str, str], dbos_python: str | None,
            server_cpu_s: Callable[[], float]) -> dict[str, dict[str, Any]]:
    run_dir = RESULTS / ("quick" if args.quick else "full")
    run_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="pyflow-bench-pg-"))
    reps = ["--reps", str(args.reps)] if args.reps else []
    results: dict[str, dict[str, Any]] = {w: {} for w in WORKLOADS}
    for workload in args.only:
        systems = ["pyflow"] if workload == "w1-workers" else ["pyflow", "dbos"]
        for system in systems:
            python = sys.executable if system == "pyflow" else dbos_python
            if python is None:
                continue
            extra = ["--store", urls[system], "--workdir", str(scratch / f"{workload}-{system}"),
                     *reps]
            if workload == "w1-workers":
                extra += ["--workers", *map(str, args.workers)]
            results[workload][system] = run.run_one(
                python, workload, system, extra, run_dir / f"{workload}-{system}-postgres.json",
                args.quick, server_cpu_s)
    return results


def inside_statements(url: str, quick: bool) -> list[dict[str, Any]]:
    """One more pyflow W1 (N=1000, not timed) with ``pg_stat_statements.track = all`` on its
    database: the statements pyflow's SQL functions (``apply_changes``, ``create_instances``)
    run per step, and their mean execution time — where the server's CPU per step goes."""
    import psycopg

    n, steps = (200, 10) if quick else (1000, 10)
    database = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE \"{database}\" SET pg_stat_statements.track = 'all'")
    probe = Probe(url)
    try:
        probe.reset_statements()
        subprocess.run([sys.executable, "w1_throughput.py", "--store", url, "--sizes", str(n),
                        "--steps", str(steps), "--reps", "1", "--no-probe", "--json",
                        str(Path(tempfile.mkdtemp()) / "w1-inside.json")],
                       cwd=Path(__file__).parent, check=True, stdout=subprocess.DEVNULL)
        rows = probe.conn.execute(
            "SELECT s.calls, s.total_exec_time, s.toplevel, "
            "left(regexp_replace(s.query, '\\s+', ' ', 'g'), 80) FROM pg_stat_statements s "
            "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s AND s.calls >= %s "
            "ORDER BY s.total_exec_time DESC LIMIT 12", (database, n)).fetchall()
        top_ms = probe.conn.execute(
            "SELECT coalesce(sum(s.total_exec_time), 0) FROM pg_stat_statements s JOIN "
            "pg_database d ON d.oid = s.dbid WHERE d.datname = %s AND s.toplevel AND "
            "s.query ~ '(apply_changes|create_instances)'", (database,)).fetchone()[0]
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE \"{database}\" RESET pg_stat_statements.track")
        probe.close()
    total = n * steps
    print(f"\nW1 {n}x{steps} on pyflow, statements run {total:,} times or more, "
          "inside pyflow's SQL functions or not (pg_stat_statements.track = all):")
    print(f"  apply_changes and create_instances, as called: {1000 * top_ms / total:.1f} µs "
          "of execution per step in all")
    out = [{"per_step": None, "mean_us": 1000 * top_ms / total, "toplevel": True,
            "query": "apply_changes + create_instances, execution time per step"}]
    for calls, ms, top, query in rows:
        print(f"  {calls / total:6.2f} per step, {1000 * ms / calls:6.1f} µs each "
              f"{'(top level)' if top else '(inside)   '} {query}")
        out.append({"per_step": calls / total, "mean_us": 1000 * ms / calls, "toplevel": top,
                    "query": query})
    return out


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace, elapsed: float,
           settings: dict[str, str], load_before: str) -> dict[str, Any]:
    print("\n" + "=" * 96)
    print("pyflow vs DBOS 3.4.0 on PostgreSQL (same server, a database each) — medians; "
          "ratio = pyflow / DBOS")
    print(f"{'metric':<46} {'pyflow':>12} {'DBOS':>12} {'pyflow/DBOS':>12}")
    print("-" * 96)
    rows = []
    for workload, metric, title, comparable in HEADLINES:
        if workload not in args.only:
            continue
        a = run.median(results[workload].get("pyflow"), metric)
        b = run.median(results[workload].get("dbos"), metric)
        ratio = a / b if comparable and a is not None and b not in (None, 0) else None
        print(f"{title:<46} {fmt(a):>12} {fmt(b):>12} "
              f"{(fmt(ratio) + 'x') if ratio is not None else '-':>12}")
        rows.append({"workload": workload, "metric": metric, "title": title,
                     "values": {"pyflow": a, "dbos": b}, "ratio": ratio})
    sizes = {s: (r or {}).get("config", {}).get("n") for s, r in results["w6"].items()}
    if any(sizes.values()):
        print(f"W6 N: pyflow {sizes.get('pyflow')}, DBOS {sizes.get('dbos')}")
    workers = results["w1-workers"].get("pyflow")
    if workers:
        print("\nW1 with pyflow worker processes (steps/s; scaling against one worker; the model:"
              " min(K x one worker's steps/s, cores left / CPU per step), see docs/performance.md):")
        m = workers["metrics"]
        ks = workers["config"]["workers"]
        one = m[f"steps_per_s_k{ks[0]}"]["median"] / ks[0]
        for k in ks:
            scale = m.get(f"scaling_k{k}", {}).get("median")
            cpu = sum(m[f"{part}_cpu_us_per_step_k{k}"]["median"]
                      for part in ("worker", "server", "creator"))
            left = (os.cpu_count() or 1) - m[f"foreign_cores_k{k}"]["median"]
            model = min(k * one, left / cpu * 1e6)
            print(f"  K={k}: {fmt(m[f'steps_per_s_k{k}']['median']):>8} steps/s"
                  + (f"  ({fmt(scale)}x)" if scale else "")
                  + f"; CPU/step: workers {fmt(m[f'worker_cpu_us_per_step_k{k}']['median'])} µs, "
                  f"server {fmt(m[f'server_cpu_us_per_step_k{k}']['median'])} µs, creator "
                  f"{fmt(m[f'creator_cpu_us_per_step_k{k}']['median'])} µs; other processes "
                  f"{fmt(m[f'foreign_cores_k{k}']['median'])} cores; model {fmt(model)} steps/s")
        print(f"  correctness: {workers['metrics']['correctness_failures']['median']:.0f} runs "
              "with an instance not complete or a step body not run exactly once")
    noisy = [x for x in run.LOADS if x["foreign_cpu_share"] > 0.10]
    if noisy:
        print("WARNING: other processes used over 10% of the machine during "
              + ", ".join(f"{x['workload']} on {x['system']} ({100 * x['foreign_cpu_share']:.0f}%)"
                          for x in noisy) + ": those figures are pessimistic.")
    load_after = uptime()
    print(f"load: before {load_before.split('load average:')[-1].strip()}, "
          f"after {load_after.split('load average:')[-1].strip()}")
    ratios = [r["ratio"] for r in rows if r["ratio"] and r["metric"].startswith("steps_per_s")]
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git": run.git_state(),
        "postgresql": settings,
        "foreign_cpu": run.LOADS,
        "uptime": {"before": load_before, "after": load_after},
        "quick": args.quick,
        "elapsed_s": round(elapsed, 1),
        "machine": machine(),
        "rows": rows,
        "w1_workers": workers["metrics"] if workers else None,
        "median_w1_ratio": statistics.median(ratios) if ratios else None,
    }


if __name__ == "__main__":
    main()
