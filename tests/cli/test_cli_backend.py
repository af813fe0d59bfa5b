"""``connect``: the one place the CLI's ``WorkflowApi`` is chosen, and what it promises."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from clikit import Project

from pyflow_cli.cli.backend import connect
from pyflow_cli.engine.events import TriggerSource
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.engine.store import EngineRecord
from pyflow_cli.project.config import load_project
from pyflow_cli.server.session import DevSession, write_session
from pyflow_cli.service import WorkflowService


async def test_reading_a_project_without_state_writes_nothing(project: Project) -> None:
    async with connect(load_project(project.root)) as backend:
        listing = await backend.list_instances("demo", status=None, page=1, per_page=25,
                                               created_from_ms=None, created_to_ms=None,
                                               newest_first=True)
        assert listing.instances == [] and listing.total == 0
        assert (await backend.status_counts("demo"))["complete"] == 0
    assert not (project.root / ".pyflow").exists()


async def test_creating_writes_to_the_project_store(project: Project) -> None:
    async with connect(load_project(project.root), creates=True) as backend:
        assert await backend.create("demo", "c-1", {"a": 1}, TriggerSource.CLI) == "c-1"
        assert (await backend.resolve("demo", "latest")).id == "c-1"
        assert not await backend.engine_attached()
    assert project.db.exists()


async def test_persist_to_moves_the_store(project: Project, tmp_path: Path) -> None:
    elsewhere = tmp_path / "state-elsewhere"
    async with connect(load_project(project.root), elsewhere, creates=True) as backend:
        await backend.create("demo", None, None, TriggerSource.CLI)
    assert (elsewhere / "pyflow.sqlite").exists() and not project.db.exists()


async def test_an_engine_with_a_fresh_heartbeat_counts_as_attached(project: Project) -> None:
    async with connect(load_project(project.root), creates=True) as backend:
        assert isinstance(backend, WorkflowService)
        store = backend.store
        await store.register_engine(EngineRecord("e-1", os.getpid(), socket.gethostname(),
                                                 time.time() * 1000))
        assert await backend.engine_attached()
        await store.unregister_engine("e-1")
        await store.register_engine(EngineRecord("e-2", os.getpid(), socket.gethostname(),
                                                 time.time() * 1000 - 60_000))
        assert not await backend.engine_attached()


async def test_wait_runs_an_engine_here_unless_a_dev_session_runs_this_store(project: Project) -> None:
    config = load_project(project.root)
    async with connect(config, creates=True, engine_options=EngineOptions()) as backend:
        assert backend.runs_engine_here
    write_session(project.root, DevSession(pid=os.getpid(), port=8787, host="127.0.0.1",
                                           started_at="now", state_dir=str(project.db.parent)))
    async with connect(config, creates=True, engine_options=EngineOptions()) as backend:
        assert not backend.runs_engine_here
