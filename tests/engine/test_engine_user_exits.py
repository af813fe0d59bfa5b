"""User code's BaseExceptions (SystemExit, KeyboardInterrupt, a CancelledError of its own) are
ordinary failures of the step or the instance; the engine's own control flow, its cancellation
and the process's own signals still pass through."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import EnvFactory

from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.engine.escapes import UserBaseException, contain, is_process_signal

RETRY_ONCE = {"retries": {"limit": 1, "delay": "1 second"}}


@pytest.fixture
def python_sigint_handler() -> Iterator[None]:
    """SIGINT handled by a Python function, as in every pyflow process that runs user code
    (asyncio.run's handler, the dev server's): there a user's KeyboardInterrupt is told apart
    from a Ctrl-C."""
    def on_sigint(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    yield
    signal.signal(signal.SIGINT, previous)


async def _exit_now() -> None:
    sys.exit(3)


async def _exit_later() -> None:
    await asyncio.sleep(0)
    sys.exit(3)


def _interrupt() -> None:
    raise KeyboardInterrupt("stop")


async def _cancel_myself() -> None:
    await asyncio.sleep(0)
    raise asyncio.CancelledError


async def _await_a_cancelled_future() -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.cancel()
    await future


@pytest.mark.usefixtures("python_sigint_handler")
@pytest.mark.parametrize(("body", "error"), [
    (_exit_now, {"name": "SystemExit", "message": "3"}),
    (_exit_later, {"name": "SystemExit", "message": "3"}),
    (_interrupt, {"name": "KeyboardInterrupt", "message": "stop"}),
    (_cancel_myself, {"name": "CancelledError", "message": ""}),
    (_await_a_cancelled_future, {"name": "CancelledError", "message": ""}),
])
async def test_a_step_raising_a_base_exception_fails_its_attempts_and_the_instance(
        make_env: EnvFactory, hibernation: bool, body: Any, error: dict[str, str]) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.do("exits", body, config=RETRY_ONCE)

    async with make_env({"wf": Flow}, force_hibernate=hibernation) as env:
        await env.service.create("wf", "a")
        record = await asyncio.wait_for(env.run_until_done("wf", "a"), 20)
        details = await env.service.describe("wf", "a")
    assert record.status.value == "errored"
    assert [a["error"] for a in details["steps"][0]["attempts"]] == [error, error]
    assert details["error"] == error


async def test_run_may_catch_what_a_step_exited_with(make_env: EnvFactory, hibernation: bool
                                                     ) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            try:
                await step.do("exits", _exit_now, config={"retries": {"limit": 0, "delay": 0}})
            except Exception as caught:
                return [type(caught).__name__, getattr(caught, "name", None), str(caught)]

    async with make_env({"wf": Flow}, force_hibernate=hibernation) as env:
        await env.service.create("wf", "a")
        await env.service.create("wf", "b")
        record = await env.run_until_done("wf", "a")
    assert record.output_json == '["UserBaseException","SystemExit","3"]'


@pytest.mark.parametrize(("raised", "error"), [
    (SystemExit(4), {"name": "SystemExit", "message": "4"}),
    (GeneratorExit("bye"), {"name": "GeneratorExit", "message": "bye"}),
    (asyncio.CancelledError(), {"name": "CancelledError", "message": ""}),
])
async def test_run_raising_a_base_exception_errors_the_instance(
        make_env: EnvFactory, raised: BaseException, error: dict[str, str]) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.do("first", lambda: 1)
            raise raised

    async with make_env({"wf": Flow}) as env:
        await env.service.create("wf", "a")
        record = await asyncio.wait_for(env.run_until_done("wf", "a"), 20)
        details = await env.service.describe("wf", "a")
    assert record.status.value == "errored"
    assert details["error"] == {"message": error["message"], "name": error["name"]}


async def test_a_workflow_constructor_exiting_errors_the_instance(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        def __init__(self, ctx: Any, env: Any) -> None:
            sys.exit("no")

        async def run(self, event: Any, step: Any) -> Any:
            return "never"

    async with make_env({"wf": Flow}) as env:
        await env.service.create("wf", "a")
        record = await asyncio.wait_for(env.run_until_done("wf", "a"), 20)
    assert record.status.value == "errored"
    assert record.error_json == '{"message":"no","name":"SystemExit"}'


async def test_a_delay_function_exiting_stops_the_retries(make_env: EnvFactory) -> None:
    def delay(args: Any) -> int:
        sys.exit(1)

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.do("fails", lambda: 1 / 0, config={"retries": {"limit": 3, "delay": delay}})

    async with make_env({"wf": Flow}) as env:
        await env.service.create("wf", "a")
        record = await asyncio.wait_for(env.run_until_done("wf", "a"), 20)
        details = await env.service.describe("wf", "a")
    assert record.status.value == "errored"
    assert details["steps"][0]["attempts"][0]["error"] == {
        "name": "NonRetryableDelayError",
        "message": 'The delay function for step "fails-1" threw an error: 1'}


async def test_a_rollback_exiting_is_a_failed_rollback(make_env: EnvFactory) -> None:
    def undo() -> None:
        sys.exit(5)

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.do("done", lambda: 1, rollback=undo,
                          rollback_config={"retries": {"limit": 0, "delay": 0}})
            raise ValueError("then it failed")

    async with make_env({"wf": Flow}) as env:
        await env.service.create("wf", "a")
        record = await asyncio.wait_for(env.run_until_done("wf", "a"), 20)
        log = await env.store.read_log(record.iid)
    assert record.error_json == '{"message":"then it failed","name":"ValueError"}'
    assert [r.event.name for r in log if r.event.name.startswith("ROLLBACK")][-1] == "ROLLBACK_FAILED"


async def test_terminating_still_cancels_a_running_body(make_env: EnvFactory) -> None:
    cancelled: list[bool] = []

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            async def hangs() -> None:
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    cancelled.append(True)
                    raise
            await step.do("hangs", hangs)

    async with make_env({"wf": Flow}) as env:
        await env.service.create("wf", "a")
        await env.settle()
        await env.service.terminate("wf", "a")
        await env.settle()
        record = await env.service.get("wf", "a")
    assert record.status.value == "terminated" and cancelled == [True]


def test_a_keyboard_interrupt_from_the_processs_own_signal_handler_passes(
        python_sigint_handler: None) -> None:
    with pytest.raises(KeyboardInterrupt) as ctrl_c:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):
            pass
    assert is_process_signal(ctrl_c.value)
    assert contain(ctrl_c.value) is ctrl_c.value
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as users:
        assert not is_process_signal(users)
        assert isinstance(contain(users), UserBaseException)


def test_with_pythons_built_in_sigint_handler_every_keyboard_interrupt_is_the_processs() -> None:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as error:
            assert contain(error) is error
    finally:
        signal.signal(signal.SIGINT, previous)
