"""User code that exits (``sys.exit()``, ``SystemExit``, ``KeyboardInterrupt``) in a step, in
``run()``, in the Worker or at import never stops a real ``pyflow dev`` or ``trigger --wait``:
the step or instance fails, the import is reported like a syntax error, and a restart that
resumes such an instance keeps running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from serverkit import API, DevProcess, instance_status, wait_until, write_project

CONFIG = """\
name = "exits"
main = "src/entry.py"
compatibility_date = "2025-10-01"

[[workflows]]
name = "exits"
binding = "EXITS"
class_name = "Exits"
"""

ENTRY = """\
import sys

from workers import Response, WorkerEntrypoint, WorkflowEntrypoint


class Exits(WorkflowEntrypoint):
    async def run(self, event, step):
        how = event.payload["how"]
        if event.payload.get("nap"):
            await step.sleep("nap", event.payload["nap"])
        if how == "run":
            sys.exit(4)

        @step.do("body", config={"retries": {"limit": 1, "delay": "1 second"}})
        async def body():
            if how == "interrupt":
                raise KeyboardInterrupt("stop")
            sys.exit(3)

        await body()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/exit"):
            sys.exit(5)
        return Response("alive")
"""

WF = f"{API}/workflows/exits"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_project(tmp_path / "app", entry=ENTRY, config=CONFIG, secrets="")


@pytest.fixture
def server(root: Path) -> Iterator[DevProcess]:
    process = DevProcess(root).ready()
    yield process
    if process.process.poll() is None:
        process.kill()


def stopped(process: DevProcess) -> int:
    """Stop ``process`` with SIGTERM and return its exit code; killed if it does not stop."""
    try:
        return process.stop(signal.SIGTERM)
    finally:
        if process.process.poll() is None:
            process.kill()


def error_of(server: DevProcess, instance_id: str) -> object:
    with server.client() as client:
        wait_until(lambda: instance_status(client, "exits", instance_id) == "errored", timeout=30)
        return client.get(f"{WF}/instances/{instance_id}").json()["result"]["error"]


def test_exits_in_steps_run_and_the_worker_fail_only_their_own_work(server: DevProcess) -> None:
    with server.client() as client:
        for how in ("step", "interrupt", "run"):
            assert client.post(f"{WF}/instances", json={"id": how, "params": {"how": how}}
                               ).status_code == 200
        exited = client.get("/exit")
        assert (exited.status_code, exited.text) == (500, "SystemExit: 5\n")
    assert error_of(server, "step") == {"name": "SystemExit", "message": "3"}
    assert error_of(server, "interrupt") == {"name": "KeyboardInterrupt", "message": "stop"}
    assert error_of(server, "run") == {"message": "4", "name": "SystemExit"}
    with server.client() as client:
        attempts = client.get(f"{WF}/instances/step").json()["result"]["steps"][0]["attempts"]
        assert [a["error"]["name"] for a in attempts] == ["SystemExit", "SystemExit"]
        assert client.get("/").text == "alive"
    server.wait_for(r"Uncaught exception in GET /exit: SystemExit: 5")
    assert server.process.poll() is None
    assert stopped(server) == 0


def test_a_restart_that_resumes_an_exiting_instance_keeps_running(root: Path) -> None:
    first = DevProcess(root).ready()
    try:
        with first.client() as client:
            client.post(f"{WF}/instances", json={"id": "later", "params": {"how": "run",
                                                                           "nap": "4 seconds"}})
            wait_until(lambda: instance_status(client, "exits", "later") == "waiting")
    finally:
        assert stopped(first) == 0
    second = DevProcess(root).ready()
    try:
        assert error_of(second, "later") == {"message": "4", "name": "SystemExit"}
        with second.client() as client:
            assert client.get("/").text == "alive"
        assert second.process.poll() is None
    finally:
        assert stopped(second) == 0


def test_exiting_at_import_during_hot_reload_keeps_the_last_good_version(
        server: DevProcess, root: Path) -> None:
    entry = root / "src" / "entry.py"
    mark = len(server.lines)
    entry.write_text("import sys\nsys.exit(2)\n" + ENTRY)
    server.wait_for(r"✘ \[ERROR\] src/entry\.py:2: SystemExit: 2$", after=mark)
    server.wait_for(r"Still serving the last good version", after=mark)
    with server.client() as client:
        assert client.get("/").text == "alive"
        client.post(f"{WF}/instances", json={"id": "after", "params": {"how": "run"}})
    assert error_of(server, "after") == {"message": "4", "name": "SystemExit"}
    mark = len(server.lines)
    entry.write_text(ENTRY)
    server.wait_for(r"Local server updated and ready", after=mark)
    assert server.process.poll() is None


def test_exiting_at_import_on_start_waits_for_a_fix(root: Path) -> None:
    entry = root / "src" / "entry.py"
    entry.write_text("import sys\nsys.exit(2)\n" + ENTRY)
    process = DevProcess(root)
    try:
        process.wait_for(r"✘ \[ERROR\] src/entry\.py:2: SystemExit: 2$")
        process.wait_for(r"Waiting for a fix")
        assert process.process.poll() is None
        entry.write_text(ENTRY)
        process.ready()
    finally:
        assert stopped(process) == 0


def pyflow(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "TZ": "UTC"}
    return subprocess.run([sys.executable, "-m", "pyflow_cli", "--persist-to", "state", *args],
                          cwd=root, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("how", "error"), [("step", "SystemExit: 3"),
                                            ("interrupt", "KeyboardInterrupt: stop"),
                                            ("run", "SystemExit: 4")])
def test_trigger_wait_reports_an_exiting_instance_as_errored(root: Path, how: str,
                                                            error: str) -> None:
    run = pyflow(root, "workflows", "trigger", "exits", f'{{"how": "{how}"}}', "--wait",
                 "--time-scale", "1000")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Errored" in run.stdout and error in run.stdout
    # The stored traceback is the user's, down to the line that exited.
    assert ("sys.exit(" if how != "interrupt" else "raise KeyboardInterrupt") in run.stdout
    assert "Traceback (most recent call last)" not in run.stdout + run.stderr


def test_trigger_wait_reports_an_exit_at_import_in_one_line(root: Path) -> None:
    (root / "src" / "entry.py").write_text("import sys\nsys.exit(3)\n" + ENTRY)
    run = pyflow(root, "workflows", "trigger", "exits", '{"how": "run"}', "--wait")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == ["✘ [ERROR] src/entry.py:2: SystemExit: 3"]
