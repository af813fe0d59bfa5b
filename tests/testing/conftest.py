"""Fixtures for the testing kit's tests: a WorkflowTestEnv on a real SQLite store in tmp_path,
with a binding per workflow (its name in capitals: ``"charge"`` -> ``env.env().CHARGE``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from testingkit import EnvFactory

from pyflow_cli.bindings.workflow import WorkflowBinding
from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.service import WorkflowService
from pyflow_cli.testing import WorkflowTestEnv


@pytest.fixture(params=["resident", "hibernating"])
def hibernation(request: pytest.FixtureRequest) -> bool:
    """Run a test twice: instances kept in memory, and hibernated (replayed) at every wait."""
    return bool(request.param == "hibernating")


@pytest.fixture
def make_env(tmp_path: Path) -> EnvFactory:
    @asynccontextmanager
    async def factory(workflows: Mapping[str, type[WorkflowEntrypoint]],
                      force_hibernate: bool = False, **kwargs: Any) -> AsyncIterator[WorkflowTestEnv]:
        def bindings(service: WorkflowService) -> dict[str, Any]:
            return {name.upper(): WorkflowBinding(service, name) for name in workflows}

        options = EngineOptions(force_hibernate=force_hibernate, poll_interval_s=0.05)
        async with WorkflowTestEnv(workflows, state_dir=tmp_path / "state", options=options,
                                   env=bindings, **kwargs) as env:
            yield env

    return factory

