"""The replay-safety check: a workflow whose step calls change when ``run()`` is replayed is
reported with the step and the line; a deterministic one (concurrent steps included) is not."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
from testingkit import EnvFactory

from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.testing import NonDeterminismError, introspect_workflow_instance

HERE = Path(__file__).resolve()


def line_of(marker: str) -> int:
    """The line of this file that ends with ``# <marker>``."""
    lines = HERE.read_text().splitlines()
    return next(n for n, text in enumerate(lines, 1) if text.endswith(f"# {marker}"))


class RandomName(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        ticket = await step.do(f"book {random.random()}", lambda: "seat")  # random step
        await step.sleep("wait for the show", "1 hour")
        return ticket


class RandomNap(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        @step.do("prepare")
        async def prepare() -> str:
            return "ready"

        await prepare()
        await step.sleep("nap", random.choice(["1 hour", "2 hours", "3 hours", "4 hours"]))  # random nap
        await step.sleep("again", "1 hour")
        return "rested"


class Steady(WorkflowEntrypoint):
    """Deterministic, with concurrent branches whose calls interleave differently on replay."""

    async def run(self, event: Any, step: Any) -> Any:
        async def branch(name: str) -> list[Any]:
            first = await step.do(f"{name} first", lambda: name)
            await step.sleep(f"{name} pause", "2 hours" if name == "a" else "1 hour")
            second = await step.do(f"{name} second", lambda: name.upper())
            return [first, second]

        results = await asyncio.gather(branch("a"), branch("b"))
        await step.wait_for_event("done", "done", timeout="1 day")
        return results


@pytest.mark.parametrize("force_hibernate", [False, True])
async def test_a_step_named_with_random_is_reported_with_its_line(make_env: EnvFactory,
                                                                  force_hibernate: bool) -> None:
    async with make_env({"random_name": RandomName}, force_hibernate) as env:
        instance_id = await env.service.create("random_name", "i")
        await env.run_until_done("random_name", instance_id)
        problems = env.replay_problems()
        with pytest.raises(NonDeterminismError) as raised:
            env.check_replay()
    [problem] = problems
    where = f"{HERE}:{line_of('random step')}"
    assert problem.startswith("run() of random_name/i is not deterministic: replayed after "
                              'hibernation, it did not call step.do("book 0.')
    assert f") ({where}) again, which it had called before; it called step.do(\"book 0." in problem
    assert problem.endswith(f"({where}) instead. Build step names (and sleep durations) only from "
                            "the event, earlier step results and constants: never from random, "
                            "the time or anything else that changes when run() is replayed.")
    assert str(raised.value) == problem


async def test_a_sleep_of_random_length_is_reported(make_env: EnvFactory) -> None:
    random.seed(7)  # the first two choices differ
    async with make_env({"random_nap": RandomNap}, force_hibernate=True) as env:
        await env.service.create("random_nap", "i")
        await env.run_until_done("random_nap", "i")
        [problem] = env.replay_problems()
    where = f"{HERE}:{line_of('random nap')}"
    assert f'it did not call step.sleep("nap") ({where}) again' in problem
    assert (f'it called step.sleep("nap") ({where}) instead (the same name with another duration '
            "or time: another step)") in problem


async def test_a_deterministic_workflow_with_concurrent_steps_is_not_reported(
        make_env: EnvFactory, hibernation: bool) -> None:
    async with make_env({"steady": Steady}, hibernation) as env:
        instance = introspect_workflow_instance(env.env().STEADY, "i")
        await env.env().STEADY.create(id="i")
        await instance.wait_for_status("waiting")
        await instance.modify(lambda m: m.mock_event(type="done"))
        await instance.wait_for_status("complete")
        lifetimes = len(env.registry.state("steady", "i").lifetimes)
        assert await instance.get_output() == [["a", "A"], ["b", "B"]]
        assert env.replay_problems() == []
    assert lifetimes > 1 if hibernation else lifetimes >= 1


async def test_waiting_on_a_non_deterministic_instance_raises_the_report(make_env: EnvFactory) -> None:
    async with make_env({"random_name": RandomName}) as env:
        instance = introspect_workflow_instance(env.env().RANDOM_NAME, "i")
        await env.env().RANDOM_NAME.create(id="i")
        with pytest.raises(NonDeterminismError, match=r"^run\(\) of random_name/i is not deterministic"):
            await instance.wait_for_status("complete")
