"""Helpers for the dev server tests: a hand-written project on disk and a real ``pyflow dev``
subprocess whose output is collected line by line."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx

API = "/cdn-cgi/local/explorer/api"

CONFIG = """\
name = "server-test"
main = "src/entry.py"
compatibility_date = "2025-10-01"

[vars]
GREETING = "hello"

[triggers]
crons = ["0 0 1 1 *"]  # a schedule that never fires during a test run

[[workflows]]
name = "steps"
binding = "STEPS"
class_name = "StepsWorkflow"

[[workflows]]
name = "nightly"
binding = "NIGHTLY"
class_name = "NightlyWorkflow"
schedules = ["0 3 * * *"]
"""

ENTRY = """\
import json
import io
import os
from pathlib import Path

from workers import Response, WorkerEntrypoint, WorkflowEntrypoint

JOURNAL = Path(__file__).resolve().parent.parent / "journal.txt"
VERSION = "v1"


def note(text):
    with JOURNAL.open("a") as journal:
        journal.write(text + "\\n")
        journal.flush()
        os.fsync(journal.fileno())


def undo(args):
    note(f"undo {args.stepName} {args.output} {args.error}")


class StepsWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        payload = event.payload or {}
        results = []
        for i in range(payload.get("steps", 1)):
            @step.do(f"s{i}", rollback=undo if payload.get("undo") else None)
            async def body():
                note(f"{event.instanceId} s{i}")
                return i * 10
            results.append(await body())
            if payload.get("nap"):
                await step.sleep(f"nap{i}", payload["nap"])
        if payload.get("wait"):
            received = await step.wait_for_event("approval", "go", timeout="1 hour")
            results.append(received["payload"])
        if payload.get("fail"):
            @step.do("doomed", config={"retries": {"limit": 0, "delay": 10}})
            async def doomed():
                raise ValueError("boom")
            await doomed()
        return {"version": VERSION, "results": results}


class NightlyWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        return {"version": VERSION}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = request.url.split("/", 3)[3]
        if path.startswith("create"):
            body = await request.json() if request.method == "POST" else {}
            instance = await self.env.STEPS.create(params=body)
            return Response.json({"id": instance.id, "status": await instance.status()})
        if path.startswith("status/"):
            instance = await self.env.STEPS.get(path.split("/", 1)[1])
            return Response.json(await instance.status())
        if path == "env":
            return Response.json({"greeting": self.env.GREETING, "secret": self.env.TOKEN,
                                  "version": VERSION})
        if path == "boom":
            raise RuntimeError("fetch exploded")
        return Response("hello from " + VERSION, headers={"x-version": VERSION})

    async def scheduled(self, controller):
        await self.env.STEPS.create(params={"cron": controller.cron,
                                            "at": controller.scheduledTime})
"""


def write_project(root: Path, entry: str = ENTRY, config: str = CONFIG,
                  secrets: str = "TOKEN=s3cret\n") -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "wrangler.toml").write_text(config)
    (root / "src" / "entry.py").write_text(textwrap.dedent(entry))
    if secrets:
        (root / ".dev.vars").write_text(secrets)
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Runs the `dev` command on its own, for when the root CLI does not offer it.
BOOT = """\
import sys, typer
from pyflow_cli.cli import dev
app = typer.Typer()
@app.callback()
def main() -> None:
    pass
dev.register(app)
app()
"""


def dev_command() -> list[str]:
    """``python -m pyflow_cli dev`` when the root CLI has the command, else ``dev`` on its own."""
    try:
        import typer

        from pyflow_cli.cli.main import app

        if "dev" in typer.main.get_command(app).commands:  # type: ignore[attr-defined]
            return [sys.executable, "-m", "pyflow_cli", "dev"]
    except (ImportError, AttributeError):
        pass
    return [sys.executable, "-c", BOOT, "dev"]


class DevProcess:
    """A ``pyflow dev`` (or ``command``: ``pyflow serve``) subprocess in ``root``, with its merged
    output collected; ``env`` is added to this process's environment (a value of None removes
    the variable)."""

    def __init__(self, root: Path, *args: str, port: int | None = None,
                 state: Path | None = None, command: str = "dev",
                 env: dict[str, str | None] | None = None) -> None:
        self.root = root
        self.port = port or free_port()
        merged = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", **(env or {})}
        env = {name: value for name, value in merged.items() if value is not None}
        started = dev_command() if command == "dev" else [sys.executable, "-m", "pyflow_cli", command]
        self.process = subprocess.Popen(
            [*started, "--port", str(self.port),
             "--persist-to", str(state or root / "state"), *args],
            cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 15.0, after: int = 0) -> str:
        """The first output line (from line ``after`` on) matching ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                if regex.search(line):
                    return line
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} within {timeout}s; output:\n{self.output}")

    def ready(self, timeout: float = 20.0) -> DevProcess:
        self.wait_for(r"Ready on http://", timeout)
        return self

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=20.0)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)
        self._reader.join(5)


def wait_until(check: object, timeout: float = 20.0, interval: float = 0.1) -> object:
    """Poll ``check()`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = check()  # type: ignore[operator]
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


HOLDING = ENTRY.replace("        payload = event.payload or {}\n", """\
        payload = event.payload or {}
        if payload.get("hold"):
            import asyncio

            async def hold():
                await asyncio.sleep(3600)
            await step.do("hold", hold)
""")
"""ENTRY, whose "steps" workflow holds an instance created with ``{"hold": true}`` running."""


def hold_one_and_queue_two(http: httpx.Client) -> str:
    """On a server with ``--max-running 1`` and ``HOLDING``: create an instance that holds
    running, wait until it runs, then create two that must queue behind it; returns the URL
    of the "steps" workflow's instances."""
    creates = f"{API}/workflows/steps/instances"
    assert http.post(creates, json={"id": "held", "params": {"hold": True}}).status_code == 200
    wait_until(lambda: http.get(f"{creates}/held").json()["result"]["status"] == "running")
    assert [http.post(creates, json={}).status_code for _ in range(2)] == [200, 200]
    return creates


def instance_status(client: httpx.Client, workflow: str, instance_id: str) -> str:
    response = client.get(f"{API}/workflows/{workflow}/instances/{instance_id}")
    return str(response.json()["result"]["status"]) if response.status_code == 200 else ""


class Output:
    """A runtime's captured terminal output (for ``DevLog(out=..., err=...)``)."""

    def __init__(self) -> None:
        self.out = io.StringIO()
        self.err = io.StringIO()

    @property
    def text(self) -> str:
        return self.out.getvalue() + self.err.getvalue()


def stable_code(status: int, message: str) -> str:
    """The ``pyflow_code`` an error envelope must carry beside the reference's code and message."""
    coded = re.match(r"WorkflowError: \((instance\.\w+)\)", message)
    if coded:
        return coded[1]
    if message == "WorkflowError: Workflow instance has invalid id":
        return "instance.invalid_id"
    if message.startswith("Workflow instance '"):
        return "instance.not_found"
    if message.startswith("Workflow '"):
        return "workflow.not_found"
    return {400: "pyflow.invalid_input", 404: "pyflow.not_found", 405: "pyflow.method_not_allowed",
            409: "pyflow.conflict", 413: "pyflow.too_large"}[status]
