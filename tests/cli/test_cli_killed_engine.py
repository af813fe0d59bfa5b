"""A killed engine process does not hold its instances hostage: ``trigger --wait`` hands its
instance back on SIGTERM as on Ctrl-C, control of an instance whose engine process is gone
(SIGKILL, reaped or not yet) takes over at once, and a new ``pyflow dev`` is not refused in the
name of a dead one. Real processes, real signals."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import write_project

CONFIG = """\
name = "killed"
main = "src/entry.py"
compatibility_date = "2025-10-01"

[[workflows]]
name = "slow"
binding = "SLOW"
class_name = "Slow"
"""

ENTRY = '''\
import asyncio
from pathlib import Path

from workers import WorkflowEntrypoint

STARTED = Path(__file__).resolve().parent.parent / "started.txt"


class Slow(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do("long", config={"retries": {"limit": 0, "delay": 0}})
        async def long():
            with STARTED.open("a") as started:
                started.write(event.instanceId + "\\n")
            await asyncio.sleep(120)
        await long()
'''


def pyflow(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pyflow_cli", "--cwd", str(root), *args]


def env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_project(tmp_path / "app", ENTRY, CONFIG)


@pytest.fixture
def waiting(root: Path) -> Iterator[subprocess.Popen[str]]:
    """``trigger --wait`` of instance k1, once its step body runs (its engine holds the lease)."""
    process = subprocess.Popen(pyflow(root, "workflows", "trigger", "slow", "--id", "k1", "--wait"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    started = root / "started.txt"
    deadline = time.monotonic() + 30
    while not (started.exists() and started.read_text()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(10)


def control(root: Path, action: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(pyflow(root, "workflows", "instances", action, "slow", "k1"),
                          capture_output=True, text=True, env=env(), timeout=60)
    return done, time.monotonic() - started


def status(root: Path) -> str:
    described = subprocess.run(pyflow(root, "workflows", "instances", "describe", "slow", "k1",
                                      "--json"), capture_output=True, text=True, env=env(),
                               timeout=60)
    return str(json.loads(described.stdout)["status"])


def test_sigterm_of_trigger_wait_hands_the_instance_back(root: Path,
                                                         waiting: subprocess.Popen[str]) -> None:
    waiting.send_signal(signal.SIGTERM)
    assert waiting.wait(20) == 143
    _, stderr = waiting.communicate()
    assert "Traceback" not in stderr
    assert "Stopped (SIGTERM)" in stderr
    with sqlite3.connect(root / ".pyflow" / "state" / "pyflow.sqlite") as db:  # handed back
        assert db.execute("SELECT lease_owner FROM instances WHERE id = 'k1'").fetchall() == [(None,)]
        assert db.execute("SELECT COUNT(*) FROM engines").fetchall() == [(0,)]
    paused, took = control(root, "pause")
    assert paused.returncode == 0, paused.stderr
    assert paused.stdout == '⏸️ The instance "k1" from slow was paused successfully\n'
    assert took < 8, f"pause waited {took:.1f} s for an engine that had stopped"
    assert status(root) == "paused"


@pytest.mark.parametrize("reaped", [True, False], ids=["reaped", "zombie"])
def test_control_after_sigkill_of_trigger_wait_takes_over_at_once(
        root: Path, waiting: subprocess.Popen[str], reaped: bool) -> None:
    os.kill(waiting.pid, signal.SIGKILL)
    if reaped:
        waiting.wait(10)
    else:  # killed, but its parent has not collected it yet: the pid still exists, as a zombie
        time.sleep(0.3)
    terminated, took = control(root, "terminate")
    assert terminated.returncode == 0, terminated.stderr
    assert terminated.stdout == '🥷 The instance "k1" from slow was terminated successfully\n'
    assert took < 8, f"terminate waited {took:.1f} s on a dead engine"
    assert status(root) == "terminated"
