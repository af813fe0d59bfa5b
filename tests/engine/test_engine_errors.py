"""Honest errors: class names (never an exception's ``.name`` attribute), NonRetryableError's
message outside a step, and the legacy-mode name-less ``@step.do()``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import EnvFactory

from pyflow_cli.engine.entrypoint import WorkflowDefinition, WorkflowEntrypoint
from pyflow_cli.engine.errors import NonRetryableError


class OrderRejected(Exception):
    """A user's own error class."""


def _attribute_error() -> Any:
    return "2026-01-01".year  # type: ignore[attr-defined]


def _name_error() -> Any:
    return undefined_name  # type: ignore[name-defined]  # noqa: F821


def _import_error() -> Any:
    from json import no_such_name  # type: ignore[attr-defined]
    return no_such_name


def _key_error() -> Any:
    return {}["missing"]


def _custom_error() -> Any:
    raise OrderRejected("order 7 is over the limit")


FAILURES = {
    "AttributeError": (_attribute_error, "'str' object has no attribute 'year'"),
    "NameError": (_name_error, "name 'undefined_name' is not defined"),
    "ImportError": (_import_error, "cannot import name 'no_such_name' from 'json'"),
    "KeyError": (_key_error, "'missing'"),
    "OrderRejected": (_custom_error, "order 7 is over the limit"),
}


async def describe(make_env: EnvFactory, workflow: Any, hibernate: bool = False) -> dict[str, Any]:
    async with make_env({"wf": workflow}, force_hibernate=hibernate) as env:
        instance_id = await env.service.create("wf")
        await env.run_until_done("wf", instance_id)
        return await env.service.describe("wf", instance_id)


@pytest.mark.parametrize("kind", list(FAILURES))
async def test_errors_are_recorded_under_their_class_name(make_env: EnvFactory, kind: str) -> None:
    failing, message = FAILURES[kind]

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            return await step.do("s", failing, config={"retries": {"limit": 1, "delay": 0}})

    details = await describe(make_env, Flow)
    expected = {"name": kind, "message": message}
    if kind == "ImportError":
        expected["message"] = details["error"]["message"]  # "(.../json/__init__.py)" varies
        assert expected["message"].startswith(message)
    assert [a["error"] for a in details["steps"][0]["attempts"]] == [expected, expected]
    assert details["error"] == {"message": expected["message"], "name": kind}


@pytest.mark.parametrize("kind", ["AttributeError", "KeyError"])
async def test_errors_outside_steps_keep_their_class_name(make_env: EnvFactory, kind: str) -> None:
    failing, message = FAILURES[kind]

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            return failing()

    details = await describe(make_env, Flow)
    assert details["error"] == {"message": message, "name": kind}


async def test_non_retryable_error_raised_by_run_keeps_its_message(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.do("ok", lambda: 1)
            raise NonRetryableError("the cart is empty")

    details = await describe(make_env, Flow)
    assert details["error"] == {"message": "the cart is empty", "name": "NonRetryableError"}


async def test_non_retryable_error_escaping_from_a_step_keeps_the_reference_text(
        make_env: EnvFactory, hibernation: bool) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            async def fail() -> None:
                raise NonRetryableError("nope")
            await step.do("first", fail)

    details = await describe(make_env, Flow, hibernation)
    assert details["error"]["name"] == "WorkflowFatalError"
    assert "NonRetryableError and it was not handled" in details["error"]["message"]


async def test_non_retryable_error_caught_in_run_lets_it_go_on(make_env: EnvFactory,
                                                                hibernation: bool) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            async def fail() -> None:
                raise NonRetryableError("no stock")
            reason = "none"
            try:
                await step.do("reserve", fail)
            except NonRetryableError as error:
                reason = str(error)
            await step.sleep("cool down", "1 minute")
            return await step.do("refund", lambda: f"refunded: {reason}")

    details = await describe(make_env, Flow, hibernation)
    assert details["status"] == "complete"
    assert details["output"] == "refunded: no stock"


async def test_nameless_step_in_legacy_mode_says_how_to_enable_implicit_dependencies(
        make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            @step.do()
            async def fetch_files() -> int:
                return 1
            return await fetch_files()

    class Bare(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            @step.do
            async def fetch_files() -> int:
                return 1
            return await fetch_files()

    for flow in (Flow, Bare):
        details = await describe(make_env, WorkflowDefinition("wf", flow))
        assert details["error"]["name"] == "TypeError"
        message = details["error"]["message"]
        assert "_do_legacy" not in message
        assert message.startswith("@step.do needs a step name here: this project runs step.do in "
                                  "legacy mode")
        assert 'compatibility_date = "2026-02-25" or later' in message
        assert '"python_workflows_implicit_dependencies" to compatibility_flags' in message


# -- tracebacks ----------------------------------------------------------------------------------


def _raising_line(function: Any) -> int:
    """The line of a one-statement helper above (the line after its ``def``)."""
    return int(function.__code__.co_firstlineno) + 1


@pytest.mark.parametrize("kind", list(FAILURES))
async def test_every_failed_attempt_keeps_the_users_traceback(make_env: EnvFactory, kind: str,
                                                              hibernation: bool) -> None:
    failing, _ = FAILURES[kind]

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.do("s", failing, config={"retries": {"limit": 1, "delay": "1 minute"}})

    async with make_env({"wf": Flow}, force_hibernate=hibernation) as env:
        instance_id = await env.service.create("wf")
        record = await env.run_until_done("wf", instance_id)
        details = await env.service.describe("wf", instance_id)
        log = await env.store.read_log(record.iid)

    attempts = details["steps"][0]["attempts"]
    for attempt in attempts:
        frames = attempt["traceback"]["frames"]
        assert frames[-1] == {"file": __file__, "line": _raising_line(failing),
                              "function": failing.__name__,
                              "source": frames[-1]["source"]}
        assert frames[-1]["source"]  # the line's text, as recorded
        assert all("pyflow_cli" not in frame["file"] for frame in frames)
        assert attempt["traceback"]["text"].endswith(f"{kind}: {attempt['error']['message']}")
        assert f"{__file__}:{_raising_line(failing)} in {failing.__name__}" in (
            attempt["traceback"]["text"])
    # The instance's error has one too: run()'s frame, and (resident) the step's below it.
    instance_frames = details["traceback"]["frames"]
    assert any(frame["function"] == "run" for frame in instance_frames)
    # Log rows keep the reference's metadata; the traceback sits beside them.
    failures = [row for row in log if row.event.name == "ATTEMPT_FAILURE"]
    assert all(set(row.metadata) <= {"attempt", "error", "retryDelayMs"} for row in failures)
    assert all(row.traceback is not None for row in failures)


async def test_engine_made_errors_have_no_traceback(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            async def slow() -> None:
                await asyncio.sleep(3600)
            try:
                await step.do("slow", slow, config={"retries": {"limit": 0, "delay": 0}, "timeout": 5})
            except Exception:
                return "timed out"
            return "finished"

    details = await describe(make_env, Flow)
    attempt = details["steps"][0]["attempts"][0]
    assert attempt["error"]["name"] == "WorkflowTimeoutError"
    assert "traceback" not in attempt
    assert "traceback" not in details


async def test_tracebacks_are_bounded(make_env: EnvFactory) -> None:
    def deep(n: int) -> Any:
        if n == 0:
            raise ValueError("bottom " + "x" * 5000)
        return deep(n - 1)

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.do("deep", lambda: deep(40), config={"retries": {"limit": 0, "delay": 0}})

    details = await describe(make_env, Flow)
    trace = details["steps"][0]["attempts"][0]["traceback"]
    assert len(trace["frames"]) == 20
    assert trace["omitted"] == 22  # the lambda and 41 calls of deep, less the 20 kept
    assert trace["text"].startswith("... 22 earlier frames not shown\n")
    assert len(trace["text"]) < 20 * 400 + 1200
