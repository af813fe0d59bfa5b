"""Runs MyWorkflow end to end on a virtual clock: the one-minute sleep and the retry delays
take no wall time."""

import asyncio
import random
from pathlib import Path

from pyflow_cli.testing import WorkflowTestEnv

PROJECT = Path(__file__).resolve().parents[1]
WORKFLOW = "workflows-starter"


def run_instance(params=None):
    """Create an instance, run it to the end, and return its details."""

    async def scenario():
        async with WorkflowTestEnv.from_project(PROJECT) as env:
            instance_id = await env.service.create(WORKFLOW, params=params)
            await env.run_until_done(WORKFLOW, instance_id)
            return await env.service.describe(WORKFLOW, instance_id)

    return asyncio.run(scenario())


def test_my_workflow_completes_and_lists_the_files(monkeypatch):
    monkeypatch.setattr(random, "random", lambda: 0.1)  # the flaky call succeeds
    details = run_instance({"email": "a@b.c"})
    assert details["status"] == "complete", details["error"]
    assert details["output"]["files"] == 8
    assert details["steps"][0]["output"]["inputParams"] == {"email": "a@b.c"}
    assert [s["name"] for s in details["steps"]] == [
        "my first step-1",
        "some other step-1",
        "wait on something-1",
        "make a call to write that could maybe, just might, fail-1",
    ]


def test_the_flaky_step_retries_with_exponential_backoff(monkeypatch):
    outcomes = iter([0.9, 0.9, 0.1])  # fail, fail, succeed
    monkeypatch.setattr(random, "random", lambda: next(outcomes))
    details = run_instance()
    attempts = details["steps"][-1]["attempts"]
    assert [a["success"] for a in attempts] == [False, False, True]
    assert [a.get("retryDelayMs") for a in attempts[:2]] == [5000, 10000]
    assert details["output"]["write"]["attempt"] == 3


def test_the_instance_errors_when_every_attempt_fails(monkeypatch):
    monkeypatch.setattr(random, "random", lambda: 0.9)
    details = run_instance()
    assert details["status"] == "errored"
    attempts = details["steps"][-1]["attempts"]
    assert len(attempts) == 6  # the first try and 5 retries
    assert [a.get("retryDelayMs") for a in attempts[:5]] == [5000, 10000, 20000, 40000, 80000]
