"""Restarting an engine (SPEC A6): unfinished instances resume by themselves; an attempt that was
running when the engine stopped counts as a failed attempt."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pyflow_cli.engine.clock import ManualClock
from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.storage.sqlite import SqliteStore
from pyflow_cli.testing import WorkflowTestEnv

blocked = asyncio.Event()
runs: list[int] = []


class Hangs(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        async def body(ctx: Any) -> int:
            runs.append(ctx.attempt)
            if ctx.attempt == 1:
                await asyncio.Event().wait()  # never finishes: the engine stops under it
            return int(ctx.attempt)
        return await step.do("work", body, config={"retries": {"limit": event.payload.limit,
                                                                "delay": "1 second"}})


class Sleeps(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        first = await step.do("first", lambda: runs.append(1) or "first")
        await step.sleep("nap", "5 seconds")
        got = await step.wait_for_event("go", "go", timeout="1 hour")
        return [first, got.payload]


def env_at(state: Path, clock: ManualClock, workflow: type[WorkflowEntrypoint]) -> WorkflowTestEnv:
    return WorkflowTestEnv({"wf": workflow}, state_dir=state, clock=clock,
                           options=EngineOptions(poll_interval_s=0.05))


async def test_interrupted_attempt_counts_as_failed_and_is_retried(tmp_path: Path) -> None:
    runs.clear()
    clock = ManualClock()
    async with env_at(tmp_path, clock, Hangs) as first:
        await first.service.create("wf", "x", {"limit": 2})
        await first.settle()
        assert runs == [1]
    async with env_at(tmp_path, clock, Hangs) as second:
        record = await second.run_until_done("wf", "x")
        assert record.output_json == "2"
        log = await second.store.read_log(record.iid)
        failure = next(r for r in log if r.event is EventType.ATTEMPT_FAILURE)
        assert failure.metadata["attempt"] == 1
        assert failure.metadata["error"]["name"] == "WorkflowInternalError"
        assert failure.metadata["retryDelayMs"] == 1000
        assert runs == [1, 2]


async def test_interrupted_last_attempt_exhausts_the_retries(tmp_path: Path) -> None:
    runs.clear()
    clock = ManualClock()
    async with env_at(tmp_path, clock, Hangs) as first:
        await first.service.create("wf", "x", {"limit": 0})
        await first.settle()
    async with env_at(tmp_path, clock, Hangs) as second:
        record = await second.run_until_done("wf", "x")
        details = await second.service.describe("wf", "x")
        assert details["error"]["name"] == "WorkflowInternalError"
        assert runs == [1]
        assert record.status.value == "errored"


async def test_sleeps_and_waits_resume_after_a_restart(tmp_path: Path) -> None:
    runs.clear()
    clock = ManualClock()
    async with env_at(tmp_path, clock, Sleeps) as first:
        await first.service.create("wf", "x")
        await first.run_until_status("wf", "x", "waiting")
    clock.advance(60_000)  # the sleep ended while nothing was running
    async with env_at(tmp_path, clock, Sleeps) as second:
        await second.settle()
        await second.service.send_event("wf", "x", "go", "now")
        record = await second.run_until_done("wf", "x")
        assert record.output_json == '["first","now"]'
        assert runs == [1]


class FlakyStore(SqliteStore):
    """Fails every awaited commit while ``failing`` (a full disk, say), or the next
    ``failures_left`` of them."""

    failing = False
    failures_left = 0

    def commit(self, change: Any, urgent: bool = True) -> Any:
        if (self.failing or self.failures_left) and urgent:
            self.failures_left = max(0, self.failures_left - 1)
            failed: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            failed.set_exception(OSError("disk full"))
            return failed
        return super().commit(change, urgent)


def flaky_env(tmp_path: Path, clock: ManualClock, workflow: type[WorkflowEntrypoint]
              ) -> tuple[WorkflowTestEnv, FlakyStore]:
    store = FlakyStore(tmp_path)
    env = WorkflowTestEnv({"wf": workflow}, state_dir=tmp_path, clock=clock,
                          options=EngineOptions(poll_interval_s=0.05), store=store)
    return env, store


async def test_a_store_failure_stops_the_instance_cleanly_and_it_resumes_later(
        tmp_path: Path, caplog: Any) -> None:
    runs.clear()
    clock = ManualClock()
    env, store = flaky_env(tmp_path, clock, Sleeps)
    async with env:
        await env.service.create("wf", "x")
        store.failing = True
        await env.settle()
        assert "could not be written (OSError: disk full)" in caplog.text
        assert env.engine.running_count == 0
        store.failing = False
        clock.advance(20_000)  # the lease it could not release runs out; the engine claims it again
        await env.service.send_event("wf", "x", "go", "later")
        record = await env.run_until_done("wf", "x")
        assert record.output_json == '["first","later"]'


class Swallows(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        try:
            return await step.do("a", lambda: "stored")
        except Exception:
            return "swallowed"


async def test_user_code_cannot_catch_a_failed_commit_and_carry_on(
        tmp_path: Path, caplog: Any) -> None:
    clock = ManualClock()
    env, store = flaky_env(tmp_path, clock, Swallows)
    async with env:
        store.failures_left = 1  # the step's result; the writes after it succeed
        await env.service.create("wf", "x")
        record = await env.run_until_done("wf", "x")
        assert "could not be written (OSError: disk full)" in caplog.text
        # The lifetime ended at the failed write; the next one ran the step again.
        assert record.output_json == '"stored"'
