"""W5: wall time of CLI commands with N (default 100,000) instances in the store.

Commands, each run as a fresh process (``subprocess``, output captured), ``--reps`` times:
  pyflow --help
  pyflow workflows instances list NAME
  pyflow workflows instances describe NAME latest
in a project directory (wrangler.toml + src/entry.py) whose store (``.pyflow/state``) holds N
complete instances; the same commands against a store with 1 instance, and two baselines (``python
-c pass`` and ``python -c "import pyflow_cli.cli.main"``) show how much is interpreter start-up and
how much depends on the store size.

The store is W4's when ``--state-from DIR`` is given (100,000 completed sleepers: 2 steps and ~10
log rows each); otherwise it is built here: N instances of a 2-step workflow created without an
engine, then run to completion by an engine (a one-off cost, not measured).

pyflow only: the DBOS CLI is not compared (its ``dbos workflow list`` would need 100,000 DBOS
workflows, minutes to create). Skipped with a printed reason if the ``pyflow`` command is missing
or ``pyflow --help`` fails (the CLI is being written).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    PyflowHarness,
    durability_text,
    label,
    parser,
    print_metrics,
    summary,
    workdir,
    write_result,
)

WORKFLOW = "w4"  # the name W4 uses, so its store can be reused as is

ENTRY = '''from pyflow_cli.engine.entrypoint import WorkflowEntrypoint


class Bench(WorkflowEntrypoint):
    async def run(self, event, step):
        await step.do("before", lambda: 1)
        await step.do("after", lambda: 1)
        return 1
'''

WRANGLER = f'''name = "bench"
main = "src/entry.py"
compatibility_date = "2025-10-01"

[[workflows]]
name = "{WORKFLOW}"
binding = "BENCH"
class_name = "Bench"
'''


def pyflow_command() -> list[str] | None:
    beside = Path(sys.executable).parent / "pyflow"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("pyflow")
    return [found] if found else None


def make_project(root: Path) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "wrangler.toml").write_text(WRANGLER)
    (root / "src" / "entry.py").write_text(ENTRY)
    return root / ".pyflow" / "state"


async def build_store(state: Path, n: int, durability: str) -> float:
    from pyflow_cli.engine.entrypoint import WorkflowEntrypoint

    class Bench(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> int:
            await step.do("before", lambda: 1)
            await step.do("after", lambda: 1)
            return 1

    t0 = time.perf_counter()
    async with PyflowHarness({WORKFLOW: Bench}, state, durability, start_engine=False) as h:
        await h.create_many(WORKFLOW, [{} for _ in range(n)])
    async with PyflowHarness({WORKFLOW: Bench}, state, durability) as h:
        while (await h.store.status_counts(WORKFLOW)).get("complete", 0) < n:
            await asyncio.sleep(0.5)
    return time.perf_counter() - t0


def timed(cmd: list[str], cwd: Path, reps: int) -> dict[str, Any]:
    walls, error = [], None
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200")
    for _ in range(reps):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=120)
        walls.append((time.perf_counter() - t0) * 1000)
        if proc.returncode != 0:
            error = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            break
    return {"walls": walls, "error": error}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=None, help="instances in the store")
    p.add_argument("--state-from", type=Path, default=None,
                   help="use this store (W4's --keep-state) instead of building one")
    args = p.parse_args()
    reps = args.reps or (3 if args.quick else 7)
    metrics: dict[str, dict[str, Any]] = {}
    config: dict[str, Any] = {"reps": reps}
    if args.system != "pyflow":
        print("W5 skipped for DBOS: not compared (see the script's docstring).")
        return
    cli = pyflow_command()
    reason = None
    if cli is None:
        reason = "no `pyflow` command on PATH or beside this Python"
    else:
        probe = subprocess.run([*cli, "--help"], capture_output=True, text=True, timeout=120)
        if probe.returncode != 0:
            last = (probe.stderr or probe.stdout).strip().splitlines()[-1:] or ["?"]
            reason = f"`pyflow --help` failed (exit {probe.returncode}): {last[0]}"
    if reason is not None:
        print(f"W5 skipped: {reason}")
        metrics["skipped"] = {"median": None, "reason": reason, "unit": "", "samples": []}
        write_result(args, "w5", metrics, {**config, "skipped": reason})
        return

    base = workdir(args, "w5")
    n = args.n or (10_000 if args.quick else 100_000)
    big, small = base / "big", base / "small"
    big_state, small_state = make_project(big), make_project(small)
    if args.state_from is not None:
        big_state.parent.mkdir(parents=True, exist_ok=True)
        if big_state.exists() or big_state.is_symlink():
            big_state.unlink()
        big_state.symlink_to(args.state_from.resolve())
        config["store"] = f"W4's store ({args.state_from})"
        import sqlite3

        conn = sqlite3.connect(args.state_from / "pyflow.sqlite")
        n = conn.execute("SELECT COUNT(*) FROM instances").fetchone()[0]
        conn.close()
    else:
        built = asyncio.run(build_store(big_state, n, args.durability))
        config["store"] = f"built here in {built:.0f}s"
    asyncio.run(build_store(small_state, 1, args.durability))
    config["instances"] = n
    print(f"  store: {n:,} instances ({config['store']})")

    python = [sys.executable]
    commands = {
        "python_startup": ([*python, "-c", "pass"], big),
        "import_cli": ([*python, "-c", "import pyflow_cli.cli.main"], big),
        "help": ([*cli, "--help"], big),
        "list_1": ([*cli, "workflows", "instances", "list", WORKFLOW], small),
        "list": ([*cli, "workflows", "instances", "list", WORKFLOW], big),
        "describe_1": ([*cli, "workflows", "instances", "describe", WORKFLOW, "latest"], small),
        "describe": ([*cli, "workflows", "instances", "describe", WORKFLOW, "latest"], big),
    }
    for name, (cmd, cwd) in commands.items():
        res = timed(cmd, cwd, reps)
        store_note = (f"{n:,} instances" if cwd == big else "1 instance")
        if res["error"]:
            metrics[f"{name}_ms"] = {"median": None, "unit": "ms", "samples": res["walls"],
                                     "reason": "failed: " + " | ".join(res["error"])}
        else:
            metrics[f"{name}_ms"] = summary(res["walls"], "ms", "lower", note=store_note)
    print_metrics(f"W5 CLI wall time — {label(args)} ({durability_text(args)})", metrics)
    write_result(args, "w5", metrics, config)


if __name__ == "__main__":
    main()
