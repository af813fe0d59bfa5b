"""``WorkflowTestEnv``: run workflows in tests with a real store and a clock that skips ahead.

    async with WorkflowTestEnv({"orders": OrderWorkflow}) as env:
        instance_id = await env.service.create("orders", params={"id": 1})
        record = await env.run_until_done("orders", instance_id)
        assert record.status == "complete"

Time moves only when every instance is idle (waiting on a sleep, a retry delay or an event), and
then jumps straight to the next deadline, so a "3 hours" sleep costs no wall time.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from pyflow_cli.bindings.local import LocalBindings
from pyflow_cli.compat import fetch
from pyflow_cli.engine.clock import ManualClock
from pyflow_cli.engine.entrypoint import Env, WorkflowDefinition, WorkflowEntrypoint
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import InstanceRecord
from pyflow_cli.engine.worker import Engine
from pyflow_cli.project.config import ProjectConfig
from pyflow_cli.service import WorkflowInfo, WorkflowService
from pyflow_cli.storage.sqlite import SqliteStore


class WorkflowTestEnv:
    """A temporary store, a manual clock, an engine and a service, wired together."""

    def __init__(
        self,
        workflows: Mapping[str, type[WorkflowEntrypoint] | WorkflowDefinition],
        *,
        state_dir: Path | None = None,
        options: EngineOptions | None = None,
        clock: ManualClock | None = None,
        env: Callable[[WorkflowService], Mapping[str, Any]] | None = None,
        durability: str = "normal",
        bindings: LocalBindings | None = None,
    ) -> None:
        self.definitions = {
            name: wf if isinstance(wf, WorkflowDefinition)
            else WorkflowDefinition(name=name, cls=wf, class_name=wf.__name__, script_name=name)
            for name, wf in workflows.items()
        }
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="pyflow-test-")
            state_dir = Path(self._tmp.name)
        self.clock = clock or ManualClock()
        self.store = SqliteStore(state_dir, durability=durability)
        self.bindings = bindings
        self.project: ProjectConfig | None = None
        self._env = env
        self.engine = Engine(self.store, self.definitions, self.clock,
                             options or EngineOptions(poll_interval_s=0.05),
                             env_factory=self._make_env)
        infos = {name: WorkflowInfo(name, d.class_name, d.script_name, d.binding, d.version_id)
                 for name, d in self.definitions.items()}
        self.service = WorkflowService(self.store, infos, self.clock, self.engine)

    @classmethod
    def from_project(cls, root: Path | str, *, state_dir: Path | None = None,
                     options: EngineOptions | None = None, clock: ManualClock | None = None
                     ) -> WorkflowTestEnv:
        """An env running the workflows of the project at ``root`` (its wrangler.toml and main),
        with ``self.env`` holding their bindings, ``[vars]`` and secrets as under ``pyflow dev``.
        Its KV namespaces, R2 buckets and D1 databases keep their data in the env's state
        directory (a temporary one unless ``state_dir`` is given), on the env's clock, so a KV
        ``expirationTtl`` passes when the clock jumps; ``env.bindings`` reaches their stores."""
        from pyflow_cli.project.config import load_project
        from pyflow_cli.project.loader import load_user_module
        from pyflow_cli.workspace import definitions, project_env

        project = load_project(Path(root))
        defs = definitions(project, load_user_module(project))
        test_env = cls(defs, state_dir=state_dir, options=options, clock=clock)
        test_env.project = project
        test_env.bindings = LocalBindings(test_env.store.state_dir, test_env.clock.now_ms)
        test_env._env = lambda service: project_env(project, service, test_env.bindings)
        return test_env

    async def apply_d1_migrations(self, database: str | None = None) -> list[str]:
        """Apply the project's D1 migrations to the env's databases, as ``pyflow d1 migrations
        apply`` does: every ``[[d1_databases]]`` entry, or the one named (name or binding).
        Returns the migrations applied; a failing one raises ``D1Error``."""
        from pyflow_cli.bindings import d1_migrations
        from pyflow_cli.bindings.local import d1_database

        if self.project is None or self.bindings is None:
            raise RuntimeError("apply_d1_migrations() needs an env made by WorkflowTestEnv.from_project")
        databases = ([d1_database(self.project, database)] if database is not None
                     else list(self.project.d1_databases))
        applied: list[str] = []
        for config in databases:
            store = self.bindings.d1(config)
            folder = d1_migrations.folder(self.project, config)
            for name in await d1_migrations.pending(store, self.project, config):
                await d1_migrations.apply(store, folder / name, config.migrations_table)
                applied.append(name)
        return applied

    def env(self) -> Env:
        """``self.env`` as the workflows get it (for calling a Worker's handlers in a test)."""
        return self._make_env()

    def _make_env(self) -> Env:
        return Env(self._env(self.service) if self._env is not None else {})

    async def __aenter__(self) -> WorkflowTestEnv:
        await self.store.open()
        await self.engine.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.engine.stop()
        if self.bindings is not None:
            self.bindings.close()
        await self.store.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    async def settle(self) -> None:
        """Let everything that can run without time passing run: returns once the store has seen
        no write for a few loop turns, the engine's scheduler is parked and no outbound ``fetch``
        waits for its answer (any other step body awaiting something outside counts as idle)."""
        writer = self.store._writer
        stable = 0
        last = -1
        while stable < 3:
            await asyncio.sleep(0.002)
            ops = writer.operations
            quiet = writer.idle and self.engine.scheduler_idle and fetch.in_flight() == 0
            stable = stable + 1 if ops == last and quiet else 0
            last = ops

    async def advance(self) -> bool:
        """Settle, then jump the clock to the next deadline; False if nothing waits on time."""
        await self.settle()
        deadline = self.clock.next_deadline()
        if deadline is None:
            return False
        self.clock.set(deadline)
        return True

    async def run_until(self, workflow: str, instance_id: str,
                        done: Callable[[InstanceRecord], bool], max_jumps: int = 10_000
                        ) -> InstanceRecord:
        """Advance time until ``done(record)``; raises if the instance gets stuck."""
        for _ in range(max_jumps):
            await self.settle()
            record = await self.service.get(workflow, instance_id)
            if done(record):
                return record
            deadline = self.clock.next_deadline()
            if deadline is None:
                raise AssertionError(f"instance {instance_id} is stuck in {record.status.value}")
            self.clock.set(deadline)
        raise AssertionError(f"instance {instance_id} did not finish after {max_jumps} jumps")

    async def run_until_done(self, workflow: str, instance_id: str) -> InstanceRecord:
        return await self.run_until(workflow, instance_id, lambda r: r.status.is_terminal)

    async def run_until_status(self, workflow: str, instance_id: str,
                               status: InstanceStatus | str) -> InstanceRecord:
        wanted = InstanceStatus(status)
        return await self.run_until(workflow, instance_id, lambda r: r.status is wanted)

