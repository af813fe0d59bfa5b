"""Run every workload on pyflow and on DBOS 3.4.0 (SQLite, default journal and WAL) in one go,
print the figures side by side with the ratio pyflow/DBOS and the issue's targets, and write
``results/latest.json``.

    .venv/bin/python benchmarks/run.py            # full run, ~10 min on 2 cores
    .venv/bin/python benchmarks/run.py --quick    # smoke run, ~2 min
    .venv/bin/python benchmarks/run.py --only w1 w2 --skip-dbos

pyflow runs under this interpreter (it must import ``pyflow_cli``). DBOS runs under a separate
virtualenv (``--dbos-venv``, default ``../dbos-venv`` beside the repository), created and filled
with ``dbos==3.4.0`` on first use — never in pyflow's environment.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import HERE, REPO, RESULTS, fmt, machine, machine_busy_s

DBOS_VERSION = "3.4.0"
WORKLOADS = ("w1", "w2", "w3", "w4", "w5", "w6")
SCRIPTS = {"w1": "w1_throughput.py", "w2": "w2_sequential.py", "w3": "w3_latency.py",
           "w4": "w4_sleepers.py", "w5": "w5_cli.py", "w6": "w6_recovery.py",
           "w1-workers": "w1_workers.py"}  # the last on PostgreSQL only (postgres.py)

# (workload, metric, title, target check or None, target text, ratio meaningful?)
# Ratios are left out where DBOS runs a smaller N (W4 totals, W6 time to recover all).
HEADLINES: list[tuple[str, str, str, Any, str, bool]] = [
    ("w1", "steps_per_s_n1000", "W1 steps/s, 1000x10", lambda v: v >= 20_000, ">=20k, >=20x", True),
    ("w1", "steps_per_s_n200", "W1 steps/s, 200x10", None, "", True),
    ("w1", "scale_ratio", "W1 N=1000 / N=200", lambda v: v >= 0.8, ">= 0.8", True),
    ("w1", "status_p50_ms", "status() p50 during W1, ms", lambda v: v <= 10, "<= 10 (ms)", True),
    ("w1", "status_p99_ms", "status() p99 during W1, ms", lambda v: v <= 10, "<= 10 (ms)", True),
    ("w1", "loop_lag_p99_ms", "event-loop lag p99 during W1, ms", lambda v: v <= 10,
     "<= 10 (ms)", False),
    ("w1", "peak_rss_mb_n1000", "W1 peak RSS, 1000 in flight, MB", None, "", True),
    ("w2", "ms_per_step", "W2 ms/step, 1x1000", lambda v: v <= 0.3, "<= 0.3", True),
    ("w3", "p50_ms", "W3 create->complete p50, ms", lambda v: v <= 1.0, "<= 1", True),
    ("w4", "peak_rss_mb", "W4 peak RSS, MB", lambda v: v <= 300, "<= 300", False),
    ("w4", "rss_per_sleeper_kb", "W4 RSS per sleeper, KB", None, "", True),
    ("w4", "wakeups_per_s", "W4 wake-ups/s", lambda v: v >= 5_000, ">= 5,000", True),
    ("w5", "help_ms", "W5 pyflow --help, ms", lambda v: v <= 300, "<= 300", False),
    ("w5", "list_ms", "W5 instances list, ms", lambda v: v <= 300, "<= 300", False),
    ("w5", "describe_ms", "W5 instances describe latest, ms", lambda v: v <= 300, "<= 300", False),
    ("w5", "python_startup_ms", "W5 baseline: python -c pass, ms", None, "", False),
    ("w6", "all_running_s", "W6 all running again, s", lambda v: v <= 10, "<= 10", False),
    ("w6", "recovered_per_s", "W6 recovered instances/s", None, "", True),
    ("w6", "lost", "W6 instances lost", lambda v: v == 0, "0", False),
    ("w6", "completed_step_reruns", "W6 completed steps re-run", lambda v: v == 0, "0", False),
]


LOADS: list[dict[str, Any]] = []


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return out.stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"),
            "pyflow_cli_changed_files": len(git("status", "--porcelain", "pyflow_cli").splitlines())}


def ensure_dbos_venv(path: Path) -> Path:
    path = path.absolute()  # the workloads run with the benchmarks directory as cwd
    python = path / "bin" / "python"
    check = [str(python), "-c", "import dbos, importlib.metadata as m; print(m.version('dbos'))"]
    if python.exists():
        out = subprocess.run(check, capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip() == DBOS_VERSION:
            return python
    print(f"Creating the DBOS virtualenv {path} (dbos=={DBOS_VERSION}) ...", flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"dbos=={DBOS_VERSION}"], check=True)
    return python


def run_one(python: str, workload: str, system: str, extra: list[str], out: Path,
            quick: bool, more_cpu_s: Callable[[], float] | None = None
            ) -> dict[str, Any] | None:
    """Run one workload script; ``more_cpu_s``: CPU seconds used so far by processes of ours
    that are not our children's (a database server), so that it does not count as foreign."""
    cmd = [python, str(HERE / SCRIPTS[workload]), "--system", system, "--json", str(out), *extra]
    if quick:
        cmd.append("--quick")
    shown = re.sub(r"(://[^:/@\s]+):[^@\s]*@", r"\1:***@", " ".join(cmd[1:]))  # no passwords
    print(f"\n$ {shown}", flush=True)
    more = more_cpu_s or (lambda: 0.0)
    busy0, ours0 = machine_busy_s(), children_cpu_s() + more()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=HERE)
    wall = time.perf_counter() - t0
    foreign = (machine_busy_s() - busy0) - (children_cpu_s() + more() - ours0)
    share = max(0.0, foreign) / (wall * (os.cpu_count() or 1))
    print(f"  ({wall:.0f}s; CPU used by other processes meanwhile: {100 * share:.0f}% of the "
          "machine)", flush=True)
    LOADS.append({"workload": workload, "system": system, "wall_s": round(wall, 1),
                  "foreign_cpu_share": round(share, 3)})
    if proc.returncode != 0 or not out.exists():
        print(f"  !! {workload} on {system} failed (exit {proc.returncode})", flush=True)
        return None
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def median(result: dict[str, Any] | None, metric: str) -> float | None:
    if result is None:
        return None
    value = result.get("metrics", {}).get(metric, {}).get("median")
    return None if value is None else float(value)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run, ~2 minutes")
    p.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    p.add_argument("--skip-dbos", action="store_true")
    p.add_argument("--dbos-journals", nargs="+", choices=("default", "wal"),
                   default=["default", "wal"])
    p.add_argument("--dbos-venv", type=Path, default=REPO.parent / "dbos-venv")
    p.add_argument("--durability", choices=("full", "normal"), default="full",
                   help="pyflow store durability (default full: WAL + synchronous=FULL)")
    args = p.parse_args()

    try:
        import pyflow_cli  # noqa: F401
    except ImportError:
        sys.exit(f"pyflow_cli is not importable from {sys.executable}: run this with the venv "
                 "where pyflow is installed (e.g. the project's .venv/bin/python).")
    dbos_python = None if args.skip_dbos else str(ensure_dbos_venv(args.dbos_venv))
    started = time.perf_counter()
    run_dir = RESULTS / ("quick" if args.quick else "full")
    run_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="pyflow-bench-"))
    w4_state = scratch / "w4-state"

    systems: list[tuple[str, str, list[str]]] = [
        (f"pyflow-{args.durability}", "pyflow", ["--durability", args.durability])]
    if dbos_python is not None:
        systems += [(f"dbos-{j}", "dbos", ["--journal", j]) for j in args.dbos_journals]
    results: dict[str, dict[str, Any]] = {w: {} for w in WORKLOADS}
    for workload in args.only:
        for name, system, extra in systems:
            python = sys.executable if system == "pyflow" else dbos_python
            assert python is not None
            extra = list(extra)
            if workload == "w5" and system != "pyflow":
                continue  # not compared: see w5_cli.py
            if workload == "w4" and system == "pyflow":
                extra += ["--keep-state", str(w4_state)]
            if workload == "w5" and (w4_state / "pyflow.sqlite").exists():
                extra += ["--state-from", str(w4_state)]
            extra += ["--workdir", str(scratch / f"{workload}-{name}")]
            results[workload][name] = run_one(python, workload, system, extra,
                                              run_dir / f"{workload}-{name}.json", args.quick)

    elapsed = time.perf_counter() - started
    summary = report(results, systems, args, elapsed)
    (RESULTS / ("latest-quick.json" if args.quick else "latest.json")).write_text(
        json.dumps(summary, indent=2) + "\n")
    print(f"\nwrote {RESULTS / ('latest-quick.json' if args.quick else 'latest.json')}; "
          f"per-workload JSON in {run_dir}; total {elapsed / 60:.1f} min")


def report(results: dict[str, dict[str, Any]], systems: list[tuple[str, str, list[str]]],
           args: argparse.Namespace, elapsed: float) -> dict[str, Any]:
    names = [name for name, _, _ in systems]
    pyflow = names[0]
    dbos_names = names[1:]
    head = f"{'metric':<36} {pyflow:>13}" + "".join(f" {n:>13}" for n in dbos_names)
    head += "".join(f" {'/' + n:>14}" for n in dbos_names) + f"  {'target':<14} met?"
    print("\n" + "=" * len(head))
    print("pyflow vs DBOS 3.4.0 — medians; ratio = pyflow / DBOS (same run)")
    print(head)
    print("-" * len(head))
    rows = []
    for workload, metric, title, check, target, comparable in HEADLINES:
        if workload not in args.only:
            continue
        res = results[workload]
        values = {n: median(res.get(n), metric) for n in names}
        better = (res.get(pyflow) or {}).get("metrics", {}).get(metric, {}).get("better", "")
        ratios = {}
        for n in dbos_names:
            a, b = values[pyflow], values[n]
            ratios[n] = (a / b if comparable and a is not None and b not in (None, 0)
                         else None)
        met = None if check is None or values[pyflow] is None else bool(check(values[pyflow]))
        if workload == "w1" and metric == "steps_per_s_n1000" and dbos_names:
            ref = "dbos-default" if "dbos-default" in ratios else dbos_names[0]
            r = ratios.get(ref)
            if r is not None:
                met = bool(met) and r >= 20
        notes = {n: (res.get(n) or {}).get("metrics", {}).get(metric, {}).get("note", "")
                 for n in names}
        arrow = {"higher": "↑", "lower": "↓"}.get(better, " ")
        line = f"{title + ' ' + arrow:<36} {fmt(values[pyflow]):>13}"
        line += "".join(f" {fmt(values[n]):>13}" for n in dbos_names)
        line += "".join(f" {(fmt(ratios[n]) + 'x') if ratios[n] is not None else '-':>14}"
                        for n in dbos_names)
        line += f"  {target:<14} " + {True: "yes", False: "NO", None: ""}[met]
        print(line)
        rows.append({"workload": workload, "metric": metric, "title": title, "better": better,
                     "values": values, "ratios": ratios, "target": target, "met": met,
                     "notes": notes})
    print("-" * len(head))
    sizes = "; ".join(
        f"{w.upper()} N: " + ", ".join(f"{n} {r['config']['n']:,}" for n, r in results[w].items()
                                      if r and "n" in r.get("config", {}))
        for w in ("w4", "w6") if results[w])
    print("↑ higher is better, ↓ lower is better. W1's >=20x is against DBOS's default journal. "
          "W5 is pyflow only. Event-loop lag: how late a 5 ms sleep on pyflow's loop wakes, i.e. "
          "what a request over HTTP waits before it is served (pyflow only).")
    if sizes:
        print(sizes + " (no ratio for totals that depend on N)")
    noisy = [x for x in LOADS if x["foreign_cpu_share"] > 0.10]
    if noisy:
        print("WARNING: other processes used over 10% of the machine during "
              + ", ".join(f"{x['workload']} on {x['system']} ({100 * x['foreign_cpu_share']:.0f}%)"
                          for x in noisy) + ": those figures are pessimistic.")
    skipped = [(w, n, m.get("reason")) for w in results for n, r in results[w].items() if r
               for m in [r.get("metrics", {}).get("skipped", {})] if m.get("reason")]
    for w, n, reason in skipped:
        print(f"{w} on {n} skipped: {reason}")
    durability = {n: next((r.get("durability") for w in results for nn, r in results[w].items()
                           if nn == n and r), None) for n in names}
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git": git_state(),
        "foreign_cpu": LOADS,
        "quick": args.quick,
        "elapsed_s": round(elapsed, 1),
        "machine": machine(),
        "systems": names,
        "durability": durability,
        "rows": rows,
        "medians_note": "each value is the median over the workload's repetitions",
        "median_of_ratios": {n: statistics.median([r["ratios"][n] for r in rows
                                                   if r["ratios"].get(n)] or [0])
                             for n in dbos_names},
    }


if __name__ == "__main__":
    main()
