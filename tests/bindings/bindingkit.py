"""Helpers for the binding tests: the test project (``app/``) copied into a temporary folder, a real
``pyflow dev`` subprocess on it, and the ``pyflow`` CLI run as a separate process."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

APP = Path(__file__).resolve().parent / "app"
API = "/cdn-cgi/local/explorer/api"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}


def copy_app(target: Path) -> Path:
    shutil.copytree(APP, target, ignore=shutil.ignore_patterns("__pycache__", ".pyflow", "state"))
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dev:
    """``pyflow dev`` in ``root`` with its state in ``root/state``; output collected."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pyflow_cli", "dev", "--port", str(self.port), "--persist-to",
             str(root / "state"), "--no-reload"],
            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_until(lambda: any("Ready on http://" in line for line in self.lines) or self._exited(),
                   30, "pyflow dev to start")
        if self._exited():
            raise AssertionError(f"pyflow dev exited:\n{self.output}")
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def _exited(self) -> bool:
        return self.process.poll() is not None

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def get(self, path: str, **params: str) -> Any:
        response = self.http.get(path, params=params)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}\n{self.output}"
        return response.json()

    def run_workflow(self, workflow: str, params: Any, timeout: float = 30) -> dict[str, Any]:
        """Create an instance through the local API and wait for it to finish; its details."""
        created = self.http.post(f"{API}/workflows/{workflow}/instances", json={"params": params})
        instance_id = created.json()["result"]["id"]
        details: dict[str, Any] = {}

        def finished() -> bool:
            details.update(self.http.get(f"{API}/workflows/{workflow}/instances/{instance_id}")
                           .json()["result"])
            return details["status"] in ("complete", "errored", "terminated")

        wait_until(finished, timeout, f"{workflow} {instance_id} to finish", lambda: self.output)
        return details

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush."""
        self.http.close()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._reader.join(5)

    def stop(self) -> None:
        self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._reader.join(5)


def pyflow(root: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The ``pyflow`` CLI in its own process, on ``root``'s state (as a user runs it)."""
    return subprocess.run([sys.executable, "-m", "pyflow_cli", "--persist-to", str(root / "state"),
                           *args], cwd=root, env=ENV, capture_output=True, input=stdin, timeout=60,
                          check=False)


def pyflow_json(root: Path, *args: str) -> Any:
    result = pyflow(root, *args)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               context: Callable[[], str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                                 + (f"\n{context()}" if context else ""))
        time.sleep(0.05)


class Scenario:
    """Runs a scenario from the fetch handler and reads its workflow result."""

    def __init__(self, dev: Dev, from_workflow: dict[str, Any]) -> None:
        self.dev = dev
        self.from_workflow = from_workflow

    def results(self, name: str) -> dict[str, Any]:
        """The scenario's result per path, with the path's prefix replaced by ``{p}``."""
        fetched = self.dev.get("/run", name=name, prefix="fetch")
        return {"fetch": _unprefixed(fetched, "fetch"),
                "workflow": _unprefixed(self.from_workflow[name], "flow")}

    def check(self, name: str, expected: Any) -> None:
        for path, result in self.results(name).items():
            assert result == expected, f"{name} from the {path}: {result!r}"


def _unprefixed(value: Any, prefix: str) -> Any:
    if isinstance(value, str):
        return re.sub(rf"\b{prefix}(?=[:/_])", "{p}", value)
    if isinstance(value, list):
        return [_unprefixed(v, prefix) for v in value]
    if isinstance(value, dict):
        return {_unprefixed(k, prefix): _unprefixed(v, prefix) for k, v in value.items()}
    return value
