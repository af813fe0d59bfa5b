"""W2: one instance running S (default 1000) trivial steps one after another — ms per step.

Timed from the create call until the instance's final status is durably committed (pyflow) or
``handle.get_result()`` returns (DBOS); ms/step = that time / S. Each repetition uses a fresh
database.
"""

from __future__ import annotations

import asyncio
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
    print_metrics,
    summary,
    workdir,
    write_result,
)
from w1_throughput import _DBOS_STEPS, dbos_register, pyflow_workflow


async def pyflow_once(base: Path, durability: str, steps: int) -> float:
    async with PyflowHarness({"w2": pyflow_workflow(steps)}, base, durability) as h:
        t0 = time.perf_counter()
        instance_id = await h.service.create("w2")
        t_end = await h.store.wait_finished(instance_id)
        record = await h.service.get("w2", instance_id)
        assert record.status.value == "complete", record.status
    return t_end - t0


def dbos_once(base: Path, journal: str, steps: int, wf: Any, rep: int) -> float:
    from dbos import DBOS

    _DBOS_STEPS["n"] = steps
    dbos_launch(base / f"dbos-w2-{rep}.sqlite", journal)
    try:
        t0 = time.perf_counter()
        DBOS.start_workflow(wf).get_result()
        return time.perf_counter() - t0
    finally:
        dbos_destroy()


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000)
    args = p.parse_args()
    reps = args.reps or (2 if args.quick else 5)
    base = workdir(args, "w2")
    wf = dbos_register() if args.system == "dbos" else None
    seconds = []
    for rep in range(reps):
        if args.system == "pyflow":
            seconds.append(asyncio.run(pyflow_once(base / f"pyflow-{rep}", args.durability,
                                                   args.steps)))
        else:
            seconds.append(dbos_once(base, args.journal, args.steps, wf, rep))
    metrics = {
        "ms_per_step": summary([s / args.steps * 1000 for s in seconds], "ms/step", "lower"),
        "steps_per_s": summary([args.steps / s for s in seconds], "steps/s"),
        "peak_rss_mb": summary([peak_rss_mb()], "MB", "lower", note="whole process"),
    }
    print_metrics(f"W2 sequential steps — {label(args)} ({durability_text(args)})", metrics)
    write_result(args, "w2", metrics, {"steps": args.steps, "reps": reps})


if __name__ == "__main__":
    main()
