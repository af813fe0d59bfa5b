"""Retention with a real engine on a manual clock: finished instances past the period are
deleted with every row they own; running, waiting and recent ones are untouched."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pyflow_cli.engine.admission import PlatformRules
from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.engine.retention import RetentionSweeper
from pyflow_cli.testing import WorkflowTestEnv

HOUR_MS = 3_600_000
release = asyncio.Event()


class Quick(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        await step.do("one", lambda: 1)
        if event.payload.get("fail"):
            raise ValueError("no")
        return "ok"


class Held(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        async def hold() -> str:
            await release.wait()
            return "held"
        return await step.do("hold", {"timeout": "1 day"}, hold)


class Sleeper(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        await step.sleep("nap", "1 day")


async def test_finished_instances_past_the_period_go_and_the_others_stay(tmp_path: Path) -> None:
    release.clear()
    rules = PlatformRules(retention_ms=HOUR_MS)
    options = EngineOptions(poll_interval_s=0.05, rules=rules)
    workflows = {"quick": Quick, "held": Held, "sleeper": Sleeper}
    async with WorkflowTestEnv(workflows, state_dir=tmp_path / "s", options=options) as env:
        assert "retention sweep" in [loop.name for loop in env.engine._loops]
        await env.service.create("quick", "old-ok")
        await env.service.create("quick", "old-failed", {"fail": True})
        await env.service.terminate("quick", await env.service.create("quick", "old-stopped"))
        for instance_id in ("old-ok", "old-failed"):
            await env.run_until_done("quick", instance_id)
        old = [(await env.service.get("quick", i)).iid for i in ("old-ok", "old-failed",
                                                                 "old-stopped")]
        await env.service.create("held", "running")
        await env.service.create("sleeper", "asleep")
        await env.run_until_status("sleeper", "asleep", "waiting")
        await env.advance("90 minutes")
        await env.service.create("quick", "recent")
        await env.run_until_done("quick", "recent")
        sweeper = RetentionSweeper(env.store, env.clock, HOUR_MS)
        assert await sweeper.sweep() == 3
        for iid in old:
            history = await env.store.load_history(iid)
            assert await env.store.get_instance_by_iid(iid) is None
            assert await env.store.read_log(iid) == [] and not history.steps
        assert [r.id for r in (await env.store.list_instances("quick")).records] == ["recent"]
        assert (await env.service.get("held", "running")).status.value == "running"
        assert (await env.service.get("sleeper", "asleep")).status.value == "waiting"
        assert await sweeper.sweep() == 0
        release.set()
        await env.run_until_done("held", "running")
