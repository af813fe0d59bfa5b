"""One ``pyflow dev`` for the scenario tests of this folder: each scenario runs once in the Worker's
fetch handler and once in a workflow step (one instance runs them all)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bindingkit import Dev, Scenario, copy_app


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    process = Dev(copy_app(tmp_path_factory.mktemp("bindings") / "app"))
    yield process
    process.stop()


@pytest.fixture(scope="session")
def from_workflow(dev: Dev) -> dict[str, Any]:
    """Every scenario's result from inside a workflow step (prefix ``flow``)."""
    details = dev.run_workflow("scenarios", {"names": dev.get("/names"), "prefix": "flow"}, timeout=60)
    assert details["status"] == "complete", details.get("error")
    output: dict[str, Any] = details["output"]
    return output


@pytest.fixture
def scenario(dev: Dev, from_workflow: dict[str, Any]) -> Scenario:
    return Scenario(dev, from_workflow)
