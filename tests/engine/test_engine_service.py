"""The service API and the env bindings: create rules, batches, bad input, reads, status shapes."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import EnvFactory

from pyflow_cli.bindings import WorkflowBinding
from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.engine.errors import (
    InstanceNotFoundError,
    InvalidInputError,
    NotFoundError,
    WorkflowError,
)
from pyflow_cli.engine.status import InstanceStatus


class Echo(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        return await step.do("echo", lambda: event.payload)


async def snapshot(env: Any) -> list[Any]:
    """Every stored row, to prove bad input changed nothing."""
    page = await env.store.list_instances("wf", limit=1000)
    return [(r, await env.store.read_log(r.iid)) for r in page.records]


async def test_create_generates_a_uuid_and_rejects_bad_and_duplicate_ids(make_env: EnvFactory) -> None:
    async with make_env({"wf": Echo}) as env:
        generated = await env.service.create("wf")
        assert len(generated) == 36 and generated[14] == "4"
        await env.service.create("wf", "order-1", {"a": 1})
        await env.run_until_done("wf", "order-1")
        before = await snapshot(env)
        with pytest.raises(WorkflowError, match=r"Workflow instance has invalid id"):
            await env.service.create("wf", "bad id")
        with pytest.raises(WorkflowError, match=r'\(instance.already_exists\) Workflow instance with id '
                                                r'"order-1" already exists'):
            await env.service.create("wf", "order-1")
        with pytest.raises(InvalidInputError, match="not serialisable"):
            await env.service.create("wf", "x", {"f": object()})
        with pytest.raises(InvalidInputError, match="over the 1 MiB limit"):
            await env.service.create("wf", "y", "x" * (1024 * 1024 + 10))
        with pytest.raises(NotFoundError, match=r'Workflow "nope" is not defined in wrangler.toml '
                                                r"\(defined: wf\)"):
            await env.service.create("nope")
        with pytest.raises(InstanceNotFoundError, match=r"instance\.not_found"):
            await env.service.get("wf", "missing")
        assert await snapshot(env) == before


async def test_lookups_of_missing_instances_never_write(make_env: EnvFactory) -> None:
    async with make_env({"wf": Echo}) as env:
        for call in (env.service.status, env.service.describe, env.service.pause):
            with pytest.raises(InstanceNotFoundError):
                await call("wf", "ghost")
        assert (await env.store.list_instances("wf")).total == 0
        with pytest.raises(NotFoundError, match='There are no instances in workflow "wf"'):
            await env.service.latest("wf")


async def test_create_batch_skips_existing_and_repeated_ids(make_env: EnvFactory) -> None:
    async with make_env({"wf": Echo}) as env:
        await env.service.create("wf", "a")
        result = await env.service.create_batch("wf", [{"id": "a"}, {"id": "b"}, {"id": "b"}, {}])
        assert result.created[0] == "b" and len(result.created) == 2
        assert [(e["index"], e["code"]) for e in result.errors] == [(0, 10405), (2, 10415)]
        with pytest.raises(WorkflowError, match="at least 1 instance"):
            await env.service.create_batch("wf", [])
        with pytest.raises(WorkflowError, match="only supports 100 instances"):
            await env.service.create_batch("wf", [{}] * 101)


async def test_status_shape_matches_the_reference(make_env: EnvFactory) -> None:
    class Fails(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            await step.do("one", lambda: {"hello": event.payload})
            raise RuntimeError("boom")

    async with make_env({"wf": Echo, "bad": Fails}) as env:
        ok = await env.service.create("wf", params={"mode": "ok"})
        bad = await env.service.create("bad", params={"mode": "x"})
        await env.run_until_done("wf", ok)
        await env.run_until_done("bad", bad)
        assert await env.service.status("wf", ok) == {
            "status": "complete", "__LOCAL_DEV_STEP_OUTPUTS": [{"mode": "ok"}], "output": {"mode": "ok"}}
        assert await env.service.status("bad", bad) == {
            "status": "errored", "__LOCAL_DEV_STEP_OUTPUTS": [{"hello": {"mode": "x"}}], "output": None,
            "error": {"message": "boom", "name": "RuntimeError"}}


async def test_list_pages_filters_and_latest(make_env: EnvFactory) -> None:
    async with make_env({"wf": Echo}) as env:
        for i in range(5):
            await env.service.create("wf", f"i{i}")
            env.clock.advance(1000)
        await env.run_until_done("wf", "i4")
        await env.settle()
        page = await env.service.list_instances("wf", page=2, per_page=2)
        assert [r.id for r in page.instances] == ["i2", "i1"] and page.total == 5
        oldest_first = await env.service.list_instances("wf", per_page=2, newest_first=False)
        assert [r.id for r in oldest_first.instances] == ["i0", "i1"]
        complete = await env.service.list_instances("wf", status="complete")
        assert complete.total == 5
        assert (await env.service.latest("wf")).id == "i4"
        counts = await env.service.status_counts("wf")
        assert counts["complete"] == 5 and counts["queued"] == 0 and "waitingForPause" in counts


async def test_bindings_behave_like_cloudflare_python_bindings(make_env: EnvFactory) -> None:
    async with make_env({"wf": Echo}) as env:
        binding = WorkflowBinding(env.service, "wf")
        first = await binding.create({"id": "one", "params": {"x": 1}})
        await binding.create(id="two", params={"x": 2})
        third = await binding.create()
        await env.run_until_done("wf", "two")
        await env.settle()
        status = await first.status()
        assert status.status == "complete" and status.output == {"x": 1}
        assert (await (await binding.get("two")).status()).output.x == 2
        assert len(third.id) == 36
        batch = await binding.create_batch([{"id": "b1"}, {"id": "one"}])
        assert [h.id for h in batch] == ["b1"]
        newer = await binding.create_batch({"count": 2, "params": {"x": 3}})
        assert len(newer.created) == 2 and newer.errors == []
        with pytest.raises(WorkflowError, match=r"instance\.not_found"):
            await binding.get("ghost")
        record = await env.service.get("wf", "one")
        assert record.trigger == 1  # created through a binding


async def test_send_event_to_a_finished_instance_is_stored_without_effect(make_env: EnvFactory) -> None:
    async with make_env({"wf": Echo}) as env:
        instance_id = await env.service.create("wf")
        await env.run_until_done("wf", instance_id)
        await env.service.send_event("wf", instance_id, "late", {"x": 1})
        await env.settle()
        assert (await env.service.get("wf", instance_id)).status is InstanceStatus.COMPLETE
        with pytest.raises(InvalidInputError, match="over the 1 MiB limit"):
            await env.service.send_event("wf", instance_id, "big", "x" * (1024 * 1024 + 1))


async def test_new_style_batch_refuses_reserved_ids(make_env: EnvFactory) -> None:
    async with make_env({"wf": Echo}) as env:
        binding = WorkflowBinding(env.service, "wf")
        with pytest.raises(WorkflowError, match=r"\(instance\.invalid_id\) Instance ID is invalid"):
            await binding.create_batch({"instances": [{"id": "terminateAll"}]})
        assert (await env.store.list_instances("wf")).total == 0
