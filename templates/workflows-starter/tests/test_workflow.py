"""Tests of MyWorkflow. pyflow's pytest plugin (installed with pyflow, nothing to configure) gives
them ``workflow_env``, this project on a virtual clock — the one-minute sleep and the retry delays
take no wall time — and ``introspect``, to mock what the workflow's steps call and to wait for
what an instance does."""

import random

from pyflow_cli import Request

WORKFLOW = "workflows-starter"
FLAKY = "make a call to write that could maybe, just might, fail"


async def test_the_workflow_lists_the_files_then_writes(workflow_env, introspect, monkeypatch):
    monkeypatch.setattr(random, "random", lambda: 0.1)  # the flaky call succeeds
    env = workflow_env.env()
    instance = introspect(env.MY_WORKFLOW, "first")
    await env.MY_WORKFLOW.create(id="first", params={"email": "a@b.c"})

    listing = await instance.wait_for_step_result("my first step")
    assert listing["inputParams"] == {"email": "a@b.c"}
    await instance.wait_for_status("complete")
    output = await instance.get_output()
    assert output["files"] == 8
    assert output["write"] == {"written": 8, "attempt": 1}


async def test_a_failing_write_is_retried_until_it_succeeds(workflow_env, introspect, monkeypatch):
    monkeypatch.setattr(random, "random", lambda: 0.1)  # the real call succeeds...
    env = workflow_env.env()
    instance = introspect(env.MY_WORKFLOW, "flaky")
    # ...once the storage API has failed twice.
    await instance.modify(
        lambda m: m.mock_step_error(FLAKY, ConnectionError("storage is down"), times=2)
    )
    await env.MY_WORKFLOW.create(id="flaky")

    await instance.wait_for_status("complete")
    assert (await instance.get_output())["write"]["attempt"] == 3
    details = await workflow_env.service.describe(WORKFLOW, "flaky")
    attempts = details["steps"][-1]["attempts"]
    assert [a["success"] for a in attempts] == [False, False, True]
    assert [a.get("retryDelayMs") for a in attempts] == [5000, 10000, None]  # exponential


async def test_the_instance_errors_when_every_attempt_fails(workflow_env, introspect):
    env = workflow_env.env()
    instance = introspect(env.MY_WORKFLOW, "down")
    await instance.modify(lambda m: m.mock_step_error(FLAKY, ConnectionError("storage is down")))
    await env.MY_WORKFLOW.create(id="down")

    await instance.wait_for_status("errored")
    assert await instance.get_error() == {"name": "ConnectionError", "message": "storage is down"}
    details = await workflow_env.service.describe(WORKFLOW, "down")
    assert len(details["steps"][-1]["attempts"]) == 6  # the first try and 5 retries


async def test_the_sleep_can_be_skipped(workflow_env, introspect):
    env = workflow_env.env()
    instance = introspect(env.MY_WORKFLOW, "hurried")

    async def setup(m):
        await m.disable_sleeps()
        await m.mock_step_result(FLAKY, {"written": 0, "attempt": 1})

    await instance.modify(setup)
    start = workflow_env.clock.now_ms()
    await env.MY_WORKFLOW.create(id="hurried")
    await instance.wait_for_status("complete")
    assert workflow_env.clock.now_ms() == start  # not even virtual time passed


async def test_each_request_to_the_worker_starts_an_instance(workflow_env, introspect):
    workflow = introspect("MY_WORKFLOW")  # every instance created from now on
    await workflow.modify_all(lambda m: m.mock_step_result(FLAKY, {"written": 8, "attempt": 1}))

    response = await workflow_env.worker().fetch(Request("http://localhost:8787/"))
    [instance] = await workflow.get()
    assert (await response.json())["id"] == instance.id
    await instance.wait_for_status("complete")
