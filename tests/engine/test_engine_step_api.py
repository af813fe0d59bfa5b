"""The Cloudflare Python step API surface: decorator modes, ctx, direct form, the event object."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conftest import EnvFactory

from pyflow_cli.engine.entrypoint import WorkflowDefinition, WorkflowEntrypoint


async def output_of(make_env: EnvFactory, workflow: Any, params: Any = None) -> dict[str, Any]:
    async with make_env({"wf": workflow}) as env:
        instance_id = await env.service.create("wf", params=params)
        await env.run_until_done("wf", instance_id)
        return await env.service.describe("wf", instance_id)


async def test_legacy_decorator_passes_depends_results_in_order(make_env: EnvFactory) -> None:
    calls: list[str] = []

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            @step.do("dependency1")
            async def dep_1() -> str:
                calls.append("dep1")
                return "a"

            @step.do("dependency2")
            async def dep_2(ctx: Any) -> str:
                return f"b{ctx.attempt}"

            @step.do("final", depends=[dep_1, dep_2], concurrent=True)
            async def final(x: str, ctx: Any, y: str) -> str:
                return f"{x}{y}:{ctx.step.name}-{ctx.step.count}"

            first = await dep_1()
            return [first, await final()]

    details = await output_of(make_env, Flow)
    assert details["output"] == ["a", "ab1:final-1"]
    assert calls == ["dep1"]  # a dependency that already ran is reused, not run again
    assert [s["name"] for s in details["steps"]] == ["dependency1-1", "dependency2-1", "final-1"]


async def test_legacy_decorator_rejects_parameters_without_depends(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            @step.do("s")
            async def s(other: Any) -> None: ...
            await s()

    details = await output_of(make_env, Flow)
    assert details["error"] == {"message": "Step has 1 non-ctx parameter(s) but no 'depends' list provided",
                                "name": "TypeError"}


async def test_implicit_mode_resolves_dependencies_by_parameter_name(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            @step.do()
            async def dep_1() -> str:
                return "dep1"

            @step.do("second dependency")
            async def dep_2() -> str:
                return "dep2"

            @step.do(concurrent=True)
            async def final_step(dep_1: str, dep_2: str, ctx: Any) -> str:
                return f"{dep_1} {dep_2} attempt {ctx.attempt}"

            return await final_step()

    definition = WorkflowDefinition("wf", Flow, implicit_dependencies=True)
    details = await output_of(make_env, definition)
    assert details["output"] == "dep1 dep2 attempt 1"
    assert {s["name"] for s in details["steps"]} == {"dep_1-1", "second dependency-1", "final_step-1"}


async def test_implicit_mode_rejects_unknown_parameters(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            @step.do()
            async def lonely(nobody: Any) -> None: ...
            await lonely()

    details = await output_of(make_env, WorkflowDefinition("wf", Flow, implicit_dependencies=True))
    assert details["error"] == {"message": "Received unexpected parameter nobody", "name": "TypeError"}


async def test_direct_form_and_ctx_contents(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            plain = await step.do("plain", lambda: 1)
            with_ctx = await step.do("with ctx", lambda ctx: dict(ctx),
                                     config={"retries": {"limit": 1, "delay": "1 second"}})
            js_order = await step.do("js", {"timeout": "1 minute"}, lambda: "js")
            return [plain, with_ctx, js_order]

    details = await output_of(make_env, Flow)
    plain, ctx, js_order = details["output"]
    assert plain == 1 and js_order == "js"
    assert ctx == {"attempt": 1, "config": {"retries": {"limit": 1, "backoff": "exponential",
                                                        "delay": "1 second"}, "timeout": "10 minutes"},
                   "step": {"name": "with ctx", "count": 1}}


async def test_event_has_attribute_access_and_a_datetime_timestamp(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            assert isinstance(event.timestamp, datetime)
            return {"payload": event.payload, "id": event.instanceId, "wf": event.workflowName,
                    "email": event["payload"].email}

    details = await output_of(make_env, Flow, params={"email": "a@b.c"})
    assert details["output"] == {"payload": {"email": "a@b.c"}, "id": details["id"], "wf": "wf",
                                 "email": "a@b.c"}
