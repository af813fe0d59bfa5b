"""Creates joined into one store write (``pyflow_cli/coalesce.py``) obey the platform's creation
limits as single creates do: each concurrent request is admitted or refused (429) on its own,
in order, through the real app. A joined write that the limit refused whole would fail every
request in it; one that skipped the check would let the limit be passed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from serverkit import API, Output, write_project

from pyflow_cli.engine.admission import CreationRate, PlatformRules
from pyflow_cli.engine.changes import NewInstance
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.project.config import load_project
from pyflow_cli.server.app import create_app
from pyflow_cli.server.logs import DevLog
from pyflow_cli.server.runtime import DevRuntime

CREATES = f"{API}/workflows/steps/instances"
HOLDING = '''\
import asyncio

from workers import Response, WorkerEntrypoint, WorkflowEntrypoint


class StepsWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        if (event.payload or {}).get("hold"):
            async def hold():
                await asyncio.sleep(3600)
            await step.do("hold", hold)
        return 1


class NightlyWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        return None


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")
'''
Served = tuple[httpx.AsyncClient, list[int]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Callable[[PlatformRules], Any]]:
    opened: list[tuple[DevRuntime, httpx.AsyncClient]] = []

    async def start(rules: PlatformRules) -> Served:
        root = write_project(tmp_path / "app", entry=HOLDING)
        runtime = await DevRuntime.open(load_project(root), persist_to=root / "state",
                                        options=EngineOptions(poll_interval_s=0.05, rules=rules),
                                        log=DevLog("none", out=Output().out, err=Output().err))
        transport = httpx.ASGITransport(app=create_app(runtime))
        http = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8787")
        opened.append((runtime, http))
        return http, write_sizes(runtime)

    yield start
    for runtime, http in opened:
        await http.aclose()
        await runtime.close(0)


def write_sizes(runtime: DevRuntime) -> list[int]:
    """Sizes of the store's ``create_instances`` calls, in order (the real store still writes)."""
    sizes: list[int] = []
    store = runtime.service.store
    real = store.create_instances

    async def counted(instances: Sequence[NewInstance], lease: Any = None,
                      limits: Any = None) -> Any:
        sizes.append(len(instances))
        return await real(instances, lease, limits)

    store.create_instances = counted  # type: ignore[method-assign]
    return sizes


async def create_together(http: httpx.AsyncClient, count: int) -> list[httpx.Response]:
    """``count`` creates with generated ids, sent at once; the answers in the order sent. (Made
    after a first create, which records the code's version: until then each create waits on
    that write, and they would reach the store in different turns of the loop.)"""
    return list(await asyncio.gather(*(
        http.post(CREATES, json={"params": {"n": n}}) for n in range(count))))


async def stored_params(http: httpx.AsyncClient) -> list[int]:
    listed = (await http.get(f"{CREATES}?per_page=100")).json()["result"]
    ns = []
    for row in listed:
        details = (await http.get(f"{CREATES}/{row['id']}")).json()["result"]
        ns.append(details["params"]["n"])
    return sorted(ns)


async def test_under_the_creation_rate_each_joined_create_is_admitted_on_its_own(
        serve: Callable[[PlatformRules], Any]) -> None:
    http, sizes = await serve(PlatformRules(
        creation_rate=CreationRate(4, 60_000.0), origins={"creation_rate": "--plan free"}))
    assert (await http.post(CREATES, json={"params": {"n": -1}})).status_code == 200
    answers = await create_together(http, 10)
    assert sizes[1] == 10  # the ten were joined into one write first
    assert [a.status_code for a in answers] == [200] * 3 + [429] * 7
    for refused in answers[3:]:
        [error] = refused.json()["errors"]
        assert "(instance.rate_limited) Too many instances created: at most 4 every" in \
            error["message"]
        assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert await stored_params(http) == [-1, 0, 1, 2]  # the first three asked, and no more


async def test_under_the_queued_limit_each_joined_create_is_admitted_on_its_own(
        serve: Callable[[PlatformRules], Any]) -> None:
    # One running instance holds the only running slot, so every create stays queued.
    http, sizes = await serve(PlatformRules(max_running=1, max_queued=4))
    blocker = (await http.post(CREATES, json={"params": {"hold": True, "n": -1}})).json()
    for _ in range(200):
        status = (await http.get(f"{CREATES}/{blocker['result']['id']}")).json()["result"]
        if status["status"] == "running":
            break
        await asyncio.sleep(0.02)
    assert status["status"] == "running"
    answers = await create_together(http, 10)
    assert sizes[1] == 10
    assert [a.status_code for a in answers] == [200] * 4 + [429] * 6
    for refused in answers[4:]:
        [error] = refused.json()["errors"]
        assert "(instance.queue_full)" in error["message"]
    assert await stored_params(http) == [-1, 0, 1, 2, 3]
    assert (await http.post(CREATES, json={"params": {"n": 10}})).status_code == 429


async def test_without_a_limit_a_joined_write_is_one_store_call(
        serve: Callable[[PlatformRules], Any]) -> None:
    http, sizes = await serve(PlatformRules())
    assert (await http.post(CREATES, json={"params": {"n": -1}})).status_code == 200
    answers = await create_together(http, 10)
    assert [a.status_code for a in answers] == [200] * 10 and sizes == [1, 10]
