"""Instance control: pause, resume, terminate, restart (also from a step), delete."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import EnvFactory, names

from pyflow_cli.engine.control import RestartFrom
from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.engine.errors import WorkflowError
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.status import InstanceStatus

calls: list[str] = []


class Sleeper(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        await step.do("before", lambda: calls.append("before") or 1)
        await step.sleep("nap", "3 seconds")
        return await step.do("after", lambda: calls.append("after") or 2)


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()


async def test_pause_during_sleep_pauses_at_once_and_shifts_timers(make_env: EnvFactory,
                                                                   hibernation: bool) -> None:
    async with make_env({"wf": Sleeper}, force_hibernate=hibernation) as env:
        instance_id = await env.service.create("wf")
        await env.run_until_status("wf", instance_id, "waiting")
        env.clock.advance(1000)
        assert await env.service.pause("wf", instance_id) is InstanceStatus.PAUSED
        paused_at = env.clock.now_ms()
        env.clock.advance(60_000)  # paused time does not count
        await env.settle()
        assert (await env.service.get("wf", instance_id)).status is InstanceStatus.PAUSED
        await env.service.resume("wf", instance_id)
        record = await env.run_until_done("wf", instance_id)
        log = await env.store.read_log(record.iid)
        assert names(log).count("WORKFLOW_PAUSED") == 1
        sleep_end = next(r for r in log if r.event is EventType.SLEEP_COMPLETE).timestamp_ms
        assert sleep_end == paused_at + 60_000 + 2000  # the 2 s that were left
        assert calls == ["before", "after"]


async def test_pause_while_a_step_runs_waits_for_it(make_env: EnvFactory) -> None:
    release = asyncio.Event()

    class Slow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            async def slow() -> str:
                await release.wait()
                return "slow done"
            first = await step.do("slow", slow)
            return [first, await step.do("next", lambda: "next")]

    async with make_env({"wf": Slow}) as env:
        instance_id = await env.service.create("wf")
        await env.settle()
        assert await env.service.pause("wf", instance_id) is InstanceStatus.WAITING_FOR_PAUSE
        release.set()
        await env.run_until_status("wf", instance_id, "paused")
        details = await env.service.describe("wf", instance_id)
        assert [s["name"] for s in details["steps"]] == ["slow-1"]  # the next step did not start
        await env.service.resume("wf", instance_id)
        await env.run_until_done("wf", instance_id)
        assert (await env.service.describe("wf", instance_id))["output"] == ["slow done", "next"]


async def test_resume_before_the_pause_lands_cancels_it(make_env: EnvFactory) -> None:
    release = asyncio.Event()

    class Slow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            async def slow() -> int:
                await release.wait()
                return 1
            return await step.do("slow", slow)

    async with make_env({"wf": Slow}) as env:
        instance_id = await env.service.create("wf")
        await env.settle()
        await env.service.pause("wf", instance_id)
        assert await env.service.resume("wf", instance_id) is InstanceStatus.RUNNING
        release.set()
        record = await env.run_until_done("wf", instance_id)
        assert record.status is InstanceStatus.COMPLETE


async def test_pause_of_queued_or_finished_instance_is_a_silent_no_op(make_env: EnvFactory) -> None:
    async with make_env({"wf": Sleeper}) as env:
        await env.engine.stop()  # nothing runs: the instance stays queued
        instance_id = await env.service.create("wf")
        assert await env.service.pause("wf", instance_id) is InstanceStatus.QUEUED
        record = await env.service.get("wf", instance_id)
        assert record.status is InstanceStatus.QUEUED


async def test_terminate_stops_a_running_instance_and_refuses_a_finished_one(make_env: EnvFactory) -> None:
    async with make_env({"wf": Sleeper}) as env:
        instance_id = await env.service.create("wf")
        await env.run_until_status("wf", instance_id, "waiting")
        assert await env.service.terminate("wf", instance_id) is InstanceStatus.TERMINATED
        env.clock.advance(10_000)
        await env.settle()
        details = await env.service.describe("wf", instance_id)
        assert details["status"] == "terminated"
        assert details["steps"][-1] == details["steps"][-1] | {"type": "sleep", "end": None,
                                                               "finished": False}
        assert calls == ["before"]
        with pytest.raises(WorkflowError, match=r"\(instance.cannot_terminate\) Cannot terminate instance "
                                                "since its on a finite state"):
            await env.service.terminate("wf", instance_id)


async def test_full_restart_reruns_every_step(make_env: EnvFactory) -> None:
    async with make_env({"wf": Sleeper}) as env:
        instance_id = await env.service.create("wf")
        await env.run_until_done("wf", instance_id)
        await env.service.restart("wf", instance_id)
        record = await env.run_until_done("wf", instance_id)
        assert record.status is InstanceStatus.COMPLETE
        assert calls == ["before", "after", "before", "after"]
        log = await env.store.read_log(record.iid)
        assert names(log).count("WORKFLOW_QUEUED") == 1
        assert names(log).count("WORKFLOW_SUCCESS") == 1


async def test_restart_from_a_step_replays_earlier_steps_from_cache(make_env: EnvFactory) -> None:
    async with make_env({"wf": Sleeper}) as env:
        instance_id = await env.service.create("wf")
        await env.run_until_done("wf", instance_id)
        await env.service.restart("wf", instance_id, RestartFrom("nap", 1, "sleep"))
        record = await env.run_until_done("wf", instance_id)
        assert calls == ["before", "after", "after"]
        log = await env.store.read_log(record.iid)
        assert names(log).count("WORKFLOW_SUCCESS") == 1
        assert names(log).count("SLEEP_START") == 1
        with pytest.raises(WorkflowError, match=r'\(instance.cannot_restart\) Step "nope" not found'):
            await env.service.restart("wf", instance_id, RestartFrom("nope"))


async def test_restart_of_a_terminated_instance_runs_again(make_env: EnvFactory) -> None:
    async with make_env({"wf": Sleeper}) as env:
        instance_id = await env.service.create("wf")
        await env.run_until_status("wf", instance_id, "waiting")
        await env.service.terminate("wf", instance_id)
        await env.service.restart("wf", instance_id)
        record = await env.run_until_done("wf", instance_id)
        assert record.status is InstanceStatus.COMPLETE


async def test_delete_removes_the_instance_and_stops_it(make_env: EnvFactory) -> None:
    async with make_env({"wf": Sleeper}) as env:
        instance_id = await env.service.create("wf")
        await env.run_until_status("wf", instance_id, "waiting")
        await env.service.delete("wf", instance_id)
        env.clock.advance(10_000)
        await env.settle()
        assert await env.store.get_instance("wf", instance_id) is None
        assert calls == ["before"]
        # the id can be used again
        await env.service.create("wf", instance_id)


async def test_terminate_cancels_a_step_body_that_is_waiting(make_env: EnvFactory) -> None:
    seen: list[str] = []

    class Waits(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            @step.do("blocked")
            async def blocked() -> None:
                await asyncio.sleep(0)  # suspends more than once before blocking
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    seen.append("cancelled")
                    raise
            await blocked()

    async with make_env({"wf": Waits}) as env:
        instance_id = await env.service.create("wf")
        await env.settle()
        await env.service.terminate("wf", instance_id)
        await env.settle()
        assert seen == ["cancelled"]
        assert (await env.service.get("wf", instance_id)).status is InstanceStatus.TERMINATED
