"""Creates made in the same turn of the event loop are written together (``pyflow_cli.coalesce``):
one store write for many callers, each with its own answer; a failed write fails each of them;
explicit ids keep their one-by-one semantics."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from conftest import EnvFactory

from pyflow_cli.engine.changes import NewInstance
from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.engine.errors import DuplicateInstanceError, StorageError
from pyflow_cli.engine.limits import MAX_BATCH_SIZE


class Twice(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> int:
        first = await step.do("one", lambda: 1)
        return int(first) + int(await step.do("two", lambda: 1))


def count_writes(store: Any) -> list[int]:
    """Sizes of the store's ``create_instances`` calls (the real store still writes)."""
    sizes: list[int] = []
    real = store.create_instances

    async def counted(instances: Sequence[NewInstance], lease: Any = None,
                      limits: Any = None) -> Any:
        sizes.append(len(instances))
        return await real(instances, lease, limits)

    store.create_instances = counted
    return sizes


async def test_concurrent_creates_share_one_write_and_each_runs(make_env: EnvFactory) -> None:
    async with make_env({"twice": Twice}) as env:
        sizes = count_writes(env.store)
        ids = await asyncio.gather(*(env.service.create("twice") for _ in range(20)))
        assert sizes == [20] and len(set(ids)) == 20
        for instance_id in ids:
            record = await env.run_until_done("twice", instance_id)
            assert record.status.value == "complete"


async def test_a_batch_holds_at_most_the_batch_limit(make_env: EnvFactory) -> None:
    async with make_env({"twice": Twice}) as env:
        sizes = count_writes(env.store)
        await asyncio.gather(*(env.service.create("twice") for _ in range(MAX_BATCH_SIZE + 30)))
        assert sizes == [MAX_BATCH_SIZE, 30]


async def test_a_failed_write_fails_every_create_in_it(make_env: EnvFactory) -> None:
    async with make_env({"twice": Twice}) as env:
        async def refuse(instances: Sequence[NewInstance], lease: Any = None,
                         limits: Any = None) -> Any:
            raise StorageError("The disk is full.")

        env.store.create_instances = refuse  # type: ignore[method-assign]
        results = await asyncio.gather(*(env.service.create("twice") for _ in range(3)),
                                       return_exceptions=True)
        assert [str(r) for r in results] == ["The disk is full."] * 3


async def test_explicit_ids_are_written_one_by_one(make_env: EnvFactory) -> None:
    async with make_env({"twice": Twice}) as env:
        sizes = count_writes(env.store)
        results = await asyncio.gather(env.service.create("twice", "same"),
                                       env.service.create("twice", "same"),
                                       return_exceptions=True)
        assert results[0] == "same" and isinstance(results[1], DuplicateInstanceError)
        assert sizes == [1, 1]


@pytest.mark.parametrize("waiters", [1, 5])
async def test_a_caller_that_stops_waiting_leaves_the_others_answered(
        make_env: EnvFactory, waiters: int) -> None:
    async with make_env({"twice": Twice}) as env:
        gone = asyncio.ensure_future(env.service.create("twice"))
        others = [asyncio.ensure_future(env.service.create("twice")) for _ in range(waiters)]
        await asyncio.sleep(0)
        gone.cancel()
        created = await asyncio.gather(*others)
        assert len(set(created)) == waiters
