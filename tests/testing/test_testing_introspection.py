"""The introspectors of SPEC §7: waiting helpers, outputs and errors with the reference's
messages, disposal, ``introspect_workflow`` on instances a Worker's ``fetch`` handler creates,
and the reference's camelCase names."""

from __future__ import annotations

from typing import Any

import pytest
from testingkit import EnvFactory

from pyflow_cli.compat.http import Request, Response
from pyflow_cli.engine.entrypoint import ExecutionContext, WorkerEntrypoint, WorkflowEntrypoint
from pyflow_cli.engine.errors import InstanceNotFoundError
from pyflow_cli.testing import (
    IntrospectionError,
    StepFailedError,
    introspect_workflow,
    introspect_workflow_instance,
    introspectWorkflow,
    introspectWorkflowInstance,
)


class Order(WorkflowEntrypoint):
    """Reserves stock, waits an hour for payment, ships; the payload says what goes wrong."""

    async def run(self, event: Any, step: Any) -> Any:
        async def reserve() -> Any:
            return {"reserved": event["payload"].get("items", 1)}

        async def ship() -> Any:
            if event["payload"].get("broken"):
                raise ValueError("no courier")
            return "shipped"

        reserved = await step.do("reserve", reserve)
        await step.wait_for_event("payment", "paid", timeout="1 hour")
        shipped = await step.do("ship", ship, config={"retries": {"limit": 0, "delay": 1}})
        return {**reserved, "shipped": shipped}


async def test_wait_for_step_result_returns_the_stored_result(make_env: EnvFactory) -> None:
    async with make_env({"order": Order}) as env:
        instance = introspect_workflow_instance(env.env().ORDER, "i")
        start_ms = env.clock.now_ms()
        await env.env().ORDER.create(id="i", params={"items": 3})
        assert await instance.wait_for_step_result("reserve") == {"reserved": 3}
        assert env.clock.now_ms() == start_ms  # returned before the hour-long wait passed
        assert (await env.service.get("order", "i")).status in ("running", "waiting")


async def test_wait_for_step_result_raises_when_the_step_fails(make_env: EnvFactory) -> None:
    async with make_env({"order": Order}) as env:
        instance = introspect_workflow_instance(env.env().ORDER, "i")
        await instance.modify(lambda m: m.mock_event(type="paid"))
        await env.env().ORDER.create(id="i", params={"broken": True})
        with pytest.raises(StepFailedError) as failing:
            await instance.wait_for_step_result({"name": "ship"})
        with pytest.raises(StepFailedError) as failed:  # already failed when asked
            await instance.wait_for_step_result({"name": "ship", "index": 1})
        with pytest.raises(IntrospectionError) as never:
            await instance.wait_for_step_result({"name": "ship", "index": 2})
    assert str(failing.value) == "Step failed: 'ship-1' raised ValueError: no courier"
    assert failing.value.error == {"name": "ValueError", "message": "no courier"}
    assert str(failed.value) == str(failing.value)
    assert str(never.value) == ("[WorkflowIntrospector] The Workflow instance i has reached status "
                                "'errored' without a result for step 'ship-2'.")


async def test_wait_for_status_moves_time_and_sees_passing_statuses(make_env: EnvFactory) -> None:
    async with make_env({"order": Order}) as env:
        instance = introspect_workflow_instance(env.env().ORDER, "i")
        await instance.wait_for_status("queued")  # at once, even before the instance exists
        await env.env().ORDER.create(id="i")
        await instance.wait_for_status("running")  # it ran on to its wait meanwhile
        await instance.wait_for_status("waiting")
        start_ms = env.clock.now_ms()
        await instance.wait_for_status("errored")  # the payment never comes: an hour passes
        assert env.clock.now_ms() - start_ms == 3_600_000
        with pytest.raises(IntrospectionError) as unreachable:
            await instance.wait_for_status("complete")
        with pytest.raises(ValueError, match="Unknown status 'done': use one of queued, running"):
            await instance.wait_for_status("done")
    assert str(unreachable.value) == (
        "[WorkflowIntrospector] The Workflow instance i has reached status 'errored'. This is a "
        "finite status that prevents it from ever reaching the expected status of 'complete'.")


class Forever(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        return await step.wait_for_event("go", "go", timeout="365 days")


async def test_waiting_for_what_can_never_happen_says_why(make_env: EnvFactory) -> None:
    async with make_env({"forever": Forever}) as env:
        instance = introspect_workflow_instance(env.env().FOREVER, "i")
        with pytest.raises(AssertionError) as never_created:
            await instance.wait_for_status("complete")
        await env.env().FOREVER.create(id="i")
        await instance.wait_for_status("waiting")
        await env.service.pause("forever", "i")
        with pytest.raises(AssertionError) as paused:
            await instance.wait_for_status("complete")
    assert str(never_created.value) == (
        "[WorkflowIntrospector] The Workflow instance i was never created: create it (for example "
        'env.MY_WORKFLOW.create(id="i")) before waiting for its status \'complete\'.')
    assert str(paused.value) == (
        "[WorkflowIntrospector] The Workflow instance i is 'paused' and nothing is due to happen: "
        "it cannot reach status 'complete' on its own (does it wait for an event that was never "
        "sent?).")


async def test_output_and_error_are_only_there_once_finished(make_env: EnvFactory) -> None:
    async with make_env({"order": Order}) as env:
        good = introspect_workflow_instance(env.env().ORDER, "good")
        bad = introspect_workflow_instance(env.env().ORDER, "bad")
        for instance in (good, bad):
            await instance.modify(lambda m: m.mock_event(type="paid"))
        await env.env().ORDER.create(id="good")
        await env.env().ORDER.create(id="bad", params={"broken": True})
        await good.wait_for_status("complete")
        await bad.wait_for_status("errored")
        assert await good.get_output() == {"reserved": 1, "shipped": "shipped"}
        error = await bad.get_error()
        assert error == {"name": "ValueError", "message": "no courier"} and error.name == "ValueError"
        with pytest.raises(IntrospectionError) as no_error:
            await good.get_error()
        with pytest.raises(IntrospectionError) as no_output:
            await bad.get_output()
    assert str(no_error.value) == ('Cannot retrieve error: Workflow instance is in status '
                                   '"complete" but must be "errored" to have error information '
                                   "available")
    assert str(no_output.value) == ('Cannot retrieve output: Workflow instance is in status '
                                    '"errored" but must be "complete" to have an output available')


async def test_an_instance_introspector_disposes_of_its_instance(make_env: EnvFactory) -> None:
    async with make_env({"order": Order}) as env:
        async with introspect_workflow_instance(env.env().ORDER, "i") as instance:
            await instance.modify(lambda m: m.mock_step_result("reserve", "mocked"))
            await env.env().ORDER.create(id="i")
            assert await instance.wait_for_step_result("reserve") == "mocked"
        with pytest.raises(InstanceNotFoundError):
            await env.service.get("order", "i")
        # The id is free again, and nothing the test changed sticks to it.
        again = await introspect_workflow_instance(env.env().ORDER, "i")
        await env.env().ORDER.create(id="i", params={"items": 2})
        assert await again.wait_for_step_result("reserve") == {"reserved": 2}
        await again.dispose()
        await again.dispose()  # twice is harmless


class Shop(WorkerEntrypoint):
    """A Worker whose ``fetch`` starts an order (the ids are generated)."""

    async def fetch(self, request: Any) -> Any:
        instance = await self.env.ORDER.create(params={"items": 5})
        return Response.json({"id": instance.id})


async def test_introspect_workflow_modifies_instances_a_worker_creates(make_env: EnvFactory,
                                                                       hibernation: bool) -> None:
    async with make_env({"order": Order}, hibernation) as env:
        before = await env.env().ORDER.create(id="before")
        async with introspect_workflow(env.env().ORDER) as workflow:
            async def paid(m: Any) -> None:
                await m.mock_event(type="paid", payload={"card": "visa"})
                await m.mock_step_result("ship", "drone")

            await workflow.modify_all(paid)
            shop = Shop(ExecutionContext(), env.env())
            ids = [(await (await shop.fetch(Request("http://shop/buy"))).json())["id"] for _ in range(2)]
            instances = await workflow.get()
            assert [i.id for i in instances] == ids and before.id not in ids
            for instance in instances:
                await instance.wait_for_status("complete")
                assert await instance.get_output() == {"reserved": 5, "shipped": "drone"}
            assert await workflow.get() == instances  # the same introspectors each time
        for created in ids:  # disposing of the workflow introspector wiped its instances
            with pytest.raises(InstanceNotFoundError):
                await env.service.get("order", created)
        assert (await env.service.get("order", "before")).status == "waiting"


async def test_one_workflow_introspector_at_a_time(make_env: EnvFactory) -> None:
    async with make_env({"order": Order}) as env:
        first = introspect_workflow(env.env().ORDER)
        with pytest.raises(IntrospectionError) as second:
            introspect_workflow(env.env().ORDER)
        with pytest.raises(IntrospectionError) as mistake:
            await first.modify_all(lambda m: (m.mock_step_result("ship", 1), m)[0])
            await first.modify_all(lambda m: m.mock_step_result("ship", 2))
        await first.dispose()
        async with introspect_workflow(env.env().ORDER):  # free again
            pass
    assert str(second.value) == ('Workflow "order" already has an active introspection session for '
                                 'binding "".')
    assert "Trying to mock step 'ship' multiple times!" in str(mistake.value)


async def test_introspection_needs_a_binding_of_a_test_env(make_env: EnvFactory) -> None:
    with pytest.raises(IntrospectionError, match=r"^\[WorkflowIntrospector\] Workflow binding and "
                                                 r"instance id are required\.$"):
        introspect_workflow_instance(None, "i")
    async with make_env({"order": Order}) as env:
        with pytest.raises(IntrospectionError, match=r"Workflow binding and instance id are required"):
            introspect_workflow_instance(env.env().ORDER, "")
    with pytest.raises(IntrospectionError, match=r"^\[WorkflowIntrospector\] Workflow binding is "
                                                 r"required\.$"):
        introspect_workflow(None)
    with pytest.raises(TypeError, match="needs a workflow binding of a test environment"):
        introspect_workflow(object())


async def test_a_test_ported_from_vitest_runs_with_the_reference_names(make_env: EnvFactory) -> None:
    async with make_env({"order": Order}) as env:
        instance = await introspectWorkflowInstance(env.env().ORDER, "123456")

        async def modify(m: Any) -> None:
            await m.disableSleeps()
            await m.disableRetryDelays()
            await m.mockStepResult({"name": "reserve"}, {"reserved": 9})
            await m.mockStepError({"name": "ship"}, RuntimeError("flaky"), 1)
            await m.forceStepTimeout({"name": "ship"}, 1)
            await m.mockEvent({"type": "paid", "payload": {}})
            await m.forceEventTimeout({"name": "other"})

        await instance.modify(modify)
        await env.env().ORDER.create({"id": "123456"})
        assert await instance.waitForStepResult({"name": "reserve"}) == {"reserved": 9}
        await instance.waitForStatus("errored")  # ship's retry limit is 0: the mocked error ends it
        assert await instance.getError() == {"name": "RuntimeError", "message": "flaky"}
        with pytest.raises(IntrospectionError):
            await instance.getOutput()
        await instance.dispose()

        workflow = await introspectWorkflow(env.env().ORDER)
        await workflow.modifyAll(lambda m: m.mockEvent({"type": "paid", "payload": None}))
        await env.env().ORDER.create()
        [created] = await workflow.get()
        await created.waitForStatus("complete")
        await workflow.dispose()
