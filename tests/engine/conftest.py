"""Fixtures for engine tests: a real store (SQLite in tmp_path, unless a module says otherwise) and
a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from pyflow_cli.engine.entrypoint import WorkflowDefinition, WorkflowEntrypoint
from pyflow_cli.engine.events import LogEvent
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.testing import WorkflowTestEnv

EnvFactory = Callable[..., Any]


@pytest.fixture(params=["resident", "hibernating"])
def hibernation(request: pytest.FixtureRequest) -> bool:
    """Run a test twice: instances kept in memory, and hibernated (replayed) at every wait."""
    return bool(request.param == "hibernating")


@pytest.fixture
def engine_store() -> str | None:
    """The store URL the engine tests run on: None, a SQLite file in tmp_path (a module may
    override this fixture, as ``test_engine_postgres.py`` does)."""
    return None


@pytest.fixture
def make_env(tmp_path: Path, engine_store: str | None) -> EnvFactory:
    @asynccontextmanager
    async def factory(workflows: Mapping[str, type[WorkflowEntrypoint] | WorkflowDefinition],
                      force_hibernate: bool = False, **kwargs: Any) -> AsyncIterator[WorkflowTestEnv]:
        options = EngineOptions(force_hibernate=force_hibernate, poll_interval_s=0.05)
        async with WorkflowTestEnv(workflows, state_dir=tmp_path / "state", options=options,
                                   store=engine_store, **kwargs) as env:
            yield env

    return factory


def names(log: list[LogEvent]) -> list[str]:
    return [row.event.name for row in log]
