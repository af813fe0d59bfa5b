"""W4: N instances sleeping at once (peak RSS), then all waking at the same instant (wake-ups/s).

Workflow: one trivial step, then a sleep, then return.

pyflow (default, ``--mode jump``): the sleep is ``step.sleep_until`` one hour ahead, the same
instant for every instance. All N are created (batches of 100) while the engine runs; once every
instance is ``waiting`` and none is resident in the engine (all hibernated: default
``hibernate_after_ms`` = 30 s), the engine's clock — a ``SystemClock`` with an offset — is moved
forward to that instant, so all N fall due together, as after a real hour. Wake-up throughput = N /
(wall time from that instant until the last instance's ``complete`` is durably committed).
``--mode real``: no clock offset; the sleep ends at a real instant ``--margin-s`` after the start
(must be after every instance is asleep, else the run is flagged ``overran``).

DBOS (``--mode real`` always): ``DBOS.sleep`` until a shared real instant, synchronous workflows
(one executor thread each while asleep — DBOS keeps sleeping workflows resident), N defaults to
2,000 because creating 100,000 DBOS workflows would take minutes and ~10 GB; compare per-instance
memory and wake-ups/s, not totals.

Memory: VmHWM (peak RSS) of the process from start to all-asleep, and to the end; RSS per
sleeping instance = (RSS when all asleep - RSS before the first create) / N.
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
    peak_rss_mb,
    print_metrics,
    rss_mb,
    summary,
    workdir,
    write_result,
)

HOUR_MS = 3_600_000.0


class OffsetClock:
    """``SystemClock`` plus an offset that the benchmark can move forward."""

    def __init__(self) -> None:
        from pyflow_cli.engine.clock import SystemClock

        self._base = SystemClock()
        self.offset_ms = 0.0

    def now_ms(self) -> float:
        return time.time() * 1000.0 + self.offset_ms

    async def sleep_until(self, deadline_ms: float) -> None:
        delay = (deadline_ms - self.now_ms()) / 1000.0
        while delay > 0:
            await asyncio.sleep(min(delay, 0.05))
            delay = (deadline_ms - self.now_ms()) / 1000.0

    def call_at(self, deadline_ms: float, callback: Any) -> Any:
        delay = max(0.0, (deadline_ms - self.now_ms()) / 1000.0)
        return asyncio.get_running_loop().call_later(delay, callback)


def pyflow_workflow() -> type:
    from pyflow_cli.engine.entrypoint import WorkflowEntrypoint

    class Sleeper(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> int:
            await step.do("before", lambda: 1)
            await step.sleep_until("nap", event["payload"]["wake_at"])
            return 1

    return Sleeper


async def pyflow_run(base: Path, durability: str, n: int, mode: str, margin_s: float,
                     progress: bool, hooks: dict[str, Any] | None = None) -> dict[str, Any]:
    """One W4 run; ``hooks`` (diagnostics) may hold callables ``before_wake(h)``, ``after_wake(h)``
    called around the wake-up phase."""
    hooks = hooks or {}
    clock = OffsetClock()
    harness = PyflowHarness({"w4": pyflow_workflow()}, base, durability, clock=clock)
    out: dict[str, Any] = {}
    async with harness as h:
        rss_before = rss_mb()
        t0 = time.perf_counter()
        wake_at = clock.now_ms() + (HOUR_MS if mode == "jump" else margin_s * 1000.0)
        for k in range(0, n, 100):
            await h.service.create_batch(
                "w4", [{"params": {"wake_at": wake_at}} for _ in range(min(100, n - k))])
            if progress and k and k % 20_000 == 0:
                print(f"    created {k:,} in {time.perf_counter() - t0:.1f}s, "
                      f"RSS {rss_mb():.0f} MB", flush=True)
        out["create_s"] = time.perf_counter() - t0
        while True:
            counts = await h.store.status_counts("w4")
            if counts.get("waiting", 0) == n and h.engine.running_count == 0:
                break
            if clock.now_ms() >= wake_at or h.store.finished:
                out["overran"] = True
                break
            await asyncio.sleep(0.2)
        t_asleep = time.perf_counter()
        out["asleep_s"] = t_asleep - t0
        out["rss_asleep_mb"] = rss_mb()
        out["peak_rss_asleep_mb"] = peak_rss_mb()
        out["rss_per_instance_kb"] = (out["rss_asleep_mb"] - rss_before) * 1000.0 / n
        if progress:
            print(f"    all {n:,} asleep after {out['asleep_s']:.1f}s, RSS "
                  f"{out['rss_asleep_mb']:.0f} MB (peak {out['peak_rss_asleep_mb']:.0f})", flush=True)
        if "before_wake" in hooks:
            hooks["before_wake"](h)
        if mode == "jump":
            await asyncio.sleep(0.5)  # let the scheduler settle into its idle wait
            clock.offset_ms = wake_at - time.time() * 1000.0
            t_due = time.perf_counter()
            h.engine.wake()
        else:
            t_due = t0 + margin_s
        await h.store.wait_count(n, timeout=3600)
        t_end = time.perf_counter()
        if "after_wake" in hooks:
            hooks["after_wake"](h)
        finished = sorted(h.store.finished_at.values())
        out["wake_s"] = t_end - t_due
        out["wakeups_per_s"] = n / out["wake_s"]
        out["first_done_s"] = finished[0] - t_due
        out["median_done_s"] = statistics.median(finished) - t_due
        out["peak_rss_mb"] = peak_rss_mb()
        counts = await h.store.status_counts("w4")
        out["complete"] = counts.get("complete", 0)
    return out


def dbos_run(base: Path, journal: str, n: int, margin_s: float | None) -> dict[str, Any]:
    from dbos import DBOS

    @DBOS.step()
    def before() -> int:
        return 1

    @DBOS.workflow()
    def sleeper(wake_at: float) -> int:
        before()
        DBOS.sleep(max(0.0, wake_at - time.time()))
        return 1

    dbos_launch(base / "dbos-w4.sqlite", journal)
    out: dict[str, Any] = {}
    try:
        margin = margin_s if margin_s is not None else 5.0 + n * 0.015  # ~2x creation time
        rss_before = rss_mb()
        t0 = time.perf_counter()
        wake_at = time.time() + margin
        handles = [DBOS.start_workflow(sleeper, wake_at) for _ in range(n)]
        out["create_s"] = time.perf_counter() - t0
        # asleep: every workflow has recorded its sleep (its step 2) — poll the status table.
        while time.time() < wake_at - 0.3:
            time.sleep(0.2)
            if out.get("asleep_s") is None and _dbos_sleeping(base / "dbos-w4.sqlite") >= n:
                out["asleep_s"] = time.perf_counter() - t0
                break
        if out.get("asleep_s") is None:
            out["overran"] = True
        out["rss_asleep_mb"] = rss_mb()
        out["peak_rss_asleep_mb"] = peak_rss_mb()
        out["rss_per_instance_kb"] = (out["rss_asleep_mb"] - rss_before) * 1000.0 / n
        t_due = t0 + margin  # wake_at was set to time.time() + margin at t0
        done = []
        for handle in handles:
            handle.get_result()
            done.append(time.perf_counter())
        t_end = time.perf_counter()
        out["wake_s"] = t_end - t_due
        out["wakeups_per_s"] = n / out["wake_s"]
        out["first_done_s"] = min(done) - t_due
        out["median_done_s"] = statistics.median(done) - t_due
        out["peak_rss_mb"] = peak_rss_mb()
        out["complete"] = n
    finally:
        dbos_destroy()
    return out


def _dbos_sleeping(path: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(path, timeout=30)
    try:
        row = conn.execute("SELECT COUNT(*) FROM operation_outputs WHERE function_name LIKE "
                           "'%sleep%'").fetchone()
        return int(row[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=None, help="sleeping instances")
    p.add_argument("--mode", choices=("jump", "real"), default="jump")
    p.add_argument("--margin-s", type=float, default=None,
                   help="real mode: seconds from start to the shared wake-up instant")
    p.add_argument("--keep-state", type=Path, default=None,
                   help="pyflow: put the store here (W5 reuses it)")
    args = p.parse_args()
    if args.system == "pyflow":
        n = args.n or (10_000 if args.quick else 100_000)
        base = args.keep_state or workdir(args, "w4") / "pyflow"
        margin = args.margin_s if args.margin_s is not None else 10.0 + n / 800.0
        out = asyncio.run(pyflow_run(base, args.durability, n, args.mode, margin, True))
        mode = args.mode
    else:
        n = args.n or (500 if args.quick else 2_000)
        out = dbos_run(workdir(args, "w4"), args.journal, n, args.margin_s)
        mode = "real"
    note = f"N={n:,}, one run" + (", OVERRAN: not all were asleep at the wake-up instant"
                                    if out.get("overran") else "")
    metrics = {
        "peak_rss_mb": summary([out["peak_rss_mb"]], "MB", "lower", note=note),
        "peak_rss_asleep_mb": summary([out["peak_rss_asleep_mb"]], "MB", "lower", note=note),
        "rss_asleep_mb": summary([out["rss_asleep_mb"]], "MB", "lower", note=note),
        "rss_per_sleeper_kb": summary([out["rss_per_instance_kb"]], "KB", "lower", note=note),
        "wakeups_per_s": summary([out["wakeups_per_s"]], "wake-ups/s", note=note),
        "wake_all_s": summary([out["wake_s"]], "s", "lower", note=note),
        "first_done_s": summary([out["first_done_s"]], "s", "lower", note="after the due instant"),
        "median_done_s": summary([out["median_done_s"]], "s", "lower",
                                 note="after the due instant"),
        "asleep_after_s": summary([out.get("asleep_s", float("nan"))], "s", "lower",
                                  note="from first create until all asleep"),
        "ingest_per_s": summary([n / out["asleep_s"] if out.get("asleep_s") else float("nan")],
                                "instances/s", note="created and asleep per second"),
    }
    print_metrics(f"W4 sleepers — {label(args)} ({durability_text(args)}), N={n:,}", metrics)
    write_result(args, "w4", metrics, {"n": n, "mode": mode, "overran": bool(out.get("overran")),
                                       "complete": out.get("complete")})


if __name__ == "__main__":
    main()
