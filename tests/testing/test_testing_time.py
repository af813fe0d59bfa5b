"""Time in a test env: the virtual clock skips ahead while a test waits, ``advance(duration)``
moves it by hand through every deadline on the way, and ``time="real"`` uses the system clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from testingkit import DAY_MS, EnvFactory

from pyflow_cli.engine.clock import SystemClock
from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.testing import WorkflowTestEnv, introspect_workflow_instance

HOUR_MS = 3_600_000


class Week(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        await step.sleep("an hour", "1 hour")
        await step.sleep("half an hour", "30 minutes")
        stamp = await step.do("stamp", lambda: "stamped")
        await step.sleep("a week", "7 days")
        return stamp


async def test_waiting_for_an_instance_skips_its_week_long_sleep(make_env: EnvFactory) -> None:
    async with make_env({"week": Week}) as env:
        instance = introspect_workflow_instance(env.env().WEEK, "i")
        start_ms = env.clock.now_ms()
        await env.env().WEEK.create(id="i")
        await instance.wait_for_status("complete")
    assert env.clock.now_ms() - start_ms == HOUR_MS + HOUR_MS / 2 + 7 * DAY_MS


async def test_time_stands_still_while_the_test_does_not_wait(make_env: EnvFactory) -> None:
    async with make_env({"week": Week}) as env:
        start_ms = env.clock.now_ms()
        await env.env().WEEK.create(id="i")
        await env.settle()
        assert (await env.service.get("week", "i")).status == "waiting"
        assert env.clock.now_ms() == start_ms


async def test_advance_fires_every_deadline_on_the_way_in_order(make_env: EnvFactory,
                                                                hibernation: bool) -> None:
    async with make_env({"week": Week}, hibernation) as env:
        start_ms = env.clock.now_ms()
        await env.env().WEEK.create(id="i")
        assert await env.advance("2 hours")
        assert env.clock.now_ms() - start_ms == 2 * HOUR_MS
        details = await env.service.describe("week", "i")
        assert [s["name"] for s in details["steps"]] == ["an hour-1", "half an hour-1", "stamp-1",
                                                         "a week-1"]
        assert details["status"] == "waiting"
        await env.advance(timedelta(days=7))
        assert (await env.service.get("week", "i")).status == "complete"
        assert await env.advance() is False  # nothing waits on time any more
        with pytest.raises(ValueError, match="advance\\(\\) moves time forward"):
            await env.advance(-1)


class Blink(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        await step.sleep("blink", "20 ms")
        return "awake"


async def test_real_time_runs_on_the_system_clock(tmp_path: Any) -> None:
    async with WorkflowTestEnv({"blink": Blink}, state_dir=tmp_path, time="real") as env:
        assert isinstance(env.clock, SystemClock)
        instance_id = await env.service.create("blink")
        record = await env.run_until_done("blink", instance_id)
        assert record.status == "complete"
        with pytest.raises(RuntimeError, match='this env runs on real time \\(time="real"\\)'):
            await env.advance("1 hour")
    with pytest.raises(ValueError, match='time must be "skip"'):
        WorkflowTestEnv({"blink": Blink}, time="fast")  # type: ignore[arg-type]
