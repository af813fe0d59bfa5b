"""Helpers of the testing kit's tests (fixtures are in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyflow_cli.testing import WorkflowTestEnv

EnvFactory = Callable[..., Any]
DAY_MS = 24 * 3600 * 1000


async def attempts(env: WorkflowTestEnv, workflow: str, instance_id: str, step: str) -> list[Any]:
    """``(success, error)`` of each attempt of ``step`` (its display name, ``name-n``)."""
    details = await env.service.describe(workflow, instance_id)
    [found] = [s for s in details["steps"] if s["name"] == step]
    return [(a["success"], a.get("error")) for a in found["attempts"]]
