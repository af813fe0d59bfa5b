"""What ``pyflow dev`` runs in its one event loop: the workspace (store, engine, service), the
user's Worker, hot-reload swaps and cron triggers.

A reload re-reads the config and re-imports the user's code, then swaps the new workflow classes
into the running engine and the new version id into the service: the engine keeps running, so
resident instances continue (with their current code until their next replay) and nothing stored
is touched. If the new code does not load, nothing is swapped.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyflow_cli.compat import output
from pyflow_cli.engine.events import TriggerSource
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.engine.store import Store
from pyflow_cli.engine.worker import Engine
from pyflow_cli.project.config import ProjectConfig, load_project
from pyflow_cli.project.imports import source_dirs
from pyflow_cli.project.loader import LoadedModule, load_user_module
from pyflow_cli.server.cron import (
    CronAction,
    CronEntry,
    CronError,
    CronExpression,
    CronScheduler,
    parse_cron,
)
from pyflow_cli.server.cron_runs import MANUAL, SCHEDULE, CronRun, CronRuns
from pyflow_cli.server.explorer.live import LiveHub
from pyflow_cli.server.logs import DevLog, sentence
from pyflow_cli.server.observe import InstanceLog, ObservedStore
from pyflow_cli.server.worker import NoHandlerError, WorkerHandlers, WorkerRunner
from pyflow_cli.service import WorkflowService
from pyflow_cli.storage.url import StoreLocation
from pyflow_cli.workspace import (
    Companion,
    Workspace,
    open_workspace,
    served_definitions,
    served_infos,
)

CRON_ROLE = "crons"
"""The role (``Store.hold_role``) of the process that fires a cluster's crons."""


@dataclass(frozen=True)
class Reloaded:
    """What a successful reload changed."""

    version_id: str
    version_changed: bool


class DevRuntime:
    """The running dev session, minus HTTP."""

    def __init__(self, workspace: Workspace, worker: WorkerRunner, log: DevLog,
                 live: LiveHub | None = None) -> None:
        self.workspace = workspace
        self.worker = worker
        self.log = log
        self.live = live or LiveHub()
        self.crons = CronScheduler([], workspace.clock, on_error=self._cron_failed,
                                   report=lambda message: log.warn(sentence(message)),
                                   on_give_up=self._crons_gave_up)
        self.cron_runs = CronRuns()
        self._schedule_started = False
        # The explorer's open pages hear of what this process writes to bindings and of crons.
        self.cron_runs.on_run = lambda run: self.live.notify("cron", {"cron": run.cron})
        if workspace.bindings is not None:
            workspace.bindings.on_change = self.live.binding_changed
        self.on_fatal: Callable[[str], None] | None = None

    def _fatal(self, message: str) -> None:
        """Something this session cannot run without stopped for good: say so and stop."""
        self.log.error(message)
        if self.on_fatal is not None:
            self.on_fatal(message)

    def _crons_gave_up(self, what: str) -> None:
        self._fatal(f"Crons cannot run: {what}. Restart pyflow dev.")

    @property
    def project(self) -> ProjectConfig:
        return self.workspace.project

    @property
    def service(self) -> WorkflowService:
        return self.workspace.service

    @property
    def engine(self) -> Engine:
        assert self.workspace.engine is not None
        return self.workspace.engine

    @property
    def version_id(self) -> str:
        return self.workspace.loaded.version_id if self.workspace.loaded else ""

    @property
    def projects(self) -> list[ProjectConfig]:
        """The projects served: this one, then those given with more ``-c`` (hot reload
        watches them all)."""
        return [self.project, *(c.project for c in self.workspace.companions)]

    @classmethod
    async def open(cls, project: ProjectConfig, *, persist_to: Path | None = None,
                   location: StoreLocation | None = None, options: EngineOptions | None = None,
                   log: DevLog | None = None, loaded: LoadedModule | None = None,
                   companions: Sequence[ProjectConfig | Companion] = (),
                   kind: str = "dev", only: Sequence[str] | None = None,
                   engine_id: str | None = None) -> DevRuntime:
        """Open the store, load the user's code and start the engine (``open_workspace`` with an
        observed store, so the terminal gets a line per instance event and the explorer's live
        streams a note per change). ``companions``: other projects served with this one (their
        code is loaded here unless given loaded); this project's Worker answers HTTP."""
        log = log or DevLog()
        loaded = loaded or load_user_module(project)
        served = [c if isinstance(c, Companion) else Companion(c, load_user_module(c))
                  for c in companions]
        handlers = WorkerHandlers.from_module(loaded.module)
        live = LiveHub()
        log_lines = InstanceLog(log)

        def observe(store: Store) -> Store:
            observed = ObservedStore(store, log_lines, live)
            live.resolve = observed.instance_name
            return observed

        opened: list[DevRuntime] = []  # the engine's failure stops the session, once it is open

        def engine_failed(message: str) -> None:
            opened[0]._fatal(message) if opened else log.error(message)

        workspace = await open_workspace(
            project, persist_to=persist_to, location=location, with_engine=True, options=options,
            loaded=loaded, observe=observe, on_engine_failure=engine_failed, companions=served,
            kind=kind, only=only, engine_id=engine_id)
        worker = WorkerRunner(handlers, workspace.env, log, source_dirs(project.root, project.main),
                              loaded.main_path)
        # console.log and outbound fetch lines of user code go to this dev log.
        output.set_sink(lambda level, text: getattr(log, level)(text))
        opened.append(cls(workspace, worker, log, live))
        return opened[0]

    # -- hot reload ---------------------------------------------------------------------------------
    def reload(self) -> Reloaded:
        """Re-read config and code and swap them in; raises (``PyflowError``) and changes nothing
        if either fails to load."""
        old = self.project
        project = load_project(old.root, old.config_path, old.env_name)
        loaded = load_user_module(project)
        companions = tuple(Companion(fresh, load_user_module(fresh)) for fresh in (
            load_project(c.project.root, c.project.config_path, c.project.env_name)
            for c in self.workspace.companions))
        defs = served_definitions(project, loaded, companions, self.workspace.env_of)
        handlers = WorkerHandlers.from_module(loaded.module)
        engine = self.engine
        # Definitions of workflows removed from the config stay, so instances already claimed
        # can still be resolved; the service (and so the API) no longer lists them.
        engine.replace_workflows({**engine.workflows, **defs}, loaded.version_id)
        previous = self.version_id
        self.service.workflows = served_infos(project, loaded.version_id, companions)
        self.service.config_name = project.config_path.name
        self.workspace.project = project
        self.workspace.loaded = loaded
        self.workspace.companions = companions
        self.worker.handlers = handlers
        self.worker.project_dirs = source_dirs(project.root, project.main)
        self.worker.main_path = loaded.main_path
        if self._schedule_started and (project.crons != old.crons or _schedules(project) != _schedules(old)):
            self.crons.replace(self.cron_entries())
        if project != old:
            self.live.notify("project", {})
        return Reloaded(loaded.version_id, loaded.version_id != previous)

    # -- crons ----------------------------------------------------------------------------------------
    def cron_entries(self) -> list[CronEntry]:
        """One entry per ``[triggers] crons`` expression and per workflow ``schedules`` entry."""
        entries: list[CronEntry] = []
        for text in dict.fromkeys(self.project.crons):
            expression = self._parse(text, "[triggers] crons")
            if expression is not None:
                entries.append(CronEntry(expression, self._once_per_cluster(
                    self._scheduled_handler_run), "scheduled"))
        for workflow in self.project.workflows:
            for text in dict.fromkeys(workflow.schedules):
                expression = self._parse(text, f'schedules of workflow "{workflow.name}"')
                if expression is not None:
                    entries.append(CronEntry(expression, self._once_per_cluster(
                        self._workflow_starter(workflow.name)), workflow.name))
        return entries

    def _once_per_cluster(self, action: CronAction) -> CronAction:
        """``action``, fired by the process that holds the store's ``crons`` role (taken by the
        first to fire once its holder's lease ran out): processes sharing a store fire each
        cron once between them, not once each."""
        async def fire(cron: str, scheduled_ms: float) -> None:
            now = self.workspace.clock.now_ms()
            if await self.workspace.store.hold_role(CRON_ROLE, self.engine.id, now,
                                                    now + self.engine.options.lease_ms):
                await action(cron, scheduled_ms)

        return fire

    def start_crons(self) -> None:
        self._schedule_started = True
        self.crons.replace(self.cron_entries())

    def _parse(self, text: str, where: str) -> CronExpression | None:
        try:
            return parse_cron(text)
        except CronError as exc:
            self.log.warn(f"{exc} (in {where}); it will not fire.")
            return None

    async def run_scheduled_handler(self, cron: str, scheduled_ms: float) -> None:
        self.log.info(f'⏰ scheduled handler (cron "{cron}")')
        await self.worker.scheduled(cron, scheduled_ms)

    async def _scheduled_handler_run(self, cron: str, scheduled_ms: float) -> None:
        with self._noting(CronRun(cron, SCHEDULE, scheduled_ms, self.workspace.clock.now_ms())):
            await self.run_scheduled_handler(cron, scheduled_ms)

    def _workflow_starter(self, workflow: str) -> CronAction:
        async def start(cron: str, scheduled_ms: float) -> None:
            run = CronRun(cron, SCHEDULE, scheduled_ms, self.workspace.clock.now_ms())
            with self._noting(run):
                run.instances.append((workflow, await self.service.create(
                    workflow, None, None, TriggerSource.CRON)))

        return start

    async def fire(self, cron: str, scheduled_ms: float) -> CronRun:
        """Run ``cron`` now, as ``/cdn-cgi/handler/scheduled`` and the explorer's "Run now" ask:
        the Worker's scheduled handler (if any) and every workflow scheduled on exactly
        ``cron``. The run's outcome is "exception" if nothing handled it or it failed."""
        run = CronRun(cron, MANUAL, scheduled_ms, self.workspace.clock.now_ms())
        with self._noting(run):
            for workflow in self.project.workflows:
                if cron in workflow.schedules:
                    run.instances.append((workflow.name, await self.service.create(
                        workflow.name, None, None, TriggerSource.CRON)))
            if not self.worker.handlers.has_scheduled:
                if not run.instances:
                    message = str(NoHandlerError(
                        f'Nothing handles cron "{cron}": the Worker has no scheduled handler and '
                        "no workflow lists it in schedules."))
                    self.log.error(message)
                    run.outcome, run.error = "exception", message
            else:
                try:
                    await self.run_scheduled_handler(cron, scheduled_ms)
                except Exception as exc:
                    run.outcome, run.error = "exception", f"{type(exc).__name__}: {exc}"
        return run

    @contextlib.contextmanager
    def _noting(self, run: CronRun) -> Iterator[None]:
        """Record ``run`` once it ends, as failed if it raises."""
        started = time.perf_counter()
        try:
            yield
        except Exception as exc:
            run.outcome, run.error = "exception", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            run.duration_ms = (time.perf_counter() - started) * 1000
            self.cron_runs.record(run)

    def _cron_failed(self, entry: CronEntry, exc: BaseException) -> None:
        if entry.label != "scheduled":  # the handler's own failures are reported by the worker
            self.log.error(f'Cron "{entry.expression.source}" could not start workflow '
                           f'"{entry.label}": {exc}')

    async def close(self, grace_s: float = 5.0) -> None:
        self.live.close()
        await self.crons.stop()
        await self.workspace.close(grace_s)
        output.set_sink(None)


def _schedules(project: ProjectConfig) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((w.name, w.schedules) for w in project.workflows)
