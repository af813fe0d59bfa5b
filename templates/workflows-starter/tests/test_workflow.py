"""Runs MyWorkflow end to end on a virtual clock: the one-minute sleep and the retry delays
take no wall time."""

from pathlib import Path

import pytest

from pyflow_cli.testing import WorkflowTestEnv

PROJECT = Path(__file__).resolve().parents[1]


@pytest.mark.asyncio
async def test_my_workflow_completes_and_lists_the_files():
    async with WorkflowTestEnv.from_project(PROJECT) as env:
        instance_id = await env.service.create("workflows-starter", params={"email": "a@b.c"})
        record = await env.run_until_done("workflows-starter", instance_id)
        details = await env.service.describe("workflows-starter", instance_id)
        assert record.status == "complete", details["error"]
        assert details["output"]["files"] == 8
        assert [s["name"] for s in details["steps"]] == [
            "my first step-1",
            "some other step-1",
            "wait on something-1",
            "make a call to write that could maybe, just might, fail-1",
        ]


@pytest.mark.asyncio
async def test_the_flaky_step_retries_with_exponential_backoff(monkeypatch):
    import random

    outcomes = iter([0.9, 0.9, 0.1])  # fail, fail, succeed
    monkeypatch.setattr(random, "random", lambda: next(outcomes))
    async with WorkflowTestEnv.from_project(PROJECT) as env:
        instance_id = await env.service.create("workflows-starter")
        await env.run_until_done("workflows-starter", instance_id)
        details = await env.service.describe("workflows-starter", instance_id)
        attempts = details["steps"][-1]["attempts"]
        assert [a["success"] for a in attempts] == [False, False, True]
        assert [a.get("retryDelayMs") for a in attempts[:2]] == [5000, 10000]
