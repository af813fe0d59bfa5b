"""Retention's purge against a running workflow: how much does deleting 100,000 finished
instances delay the steps of an instance that runs meanwhile?

A SQLite store is filled with N finished instances (each with the eight log rows and the step
row of a one-step run), then a probe workflow runs sequential steps, each timed from its
``step.do`` call to its return (the step's result committed with ``synchronous=FULL``): first
alone (the baseline), then while ``engine/retention.py``'s purge deletes every finished
instance in its bounded batches. The figure is the slowest step while the purge runs, against
the baseline; the issue's bound is 50 ms.

    .venv/bin/python benchmarks/purge.py            # N = 100,000
    .venv/bin/python benchmarks/purge.py -n 20000 --baseline-s 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import PyflowHarness, machine, percentile

from pyflow_cli.engine import retention
from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.engine.retention import PurgeQuery
from pyflow_cli.storage.sqlite import SqliteStore

DAY_MS = 86_400_000.0
STEPS_PER_PROBE = 5_000  # under the 10,000 steps a lifetime may use
latencies: list[float] = []
probing = {"on": True}


class Probe(WorkflowEntrypoint):
    """Sequential steps, each timed, until told to stop (or its step budget is used)."""

    async def run(self, event: Any, step: Any) -> Any:
        for k in range(STEPS_PER_PROBE):
            if not probing["on"]:
                break
            started = time.perf_counter()
            await step.do(f"s{k}", lambda k=k: k)
            latencies.append((time.perf_counter() - started) * 1000)
        return "done"


def fill(state_dir: Path, count: int) -> None:
    """``count`` instances that completed ten days ago, as a one-step run leaves them."""
    asyncio.run(_create_schema(state_dir))
    ended = time.time() * 1000 - 10 * DAY_MS
    conn = sqlite3.connect(state_dir / "pyflow.sqlite", isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    first = (conn.execute("SELECT COALESCE(MAX(iid), 0) FROM instances").fetchone()[0]) + 1
    events = [(0, '{"params":{},"trigger":{"source":0}}'), (1, "{}"), (26, "{}"),
              (5, '{"config":{"retries":{"limit":5,"backoff":"exponential","delay":10000},'
                  '"timeout":"10 minutes"}}'), (10, '{"attempt":1}'), (11, '{"attempt":1}'),
              (6, '{"result":1}'), (2, '{"result":1}')]
    for start in range(0, count, 10_000):
        iids = range(first + start, first + min(start + 10_000, count))
        conn.executemany(
            "INSERT INTO instances (iid, workflow, id, status, created_ms, params, output, "
            "trigger, ended_ms) VALUES (?, 'old', ?, 'complete', ?, '{}', '1', 0, ?)",
            [(iid, f"old-{iid}", ended - 1000, ended) for iid in iids])
        conn.executemany(
            "INSERT INTO log (iid, seq, ts, event, group_key, target, metadata) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(iid, seq, ended - 1000 + seq, event, "k-1" if 5 <= event <= 11 else None,
              "step-1" if 5 <= event <= 11 else None, metadata)
             for iid in iids for seq, (event, metadata) in enumerate(events, start=1)])
        conn.executemany(
            "INSERT INTO steps (iid, cache_key, kind, target, state, value, config, attempts, "
            "attempt_open) VALUES (?, 'k-1', 'do', 'step-1', 'done', '1', '{}', 1, 0)",
            [(iid,) for iid in iids])
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


async def _create_schema(state_dir: Path) -> None:
    store = SqliteStore(state_dir)
    await store.open()
    await store.close()


async def probe_while(harness: PyflowHarness, seconds: float | None,
                      purging: asyncio.Task[int] | None) -> list[float]:
    """Step latencies of probe instances run one after another, for ``seconds`` or until
    ``purging`` ends."""
    latencies.clear()
    probing["on"] = True
    deadline = time.perf_counter() + seconds if seconds is not None else None

    async def stop_when_done() -> None:
        while True:
            if deadline is not None and time.perf_counter() >= deadline:
                break
            if purging is not None and purging.done():
                break
            await asyncio.sleep(0.01)
        probing["on"] = False

    stopper = asyncio.create_task(stop_when_done())
    while probing["on"]:
        instance_id = await harness.service.create("probe")
        await harness.store.wait_finished(instance_id)
    await stopper
    return list(latencies)


def figures(values: list[float]) -> dict[str, float]:
    return {"steps": len(values), "p50_ms": round(percentile(values, 50), 2),
            "p99_ms": round(percentile(values, 99), 2), "max_ms": round(max(values), 2),
            "mean_ms": round(statistics.fmean(values), 2)}


async def measure(state_dir: Path, count: int, baseline_s: float) -> dict[str, Any]:
    async with PyflowHarness({"probe": Probe}, state_dir, "full") as harness:
        baseline = await probe_while(harness, baseline_s, None)
        batches: list[float] = []
        store = harness.raw_store

        class Timed:
            async def purge_finished(self, query: PurgeQuery, limit: int) -> int:
                started = time.perf_counter()
                deleted = await store.purge_finished(query, limit)
                batches.append((time.perf_counter() - started) * 1000)
                return deleted

        started = time.perf_counter()
        query = PurgeQuery(time.time() * 1000, "old")  # the probes' own instances stay
        purging = asyncio.create_task(retention.purge(Timed(), query))
        during = await probe_while(harness, None, purging)
        deleted = await purging
        elapsed = time.perf_counter() - started
    assert deleted == count, (deleted, count)
    during_figures = figures(during)
    return {
        "instances_purged": deleted, "purge_s": round(elapsed, 2),
        "instances_per_s": round(deleted / elapsed), "batch": retention.PURGE_BATCH,
        "batch_pause_s": retention.BATCH_PAUSE_S,
        "batch_ms": {"p50": round(percentile(batches, 50), 2),
                     "max": round(max(batches), 2), "batches": len(batches)},
        "step_latency_baseline": figures(baseline), "step_latency_during_purge": during_figures,
        "worst_extra_delay_ms": round(during_figures["max_ms"] - figures(baseline)["p50_ms"], 2),
        "target_ms": 50,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="finished instances to purge")
    parser.add_argument("--baseline-s", type=float, default=5.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pyflow-purge-") as tmp:
        state_dir = Path(tmp)
        started = time.perf_counter()
        fill(state_dir, args.n)
        size = (state_dir / "pyflow.sqlite").stat().st_size
        print(f"filled {args.n:,} finished instances in {time.perf_counter() - started:.1f} s "
              f"({size / 1e6:.1f} MB)")
        result = asyncio.run(measure(state_dir, args.n, args.baseline_s))
    result["machine"] = machine()
    print(json.dumps(result, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
