"""``WorkflowTestEnv`` itself: time moves only when nothing can run without it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import EnvFactory

from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.storage.sqlite import SqliteStore


class WaitsForGo(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        got = await step.wait_for_event("go", "go", timeout="1 day")
        return got.payload


async def test_time_does_not_move_while_the_scheduler_is_still_reading(
        make_env: EnvFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # The scheduler reads when the next instance is due on the reader thread: no write shows
    # it is busy, and an instance woken meanwhile is due now, so nothing waits on the clock.
    # Under load that read is slow; the env must not take that moment for "stuck".
    read = SqliteStore.next_runnable_ms

    async def slow_read(self: SqliteStore, workflows: Any) -> float | None:
        due = await read(self, workflows)
        await asyncio.sleep(0.03)
        return due

    monkeypatch.setattr(SqliteStore, "next_runnable_ms", slow_read)
    async with make_env({"wf": WaitsForGo}, force_hibernate=True) as env:
        await env.service.create("wf", "a")
        await env.run_until_status("wf", "a", "waiting")
        await env.service.send_event("wf", "a", "go", 7)
        record = await env.run_until_done("wf", "a")
        assert record.output_json == "7"
