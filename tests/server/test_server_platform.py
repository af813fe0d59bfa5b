"""The platform's rules through the dev server: a create over a limit is the platform's 429
(with Retry-After for the creation rate) from the local API, and an exception user code can
catch from the binding; deleting by age and the versions over the local API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from serverkit import API, Output, write_project

from pyflow_cli.client import DevClient
from pyflow_cli.engine.admission import CreationRate, PlatformRules
from pyflow_cli.engine.changes import NewInstance
from pyflow_cli.engine.errors import QueueFullError, RateLimitedError
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.project.config import load_project
from pyflow_cli.server.app import create_app
from pyflow_cli.server.logs import DevLog
from pyflow_cli.server.runtime import DevRuntime

CATCHING = '''\
from workers import Response, WorkerEntrypoint, WorkflowEntrypoint
from pyflow_cli import RateLimitedError, TooManyRequestsError


class StepsWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        return await step.do("one", lambda: 1)


class NightlyWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        return None


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        made, refused = [], None
        for _ in range(5):
            try:
                made.append((await self.env.STEPS.create()).id)
            except TooManyRequestsError as error:
                refused = {"name": type(error).__name__, "message": str(error),
                           "retry_after": error.retry_after_s,
                           "rate": isinstance(error, RateLimitedError)}
                break
        return Response.json({"made": len(made), "refused": refused})
'''


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[tuple[DevRuntime, httpx.AsyncClient]]:
    root = write_project(tmp_path / "app", entry=CATCHING)
    rules = PlatformRules(max_queued=50, creation_rate=CreationRate(3, 10_000.0),
                          origins={"creation_rate": "--plan free"})
    runtime = await DevRuntime.open(load_project(root), persist_to=root / "state",
                                    options=EngineOptions(poll_interval_s=0.05, rules=rules),
                                    log=DevLog("none", out=Output().out, err=Output().err))
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8787") as http:
        yield runtime, http
    await runtime.close(0)


async def test_the_binding_raises_an_error_user_code_can_catch(
        limited: tuple[DevRuntime, httpx.AsyncClient]) -> None:
    _, http = limited
    answer = (await http.get("/")).json()
    assert answer["made"] == 3
    refused = answer["refused"]
    assert refused["name"] == "RateLimitedError" and refused["rate"] is True
    assert 0 < refused["retry_after"] <= 10
    assert "Too many instances created: at most 3 every 10 seconds (--plan free)" in \
        refused["message"]


async def test_the_api_answers_429_with_retry_after(
        limited: tuple[DevRuntime, httpx.AsyncClient]) -> None:
    _, http = limited
    for _ in range(3):
        assert (await http.post(f"{API}/workflows/steps/instances", json={})).status_code == 200
    refused = await http.post(f"{API}/workflows/steps/instances", json={"id": "late"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 10
    [error] = refused.json()["errors"]
    assert error["message"].startswith(
        "WorkflowError: (instance.rate_limited) Too many instances created: at most 3 every 10 "
        "seconds (--plan free), and 3 were created in the last 10 seconds. Retry in ")
    missing = await http.get(f"{API}/workflows/steps/instances/late")
    assert missing.status_code == 404


async def test_purge_and_versions_over_the_local_api(
        limited: tuple[DevRuntime, httpx.AsyncClient]) -> None:
    runtime, http = limited
    created = (await http.post(f"{API}/workflows/steps/instances", json={"id": "done"})).json()
    assert created["result"]["id"] == "done"
    for _ in range(100):
        details = (await http.get(f"{API}/workflows/steps/instances/done")).json()["result"]
        if details["status"] == "complete":
            break
        await asyncio.sleep(0.05)
    assert details["version"] == "v1" and details["versionId"] == runtime.version_id
    versions = (await http.get(f"{API}/local/versions")).json()["result"]
    assert [(v["label"], v["id"], v["instances"]) for v in versions] == [
        ("v1", runtime.version_id, 1)]
    listed = (await http.get(f"{API}/workflows/steps/instances?version=v1")).json()["result"]
    assert [(row["id"], row["version"]) for row in listed] == [("done", "v1")]
    unknown = await http.get(f"{API}/workflows/steps/instances?version=v7")
    assert unknown.status_code == 400
    kept = (await http.post(f"{API}/workflows/steps/purge",
                            json={"older_than": "1h", "dry_run": True})).json()
    assert kept["result"] == {"matched": 0}
    gone = (await http.post(f"{API}/workflows/steps/purge", json={"older_than": "1ms"})).json()
    assert gone["result"] == {"deleted": 1}
    bad = await http.post(f"{API}/workflows/steps/purge", json={"older_than": "soon"})
    assert bad.status_code == 400
    both = await http.post(f"{API}/workflows/steps/purge",
                           json={"older_than": "1d", "ended_before": "2026-01-01T00:00:00Z"})
    assert both.status_code == 400
    unfinished = await http.post(f"{API}/workflows/steps/purge",
                                 json={"older_than": "1d", "status": "running"})
    assert unfinished.status_code == 400
    nowhere = await http.post(f"{API}/workflows/nope/purge", json={"older_than": "1d"})
    assert nowhere.status_code == 404


async def test_pyflow_s_client_raises_the_limit_s_own_error(
        limited: tuple[DevRuntime, httpx.AsyncClient]) -> None:
    """The CLI's client maps a 429 by its stable code: the creation rate's error with when to
    retry, the queued limit's, and the platform's version and purge routes answer it too."""
    runtime, _ = limited
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with DevClient("http://127.0.0.1:8787", transport=transport) as client:
        for _ in range(3):
            await client.create("steps")
        with pytest.raises(RateLimitedError) as refused:
            await client.create("steps", "late")
        assert 0 < refused.value.retry_after_s <= 10
        assert refused.value.message.startswith("Too many instances created: at most 3 every")
        assert [v.label for v in await client.list_versions()] == ["v1"]
        assert await client.count_finished_before("steps", runtime.workspace.clock.now_ms()) >= 0
    full = PlatformRules(max_queued=1)
    runtime.service.rules = full  # (the service's limits, as a process given --max-queued 1)
    async with DevClient("http://127.0.0.1:8787", transport=transport) as client:
        # Queued for good: no engine runs that workflow (the limit counts the whole store).
        held = await runtime.service.store.create_instances(
            [NewInstance("run-elsewhere", "waiting", "{}", 0.0, 0, None)])
        assert held != [None]
        with pytest.raises(QueueFullError, match="Too many queued instances: at most 1 may"):
            await client.create("steps", "one-too-many")
