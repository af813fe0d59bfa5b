"""Wires a project to a running pyflow: store, workflow definitions, service and (optionally)
an engine — the one place the CLI, ``pyflow dev`` and tests assemble these parts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from pyflow_cli.api import WorkflowInfo
from pyflow_cli.bindings import WorkflowBinding
from pyflow_cli.bindings.local import LocalBindings
from pyflow_cli.engine.admission import PlatformRules
from pyflow_cli.engine.clock import Clock, SystemClock
from pyflow_cli.engine.entrypoint import Env, WorkflowDefinition, WorkflowEntrypoint
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.engine.store import Store
from pyflow_cli.engine.worker import Engine
from pyflow_cli.project.config import ProjectConfig, implicit_step_dependencies
from pyflow_cli.project.imports import source_dirs
from pyflow_cli.project.loader import LoadedModule, load_user_module, resolve_class
from pyflow_cli.project.scripts import check_served, is_external
from pyflow_cli.project.unemulated import stand_ins
from pyflow_cli.service import WorkflowService
from pyflow_cli.storage.factory import open_store, store_clock
from pyflow_cli.storage.url import DB_NAME, SqliteLocation, StoreLocation

PRESERVE_NON_RETRYABLE_FLAG = "workflows_preserve_non_retryable_error_message"


def state_dir(project: ProjectConfig, persist_to: Path | None = None) -> Path:
    """Where the project's local state lives (the SQLite store by default, KV, R2 and D1 data):
    ``--persist-to DIR``, else ``<project>/.pyflow/state``."""
    return persist_to.resolve() if persist_to is not None else project.root / ".pyflow" / "state"


def store_location(project: ProjectConfig, persist_to: Path | None = None,
                   store: StoreLocation | None = None) -> StoreLocation:
    """Where instances are stored: ``store`` (``--store``/``PYFLOW_STORE``), else the SQLite file
    in the state directory."""
    return store or SqliteLocation(state_dir(project, persist_to) / DB_NAME)


def workflow_infos(project: ProjectConfig, version_id: str | None = None) -> dict[str, WorkflowInfo]:
    """The project's workflows; one bound from another Worker (``script_name``) has no version
    here (its code is that Worker's) and is not served (unless ``served_infos`` finds it)."""
    return {w.name: WorkflowInfo(w.name, w.class_name, w.script_name or project.name, w.binding,
                                 None if is_external(project, w) else version_id,
                                 served=not is_external(project, w))
            for w in project.workflows}


@dataclass(frozen=True)
class Companion:
    """Another project served by the same ``pyflow dev`` (``project/scripts.py``): its workflows
    run in the engine, with its own ``self.env``."""

    project: ProjectConfig
    loaded: LoadedModule


def served_infos(project: ProjectConfig, version_id: str | None,
                 companions: Sequence[Companion] = ()) -> dict[str, WorkflowInfo]:
    """The workflows of every project served: as the project defining each describes it, then
    the bindings to Workers not served (listed, as wrangler lists them; creating one fails)."""
    every = [(project, version_id), *((c.project, c.loaded.version_id) for c in companions)]
    infos: dict[str, WorkflowInfo] = {}
    for source, version in every:
        infos.update({w.name: info for w, info in zip(
            source.workflows, workflow_infos(source, version).values(), strict=True)
            if not is_external(source, w)})
    for source, version in every:
        for name, info in workflow_infos(source, version).items():
            infos.setdefault(name, info)
    return infos


def definitions(project: ProjectConfig, loaded: LoadedModule,
                env: Callable[[], Env] | None = None) -> dict[str, WorkflowDefinition]:
    """Resolve every ``[[workflows]]`` class the project defines in its loaded entry module
    (not those bound from other Workers); ``env``: their ``self.env``, if not the engine's."""
    implicit = implicit_step_dependencies(project.compatibility_date, project.compatibility_flags)
    preserve = PRESERVE_NON_RETRYABLE_FLAG in project.compatibility_flags
    roots = tuple(str(d) for d in source_dirs(project.root, project.main))
    result: dict[str, WorkflowDefinition] = {}
    for w in project.workflows:
        if is_external(project, w):
            continue
        cls = resolve_class(loaded, w.class_name, WorkflowEntrypoint, project.config_path.name,
                            workflow=w.name)
        result[w.name] = WorkflowDefinition(
            name=w.name, cls=cls, binding=w.binding, class_name=w.class_name,
            script_name=w.script_name or project.name, step_limit=w.step_limit,
            implicit_dependencies=implicit, preserve_non_retryable_message=preserve,
            version_id=loaded.version_id, source_roots=roots, env=env)
    return result


def served_definitions(project: ProjectConfig, loaded: LoadedModule,
                       companions: Sequence[Companion],
                       env_of: Callable[[ProjectConfig], Env]) -> dict[str, WorkflowDefinition]:
    """The workflows of every project served, each companion's with its own ``self.env``."""
    check_served([project, *(c.project for c in companions)])
    result = definitions(project, loaded)
    for companion in companions:
        result.update(definitions(companion.project, companion.loaded,
                                  functools.partial(env_of, companion.project)))
    return result


def project_env(project: ProjectConfig, service: WorkflowService,
                bindings: LocalBindings | None = None) -> Env:
    """``self.env`` of a project's code: its ``[vars]``, its secrets, a binding per workflow and
    (given ``bindings``) its KV namespaces, R2 buckets and D1 databases; stand-ins for the
    bindings pyflow does not emulate."""
    values: dict[str, Any] = {**stand_ins(project.unemulated), **project.vars,
                              **project.secrets}
    for workflow in project.workflows:
        values[workflow.binding] = WorkflowBinding(service, workflow.name)
    if bindings is not None:
        values.update(bindings.env_values(project))
    return Env(values)


@dataclass
class Workspace:
    """An open store with its service, and an engine when asked for one."""

    project: ProjectConfig
    store: Store
    service: WorkflowService
    engine: Engine | None = None
    loaded: LoadedModule | None = None
    clock: Clock = field(default_factory=SystemClock)
    bindings: LocalBindings | None = None
    companions: tuple[Companion, ...] = ()

    def env(self) -> Env:
        """``self.env`` for user code: workflow and storage bindings, ``[vars]`` and secrets."""
        return project_env(self.project, self.service, self.bindings)

    def env_of(self, project: ProjectConfig) -> Env:
        """``self.env`` of a companion project's code (its own vars, secrets and bindings)."""
        return project_env(project, self.service, self.bindings)

    async def __aenter__(self) -> Workspace:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self, grace_s: float = 0.0) -> None:
        if self.engine is not None:
            await self.engine.stop(grace_s)
        if self.bindings is not None:
            self.bindings.close()
        await self.store.close()


async def open_workspace(project: ProjectConfig, *, persist_to: Path | None = None,
                         location: StoreLocation | None = None, with_engine: bool = False,
                         options: EngineOptions | None = None, clock: Clock | None = None,
                         loaded: LoadedModule | None = None,
                         observe: Callable[[Store], Store] | None = None,
                         on_engine_failure: Callable[[str], None] | None = None,
                         rules: PlatformRules | None = None,
                         companions: Sequence[Companion] = (),
                         kind: str | None = None,
                         only: Sequence[str] | None = None,
                         engine_id: str | None = None) -> Workspace:
    """Open the project's store (at ``location``, else the SQLite file of its state directory); with
    ``with_engine``, load the user's code (or use ``loaded``) and start an engine. ``observe``
    wraps the opened store (``pyflow dev`` reports what is written). The engine goes by the
    store's clock (the database's, on PostgreSQL) unless ``clock`` is given. ``on_engine_failure``
    is told why, if the engine stops on its own (else that is logged). ``rules`` are the
    platform's limits (``options.rules`` when an engine runs). ``companions`` are the other
    projects served with this one (``pyflow dev -c a -c b``): their workflows run in the engine
    too, and are stored in this project's store. The engine registers as a ``kind`` of process
    (``dev``, ``serve``, ``worker``, ``cli``) and runs the workflows named in ``only`` (all if
    None)."""
    # User code is loaded and checked before the store opens: a broken project leaves nothing open.
    if with_engine and loaded is None:
        loaded = load_user_module(project)

    def env_of(companion: ProjectConfig) -> Env:  # once the workspace below exists
        return workspace.env_of(companion)

    defs = (served_definitions(project, loaded, companions, env_of)
            if with_engine and loaded is not None else None)
    if defs is not None and only is not None:
        defs = {name: d for name, d in defs.items() if name in only}
    # An engine must not run on a damaged store: check it first (bounded in time).
    opened = await open_store(store_location(project, persist_to, location), verify=with_engine)
    clock = clock or store_clock(opened)
    store = observe(opened) if observe is not None else opened
    bindings = LocalBindings(state_dir(project, persist_to), clock.now_ms)

    def env() -> Env:  # called for each lifetime, once the workspace below exists
        return workspace.env()

    engine = None
    if defs is not None:
        engine = Engine(store, defs, clock, options, env_factory=env,
                        version=loaded.version_id if loaded is not None else None,
                        on_failure=on_engine_failure, kind=kind, engine_id=engine_id)
    infos = served_infos(project, loaded.version_id if loaded else None, companions)
    service = WorkflowService(store, infos, clock, engine, config_name=project.config_path.name,
                              rules=rules)
    workspace = Workspace(project, store, service, engine, loaded, clock, bindings,
                          tuple(companions))
    if engine is not None:
        await engine.start()
    return workspace
