"""SIGKILL an engine process at random moments: no completed step is lost, none is re-run.

(a) 50 instances x 20 plain steps; (b) instances that sleep (hibernating), retry and wait for
events across the kills. After each run: every instance is complete, every stored step result is
the token its last (committed) execution produced, and no step body started again after that
execution finished — the only re-runs are bodies killed before their result was committed.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from e2ekit import after_commit, committed_results, journal_by_step

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
        return await committed_results(store, "crashy", limit=1000)
    finally:
        await store.close()


def check_journal(journal: Path, results: dict[tuple[str, str], Any], steps: int, instances: int) -> None:
    by_step = journal_by_step(journal)
    assert len(results) == instances * steps
    for key, token in results.items():
        later = after_commit(key, by_step[key], token)
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
