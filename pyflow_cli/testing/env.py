"""``WorkflowTestEnv``: run workflows in tests with a real store and a clock that skips ahead.

    async with WorkflowTestEnv({"orders": OrderWorkflow}) as env:
        instance_id = await env.service.create("orders", params={"id": 1})
        record = await env.run_until_done("orders", instance_id)
        assert record.status == "complete"

Time (``time="skip"``, the default) is a virtual clock. It moves only while the test waits for
something — ``run_until*``, an introspector's ``wait_for_status`` / ``wait_for_step_result`` —
and then only when every instance is idle (waiting on a sleep, a retry delay or an event): it
jumps straight to the next deadline, so a "7 days" sleep costs no wall time. ``advance(duration)``
moves it by hand. ``time="real"`` runs on the system clock instead.

The env's service applies introspection (``pyflow_cli.testing.introspect_workflow*``) and every
lifetime's step calls are recorded for the replay-safety check (``replay_problems``).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Literal, TypeVar, cast

from pyflow_cli.api import WorkflowInfo
from pyflow_cli.bindings.local import LocalBindings
from pyflow_cli.compat import fetch
from pyflow_cli.engine.clock import ManualClock, SystemClock
from pyflow_cli.engine.durations import parse_duration_ms
from pyflow_cli.engine.entrypoint import (
    Env,
    ExecutionContext,
    WorkerEntrypoint,
    WorkflowDefinition,
    WorkflowEntrypoint,
)
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import InstanceRecord, Store
from pyflow_cli.engine.worker import Engine
from pyflow_cli.project.config import ProjectConfig
from pyflow_cli.service import WorkflowService
from pyflow_cli.storage.factory import build_store
from pyflow_cli.storage.url import DB_NAME, SqliteLocation, parse_store_url
from pyflow_cli.testing.registry import Registry
from pyflow_cli.testing.replay import NonDeterminismError
from pyflow_cli.testing.service import TestService

T = TypeVar("T")
TimeMode = Literal["skip", "real"]
MAX_JUMPS = 10_000
REAL_TIME_POLL_S = 0.01


class WorkflowTestEnv:
    """A temporary store, a clock, an engine and a service, wired together."""

    __test__ = False  # not a pytest test class, whatever its name

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
        time: TimeMode = "skip",
        store: str | Store | None = None,
    ) -> None:
        """``store`` (a store URL, e.g. ``postgresql://...``, or a store not yet open) stores
        the instances there instead of in a SQLite file in ``state_dir`` (a temporary directory
        unless given)."""
        if time not in ("skip", "real"):
            raise ValueError(f'time must be "skip" (a virtual clock) or "real", got {time!r}')
        self.definitions = {
            name: wf if isinstance(wf, WorkflowDefinition)
            else WorkflowDefinition(name=name, cls=wf, class_name=wf.__name__, script_name=name)
            for name, wf in workflows.items()
        }
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="pyflow-test-")
            state_dir = Path(self._tmp.name)
        self.time = time
        self.state_dir = state_dir
        self.clock: ManualClock | SystemClock = (
            (clock or ManualClock()) if time == "skip" else SystemClock())
        if store is None or isinstance(store, str):
            location = (parse_store_url(store, Path.cwd()) if store is not None
                        else SqliteLocation(state_dir / DB_NAME))
            store = build_store(location, durability)
        self.store: Store = store
        self.bindings = bindings
        self.project: ProjectConfig | None = None
        self.module: ModuleType | None = None  # the project's entry module (from_project)
        self._env = env
        self.registry = Registry()
        self.engine = Engine(self.store, self.definitions, self.clock,
                             options or EngineOptions(poll_interval_s=0.05),
                             env_factory=self._make_env, test_hooks=self.registry.hooks_for,
                             kind="test")
        infos = {name: WorkflowInfo(name, d.class_name, d.script_name, d.binding, d.version_id)
                 for name, d in self.definitions.items()}
        self.service = TestService(self.store, infos, self.clock, self.engine)
        self.service.registry = self.registry
        self.service.test_env = self

    @classmethod
    def from_project(cls, root: Path | str, *, state_dir: Path | None = None,
                     options: EngineOptions | None = None, clock: ManualClock | None = None,
                     time: TimeMode = "skip") -> WorkflowTestEnv:
        """An env running the workflows of the project at ``root`` (its wrangler.toml and main),
        with ``self.env`` holding their bindings, ``[vars]`` and secrets as under ``pyflow dev``.
        Its KV namespaces, R2 buckets and D1 databases keep their data in the env's state
        directory (a temporary one unless ``state_dir`` is given), on the env's clock, so a KV
        ``expirationTtl`` passes when the clock jumps; ``env.bindings`` reaches their stores."""
        from pyflow_cli.project.config import load_project
        from pyflow_cli.project.loader import load_user_module
        from pyflow_cli.workspace import definitions, project_env

        project = load_project(Path(root))
        loaded = load_user_module(project)
        test_env = cls(definitions(project, loaded), state_dir=state_dir, options=options,
                       clock=clock, time=time)
        test_env.project = project
        test_env.module = loaded.module
        test_env.bindings = LocalBindings(test_env.state_dir, test_env.clock.now_ms)
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

    def worker(self) -> WorkerEntrypoint:
        """The project's Worker (``class Default(WorkerEntrypoint)`` in its entry module), with
        ``self.env`` as the workflows get it: ``await env.worker().fetch(Request(url))``."""
        default = getattr(self.module, "Default", None)
        if not (isinstance(default, type) and issubclass(default, WorkerEntrypoint)):
            raise RuntimeError("worker() needs an env made by WorkflowTestEnv.from_project whose "
                               "entry module defines class Default(WorkerEntrypoint)")
        return default(ExecutionContext(), self.env())

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

    # -- replay safety ---------------------------------------------------------------------------
    def replay_problems(self) -> list[str]:
        """What the replay-safety check found so far: one report per instance whose ``run()``
        made different step calls when it was replayed (naming the step and the line)."""
        return self.registry.problems()

    def check_replay(self) -> None:
        """Raise ``NonDeterminismError`` if the replay-safety check found anything."""
        problems = self.replay_problems()
        if problems:
            raise NonDeterminismError("\n".join(problems))

    # -- time ------------------------------------------------------------------------------------
    async def settle(self) -> None:
        """Let everything that can run without time passing run: returns once the store has seen
        no write for a few loop turns, the engine's scheduler is parked and no outbound ``fetch``
        waits for its answer (any other step body awaiting something outside counts as idle)."""
        writer = cast(Any, self.store).writer
        stable = 0
        last = -1
        while stable < 3:
            await asyncio.sleep(0.002)
            ops = writer.operations
            quiet = writer.idle and self.engine.scheduler_idle and fetch.in_flight() == 0
            stable = stable + 1 if ops == last and quiet else 0
            last = ops

    async def advance(self, duration: float | str | timedelta | None = None) -> bool:
        """Move the virtual clock. Without ``duration``: settle, then jump to the next deadline
        (False if nothing waits on time). With one (milliseconds, ``"2 hours"`` or a
        ``timedelta``): move that far, firing every deadline on the way in order."""
        clock = self._manual_clock("advance()")
        await self.settle()
        if duration is None:
            deadline = clock.next_deadline()
            if deadline is None:
                return False
            clock.set(deadline)
            return True
        step_ms = parse_duration_ms(duration)
        if step_ms < 0:
            raise ValueError(f"advance() moves time forward, got {duration!r}")
        target = clock.now_ms() + step_ms
        while (deadline := clock.next_deadline()) is not None and deadline <= target:
            clock.set(deadline)
            await self.settle()
        clock.set(target)
        await self.settle()
        return True

    async def wait_for(self, check: Callable[[], Awaitable[tuple[bool, T]]],
                       stuck: Callable[[], Awaitable[str]], max_jumps: int = MAX_JUMPS) -> T:
        """Until ``check()`` says ``(True, value)``, return ``value``. On the virtual clock, each
        time everything is idle the clock jumps to the next deadline; with none left, raises
        ``AssertionError(await stuck())``. On real time, checks every few milliseconds."""
        if isinstance(self.clock, SystemClock):
            while True:
                done, value = await check()
                if done:
                    return value
                await asyncio.sleep(REAL_TIME_POLL_S)
        for _ in range(max_jumps):
            await self.settle()  # checked only once the last jump's consequences have run
            done, value = await check()
            if done:
                return value
            deadline = self.clock.next_deadline()
            if deadline is None:
                raise AssertionError(await stuck())
            self.clock.set(deadline)
        raise AssertionError(f"gave up after {max_jumps} jumps of the clock: {await stuck()}")

    def _manual_clock(self, what: str) -> ManualClock:
        if not isinstance(self.clock, ManualClock):
            raise RuntimeError(f'{what} moves the virtual clock, but this env runs on real time '
                               '(time="real")')
        return self.clock

    async def run_until(self, workflow: str, instance_id: str,
                        done: Callable[[InstanceRecord], bool], max_jumps: int = MAX_JUMPS
                        ) -> InstanceRecord:
        """Advance time until ``done(record)``; raises if the instance gets stuck."""
        async def check() -> tuple[bool, InstanceRecord]:
            record = await self.service.get(workflow, instance_id)
            return done(record), record

        async def stuck() -> str:
            record = await self.service.get(workflow, instance_id)
            return f"instance {instance_id} is stuck in {record.status.value}"

        return await self.wait_for(check, stuck, max_jumps)

    async def run_until_done(self, workflow: str, instance_id: str) -> InstanceRecord:
        return await self.run_until(workflow, instance_id, lambda r: r.status.is_terminal)

    async def run_until_status(self, workflow: str, instance_id: str,
                               status: InstanceStatus | str) -> InstanceRecord:
        wanted = InstanceStatus(status)
        return await self.run_until(workflow, instance_id, lambda r: r.status is wanted)
