"""End to end, as a new user runs it: real ``python -m pyflow_cli`` processes in a hand-written
project (no dev server), plus what must hold of a process: start-up imports, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clikit import write_project

HEAVY = ("aiosqlite", "starlette", "uvicorn", "httpx", "watchfiles", "rich")


def env() -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "FORCE_COLOR")}
    values["TZ"] = "UTC"
    return values


def pyflow(root: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyflow_cli", *args], cwd=root, env=env(),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_project(tmp_path / "my-app")


def test_trigger_wait_then_describe_and_list(root: Path) -> None:
    run = pyflow(root, "workflows", "trigger", "demo", '{"a": 1, "skip_approval": true}', "--wait",
                 "--time-scale", "2000")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("🚀 Workflow instance ")
    assert "  ✅ flaky-1 (attempt 3) · 3" in run.stdout
    assert run.stdout.rstrip().endswith('Output:  {"files":2,"attempts":3}')
    assert "\x1b[" not in run.stdout + run.stderr

    described = pyflow(root, "workflows", "instances", "describe", "demo", "latest")
    assert described.returncode == 0, described.stderr
    out = described.stdout
    assert out.startswith('Latest instance is "')
    for expected in ("Status:                ✅ Completed", "Trigger:               🖥️ CLI",
                     "Success:               ✅ Yes", "Last Successful Step:  flaky-1",
                     "  Type:      💤 Sleeping", "│ RuntimeError: boom 1 │", "  Output:    3"):
        assert expected in out

    listed = pyflow(root, "workflows", "instances", "list", "demo", "--status", "complete")
    assert listed.stdout.startswith("Showing 1 instance from page 1:")
    assert "✅ Completed" in listed.stdout


def test_bad_input_in_a_process_is_one_line_without_traceback(root: Path) -> None:
    for args, message in [
        (["workflows", "trigger", "demo", "{oops"], "✘ [ERROR] Error while parsing instance parameters"),
        (["workflows", "trigger", "nope"], '✘ [ERROR] Workflow "nope" is not defined in wrangler.toml'),
        (["workflows", "instances", "describe", "demo", "latest"],
         '✘ [ERROR] There are no instances in workflow "demo"'),
    ]:
        result = pyflow(root, *args)
        assert result.returncode == 1
        assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert not (root / ".pyflow" / "state" / "pyflow.sqlite").exists()


def test_a_missing_workflow_class_fails_fast_and_the_process_exits(tmp_path: Path) -> None:
    from clikit import WRANGLER_TOML

    root = write_project(tmp_path / "app", config=WRANGLER_TOML.replace('"Failing"', '"Missing"'))
    result = pyflow(root, "workflows", "trigger", "demo", "--wait", timeout=20)
    assert result.returncode == 1
    assert result.stderr.startswith('✘ [ERROR] Class "Missing" (class_name of workflow "failing" in '
                                    "wrangler.toml) is not defined in src/entry.py")
    assert not (root / ".pyflow" / "state" / "pyflow.sqlite").exists()


def test_describe_watch_follows_an_instance_another_process_runs(root: Path) -> None:
    runner = subprocess.Popen(
        [sys.executable, "-m", "pyflow_cli", "workflows", "trigger", "sleeper", "--id", "watched",
         "--wait", "--time-scale", "100000"],  # the 1-day sleep takes under a second
        cwd=root, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        db = root / ".pyflow" / "state" / "pyflow.sqlite"
        deadline = time.monotonic() + 20
        while not db.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        watched = pyflow(root, "workflows", "instances", "describe", "sleeper", "watched", "--watch")
        assert watched.returncode == 0, watched.stderr
        assert "Status:                ✅ Completed" in watched.stdout
        assert "  Type:      💤 Sleeping" in watched.stdout
        logs = pyflow(root, "workflows", "instances", "logs", "sleeper", "watched", "--follow")
        assert "SLEEP_COMPLETE" in logs.stdout and "WORKFLOW_SUCCESS" in logs.stdout
    finally:
        assert runner.wait(timeout=20) == 0


def _as_a_foreground_job() -> None:
    """Ctrl-C reaches a command the shell runs in the foreground; a shell without job control
    (a script's ``cmd &``) starts its background jobs with SIGINT ignored, and a test run started
    that way would pass that on to the command and wait for it in vain."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_waiting_quietly(root: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "pyflow_cli", "workflows", "trigger", "sleeper", "--wait"],
        cwd=root, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_as_a_foreground_job)
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("🚀 Workflow instance")
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert err.strip() == "Interrupted."
    assert "Traceback" not in out + err


def test_cli_import_loads_no_heavy_module() -> None:
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import pyflow_cli.cli.main"],
                            capture_output=True, text=True, env=env(), timeout=30)
    assert result.returncode == 0, result.stderr
    loaded = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
              if line.startswith("import time:")}
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_help_starts_quickly(root: Path) -> None:
    start = time.perf_counter()
    result = pyflow(root, "--help")
    elapsed = time.perf_counter() - start
    assert result.returncode == 0
    assert "workflows" in result.stdout
    assert elapsed < 3.0  # generous for slow CI machines; typically ~0.2 s
