"""Fixtures for the dev server tests: a project on disk, an in-process runtime and its ASGI app."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serverkit import API, Output, write_project

from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.project.config import load_project
from pyflow_cli.server.app import create_app
from pyflow_cli.server.logs import DevLog
from pyflow_cli.server.runtime import DevRuntime


@pytest.fixture(autouse=True)
def restore_imports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Loading a project edits sys.path and sys.modules; undo that after each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    yield
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).is_relative_to(tmp_path.resolve()):
            del sys.modules[name]


@pytest.fixture
def project_root(tmp_path: Path) -> Path:
    return write_project(tmp_path / "app")


@pytest.fixture
def output() -> Output:
    return Output()


@pytest.fixture
async def runtime(project_root: Path, output: Output) -> AsyncIterator[DevRuntime]:
    project = load_project(project_root)
    log = DevLog("debug", out=output.out, err=output.err)
    opened = await DevRuntime.open(project, persist_to=project_root / "state",
                                   options=EngineOptions(poll_interval_s=0.05), log=log)
    yield opened
    await opened.close(0)


@pytest.fixture
async def http(runtime: DevRuntime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8787") as client:
        yield client


async def settle(http: httpx.AsyncClient, workflow: str, instance_id: str,
                 statuses: tuple[str, ...] = ("complete", "errored", "terminated"),
                 timeout: float = 10.0) -> dict[str, Any]:
    """Poll an instance's details until its status is one of ``statuses``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await http.get(f"{API}/workflows/{workflow}/instances/{instance_id}")
        result: dict[str, Any] = response.json()["result"]
        if result and result["status"] in statuses:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"{instance_id} still {result and result['status']}")
        await asyncio.sleep(0.05)


@pytest.fixture
def wait_status() -> Any:
    return settle
