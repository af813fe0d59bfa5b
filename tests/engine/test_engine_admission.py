"""The running limit (engine/admission.py) with a real engine on a manual clock: over the limit
instances stay queued, start in creation order as slots free up, and instances waking from a
sleep, a retry delay or an awaited event are admitted before queued new ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pyflow_cli.engine.admission import PlatformRules
from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.engine.events import EventType, LogEvent
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.testing import WorkflowTestEnv

gates: dict[str, asyncio.Event] = {}
started: list[str] = []


def names(log: list[LogEvent]) -> list[str]:
    return [row.event.name for row in log]


def gate(instance_id: str) -> asyncio.Event:
    return gates.setdefault(instance_id, asyncio.Event())


class Held(WorkflowEntrypoint):
    """Runs one step that lasts until its gate opens."""

    async def run(self, event: Any, step: Any) -> Any:
        async def work() -> str:
            started.append(event.instanceId)
            await gate(event.instanceId).wait()
            return "done"
        return await step.do("work", LONG, work)


LONG = {"timeout": "2 days"}  # a held step is not timed out when the test moves time


class Napper(WorkflowEntrypoint):
    """A quick step, an hour's sleep, then a step that lasts until its gate opens."""

    async def run(self, event: Any, step: Any) -> Any:
        await step.do("before", lambda: "ok")
        await step.sleep("nap", "1 hour")

        async def after() -> str:
            started.append(f"{event.instanceId} again")
            await gate(event.instanceId).wait()
            return "done"
        return await step.do("after", LONG, after)


class Flaky(WorkflowEntrypoint):
    """Fails its first attempt (a 10 minute retry delay follows), then lasts until its gate."""

    async def run(self, event: Any, step: Any) -> Any:
        async def work(ctx: Any) -> str:
            if ctx.attempt == 1:
                raise RuntimeError("not yet")
            started.append(f"{event.instanceId} retried")
            await gate(event.instanceId).wait()
            return "done"
        return await step.do("work", {"retries": {"limit": 1, "delay": "10 minutes"}, **LONG},
                             work)


class Waiter(WorkflowEntrypoint):
    """Waits for an event, then lasts until its gate opens."""

    async def run(self, event: Any, step: Any) -> Any:
        await step.wait_for_event("approval", "go")

        async def after() -> str:
            started.append(f"{event.instanceId} approved")
            await gate(event.instanceId).wait()
            return "done"
        return await step.do("after", LONG, after)


@asynccontextmanager
async def limited(tmp_path: Path, limit: int, workflows: Mapping[str, type[WorkflowEntrypoint]]
                  ) -> AsyncIterator[WorkflowTestEnv]:
    gates.clear()
    started.clear()
    options = EngineOptions(poll_interval_s=0.05, rules=PlatformRules(max_running=limit))
    async with WorkflowTestEnv(workflows, state_dir=tmp_path / "state", options=options) as env:
        yield env


async def statuses(env: WorkflowTestEnv, workflow: str, ids: list[str]) -> list[str]:
    return [(await env.service.get(workflow, i)).status.value for i in ids]


async def release(env: WorkflowTestEnv, workflow: str, instance_id: str) -> None:
    gate(instance_id).set()
    await env.run_until_done(workflow, instance_id)
    await env.settle()


async def test_over_the_limit_instances_stay_queued_and_start_in_creation_order(
        tmp_path: Path) -> None:
    async with limited(tmp_path, 2, {"wf": Held}) as env:
        ids = [await env.service.create("wf", f"i{n}") for n in range(5)]
        await env.settle()
        assert started == ["i0", "i1"]
        assert await statuses(env, "wf", ids) == ["running"] * 2 + ["queued"] * 3
        counts = await env.service.status_counts("wf")
        assert (counts["running"], counts["queued"]) == (2, 3)
        # A queued instance has its WORKFLOW_QUEUED row and no WORKFLOW_START until it runs.
        queued = await env.service.get("wf", "i2")
        assert names(await env.store.read_log(queued.iid)) == ["WORKFLOW_QUEUED"]
        assert (await env.service.describe("wf", "i2"))["start"] is None

        await release(env, "wf", "i1")
        assert started == ["i0", "i1", "i2"]
        await release(env, "wf", "i0")
        assert started == ["i0", "i1", "i2", "i3"]
        assert await statuses(env, "wf", ids) == ["complete"] * 2 + ["running"] * 2 + ["queued"]
        log = names(await env.store.read_log(queued.iid))
        assert log[:3] == ["WORKFLOW_QUEUED", "WORKFLOW_START", "WORKFLOW_RUNNING"]
        for instance_id in ids[2:]:
            await release(env, "wf", instance_id)
        assert started == ids
        assert await statuses(env, "wf", ids) == ["complete"] * 5


async def test_an_instance_waking_from_a_sleep_is_admitted_before_a_queued_new_one(
        tmp_path: Path) -> None:
    async with limited(tmp_path, 1, {"nap": Napper, "held": Held}) as env:
        await env.service.create("nap", "sleeper")
        await env.run_until_status("nap", "sleeper", "waiting")  # it gave its slot up
        await env.service.create("held", "first")
        await env.settle()
        assert started == ["first"]
        await env.service.create("held", "second")  # queued, before the sleeper wakes
        await env.advance("1 hour")
        assert await statuses(env, "nap", ["sleeper"]) == ["waiting"]  # due, not admitted
        await release(env, "held", "first")
        assert started == ["first", "sleeper again"]
        assert await statuses(env, "held", ["second"]) == ["queued"]
        await release(env, "nap", "sleeper")
        assert started == ["first", "sleeper again", "second"]


async def test_instances_waking_from_a_retry_delay_or_an_event_go_before_queued_ones(
        tmp_path: Path) -> None:
    async with limited(tmp_path, 1, {"flaky": Flaky, "waiter": Waiter, "held": Held}) as env:
        await env.service.create("flaky", "flaky")
        await env.run_until_status("flaky", "flaky", "waiting")  # its retry delay holds no slot
        await env.service.create("waiter", "waiter")
        await env.run_until_status("waiter", "waiter", "waiting")
        await env.service.create("held", "first")
        await env.settle()
        await env.service.create("held", "second")
        await env.service.send_event("waiter", "waiter", "go")
        await env.advance("10 minutes")
        assert started == ["first"]
        await release(env, "held", "first")
        assert started == ["first", "waiter approved"]  # its event came before the retry was due
        await release(env, "waiter", "waiter")
        assert started == ["first", "waiter approved", "flaky retried"]
        await release(env, "flaky", "flaky")
        assert started == ["first", "waiter approved", "flaky retried", "second"]
        await release(env, "held", "second")


async def test_sleeping_and_waiting_instances_hold_no_slot(tmp_path: Path) -> None:
    async with limited(tmp_path, 2, {"nap": Napper, "waiter": Waiter, "held": Held}) as env:
        await env.service.create("nap", "sleeper")
        await env.service.create("waiter", "waiter")
        await env.run_until_status("nap", "sleeper", "waiting")
        await env.run_until_status("waiter", "waiter", "waiting")
        for n in range(2):
            await env.service.create("held", f"h{n}")
        await env.settle()
        assert started == ["h0", "h1"]
        leased = [r for r in (await env.store.list_instances("nap")).records +
                  (await env.store.list_instances("waiter")).records if r.lease_owner]
        assert leased == []


async def test_without_a_limit_nothing_waits_and_instances_start_with_their_row(
        tmp_path: Path) -> None:
    gates.clear()
    started.clear()
    async with WorkflowTestEnv({"wf": Held}, state_dir=tmp_path / "state") as env:
        ids = [await env.service.create("wf", f"i{n}") for n in range(5)]
        await env.settle()
        assert sorted(started) == ids
        record = await env.service.get("wf", "i4")
        log = await env.store.read_log(record.iid)
        assert [r.event for r in log[:2]] == [EventType.WORKFLOW_QUEUED, EventType.WORKFLOW_START]
        for instance_id in ids:
            gate(instance_id).set()
