"""Sleeps, sleep_until, event waits (buffering, FIFO, at-most-once, timeout) and the waiting status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import EnvFactory, names

from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.engine.errors import WorkflowTimeoutError
from pyflow_cli.engine.events import EventType


async def test_long_sleep_takes_no_wall_time_and_is_logged(make_env: EnvFactory, hibernation: bool) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.sleep("nap", "3 hours")
            return "rested"

    async with make_env({"wf": Flow}, force_hibernate=hibernation) as env:
        instance_id = await env.service.create("wf")
        start = env.clock.now_ms()
        record = await env.run_until_done("wf", instance_id)
        assert record.output_json == '"rested"'
        assert env.clock.now_ms() - start == 3 * 3600 * 1000
        log = await env.store.read_log(record.iid)
        sleep_start = next(r for r in log if r.event is EventType.SLEEP_START)
        assert sleep_start.metadata == {"durationMs": 10_800_000}
        assert "SLEEP_COMPLETE" in names(log)


async def test_instance_reports_waiting_while_it_only_sleeps(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.sleep("nap", "1 day")

    async with make_env({"wf": Flow}) as env:
        instance_id = await env.service.create("wf")
        record = await env.run_until_status("wf", instance_id, "waiting")
        log = await env.store.read_log(record.iid)
        assert names(log)[:3] == ["WORKFLOW_QUEUED", "WORKFLOW_START", "WORKFLOW_RUNNING"]
        assert "WORKFLOW_WAITING" in names(log)
        assert (await env.service.status("wf", instance_id))["status"] == "waiting"


async def test_sleep_until_in_the_past_is_an_error(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.sleep_until("then", datetime(2000, 1, 1, tzinfo=UTC))

    async with make_env({"wf": Flow}) as env:
        instance_id = await env.service.create("wf")
        await env.run_until_done("wf", instance_id)
        details = await env.service.describe("wf", instance_id)
        assert details["error"] == {"message": "You can't sleep until a time in the past, time-traveler",
                                    "name": "ValueError"}


async def test_sleep_until_survives_replay_after_its_target_passed(make_env: EnvFactory,
                                                                  hibernation: bool) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            target = event.timestamp + timedelta(hours=2)
            await step.sleep_until("until", target)
            await step.sleep_until("iso", (target + timedelta(hours=1)).isoformat())
            await step.sleep("after", "1 hour")
            return "done"

    async with make_env({"wf": Flow}, force_hibernate=hibernation) as env:
        instance_id = await env.service.create("wf")
        record = await env.run_until_done("wf", instance_id)
        assert record.status == "complete"


async def test_event_sent_before_the_wait_is_buffered(make_env: EnvFactory, hibernation: bool) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.sleep("first", "1 hour")
            received = await step.wait_for_event("approval", "approved", timeout="1 day")
            assert isinstance(received.timestamp, datetime)
            return {"payload": received.payload, "type": received.type}

    async with make_env({"wf": Flow}, force_hibernate=hibernation) as env:
        instance_id = await env.service.create("wf")
        await env.run_until_status("wf", instance_id, "waiting")
        await env.service.send_event("wf", instance_id, "approved", {"by": "ann"})
        record = await env.run_until_done("wf", instance_id)
        details = await env.service.describe("wf", instance_id)
        assert details["output"] == {"payload": {"by": "ann"}, "type": "approved"}
        wait = details["steps"][-1]
        assert wait["type"] == "waitForEvent" and wait["output"]["payload"] == {"by": "ann"}
        status = await env.service.status("wf", instance_id)
        assert status["__LOCAL_DEV_STEP_OUTPUTS"] == [{"by": "ann"}]
        assert record.status == "complete"


async def test_events_are_fifo_per_type_case_sensitive_and_consumed_once(make_env: EnvFactory,
                                                                        hibernation: bool) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.sleep("let them arrive", "1 minute")
            a = await step.wait_for_event("one", "x")
            await step.sleep("in between", "1 minute")
            b = await step.wait_for_event("two", "x")
            try:
                await step.wait_for_event("three", "x", timeout="5 minutes")
            except WorkflowTimeoutError as error:
                return [a.payload, b.payload, str(error)]

    async with make_env({"wf": Flow}, force_hibernate=hibernation) as env:
        instance_id = await env.service.create("wf")
        for payload, kind in ((1, "x"), (2, "x"), (3, "X")):
            await env.service.send_event("wf", instance_id, kind, payload)
        await env.run_until_done("wf", instance_id)
        details = await env.service.describe("wf", instance_id)
        assert details["output"] == [1, 2, "Execution timed out after 300000ms"]
        assert details["steps"][-1]["error"]["name"] == "WorkflowTimeoutError"


async def test_wait_timeout_fails_the_instance_when_uncaught(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.wait_for_event("approval", "approved", timeout="2 seconds")

    async with make_env({"wf": Flow}) as env:
        instance_id = await env.service.create("wf")
        await env.run_until_done("wf", instance_id)
        details = await env.service.describe("wf", instance_id)
        assert details["error"] == {"message": "Execution timed out after 2000ms",
                                    "name": "WorkflowTimeoutError"}
        assert details["steps"][0]["output"] is None


async def test_default_event_timeout_is_24_hours(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.wait_for_event("approval", "approved")

    async with make_env({"wf": Flow}) as env:
        instance_id = await env.service.create("wf")
        start = env.clock.now_ms()
        await env.run_until_done("wf", instance_id)
        assert env.clock.now_ms() - start == 24 * 3600 * 1000


async def test_a_consumed_event_is_not_delivered_again_after_pause_and_resume(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            first = await step.wait_for_event("first", "x")
            await step.sleep("nap", "1 hour")
            try:
                await step.wait_for_event("second", "x", timeout="1 minute")
            except WorkflowTimeoutError:
                return [first.payload, "no second event"]

    async with make_env({"wf": Flow}) as env:
        instance_id = await env.service.create("wf")
        await env.service.send_event("wf", instance_id, "x", "only")
        await env.run_until_status("wf", instance_id, "waiting")
        await env.service.pause("wf", instance_id)
        await env.service.resume("wf", instance_id)
        await env.run_until_done("wf", instance_id)
        assert (await env.service.describe("wf", instance_id))["output"] == ["only", "no second event"]
