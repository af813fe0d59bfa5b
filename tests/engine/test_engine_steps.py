"""step.do: replay from the cache, retries and backoff, timeouts, errors, values, limits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EnvFactory, names

from pyflow_cli.engine.clock import ManualClock
from pyflow_cli.engine.entrypoint import WorkflowDefinition, WorkflowEntrypoint
from pyflow_cli.engine.errors import NonRetryableError
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.testing import WorkflowTestEnv


async def run_one(make_env: EnvFactory, workflow: type[WorkflowEntrypoint] | WorkflowDefinition,
                  params: Any = None, hibernate: bool = False) -> tuple[Any, Any]:
    async with make_env({"wf": workflow}, force_hibernate=hibernate) as env:
        instance_id = await env.service.create("wf", params=params)
        record = await env.run_until_done("wf", instance_id)
        log = await env.store.read_log(record.iid)
        details = await env.service.describe("wf", instance_id)
        return details | {"_record": record}, log


async def test_completed_step_is_not_rerun_on_replay(make_env: EnvFactory, hibernation: bool) -> None:
    calls: list[str] = []

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            first = await step.do("first", lambda: calls.append("first") or {"n": 1})
            await step.sleep("nap", "1 hour")
            second = await step.do("second", lambda: calls.append("second") or first["n"] + 1)
            return {"first": first, "second": second}

    details, log = await run_one(make_env, Flow, hibernate=hibernation)
    assert details["status"] == "complete"
    assert details["output"] == {"first": {"n": 1}, "second": 2}
    assert calls == ["first", "second"]
    # replays write nothing: each step's rows appear once
    assert names(log).count("STEP_START") == 2
    assert names(log).count("SLEEP_START") == 1


async def test_same_name_steps_get_counted_keys(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            def value(i: int) -> Any:
                return lambda: i
            return [await step.do("first", value(i)) for i in range(3)]

    details, _ = await run_one(make_env, Flow)
    assert [s["name"] for s in details["steps"]] == ["first-1", "first-2", "first-3"]
    assert details["output"] == [0, 1, 2]


async def test_retries_follow_exponential_backoff_with_documented_default_delay(
        make_env: EnvFactory, hibernation: bool) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            def flaky(ctx: Any) -> int:
                if ctx.attempt < 4:
                    raise RuntimeError(f"x{ctx.attempt}")
                return int(ctx.attempt)
            return await step.do("flaky", flaky)

    details, log = await run_one(make_env, Flow, hibernate=hibernation)
    assert details["output"] == 4
    failures = [row.metadata for row in log if row.event is EventType.ATTEMPT_FAILURE]
    assert [f["retryDelayMs"] for f in failures] == [10000, 20000, 40000]
    assert failures[0]["error"] == {"name": "RuntimeError", "message": "x1"}
    attempts = details["steps"][0]["attempts"]
    assert [a["success"] for a in attempts] == [False, False, False, True]


async def test_exhausted_retries_reraise_the_original_exception_into_run(make_env: EnvFactory) -> None:
    class MyError(Exception):
        pass

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            def boom() -> None:
                raise MyError("mine")
            try:
                await step.do("c", boom, config={"retries": {"limit": 2, "delay": 100,
                                                               "backoff": "constant"}})
            except MyError as error:
                return f"caught {error}"

    details, log = await run_one(make_env, Flow)
    assert details["output"] == "caught mine"
    failures = [row.metadata for row in log if row.event is EventType.ATTEMPT_FAILURE]
    assert len(failures) == 3
    assert "retryDelayMs" not in failures[-1]
    assert names(log)[-2:] == ["STEP_FAILURE", "WORKFLOW_SUCCESS"]


async def test_error_escaping_run_keeps_the_python_exception_name(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            raise KeyError("outside")

    details, log = await run_one(make_env, Flow)
    assert details["status"] == "errored"
    assert details["error"] == {"message": "'outside'", "name": "KeyError"}
    assert list(log[-1].metadata["error"]) == ["message", "name"]


async def test_limit_zero_means_exactly_one_attempt(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.do("once", lambda: 1 / 0, config={"retries": {"limit": 0, "delay": 10}})

    details, _ = await run_one(make_env, Flow)
    assert details["error"] == {"message": "division by zero", "name": "ZeroDivisionError"}
    assert len(details["steps"][0]["attempts"]) == 1


async def test_attempt_timeout_is_a_retryable_workflow_timeout_error(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            async def slow() -> None:
                await asyncio.sleep(60)
            await step.do("slow", slow, config={"timeout": "1 second",
                                                "retries": {"limit": 1, "delay": 100}})

    details, _ = await run_one(make_env, Flow)
    errors = [a["error"] for a in details["steps"][0]["attempts"]]
    assert errors == [{"name": "WorkflowTimeoutError", "message": "Execution timed out after 1000ms"}] * 2
    assert details["error"] == {"message": "Execution timed out after 1000ms",
                                "name": "WorkflowTimeoutError"}


async def test_time_scale_does_not_shorten_a_step_timeout(tmp_path: Path) -> None:
    # 5 s of work under a 10 s timeout: at --time-scale 60 the timeout used to be 167 ms.
    clock = ManualClock()

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            async def work() -> str:
                await clock.sleep_until(clock.now_ms() + 5_000)
                return "done"
            return await step.do("work", work, config={"timeout": "10 seconds"})

    options = EngineOptions(time_scale=60, poll_interval_s=0.05)
    async with WorkflowTestEnv({"wf": Flow}, state_dir=tmp_path, clock=clock,
                               options=options) as env:
        await env.service.create("wf", "a")
        record = await env.run_until_done("wf", "a")
        details = await env.service.describe("wf", "a")
    assert record.output_json == '"done"'
    assert [a["success"] for a in details["steps"][0]["attempts"]] == [True]


TIMED_OUT_GRACE_MS = 5_000  # what a timed-out body gets to stop once cancelled


class Overlaps:
    """Counts the copies of a step body running at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.cancelled = 0

    @contextlib.contextmanager
    def copy(self) -> Iterator[None]:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            yield
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.running -= 1


async def test_a_timed_out_attempt_is_cancelled_before_the_next_one_starts(
        make_env: EnvFactory) -> None:
    copies = Overlaps()

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            async def hangs() -> None:
                with copies.copy():
                    await asyncio.Event().wait()
            await step.do("hangs", hangs, config={"timeout": "1 second",
                                                  "retries": {"limit": 2, "delay": 0}})

    details, _ = await run_one(make_env, Flow)
    assert copies.most == 1 and copies.cancelled == 3
    errors = [a["error"] for a in details["steps"][0]["attempts"]]
    assert errors == [{"name": "WorkflowTimeoutError",
                       "message": "Execution timed out after 1000ms"}] * 3


async def test_the_retry_of_a_timed_out_attempt_waits_for_its_body_to_stop(
        tmp_path: Path) -> None:
    # The body cleans up for 2 s after being cancelled: the retry (delay 0) starts only then.
    clock = ManualClock()
    copies = Overlaps()
    released = asyncio.Event()

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            async def slow_to_stop(ctx: Any) -> str:
                with copies.copy():
                    if ctx.attempt == 2:
                        return "second"
                    try:
                        await released.wait()
                    finally:
                        if not released.is_set():
                            await asyncio.shield(clock.sleep_until(clock.now_ms() + 2_000))
                    return "never"
            return await step.do("s", slow_to_stop, config={"timeout": "1 second",
                                                            "retries": {"limit": 1, "delay": 0}})

    async with WorkflowTestEnv({"wf": Flow}, state_dir=tmp_path, clock=clock) as env:
        start = clock.now_ms()
        await env.service.create("wf", "a")
        record = await env.run_until_done("wf", "a")
        log = await env.store.read_log(record.iid)
        released.set()
    assert record.output_json == '"second"'
    assert copies.most == 1
    second_start = [r.timestamp_ms for r in log if r.event is EventType.ATTEMPT_START][1]
    assert second_start - start == 3_000


async def test_a_body_that_ignores_cancellation_is_abandoned_after_a_grace(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    released = asyncio.Event()

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            async def stubborn(ctx: Any) -> str:
                if ctx.attempt == 2:
                    return "second"
                while not released.is_set():  # deaf to cancellation until the test is over
                    with contextlib.suppress(asyncio.CancelledError):
                        await released.wait()
                return "late"
            return await step.do("s", stubborn, config={"timeout": "1 second",
                                                        "retries": {"limit": 1, "delay": 0}})

    async with WorkflowTestEnv({"wf": Flow}, state_dir=tmp_path, clock=clock) as env:
        start = clock.now_ms()
        await env.service.create("wf", "a")
        record = await env.run_until_done("wf", "a")
        log = await env.store.read_log(record.iid)
        released.set()
    assert record.output_json == '"second"'
    second_start = [r.timestamp_ms for r in log if r.event is EventType.ATTEMPT_START][1]
    assert second_start - start == 1_000 + TIMED_OUT_GRACE_MS
    assert ("step s-1 of wf/a timed out and was still running 5 s after being cancelled; "
            "attempt 1 is abandoned") in caplog.text


async def test_non_retryable_error_stops_retries_and_fails_the_instance(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            def nope() -> None:
                raise NonRetryableError("nope")
            await step.do("n", nope)

    details, _ = await run_one(make_env, Flow)
    attempts = details["steps"][0]["attempts"]
    assert len(attempts) == 1
    assert attempts[0]["error"] == {"name": "WorkflowFatalError",
                                    "message": 'Step threw a NonRetryableError with message "nope"'}
    assert details["error"] == {
        "name": "WorkflowFatalError",
        "message": "The execution of the Workflow instance was terminated, as a step threw an "
                   "NonRetryableError and it was not handled"}


async def test_caught_non_retryable_error_lets_the_run_continue(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            def nope() -> None:
                raise NonRetryableError("nope")
            try:
                await step.do("n", nope)
            except NonRetryableError as error:
                message = str(error)
                return await step.do("after", lambda: f"handled {message}")

    details, _ = await run_one(make_env, Flow)
    assert details["status"] == "complete"
    assert details["output"] == "handled nope"


async def test_preserve_flag_keeps_the_non_retryable_message(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            def nope() -> None:
                raise NonRetryableError("nope")
            await step.do("n", nope)

    definition = WorkflowDefinition("wf", Flow, preserve_non_retryable_message=True)
    details, _ = await run_one(make_env, definition)
    assert details["error"] == {"name": "NonRetryableError", "message": "nope"}
    assert details["steps"][0]["attempts"][0]["error"] == {"name": "NonRetryableError",
                                                           "message": "nope"}


@pytest.mark.parametrize(("config", "message"), [
    ({"retries": {"limit": 3}}, 'Step config for "s" is in a invalid format. See '
                                "https://developers.cloudflare.com/workflows/build/sleeping-and-retrying/"),
    ({"timeout": 0}, 'Step config for "s" is in a invalid format.'),
])
async def test_invalid_step_config_is_thrown_into_user_code_before_logging(
        make_env: EnvFactory, config: Any, message: str) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.do("s", lambda: 1, config=config)

    details, log = await run_one(make_env, Flow)
    assert details["error"]["name"] == "WorkflowFatalError"
    assert details["error"]["message"].startswith(message)
    assert "STEP_START" not in names(log)


async def test_step_name_rules(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.do("x" * 257, lambda: 1)

    details, _ = await run_one(make_env, Flow)
    assert details["error"]["message"].endswith(
        "exceeds max length (256 chars) or invalid characters found")


async def test_steps_per_instance_limit(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            for i in range(5):
                await step.do(f"s{i}", lambda: 1)

    details, _ = await run_one(make_env, WorkflowDefinition("wf", Flow, step_limit=3))
    assert len(details["steps"]) == 3
    assert details["error"] == {
        "message": "The limit of 3 steps has been reached. This limit can be changed in your worker "
                   "configuration.", "name": "WorkflowFatalError"}


@pytest.mark.parametrize("value", [(1, 2), bytearray(b"x"), object()])
async def test_unstorable_step_result_fails_fatally_and_cannot_be_caught(make_env: EnvFactory,
                                                                          value: Any) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            try:
                await step.do("bad", lambda: value)
            except Exception:
                return "swallowed"

    details, _ = await run_one(make_env, Flow)
    assert details["status"] == "errored"
    assert details["error"]["message"] == ('The execution of the Workflow instance was terminated, as '
                                           'the step "bad" returned a value which is not serialisable')
    attempt = details["steps"][0]["attempts"]
    assert len(attempt) == 1 and "not serialisable" in attempt[0]["error"]["message"]


def _self_referencing() -> dict[str, Any]:
    loop: dict[str, Any] = {"name": "loop"}
    loop["self"] = loop
    return loop


def _deeply_nested() -> list[Any]:
    value: list[Any] = []
    for _ in range(100_000):
        value = [value]
    return value


@pytest.mark.parametrize("make_value", [_self_referencing, _deeply_nested])
async def test_a_step_result_that_cannot_be_encoded_fails_as_not_serialisable(
        make_env: EnvFactory, make_value: Any) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.do("tangled", make_value)

    details, _ = await asyncio.wait_for(run_one(make_env, Flow), 20)
    assert details["error"] == {
        "name": "WorkflowFatalError",
        "message": 'The execution of the Workflow instance was terminated, as the step "tangled" '
                   "returned a value which is not serialisable"}
    attempts = details["steps"][0]["attempts"]
    assert [a["error"]["name"] for a in attempts] == ["WorkflowFatalError"]
    assert attempts[0]["error"]["message"].startswith(
        'Value returned from step "tangled" is not serialisable: a value of type ')
    assert "contains itself or is nested too deeply" in attempts[0]["error"]["message"]


@pytest.mark.parametrize("make_value", [_self_referencing, _deeply_nested])
async def test_an_output_that_cannot_be_encoded_errors_the_instance_once(
        make_env: EnvFactory, make_value: Any) -> None:
    runs: list[int] = []

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            runs.append(1)
            return make_value()

    details, _ = await asyncio.wait_for(run_one(make_env, Flow), 20)
    assert details["status"] == "errored"
    assert details["error"]["name"] == "WorkflowFatalError"
    assert details["error"]["message"].startswith(
        "The value returned from run() is not serialisable: a value of type ")
    assert runs == [1]


async def test_oversized_step_result_fails_with_its_size(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.do("big", lambda: "x" * (1024 * 1024 + 1))

    details, _ = await run_one(make_env, Flow)
    assert details["status"] == "errored"
    assert "1.0 MiB (1048579 bytes)" in details["steps"][0]["attempts"][0]["error"]["message"]


async def test_values_come_back_as_stored_with_attribute_access(make_env: EnvFactory,
                                                                hibernation: bool) -> None:
    seen: list[Any] = []

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            value = await step.do("v", lambda: {"tags": {"a"}, "nested": {"k": 1}})
            await step.sleep("nap", 1000)
            seen.append((value.nested.k, value.tags))
            return event.payload.who

    details, _ = await run_one(make_env, Flow, params={"who": "me"}, hibernate=hibernation)
    assert details["output"] == "me"
    assert seen[-1] == (1, {"a"})  # a set comes back a set, as a JavaScript Set does


async def test_sensitive_output_is_redacted_in_the_log(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            return await step.do("secret", lambda: "s3cret", config={"sensitive": "output"})

    details, _ = await run_one(make_env, Flow)
    assert details["steps"][0]["output"] == "[REDACTED]"
    assert details["output"] == "s3cret"


async def test_parallel_steps_with_gather(make_env: EnvFactory, hibernation: bool) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            async def work(n: int) -> int:
                await step.sleep(f"wait{n}", n * 1000)
                return await step.do(f"s{n}", lambda: n * 10)
            return list(await asyncio.gather(*(work(n) for n in (1, 2, 3))))

    details, _ = await run_one(make_env, Flow, hibernate=hibernation)
    assert details["output"] == [10, 20, 30]
    assert sorted(s["name"] for s in details["steps"] if s["type"] == "step") == ["s1-1", "s2-1", "s3-1"]


async def test_dynamic_delay_function_receives_ctx_and_error(make_env: EnvFactory) -> None:
    seen: list[Any] = []

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            def delay(arg: Any) -> str:
                seen.append((arg.ctx.attempt, str(arg.error)))
                return "2 seconds"

            def flaky(ctx: Any) -> int:
                if ctx.attempt == 1:
                    raise ValueError("first")
                return 1
            return await step.do("d", flaky, config={"retries": {"limit": 2, "delay": delay}})

    details, log = await run_one(make_env, Flow)
    assert details["output"] == 1
    assert seen == [(1, "first")]
    assert [r.metadata.get("retryDelayMs") for r in log if r.event is EventType.ATTEMPT_FAILURE] == [2000]
    assert "delay" not in details["steps"][0]["config"]["retries"]
