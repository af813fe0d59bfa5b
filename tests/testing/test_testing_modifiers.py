"""Every modifier of SPEC §7, through ``introspect_workflow_instance``, resident and with forced
hibernation at every wait (the modifiers must hold across replays)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from testingkit import DAY_MS, EnvFactory, attempts

from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.engine.events import EventType
from pyflow_cli.testing import IntrospectionError, introspect_workflow_instance

RETRY = {"retries": {"limit": 3, "delay": "1 minute", "backoff": "constant"}}


class Charge(WorkflowEntrypoint):
    """Charges a card (retried every minute), cools off for a week."""

    calls: ClassVar[list[int]] = []

    async def run(self, event: Any, step: Any) -> Any:
        async def charge(ctx: Any) -> Any:
            Charge.calls.append(ctx["attempt"])
            return {"paid": True, "attempt": ctx["attempt"]}

        try:
            payment = await step.do("charge card", charge, config=RETRY)
        except ConnectionError as error:
            return {"caught": type(error).__name__, "message": str(error)}
        await step.sleep("cool off", "7 days")
        return payment


@pytest.fixture(autouse=True)
def no_calls() -> None:
    Charge.calls.clear()


async def start(env: Any, instance_id: str = "i") -> Any:
    """An introspector on a not-yet-created instance of ``charge``."""
    return introspect_workflow_instance(env.env().CHARGE, instance_id)


async def test_a_mocked_result_stands_in_for_the_body_and_is_logged(make_env: EnvFactory,
                                                                     hibernation: bool) -> None:
    async with make_env({"charge": Charge}, hibernation) as env:
        instance = await start(env)
        await instance.modify(lambda m: m.mock_step_result({"name": "charge card"}, {"paid": "mocked"}))
        await env.env().CHARGE.create(id="i")
        await instance.wait_for_status("complete")
        assert await instance.get_output() == {"paid": "mocked"}
        log = await env.store.read_log((await env.service.get("charge", "i")).iid)
    assert Charge.calls == []
    charge_rows = [row.event for row in log if row.target == "charge card-1"]
    assert charge_rows == [EventType.STEP_START, EventType.ATTEMPT_START, EventType.ATTEMPT_SUCCESS,
                           EventType.STEP_SUCCESS]


async def test_mocking_a_result_twice_or_an_error_after_it_is_refused(make_env: EnvFactory) -> None:
    async with make_env({"charge": Charge}) as env:
        instance = await start(env)
        await instance.modify(lambda m: m.mock_step_result("charge card", 1))
        with pytest.raises(IntrospectionError) as twice:
            await instance.modify(lambda m: m.mock_step_result("charge card", 2))
        with pytest.raises(IntrospectionError) as error_after:
            await instance.modify(lambda m: m.mock_step_error("charge card", ValueError("x")))
        with pytest.raises(IntrospectionError) as timeout_after:
            await instance.modify(lambda m: m.force_step_timeout("charge card", times=1))
    assert str(twice.value) == "[WorkflowIntrospector] Trying to mock step 'charge card' multiple times!"
    assert str(error_after.value) == ("[WorkflowIntrospector] Trying to mock error on step "
                                      "'charge card' after mocking its result!")
    assert str(timeout_after.value) == ("[WorkflowIntrospector] Trying to force timeout on step "
                                        "'charge card' after mocking its result!")


async def test_a_step_mocked_to_fail_twice_recovers_on_its_third_attempt(make_env: EnvFactory,
                                                                         hibernation: bool) -> None:
    async with make_env({"charge": Charge}, hibernation) as env:
        instance = await start(env)
        await instance.modify(lambda m: m.mock_step_error("charge card", TimeoutError("API down"),
                                                          times=2))
        await env.env().CHARGE.create(id="i")
        assert await instance.wait_for_step_result("charge card") == {"paid": True, "attempt": 3}
        await instance.wait_for_status("complete")
        tried = await attempts(env, "charge", "i", "charge card-1")
    assert Charge.calls == [3]  # the body ran only when the mocks were used up
    assert tried == [(False, {"name": "TimeoutError", "message": "API down"})] * 2 + [(True, None)]


async def test_a_mocked_error_fails_every_attempt_and_keeps_its_class(make_env: EnvFactory,
                                                                      hibernation: bool) -> None:
    async with make_env({"charge": Charge}, hibernation) as env:
        instance = await start(env)

        async def down(m: Any) -> None:
            await m.disable_retry_delays()
            await m.mock_step_error({"name": "charge card", "index": 1}, ConnectionError("down"))

        await instance.modify(down)
        await env.env().CHARGE.create(id="i")
        await instance.wait_for_status("complete")
        output = await instance.get_output()
        tried = await attempts(env, "charge", "i", "charge card-1")
    assert output == {"caught": "ConnectionError", "message": "down"}  # `except ConnectionError` works
    assert len(tried) == 4 and not any(ok for ok, _ in tried)
    assert Charge.calls == []


async def test_forced_timeouts_and_mocked_errors_take_the_next_attempts_in_turn(
        make_env: EnvFactory, hibernation: bool) -> None:
    async with make_env({"charge": Charge}, hibernation) as env:
        instance = await start(env)

        async def flaky(m: Any) -> None:
            await m.mock_step_error("charge card", ValueError("bad gateway"), times=1)
            await m.force_step_timeout("charge card", times=1)

        await instance.modify(flaky)
        await env.env().CHARGE.create(id="i")
        await instance.wait_for_status("complete")
        tried = await attempts(env, "charge", "i", "charge card-1")
    assert tried == [(False, {"name": "ValueError", "message": "bad gateway"}),
                     (False, {"name": "WorkflowTimeoutError", "message": "Execution timed out after 0ms"}),
                     (True, None)]
    assert Charge.calls == [3]


async def test_a_step_forced_to_time_out_on_every_attempt_errors_the_instance(
        make_env: EnvFactory) -> None:
    async with make_env({"charge": Charge}) as env:
        instance = await start(env)
        await instance.modify(lambda m: m.force_step_timeout("charge card"))
        await env.env().CHARGE.create(id="i")
        await instance.wait_for_status("errored")
        error = await instance.get_error()
    assert error == {"name": "WorkflowTimeoutError", "message": "Execution timed out after 0ms"}
    assert Charge.calls == []


class Naps(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        await step.sleep("nap", "1 hour")
        await step.sleep("nap", "2 hours")  # the second use of the name: index 2
        await step.sleep("siesta", "1 day")
        return "rested"


async def test_disabled_sleeps_end_at_once_and_are_still_logged(make_env: EnvFactory,
                                                                 hibernation: bool) -> None:
    async with make_env({"naps": Naps}, hibernation) as env:
        instance = introspect_workflow_instance(env.env().NAPS, "i")
        await instance.modify(lambda m: m.disable_sleeps())
        start_ms = env.clock.now_ms()
        await env.env().NAPS.create(id="i")
        await instance.wait_for_status("complete")
        log = await env.store.read_log((await env.service.get("naps", "i")).iid)
    assert env.clock.now_ms() == start_ms
    sleeps = [(row.event, row.target, row.metadata.get("durationMs")) for row in log
              if row.event in (EventType.SLEEP_START, EventType.SLEEP_COMPLETE)]
    # A sleep's display counter counts its name and duration (as the reference's does); a
    # selector's index counts the name alone.
    start, done = EventType.SLEEP_START, EventType.SLEEP_COMPLETE
    assert sleeps == [(start, "nap-1", 3_600_000), (done, "nap-1", None),
                      (start, "nap-1", 7_200_000), (done, "nap-1", None),
                      (start, "siesta-1", DAY_MS), (done, "siesta-1", None)]


async def test_selected_sleeps_are_picked_by_name_and_index(make_env: EnvFactory,
                                                            hibernation: bool) -> None:
    async with make_env({"naps": Naps}, hibernation) as env:
        instance = introspect_workflow_instance(env.env().NAPS, "i")
        await instance.modify(lambda m: m.disable_sleeps([{"name": "nap", "index": 2}, "siesta"]))
        start_ms = env.clock.now_ms()
        await env.env().NAPS.create(id="i")
        await instance.wait_for_status("complete")
    assert env.clock.now_ms() - start_ms == 3_600_000  # only the first nap was slept


class TwoFlaky(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        async def fail(ctx: Any) -> Any:
            if ctx["attempt"] < 3:
                raise RuntimeError(f"attempt {ctx['attempt']}")
            return ctx["attempt"]

        first = await step.do("slow retries", fail, config=RETRY)
        second = await step.do("quick retries", fail, config=RETRY)
        return [first, second]


async def test_disabled_retry_delays_retry_at_once_and_keep_the_logged_delay(
        make_env: EnvFactory, hibernation: bool) -> None:
    async with make_env({"two_flaky": TwoFlaky}, hibernation) as env:
        instance = introspect_workflow_instance(env.env().TWO_FLAKY, "i")
        await instance.modify(lambda m: m.disable_retry_delays([{"name": "quick retries"}]))
        start_ms = env.clock.now_ms()
        await env.env().TWO_FLAKY.create(id="i")
        await instance.wait_for_status("complete")
        details = await env.service.describe("two_flaky", "i")
    assert details["output"] == [3, 3]
    assert env.clock.now_ms() - start_ms == 2 * 60_000  # only the slow step's two delays passed
    quick = next(s for s in details["steps"] if s["name"] == "quick retries-1")
    assert [a.get("retryDelayMs") for a in quick["attempts"]] == [60_000, 60_000, None]


class Approval(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        first = await step.wait_for_event("approval", "approved", timeout="1 hour")
        try:
            await step.wait_for_event("approval", "approved", timeout="1 day")
        except Exception as error:
            return {"first": first["payload"], "second": type(error).__name__}
        return {"first": first["payload"], "second": "arrived"}


async def test_an_event_mocked_before_the_instance_exists_is_delivered_to_it(
        make_env: EnvFactory, hibernation: bool) -> None:
    async with make_env({"approval": Approval}, hibernation) as env:
        instance = introspect_workflow_instance(env.env().APPROVAL, "i")

        async def answers(m: Any) -> None:
            await m.mock_event({"type": "approved", "payload": {"by": "ada"}})
            await m.force_event_timeout({"name": "approval", "index": 2})

        await instance.modify(answers)
        start_ms = env.clock.now_ms()
        await env.env().APPROVAL.create(id="i")
        await instance.wait_for_status("complete")
        output = await instance.get_output()
        log = await env.store.read_log((await env.service.get("approval", "i")).iid)
    assert output == {"first": {"by": "ada"}, "second": "WorkflowTimeoutError"}
    assert env.clock.now_ms() == start_ms  # the second wait did not wait for its day
    waits = [(row.event, row.target) for row in log if row.event in (
        EventType.WAIT_START, EventType.WAIT_COMPLETE, EventType.WAIT_TIMED_OUT)]
    assert waits == [(EventType.WAIT_START, "approval-1"), (EventType.WAIT_COMPLETE, "approval-1"),
                     (EventType.WAIT_START, "approval-2"), (EventType.WAIT_TIMED_OUT, "approval-2")]


async def test_an_event_mocked_while_the_instance_waits_wakes_it(make_env: EnvFactory,
                                                                 hibernation: bool) -> None:
    async with make_env({"approval": Approval}, hibernation) as env:
        instance = introspect_workflow_instance(env.env().APPROVAL, "i")
        await env.env().APPROVAL.create(id="i")
        await instance.wait_for_status("waiting")
        await instance.modify(lambda m: m.mock_event(type="approved", payload=1))
        await instance.modify(lambda m: m.mockEvent({"type": "approved", "payload": 2}))
        await instance.wait_for_status("complete")
        assert await instance.get_output() == {"first": 1, "second": "arrived"}


class Fetches(WorkflowEntrypoint):
    calls: ClassVar[list[str]] = []

    async def run(self, event: Any, step: Any) -> Any:
        async def fetch(ctx: Any) -> Any:
            Fetches.calls.append(f"fetch-{ctx['step']['count']}")
            return f"real {ctx['step']['count']}"

        return [await step.do("fetch", fetch), await step.do("fetch", fetch)]


async def test_a_selector_index_picks_the_nth_use_of_a_step_name(make_env: EnvFactory) -> None:
    Fetches.calls.clear()
    async with make_env({"fetches": Fetches}) as env:
        instance = introspect_workflow_instance(env.env().FETCHES, "i")
        await instance.modify(lambda m: m.mock_step_result({"name": "fetch", "index": 2}, "mocked"))
        await env.env().FETCHES.create(id="i")
        assert await instance.wait_for_step_result({"name": "fetch", "index": 2}) == "mocked"
        assert await instance.wait_for_step_result({"name": "fetch"}) == "real 1"
        await instance.wait_for_status("complete")
        assert await instance.get_output() == ["real 1", "mocked"]
    assert Fetches.calls == ["fetch-1"]


@pytest.mark.parametrize(("call", "message"), [
    (lambda m: m.mock_step_result({"name": "x", "index": 0}, 1), 'A step is selected by its name or'),
    (lambda m: m.mock_step_result({"name": "x", "count": 1}, 1), 'A step is selected by its name or'),
    (lambda m: m.disable_sleeps("nap"), "steps must be a list of step selectors"),
    (lambda m: m.mock_step_error("x", "not an exception"), "mock_step_error needs an exception"),
    (lambda m: m.mock_step_error("x", KeyboardInterrupt()), "mock_step_error needs an exception"),
    (lambda m: m.force_step_timeout("x", times=0), "times must be a number of attempts from 1 up"),
    (lambda m: m.mock_step_result("x", object()), "The mocked result of step 'x' cannot be stored"),
    (lambda m: m.mock_event({"payload": 1}), "mock_event needs an event type"),
])
async def test_a_modifier_given_bad_arguments_says_what_it_needs(make_env: EnvFactory, call: Any,
                                                                message: str) -> None:
    async with make_env({"charge": Charge}) as env:
        instance = await start(env)
        with pytest.raises((TypeError, ValueError), match=message.replace("(", r"\(")):
            await instance.modify(call)
