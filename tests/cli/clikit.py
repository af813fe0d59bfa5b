"""Helpers for CLI tests: a hand-written project in tmp_path, its state built with a manual clock,
and a CliRunner with a fixed "now", time zone and width. (A module of its own, not conftest, so
its name cannot clash with other test directories' conftest modules.)"""

from __future__ import annotations

import asyncio
import sqlite3
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from typer._click import Command, Context
from typer.core import TyperGroup
from typer.testing import CliRunner, Result

from pyflow_cli.cli.main import app
from pyflow_cli.cli.options import Runtime
from pyflow_cli.engine.clock import ManualClock
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.testing import WorkflowTestEnv

START_MS = 1_767_225_600_000.0  # 2026-01-01T00:00:00Z, where ManualClock starts

WRANGLER_TOML = """\
name = "demo-app"
main = "src/entry.py"
compatibility_date = "2025-10-01"

[[workflows]]
name = "demo"
binding = "DEMO"
class_name = "Demo"

[[workflows]]
name = "failing"
binding = "FAILING"
class_name = "Failing"

[[workflows]]
name = "sleeper"
binding = "SLEEPER"
class_name = "Sleeper"
"""

ENTRY_PY = '''\
from workers import WorkflowEntrypoint


class Demo(WorkflowEntrypoint):
    """A step, a one-minute sleep, a step that fails twice, then an event wait."""

    async def run(self, event, step):
        @step.do("fetch")
        async def fetch():
            return {"files": ["a.pdf", "b.pdf"]}

        files = await fetch()
        await step.sleep("nap", "1 minute")

        @step.do("flaky", config={"retries": {"limit": 3, "delay": "5 seconds",
                                              "backoff": "exponential"}})
        async def flaky(ctx):
            if ctx.attempt < 3:
                raise RuntimeError(f"boom {ctx.attempt}")
            return ctx.attempt

        attempts = await flaky()
        if event.payload.get("skip_approval"):
            return {"files": len(files["files"]), "attempts": attempts}
        approval = await step.wait_for_event("approval", "approve", timeout="1 hour")
        return {"files": len(files["files"]), "attempts": attempts, "ok": approval.payload["ok"]}


class Failing(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do("explode", config={"retries": {"limit": 1, "delay": 1000, "backoff": "constant"}})
        async def explode():
            raise ValueError("no luck")

        await explode()


class Sleeper(WorkflowEntrypoint):
    async def run(self, event, step):
        await step.sleep("long nap", "1 day")
        return "rested"
'''


def write_project(root: Path, entry: str = ENTRY_PY, config: str = WRANGLER_TOML) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "wrangler.toml").write_text(textwrap.dedent(config), encoding="utf-8")
    (root / "src" / "entry.py").write_text(entry, encoding="utf-8")
    return root


def fixed_runtime(now_ms: float = START_MS, width: int = 100, terminal: bool = False) -> Runtime:
    return Runtime(now_ms=lambda: now_ms, tz=UTC, width=width, terminal=terminal, environ={},
                   poll_s=0.01)


@dataclass
class Project:
    """A project on disk, with helpers to build its state and run the CLI against it."""

    root: Path

    @property
    def db(self) -> Path:
        return self.root / ".pyflow" / "state" / "pyflow.sqlite"

    def build(self, script: Callable[[WorkflowTestEnv], Awaitable[Any]]) -> Any:
        """Run ``script`` against the project's store with a manual clock (time skips ahead)."""

        async def main() -> Any:
            env = WorkflowTestEnv.from_project(
                self.root, state_dir=self.root / ".pyflow" / "state", clock=ManualClock(START_MS),
                options=EngineOptions(poll_interval_s=0.02))
            async with env:
                return await script(env)

        return asyncio.run(main())

    def cli(self, *args: str, runtime: Runtime | None = None, input: str | None = None) -> Result:
        return CliRunner().invoke(app, ["--cwd", str(self.root), *args],
                                  obj=runtime or fixed_runtime(), input=input)

    def dump(self) -> list[str]:
        """Every row of the state database, to assert a command changed nothing."""
        if not self.db.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return list(conn.iterdump())
        finally:
            conn.close()


async def run_demo_to_completion(env: WorkflowTestEnv, instance_id: str = "golden-1") -> None:
    """The ``demo`` instance through every kind of step: it ends complete at 00:01:15."""
    await env.service.create("demo", instance_id, {"user": "ada"})
    await env.run_until(
        "demo", instance_id,
        lambda record: record.status.value == "waiting" and env.clock.now_ms() >= START_MS + 75_000)
    await env.settle()
    await env.service.send_event("demo", instance_id, "approve", {"ok": True})
    await env.run_until_done("demo", instance_id)


def command_tree(command: Command, path: tuple[str, ...] = ()
                 ) -> Iterator[tuple[tuple[str, ...], Command]]:
    """Every command and group the CLI registers below ``command``, with its path of names."""
    yield path, command
    if isinstance(command, TyperGroup):
        ctx = Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            yield from command_tree(sub, (*path, name))
