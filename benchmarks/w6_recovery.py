"""W6: recovery after SIGKILL with N (default 10,000) instances in flight — time until all run again.

Workflow: step ``a`` (trivial, returns at once), then step ``b``, then return. Step bodies count
their executions in the process that runs them.

1. A child process (phase 1) runs an engine, creates N instances and waits until all N are inside
   the body of step ``b`` — ``a`` is durably complete for every one of them (``step.do`` returns
   only after its commit) and ``b``'s body is blocked (``asyncio.sleep(3600)``). It reports ready.
2. The parent SIGKILLs it (no shutdown, leases still held by a dead engine).
3. The parent starts a fresh child process (phase 2) on the same store; its ``b`` returns at once.
   Times are measured from just before that process is spawned (so they include interpreter
   start-up, imports and opening the store):
   - ``engine_started``: ``Engine.start()`` returned (dead engine's leases released);
   - ``all_running``: every one of the N instances has been claimed and has replayed up to ``b``,
     whose body has been entered again — i.e. user code is running again for all N (stricter than
     "leased");
   - ``all_complete``: the final status of all N is durably committed.
   Checked: none lost (N complete), and no completed step re-run (``a``'s body ran 0 times in
   phase 2; ``b`` — in flight at the kill, never completed — runs again once per instance, which is
   the at-least-once contract for an interrupted step).

DBOS: the same with ``@DBOS.workflow``/``@DBOS.step`` (synchronous; ``b`` blocks its executor
thread in phase 1); phase 2 is ``DBOS.launch()``, which recovers the local executor's pending
workflows. N defaults to 1,000 for DBOS (10,000 blocked threads plus ~10 ms per start is minutes).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from common import (
    PyflowHarness,
    dbos_database,
    durability_text,
    label,
    parser,
    print_metrics,
    summary,
    with_schema,
    workdir,
    write_result,
)

COUNTS = {"a": 0, "b": 0}
# An attempt cut short by the crash counts as a failed attempt (SPEC A6), so ``b`` runs again
# after its retry delay: 10 s by default. W6 measures the engine's recovery, not the retry policy,
# so ``b`` retries at once (``--default-retry`` keeps the 10 s default to show its effect).
B_CONFIG: dict[str, Any] = {"retries": {"limit": 5, "delay": 0, "backoff": "constant"}}
_LOCK = threading.Lock()


def emit(**fields: Any) -> None:
    print("W6 " + json.dumps(fields), flush=True)


# -- children -------------------------------------------------------------------------------------


def pyflow_child(phase: int, state: Path, n: int, durability: str, store: str | None) -> None:
    from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
    from pyflow_cli.engine.lifetime import EngineOptions

    emit(event="imported", t=time.time())
    all_b = asyncio.Event()

    def step_a() -> int:
        COUNTS["a"] += 1
        return 1

    async def step_b() -> int:
        COUNTS["b"] += 1
        if COUNTS["b"] >= n:
            all_b.set()
        if phase == 1:
            await asyncio.sleep(3600)
        return 1

    class Recover(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> int:
            await step.do("a", step_a)
            await (step.do("b", B_CONFIG, step_b) if B_CONFIG else step.do("b", step_b))
            return 1

    async def main() -> None:
        options = EngineOptions(max_concurrent=max(10_000, n))
        async with PyflowHarness({"w6": Recover}, state, durability, options=options,
                                 store=store) as h:
            emit(event="engine_started", t=time.time())
            if phase == 1:
                await h.create_many("w6", [{} for _ in range(n)])
                await all_b.wait()
                emit(event="ready", t=time.time(), a=COUNTS["a"], b=COUNTS["b"])
                await asyncio.sleep(3600)
                return
            await all_b.wait()
            emit(event="all_running", t=time.time())
            await h.store.wait_count(n, timeout=600)
            emit(event="all_complete", t=time.time())
            counts = await h.store.status_counts("w6")
            emit(event="done", a_runs=COUNTS["a"], b_runs=COUNTS["b"], counts=counts)

    asyncio.run(main())


def dbos_child(phase: int, state: Path, n: int, journal: str, store: str | None) -> None:
    from dbos import DBOS

    emit(event="imported", t=time.time())
    all_b = threading.Event()

    @DBOS.step()
    def step_a() -> int:
        with _LOCK:
            COUNTS["a"] += 1
        return 1

    @DBOS.step()
    def step_b() -> int:
        with _LOCK:
            COUNTS["b"] += 1
            if COUNTS["b"] >= n:
                all_b.set()
        if phase == 1:
            time.sleep(3600)
        return 1

    @DBOS.workflow()
    def recover() -> int:
        step_a()
        step_b()
        return 1

    path = state / "dbos-w6.sqlite"
    config: dict[str, Any] = {"name": "bench", "log_level": "WARNING"}
    if store is not None:  # the schema is the same in both phases
        config["system_database_url"], _, schema = store.partition("?schema=")
        config["dbos_system_schema"] = schema
    else:
        config["system_database_url"] = (dbos_database(path, journal) if phase == 1
                                         else f"sqlite:///{path}")
    DBOS(config=config)
    DBOS.launch()
    emit(event="engine_started", t=time.time())
    if phase == 1:
        for _ in range(n):
            DBOS.start_workflow(recover)
        all_b.wait()
        emit(event="ready", t=time.time(), a=COUNTS["a"], b=COUNTS["b"])
        time.sleep(3600)
        return
    all_b.wait()
    emit(event="all_running", t=time.time())
    while True:
        rows = dbos_counts(path, store)
        if rows.get("SUCCESS", 0) >= n:
            break
        time.sleep(0.01)
    emit(event="all_complete", t=time.time())
    emit(event="done", a_runs=COUNTS["a"], b_runs=COUNTS["b"], counts=rows)
    os._exit(0)  # DBOS's recovery threads may linger; the measurement is over


def dbos_counts(path: Path, store: str | None) -> dict[str, int]:
    """DBOS's workflows by status, read from its system database."""
    if store is None:
        import sqlite3

        conn = sqlite3.connect(path, timeout=30)
        rows = dict(conn.execute("SELECT status, COUNT(*) FROM workflow_status GROUP BY status")
                    .fetchall())
        conn.close()
        return rows
    import psycopg

    url, _, schema = store.partition("?schema=")
    with psycopg.connect(url) as pg:
        return dict(pg.execute(f'SELECT status, COUNT(*) FROM "{schema}".workflow_status '
                               "GROUP BY status").fetchall())


# -- parent ---------------------------------------------------------------------------------------


def spawn(args: Any, phase: int, state: Path, n: int, store: str | None
          ) -> subprocess.Popen[str]:
    cmd = [sys.executable, __file__, "--child", str(phase), "--state", str(state), "-n", str(n),
           "--system", args.system, "--durability", args.durability, "--journal", args.journal]
    if store is not None:
        cmd += ["--store", store]
    if args.default_retry:
        cmd.append("--default-retry")
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent)


def read_events(proc: subprocess.Popen[str], until: str, timeout: float) -> dict[str, Any]:
    events: dict[str, Any] = {}
    deadline = time.time() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("W6 "):
            event = json.loads(line[3:])
            events[event["event"]] = event
            if event["event"] == until:
                return events
        if time.time() > deadline:
            break
    raise RuntimeError(f"child did not reach {until!r} (got {list(events)}; exit {proc.poll()})")


def one_run(args: Any, state: Path, n: int) -> dict[str, Any]:
    state.mkdir(parents=True, exist_ok=True)
    store = with_schema(args.store) if args.store else None  # one schema for both phases
    first = spawn(args, 1, state, n, store)
    ready = read_events(first, "ready", 600)["ready"]
    time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    t_spawn = time.time()
    second = spawn(args, 2, state, n, store)
    events = read_events(second, "done", 600)
    second.wait(timeout=60)
    done = events["done"]
    complete = done["counts"].get("complete", done["counts"].get("SUCCESS", 0))
    return {
        "ready_a": ready["a"], "ready_b": ready["b"],
        "imported_s": events["imported"]["t"] - t_spawn,
        "engine_started_s": events["engine_started"]["t"] - t_spawn,
        "all_running_s": events["all_running"]["t"] - t_spawn,
        "all_complete_s": events["all_complete"]["t"] - t_spawn,
        "a_reruns": done["a_runs"], "b_runs": done["b_runs"],
        "lost": n - complete, "counts": done["counts"],
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=None)
    p.add_argument("--default-retry", action="store_true",
                   help="pyflow: step b keeps the default retry config (10 s delay)")
    p.add_argument("--child", type=int, default=0, help=argparse_hidden())
    p.add_argument("--state", type=Path, default=None, help=argparse_hidden())
    args = p.parse_args()
    if args.default_retry:
        B_CONFIG.clear()
    if args.child:
        if args.system == "pyflow":
            pyflow_child(args.child, args.state, args.n, args.durability, args.store)
        else:
            dbos_child(args.child, args.state, args.n, args.journal, args.store)
        return
    if args.system == "pyflow":
        n = args.n or (2_000 if args.quick else 10_000)
    else:
        n = args.n or (200 if args.quick else 1_000)
    reps = args.reps or (1 if args.quick else 3)
    base = workdir(args, "w6")
    runs = []
    for rep in range(reps):
        run = one_run(args, base / f"{label(args)}-{rep}", n)
        print(f"  rep {rep}: all running again {run['all_running_s']:.2f}s after spawn, "
              f"complete {run['all_complete_s']:.2f}s, lost {run['lost']}, "
              f"a re-runs {run['a_reruns']}, b runs {run['b_runs']}", flush=True)
        runs.append(run)
    note = f"N={n:,}; from spawning the new process"
    metrics = {
        "all_running_s": summary([r["all_running_s"] for r in runs], "s", "lower", note=note),
        "engine_started_s": summary([r["engine_started_s"] for r in runs], "s", "lower", note=note),
        "imported_s": summary([r["imported_s"] for r in runs], "s", "lower", note=note),
        "all_complete_s": summary([r["all_complete_s"] for r in runs], "s", "lower", note=note),
        "recovered_per_s": summary([n / r["all_running_s"] for r in runs], "instances/s"),
        "lost": summary([r["lost"] for r in runs], "instances", "lower"),
        "completed_step_reruns": summary([r["a_reruns"] for r in runs], "step runs", "lower"),
        "interrupted_step_runs": summary([r["b_runs"] for r in runs], "step runs", "lower",
                                         note=f"step b, in flight at the kill; expect {n}"),
    }
    print_metrics(f"W6 recovery after SIGKILL — {label(args)} ({durability_text(args)}), N={n:,}",
                  metrics)
    write_result(args, "w6", metrics, {"n": n, "reps": reps, "b_config": B_CONFIG or "default"})


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
