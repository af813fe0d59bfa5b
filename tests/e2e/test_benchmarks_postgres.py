"""The PostgreSQL benchmarks still run (tiny sizes; no timing is checked): W1 in-process with the
server's per-step figures, W6 across a SIGKILL, and W1 on two ``pyflow worker`` processes with
its exactly-once check of every step body."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pgcluster import Server

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _bench_schemas(postgres: Server) -> set[str]:
    with postgres.connect() as conn:
        return {row[0] for row in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%'")}


def _run(script: str, *args: str, out: Path) -> dict[str, object]:
    result = subprocess.run([sys.executable, str(BENCH / script), *args, "--json", str(out),
                             "--workdir", str(out.parent / script)],
                            cwd=BENCH, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    metrics: dict[str, object] = json.loads(out.read_text())["metrics"]
    return metrics


def test_postgres_workloads_run_and_check_their_results(postgres: Server, tmp_path: Path) -> None:
    before = _bench_schemas(postgres)
    store = ["--store", postgres.url]
    try:
        w1 = _run("w1_throughput.py", *store, "--sizes", "20", "--steps", "3", "--reps", "1",
                  "--no-probe", out=tmp_path / "w1.json")
        assert {"steps_per_s_n20", "server_cpu_us_per_step_n20", "db_commits_per_step_n20",
                "changes_per_group_commit_n20"} <= set(w1)
        w6 = _run("w6_recovery.py", *store, "-n", "20", "--reps", "1", out=tmp_path / "w6.json")
        assert w6["lost"]["median"] == 0  # type: ignore[index]
        assert w6["completed_step_reruns"]["median"] == 0  # type: ignore[index]
        workers = _run("w1_workers.py", *store, "-n", "20", "--steps", "3", "--workers", "2",
                       "--reps", "1", out=tmp_path / "workers.json")
        assert workers["correctness_failures"]["median"] == 0  # type: ignore[index]
        assert {"steps_per_s_k2", "worker_cpu_us_per_step_k2"} <= set(workers)
    finally:
        with postgres.connect() as conn:
            for name in _bench_schemas(postgres) - before:
                conn.execute(f'DROP SCHEMA "{name}" CASCADE')
