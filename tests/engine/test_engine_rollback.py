"""Rollback (compensation), SPEC §2.12: registered rollbacks run in reverse order of their steps'
starts when an error escapes run(), each a step of its own; terminate with rollback runs them too."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from conftest import EnvFactory, names

from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.engine.events import EventType

undone: list[Any] = []


def undo(label: str) -> Any:
    async def handler(args: Any) -> None:
        undone.append((label, args.output, args.stepName, args.ctx.step.name, str(args.error)))
    return handler


class Booking(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        flight = await step.do("book flight", lambda: {"flight": "LX1"}, rollback=undo("flight"))
        await step.do("log", lambda: "no rollback for this one")
        hotel = await step.do("book hotel", lambda: "H7",
                              rollback=undo("hotel"), rollback_config={"retries": {
                                  "limit": 0, "delay": 0}})
        await step.do("charge card", fail, config={"retries": {"limit": 0, "delay": 0}})
        return [flight, hotel]


def fail() -> None:
    raise ValueError("card declined")


async def test_an_error_escaping_run_rolls_back_completed_steps_last_first(
        make_env: EnvFactory, hibernation: bool) -> None:
    undone.clear()
    async with make_env({"wf": Booking}, force_hibernate=hibernation) as env:
        await env.service.create("wf", "trip")
        record = await env.run_until_done("wf", "trip")
        log = await env.store.read_log(record.iid)
    assert record.status.value == "errored"
    assert undone == [("hotel", "H7", "book hotel-1", "book hotel", "card declined"),
                      ("flight", {"flight": "LX1"}, "book flight-1", "book flight",
                       "card declined")]
    rows = names(log)
    start = rows.index("ROLLBACK_START")
    assert rows[start:] == [
        "ROLLBACK_START",
        "ROLLBACK_STEP_START", "ROLLBACK_ATTEMPT_START", "ROLLBACK_ATTEMPT_SUCCESS",
        "ROLLBACK_STEP_SUCCESS",
        "ROLLBACK_STEP_START", "ROLLBACK_ATTEMPT_START", "ROLLBACK_ATTEMPT_SUCCESS",
        "ROLLBACK_STEP_SUCCESS",
        "ROLLBACK_COMPLETE", "WORKFLOW_FAILURE"]
    by_event = {(row.event, row.target): row for row in log}
    assert log[start].metadata == {"triggerError": {"name": "ValueError",
                                                    "message": "card declined"},
                                   "totalSteps": 2}
    hotel = by_event[(EventType.ROLLBACK_STEP_START, "book hotel-1")]
    assert hotel.group_key is not None and hotel.group_key.startswith("rollback:")
    assert by_event[(EventType.STEP_START, "book hotel-1")].metadata["hasRollback"] is True
    assert by_event[(EventType.STEP_SUCCESS, "book hotel-1")].metadata == {
        "result": "H7", "hasRollback": True}
    assert "hasRollback" not in by_event[(EventType.STEP_START, "log-1")].metadata
    assert log[-2].metadata == {"totalSteps": 2, "completedSteps": 2}


class FailingRollback(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        await step.do("a", lambda: 1, rollback=undo("a"))

        def broken(args: Any) -> None:
            raise RuntimeError("cannot undo b")

        await step.do("b", lambda: 2, rollback=broken,
                      rollback_config={"retries": {"limit": 1, "delay": "1 second"}})
        raise RuntimeError("boom")


async def test_a_failing_rollback_is_retried_then_stops_the_chain(make_env: EnvFactory) -> None:
    undone.clear()
    async with make_env({"wf": FailingRollback}) as env:
        await env.service.create("wf", "x")
        record = await env.run_until_done("wf", "x")
        log = await env.store.read_log(record.iid)
    assert undone == []  # "a" comes after the failed "b": never reached
    rows = names(log)
    assert rows.count("ROLLBACK_ATTEMPT_FAILURE") == 2
    assert rows[-3:] == ["ROLLBACK_STEP_FAILURE", "ROLLBACK_FAILED", "WORKFLOW_FAILURE"]
    assert log[-2].metadata == {"totalSteps": 2, "completedSteps": 0}
    assert record.status.value == "errored"


class Success(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        return await step.do("a", lambda: 1, rollback=undo("a"))


async def test_nothing_rolls_back_on_success(make_env: EnvFactory) -> None:
    undone.clear()
    async with make_env({"wf": Success}) as env:
        await env.service.create("wf", "x")
        record = await env.run_until_done("wf", "x")
        log = await env.store.read_log(record.iid)
    assert record.status.value == "complete"
    assert undone == []
    assert not [n for n in names(log) if n.startswith("ROLLBACK")]


@pytest.mark.parametrize(("call", "message"), [
    (lambda step: step.do("s", lambda: 1, rollback="nope"), 'Rollback for "s" must be a function'),
    (lambda step: step.do("s", lambda: 1, "not a dict"),
     'Rollback options for "s" must be an object'),
    (lambda step: step.do("s", lambda: 1, {"rollback": lambda a: None,
                                           "rollbackConfig": {"retries": 3}}),
     'Rollback config for "s" is in a invalid format. See '
     "https://developers.cloudflare.com/workflows/build/sleeping-and-retrying/"),
])
async def test_bad_rollback_options_are_fatal_errors_thrown_into_run(
        make_env: EnvFactory, call: Any, message: str) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            try:
                await call(step)
            except Exception as error:
                return [type(error).__name__, str(error)]
            return "accepted"

    async with make_env({"wf": Flow}) as env:
        await env.service.create("wf", "x")
        record = await env.run_until_done("wf", "x")
    assert record.output_json is not None
    assert json.loads(record.output_json) == ["WorkflowFatalError", message]


class Parallel(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        @step.do("decorated", rollback=undo("decorated"))
        async def decorated() -> str:
            return "d"

        await decorated()
        await step.do("js order", {"retries": {"limit": 0, "delay": 0}}, lambda: "j",
                      {"rollback": undo("js")})
        raise RuntimeError("stop")


async def test_the_decorator_and_the_javascript_order_take_rollbacks(
        make_env: EnvFactory) -> None:
    undone.clear()
    async with make_env({"wf": Parallel}) as env:
        await env.service.create("wf", "x")
        await env.run_until_done("wf", "x")
    assert [(label, output) for label, output, *_ in undone] == [("js", "j"), ("decorated", "d")]


calls: list[int] = []


async def hangs_the_first_time(args: Any) -> None:
    calls.append(args.ctx.attempt)
    if len(calls) == 1:
        await asyncio.Event().wait()  # the engine stops under it


class Resumes(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        await step.do("a", lambda: 1, rollback=undo("a"))
        await step.do("b", lambda: 2, rollback=hangs_the_first_time,
                      rollback_config={"retries": {"limit": 2, "delay": 0}})
        raise RuntimeError("boom")


async def test_a_rollback_cut_short_by_a_stop_resumes_where_it_stopped(
        make_env: EnvFactory) -> None:
    undone.clear()
    calls.clear()
    async with make_env({"wf": Resumes}) as first:
        await first.service.create("wf", "x")
        await first.settle()
        assert calls == [1] and undone == []
    async with make_env({"wf": Resumes}) as second:
        record = await second.run_until_done("wf", "x")
        log = await second.store.read_log(record.iid)
    assert record.status.value == "errored"
    assert calls == [1, 1]  # the rollback step's ctx: the step's own attempt, not the rollback's
    assert [label for label, *_ in undone] == ["a"]
    rows = names(log)
    assert rows.count("ROLLBACK_START") == 2  # one per lifetime that rolled back
    assert rows.count("ROLLBACK_STEP_SUCCESS") == 2
    interrupted = next(r for r in log if r.event is EventType.ROLLBACK_ATTEMPT_FAILURE)
    assert interrupted.metadata["error"]["name"] == "WorkflowInternalError"
    assert rows[-2:] == ["ROLLBACK_COMPLETE", "WORKFLOW_FAILURE"]


class Waits(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        await step.do("reserve", lambda: "seat 4A", rollback=undo("reserve"))
        await step.do("notify", lambda: None)
        await step.wait_for_event("approval", "approved", timeout="1 day")
        await step.do("never", lambda: 1, rollback=undo("never"))


async def test_terminate_with_rollback_runs_the_registered_rollbacks_first(
        make_env: EnvFactory, hibernation: bool) -> None:
    undone.clear()
    async with make_env({"wf": Waits}, force_hibernate=hibernation) as env:
        await env.service.create("wf", "x")
        await env.run_until_status("wf", "x", "waiting")
        status = await env.service.terminate("wf", "x", rollback=True)
        record = await env.service.get("wf", "x")
        log = await env.store.read_log(record.iid)
    assert status.value == "terminated" and record.status.value == "terminated"
    assert undone == [("reserve", "seat 4A", "reserve-1", "reserve",
                       "Instance terminated during rollback")]
    rows = names(log)
    start = rows.index("ROLLBACK_START")
    assert rows[start:] == ["ROLLBACK_START", "ROLLBACK_STEP_START", "ROLLBACK_ATTEMPT_START",
                            "ROLLBACK_ATTEMPT_SUCCESS", "ROLLBACK_STEP_SUCCESS",
                            "ROLLBACK_COMPLETE", "WORKFLOW_TERMINATED"]
    assert log[start].metadata["triggerError"] == {
        "name": "Terminated", "message": "Instance terminated during rollback"}


async def test_terminate_without_rollback_runs_none(make_env: EnvFactory) -> None:
    undone.clear()
    async with make_env({"wf": Waits}) as env:
        await env.service.create("wf", "x")
        await env.run_until_status("wf", "x", "waiting")
        await env.service.terminate("wf", "x")
        log = await env.store.read_log((await env.service.get("wf", "x")).iid)
    assert undone == []
    assert not [n for n in names(log) if n.startswith("ROLLBACK")]


release = asyncio.Event()


async def slow_undo(args: Any) -> None:
    undone.append(("slow", args.output))
    await release.wait()


class PausedMidRollback(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        await step.do("a", lambda: "A", rollback=undo("a"))
        await step.do("b", lambda: "B", rollback=slow_undo)
        raise RuntimeError("boom")


async def test_a_pause_during_rollbacks_takes_effect_and_resume_finishes_them(
        make_env: EnvFactory) -> None:
    undone.clear()
    release.clear()
    async with make_env({"wf": PausedMidRollback}) as env:
        await env.service.create("wf", "x")
        while not undone:
            await asyncio.sleep(0.01)
        status = await env.service.pause("wf", "x")  # waits for the running rollback step
        assert status.value == "waitingForPause"
        release.set()
        await env.run_until_status("wf", "x", "paused")
        await env.service.resume("wf", "x")
        record = await env.run_until_done("wf", "x")
        log = await env.store.read_log(record.iid)
    assert record.status.value == "errored"
    assert [label for label, *_ in undone] == ["slow", "a"]
    assert names(log).count("ROLLBACK_STEP_SUCCESS") == 2
    assert names(log)[-2:] == ["ROLLBACK_COMPLETE", "WORKFLOW_FAILURE"]
