"""One ``pyflow dev`` for the scenario tests of this folder: each scenario runs once in the Worker's
fetch handler and once in a workflow step (one instance runs them all)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from bindingkit import Dev, copy_app


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


class Scenario:
    """Runs a scenario from the fetch handler and reads its workflow result."""

    def __init__(self, dev: Dev, from_workflow: dict[str, Any]) -> None:
        self.dev = dev
        self.from_workflow = from_workflow

    def results(self, name: str) -> dict[str, Any]:
        """The scenario's result per path, with the path's prefix replaced by ``{p}``."""
        fetched = self.dev.get("/run", name=name, prefix="fetch")
        return {"fetch": _unprefixed(fetched, "fetch"),
                "workflow": _unprefixed(self.from_workflow[name], "flow")}

    def check(self, name: str, expected: Any) -> None:
        for path, result in self.results(name).items():
            assert result == expected, f"{name} from the {path}: {result!r}"


def _unprefixed(value: Any, prefix: str) -> Any:
    if isinstance(value, str):
        return re.sub(rf"\b{prefix}(?=[:/_])", "{p}", value)
    if isinstance(value, list):
        return [_unprefixed(v, prefix) for v in value]
    if isinstance(value, dict):
        return {_unprefixed(k, prefix): _unprefixed(v, prefix) for k, v in value.items()}
    return value


@pytest.fixture
def scenario(dev: Dev, from_workflow: dict[str, Any]) -> Scenario:
    return Scenario(dev, from_workflow)
