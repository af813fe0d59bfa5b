"""W3: create -> complete latency of a one-step workflow, in-process, one instance at a time.

Each sample: the create call (pyflow ``WorkflowService.create``; DBOS ``DBOS.start_workflow``)
until the final status is durably committed (pyflow) / ``get_result()`` returns (DBOS). Samples
are sequential (no other load); the first ``--warmup`` of each repetition are discarded. The
figure is the median over repetitions of each repetition's p50 (p90/p99 reported too).
"""

from __future__ import annotations

import asyncio
import statistics
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
    percentile,
    print_metrics,
    summary,
    workdir,
    write_result,
)
from pg_server import ServerWatch
from w1_throughput import _DBOS_STEPS, dbos_register, pyflow_workflow


async def pyflow_once(base: Path, durability: str, samples: int, warmup: int,
                      store: str | None = None) -> list[float]:
    out = []
    async with PyflowHarness({"w3": pyflow_workflow(1)}, base, durability, store=store) as h:
        for k in range(samples + warmup):
            t0 = time.perf_counter()
            instance_id = await h.service.create("w3")
            t_end = await h.store.wait_finished(instance_id)
            if k >= warmup:
                out.append((t_end - t0) * 1000)
    return out


def dbos_once(base: Path, journal: str, samples: int, warmup: int, wf: Any, rep: int,
              store: str | None = None) -> list[float]:
    from dbos import DBOS

    _DBOS_STEPS["n"] = 1
    dbos_launch(base / f"dbos-w3-{rep}.sqlite", journal, store=store)
    out = []
    try:
        for k in range(samples + warmup):
            t0 = time.perf_counter()
            DBOS.start_workflow(wf).get_result()
            if k >= warmup:
                out.append((time.perf_counter() - t0) * 1000)
    finally:
        dbos_destroy()
    return out


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--warmup", type=int, default=20)
    args = p.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    samples = args.samples or (100 if args.quick else 300)
    base = workdir(args, "w3")
    wf = dbos_register() if args.system == "dbos" else None
    runs = []
    work: list[dict[str, float]] = []
    for rep in range(reps):
        with ServerWatch(args.store, samples + args.warmup) as watch:
            if args.system == "pyflow":
                runs.append(asyncio.run(pyflow_once(base / f"pyflow-{rep}", args.durability,
                                                    samples, args.warmup, args.store)))
            else:
                runs.append(dbos_once(base, args.journal, samples, args.warmup, wf, rep,
                                      args.store))
        work.append(watch.result.get("db_per_step", {}))
    metrics = {
        "p50_ms": summary([percentile(r, 50) for r in runs], "ms", "lower"),
        "p90_ms": summary([percentile(r, 90) for r in runs], "ms", "lower"),
        "p99_ms": summary([percentile(r, 99) for r in runs], "ms", "lower"),
        "mean_ms": summary([statistics.fmean(r) for r in runs], "ms", "lower"),
    }
    for name in ("commits", "statements", "wal_flushes"):
        values = [w[name] for w in work if name in w]
        if values:
            metrics[f"db_{name}_per_instance"] = summary(
                values, name.split("_")[-1], "lower",
                note="PostgreSQL, whole run (start-up and shut-down included)")
    print_metrics(f"W3 create->complete latency — {label(args)} ({durability_text(args)})",
                  metrics)
    write_result(args, "w3", metrics, {"samples": samples, "warmup": args.warmup, "reps": reps})


if __name__ == "__main__":
    main()
