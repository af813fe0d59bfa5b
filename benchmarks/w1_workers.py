"""W1 with K ``pyflow worker`` processes on one PostgreSQL database: steps/s for K = 1, 2, 4.

For each K and repetition, in a new schema: K ``pyflow worker`` processes start on a project whose
workflow is W1's (10 trivial steps) and register themselves; then this process (the creator, no
engine of its own) creates the N instances in batches of 100 through ``WorkflowService``, as
``w1_throughput.py`` does, and polls the store's count of complete instances every
``--poll-ms``. Timed from the first create until the count reaches N. Then the workers get
SIGTERM and each writes down which step bodies it ran; checked: every instance complete, every
step body of every instance run exactly once over all workers (none lost, none re-run).

Also measured over the timed span: the CPU of every worker and of the PostgreSQL server, per
step; and, over each whole run, the database's commits, statements and WAL flushes per step.

    .venv/bin/python benchmarks/w1_workers.py --store postgresql://…/db   # or via postgres.py
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

from common import (
    machine_busy_s,
    parser,
    print_metrics,
    summary,
    w1_wrangler_toml,
    with_schema,
    workdir,
    write_result,
)
from pg_server import ServerWatch, _cpu_s

# Each worker counts the step bodies it runs, by instance and step, and writes the counts down
# when it exits (SIGTERM lets it finish): a dict update per step, nothing on the hot path's I/O.
ENTRY = """\
import atexit, json, os
from collections import Counter

from workers import WorkflowEntrypoint

STEPS = {steps}
RUNS = Counter()


@atexit.register
def _write_counts():
    out = os.environ.get("W1_COUNTS_DIR")
    if out:
        with open(os.path.join(out, f"counts-{{os.getpid()}}.json"), "w") as f:
            json.dump(RUNS, f)


def counted(key):
    def body():
        RUNS[key] += 1
        return 1

    return body


class Steps(WorkflowEntrypoint):
    async def run(self, event, step):
        instance = event["instanceId"]
        for i in range(STEPS):
            await step.do(f"s{{i}}", counted(f"{{instance}}/s{{i}}"))
        return 1
"""


def make_project(root: Path, steps: int) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "wrangler.toml").write_text(w1_wrangler_toml("w1-workers"))
    (root / "src" / "entry.py").write_text(textwrap.dedent(ENTRY.format(steps=steps)))
    return root


def start_workers(k: int, project: Path, store: str, counts: Path, concurrency: int
                  ) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "W1_COUNTS_DIR": str(counts)}
    cmd = [sys.executable, "-m", "pyflow_cli", "worker", "--store", store,
           "--concurrency", str(concurrency), "--log-level", "warn"]
    return [subprocess.Popen(cmd, cwd=project, env=env, stdout=subprocess.DEVNULL,
                             start_new_session=True) for _ in range(k)]


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> list[int]:
    for proc in workers:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    codes = []
    for proc in workers:
        try:
            codes.append(proc.wait(60))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            codes.append(proc.wait())
    return codes


async def one_run(project: Path, store: str, k: int, n: int, steps: int, concurrency: int,
                  poll_s: float, counts: Path, watch: ServerWatch) -> dict[str, Any]:
    from pyflow_cli.api import WorkflowInfo
    from pyflow_cli.service import WorkflowService
    from pyflow_cli.storage.factory import build_store, store_clock
    from pyflow_cli.storage.url import parse_store_url

    counts.mkdir(parents=True, exist_ok=True)
    db = build_store(parse_store_url(store, project), "full")
    await db.open()
    workers = start_workers(k, project, store, counts, concurrency)
    try:
        deadline = time.monotonic() + 60
        while len(await db.list_engines()) < k:  # every worker up and registered
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise SystemExit(f"the {k} workers did not all start")
            await asyncio.sleep(0.05)
        service = WorkflowService(db, {"w1": WorkflowInfo("w1", "Steps", "w1-workers")},
                                  store_clock(db))
        worker_cpu0 = [_cpu_s(w.pid) for w in workers]
        watch.start()
        busy0, own0 = machine_busy_s(), time.process_time()
        t0 = time.perf_counter()
        for start in range(0, n, 100):
            await service.create_batch("w1", [{"id": f"i{j}"}
                                              for j in range(start, min(n, start + 100))])
        t_created = time.perf_counter()
        while (counts_now := await db.status_counts("w1")).get("complete", 0) < n:
            if counts_now.get("errored") or time.perf_counter() - t0 > 600:
                raise SystemExit(f"W1 with {k} workers went wrong: {counts_now}")
            await asyncio.sleep(poll_s)
        t_end = time.perf_counter()
        busy, own = machine_busy_s() - busy0, time.process_time() - own0
        watch.stop()
        worker_cpu = sum(_cpu_s(w.pid) - c for w, c in zip(workers, worker_cpu0, strict=True))
        ours = worker_cpu + own + watch.result.get("server_cpu_s", 0.0)
        final = await db.status_counts("w1")
    finally:
        codes = stop_workers(workers)
        await db.close()
    runs: Counter[str] = Counter()
    per_worker = []
    for path in sorted(counts.glob("counts-*.json")):
        mine = json.loads(path.read_text())
        runs.update(mine)
        per_worker.append(len({key.split("/")[0] for key in mine}))
    expected = {f"i{j}/s{i}" for j in range(n) for i in range(steps)}
    return {
        "seconds": t_end - t0, "create_s": t_created - t0, "worker_cpu_s": worker_cpu,
        "creator_cpu_s": own,
        # Cores the rest of the machine kept busy meanwhile (other people's processes).
        "foreign_cores": max(0.0, busy - ours) / (t_end - t0),
        "complete": final.get("complete", 0), "exit_codes": codes,
        "count_files": len(per_worker), "instances_per_worker": per_worker,
        "step_runs": sum(runs.values()),
        "steps_never_run": len(expected - set(runs)),
        "steps_run_twice": sum(1 for key in expected if runs[key] > 1),
        "unexpected_steps": len(set(runs) - expected),
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("-n", type=int, default=1000, help="instances N")
    p.add_argument("--steps", type=int, default=10, help="steps per instance S")
    p.add_argument("--concurrency", type=int, default=1000,
                   help="each worker's --concurrency (default 1000: one worker may run all N, as "
                        "the in-process engine does)")
    p.add_argument("--poll-ms", type=float, default=10, help="completion poll interval")
    args = p.parse_args()
    if not args.store:
        raise SystemExit("w1_workers.py needs --store postgresql://… (postgres.py provides one)")
    reps = args.reps or (1 if args.quick else 3)
    n = 200 if args.quick and args.n == 1000 else args.n
    base = workdir(args, "w1-workers")
    project = make_project(base / "project", args.steps)
    steps = n * args.steps
    metrics: dict[str, dict[str, Any]] = {}
    rates: dict[int, list[float]] = {}
    problems: list[str] = []
    shares: dict[int, list[list[int]]] = {}
    for rep in range(reps):
        for k in args.workers if rep % 2 == 0 else args.workers[::-1]:
            with ServerWatch(args.store, steps) as watch:
                run = asyncio.run(one_run(project, with_schema(args.store), k, n, args.steps,
                                          args.concurrency, args.poll_ms / 1000,
                                          base / f"counts-{k}-{rep}", watch))
            run.update(watch.result)
            rates.setdefault(k, []).append(steps / run["seconds"])
            shares.setdefault(k, []).append(run["instances_per_worker"])
            for key, value in (("worker_cpu_us_per_step", run["worker_cpu_s"] * 1e6 / steps),
                               ("create_s", run["create_s"]),
                               ("foreign_cores", run["foreign_cores"]),
                               ("creator_cpu_us_per_step", run["creator_cpu_s"] * 1e6 / steps),
                               ("server_cpu_us_per_step", run.get("server_cpu_s", 0) * 1e6 / steps),
                               *((f"db_{name}_per_step", v)
                                 for name, v in run.get("db_per_step", {}).items()
                                 if name in ("commits", "statements", "wal_flushes"))):
                metrics.setdefault(f"{key}_k{k}", {"values": []})["values"].append(value)
            bad = (run["complete"] != n or run["steps_never_run"] or run["steps_run_twice"]
                   or run["unexpected_steps"] or run["count_files"] != k
                   or run["step_runs"] != steps)
            if bad:
                problems.append(f"K={k} rep {rep}: {run}")
            print(f"  rep {rep}, K={k}: {rates[k][-1]:,.0f} steps/s; complete {run['complete']}/{n}, "
                  f"step bodies run {run['step_runs']:,} (expected {steps:,}; twice: "
                  f"{run['steps_run_twice']}, never: {run['steps_never_run']}); instances per "
                  f"worker {run['instances_per_worker']}; exit codes {run['exit_codes']}",
                  flush=True)
    out: dict[str, dict[str, Any]] = {}
    for k in args.workers:
        out[f"steps_per_s_k{k}"] = summary(rates[k], "steps/s",
                                           instances_per_worker=shares[k])
        if k != args.workers[0]:
            out[f"scaling_k{k}"] = summary(
                [statistics.median(rates[k]) / statistics.median(rates[args.workers[0]])], "x",
                note=f"median K={k} / median K={args.workers[0]}")
    for key, value in metrics.items():
        unit = ("µs" if "cpu" in key else "s" if key.startswith("create_s") else "cores"
                if key.startswith("foreign") else key.split("_per_")[0].split("_")[-1])
        out[key] = summary(value["values"], unit, "lower")
    out["correctness_failures"] = summary([len(problems)], "runs", "lower",
                                          note="a run with an instance not complete or a step "
                                               "body not run exactly once")
    print_metrics(f"W1 with pyflow worker processes ({n} x {args.steps}, PostgreSQL)", out)
    for problem in problems:
        print("  !! " + problem)
    write_result(args, "w1-workers", out, {"n": n, "steps": args.steps, "reps": reps,
                                           "workers": args.workers,
                                           "concurrency": args.concurrency})
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
