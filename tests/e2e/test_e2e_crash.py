"""SIGKILL an engine process at random moments: no completed step is lost, none is re-run.

(a) 50 instances x 20 plain steps; (b) instances that sleep (hibernating), retry and wait for
events across the kills. After each run: every instance is complete, every stored step result is
the token its last (committed) execution produced, and no step body started again after that
execution finished — the only re-runs are bodies killed before their result was committed.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from pyflow_cli.engine.serde import decode
from pyflow_cli.storage.factory import build_store
from pyflow_cli.storage.url import DB_NAME, SqliteLocation, parse_store_url

WORKER = Path(__file__).with_name("crash_worker.py")


def start_worker(state: str, journal: Path, mode: str, instances: int, steps: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), state, str(journal), mode, str(instances), str(steps)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_with_kills(tmp_path: Path, mode: str, instances: int, steps: int, kills: int,
                   state: str) -> str:
    journal = tmp_path / "journal.jsonl"
    rng = random.Random(1234 if mode == "steps" else 4321)
    killed = 0
    while killed < kills:
        done_so_far = count_done(journal)
        worker = start_worker(state, journal, mode, instances, steps)
        # Kill at a random moment once this run has made progress: a fixed delay let a fast
        # engine finish everything before the sixth kill.
        while count_done(journal) == done_so_far and worker.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.15))
        if worker.poll() is not None:
            break  # it finished before we could kill it
        worker.send_signal(signal.SIGKILL)
        worker.communicate()  # reaps it and closes its pipes (no unclosed file left to the GC)
        killed += 1
    done_before_final = count_done(journal)
    assert done_before_final > 0, "the killed runs made no progress: the kills prove nothing"
    final = start_worker(state, journal, mode, instances, steps)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    assert killed >= 5, f"only {killed} kills landed; the workload finished too fast"
    return state


def count_done(journal: Path) -> int:
    return journal.read_text().count('"done"') if journal.exists() else 0


async def stored_results(state: str) -> dict[tuple[str, str], Any]:
    location = (parse_store_url(state, Path.cwd()) if "://" in state
                else SqliteLocation(Path(state) / DB_NAME))  # as crash_worker.py reads it
    store = build_store(location)
    await store.open()
    try:
        page = await store.list_instances("crashy", limit=1000)
        results: dict[tuple[str, str], Any] = {}
        for record in page.records:
            assert record.status.value == "complete", (record.id, record.status, record.error_json)
            history = await store.load_history(record.iid)
            for step in history.steps.values():
                if step.kind == "do":
                    results[(record.id, step.target.rsplit("-", 1)[0])] = decode(step.value_json)
            assert decode(record.output_json) == [
                results[(record.id, f"s{k}")] for k in range(len(decode(record.output_json)))]
        return results
    finally:
        await store.close()


def check_journal(journal: Path, results: dict[tuple[str, str], Any], steps: int, instances: int) -> None:
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    by_step: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        by_step[(entry["i"], entry["s"])].append(entry)
    assert len(results) == instances * steps
    for key, token in results.items():
        history = by_step[key]
        done_at = [n for n, e in enumerate(history) if e["kind"] == "done" and e["token"] == token]
        assert done_at, f"{key}: the stored result was never produced by a body"
        later = history[done_at[0] + 1:]
        assert not later, f"{key}: the body ran again after its result was committed: {later}"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The engines' store: a state directory, or a schema of the session's PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "state")
    return str(request.getfixturevalue("postgres").location())


@pytest.mark.parametrize(("mode", "instances", "steps"), [("steps", 50, 30), ("mixed", 30, 10)])
def test_sigkill_loses_no_completed_step_and_reruns_none(tmp_path: Path, mode: str, instances: int,
                                                         steps: int, store: str) -> None:
    state = run_with_kills(tmp_path, mode, instances, steps, kills=6, state=store)
    results = asyncio.run(stored_results(state))
    check_journal(tmp_path / "journal.jsonl", results, steps, instances)
