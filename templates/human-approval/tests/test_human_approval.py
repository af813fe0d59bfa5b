"""Tests of HumanApprovalWorkflow. pyflow's pytest plugin (installed with pyflow, nothing to
configure) runs this project on a virtual clock (``workflow_env``): the hour-long wait takes no
wall time. ``introspect`` stands in for the approver: a mocked event, or a wait that times out."""

import json

from pyflow_cli import Request

WORKFLOW = "human-approval"


async def start_request(workflow_env, introspect, instance_id, modify=None):
    """An introspected request ("Deploy v2"), modified by ``modify`` before it starts."""
    env = workflow_env.env()
    instance = introspect(env.APPROVAL_WORKFLOW, instance_id)
    if modify is not None:
        await instance.modify(modify)
    await env.APPROVAL_WORKFLOW.create(id=instance_id, params={"title": "Deploy v2"})
    return instance


async def step_names(workflow_env, instance_id):
    details = await workflow_env.service.describe(WORKFLOW, instance_id)
    return [step["name"] for step in details["steps"]]


async def test_an_approved_change_is_applied(workflow_env, introspect):
    approval = {"approved": True, "by": "grace@example.com"}
    instance = await start_request(
        workflow_env, introspect, "approved", lambda m: m.mock_event(type="approval", payload=approval)
    )
    await instance.wait_for_status("complete")
    assert await instance.get_output() == {
        "title": "Deploy v2", "decision": "approved", "by": "grace@example.com", "comment": None,
    }
    assert await step_names(workflow_env, "approved") == [
        "submit for approval-1", "wait for approval-1", "record the decision-1", "apply the change-1",
    ]


async def test_a_rejected_change_is_not_applied(workflow_env, introspect):
    rejection = {"approved": False, "comment": "not on a Friday"}
    instance = await start_request(
        workflow_env, introspect, "rejected", lambda m: m.mock_event(type="approval", payload=rejection)
    )
    await instance.wait_for_status("complete")
    output = await instance.get_output()
    assert (output["decision"], output["comment"]) == ("rejected", "not on a Friday")
    assert "apply the change-1" not in await step_names(workflow_env, "rejected")


async def test_a_request_nobody_answers_expires_after_an_hour(workflow_env, introspect):
    instance = await start_request(workflow_env, introspect, "unanswered")
    start = workflow_env.clock.now_ms()
    await instance.wait_for_status("complete")  # the clock skips the hour
    assert workflow_env.clock.now_ms() - start == 3_600_000
    assert (await instance.get_output())["decision"] == "expired"
    details = await workflow_env.service.describe(WORKFLOW, "unanswered")
    assert details["steps"][1]["error"] == {
        "name": "WorkflowTimeoutError", "message": "Execution timed out after 3600000ms",
    }


async def test_the_wait_can_be_made_to_time_out_at_once(workflow_env, introspect):
    instance = await start_request(
        workflow_env, introspect, "hurried", lambda m: m.force_event_timeout("wait for approval")
    )
    start = workflow_env.clock.now_ms()
    await instance.wait_for_status("complete")
    assert workflow_env.clock.now_ms() == start
    assert (await instance.get_output())["decision"] == "expired"


async def test_the_worker_routes_start_and_approve_a_request(workflow_env, introspect):
    requests = introspect("APPROVAL_WORKFLOW")  # every instance created from now on
    worker = workflow_env.worker()
    body = json.dumps({"title": "Rotate keys"})
    started = await worker.fetch(Request("http://localhost:8787/requests", method="POST", body=body))
    [instance] = await requests.get()
    assert (await started.json())["id"] == instance.id
    await instance.wait_for_status("waiting")

    url = f"http://localhost:8787/requests/{instance.id}/approve"
    await worker.fetch(Request(url, method="POST", body='{"by": "ada@example.com"}'))
    await instance.wait_for_status("complete")
    assert (await instance.get_output())["decision"] == "approved"
