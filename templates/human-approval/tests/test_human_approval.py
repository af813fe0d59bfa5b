"""Runs HumanApprovalWorkflow on a virtual clock: the one-hour timeout of the wait takes no
wall time."""

import asyncio
from pathlib import Path

from pyflow_cli.testing import WorkflowTestEnv

PROJECT = Path(__file__).resolve().parents[1]
WORKFLOW = "human-approval"


def run_request(answer=None):
    """Start a request, send ``answer`` (an approval payload) once it waits, if given; return
    the finished instance's details."""

    async def scenario():
        async with WorkflowTestEnv.from_project(PROJECT) as env:
            instance_id = await env.service.create(WORKFLOW, params={"title": "Deploy v2"})
            await env.run_until_status(WORKFLOW, instance_id, "waiting")
            if answer is not None:
                await env.service.send_event(WORKFLOW, instance_id, "approval", answer)
            await env.run_until_done(WORKFLOW, instance_id)
            return await env.service.describe(WORKFLOW, instance_id)

    return asyncio.run(scenario())


def step_names(details):
    return [step["name"] for step in details["steps"]]


def test_an_approved_change_is_applied():
    details = run_request({"approved": True, "by": "grace@example.com"})
    assert details["status"] == "complete", details["error"]
    assert details["output"] == {
            "title": "Deploy v2", "decision": "approved", "by": "grace@example.com", "comment": None,
    }
    assert step_names(details) == [
        "submit for approval-1", "wait for approval-1", "record the decision-1", "apply the change-1",
    ]


def test_a_rejected_change_is_not_applied():
    details = run_request({"approved": False, "comment": "not on a Friday"})
    assert details["status"] == "complete", details["error"]
    assert details["output"]["decision"] == "rejected"
    assert details["output"]["comment"] == "not on a Friday"
    assert "apply the change-1" not in step_names(details)


def test_a_request_nobody_answers_expires_after_an_hour():
    details = run_request()
    assert details["status"] == "complete", details["error"]
    assert details["output"]["decision"] == "expired"
    assert "apply the change-1" not in step_names(details)
    wait = details["steps"][1]
    assert wait["error"] == {"name": "WorkflowTimeoutError", "message": "Execution timed out after 3600000ms"}
