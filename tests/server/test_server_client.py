"""``DevClient`` gives the same answers and raises the same errors as ``WorkflowService``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from pyflow_cli.client import DevClient, DevServerUnavailable
from pyflow_cli.engine.control import RestartFrom
from pyflow_cli.engine.errors import (
    DuplicateInstanceError,
    InstanceNotFoundError,
    InvalidInstanceIdError,
    NotFoundError,
    PyflowError,
    WorkflowError,
    error_code,
)
from pyflow_cli.engine.events import TriggerSource
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.server.app import create_app
from pyflow_cli.server.runtime import DevRuntime


@pytest.fixture
async def client(runtime: DevRuntime) -> AsyncIterator[DevClient]:
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with DevClient("http://127.0.0.1:8787", transport=transport) as dev_client:
        yield dev_client


async def test_reads_match_the_service(client: DevClient, runtime: DevRuntime,
                                       http: httpx.AsyncClient, wait_status: Any) -> None:
    service = runtime.service
    first = await client.create("steps", "c1", {"steps": 2}, TriggerSource.CLI)
    assert first == "c1"
    await wait_status(http, "steps", "c1")
    await client.create("steps", "c2", {"wait": True})
    await wait_status(http, "steps", "c2", ("waiting",))

    remote, local = await client.resolve("steps", "c1"), await service.resolve("steps", "c1")
    assert (remote.workflow, remote.id, remote.status) == (local.workflow, local.id, local.status)
    assert abs(remote.created_ms - local.created_ms) < 1  # the API gives milliseconds
    assert (await client.describe("steps", "c1"))["trigger"] == {"source": TriggerSource.CLI}
    assert (await client.resolve("steps", "latest")).id == "c2"
    assert await client.status("steps", "c1") == await service.status("steps", "c1")
    assert await client.describe("steps", "c1") == await service.describe("steps", "c1")
    assert (await client.describe("steps", "latest"))["id"] == "c2"
    assert await client.status_counts("steps") == await service.status_counts("steps")
    assert [w.name for w in await client.list_workflows()] == ["steps", "nightly"]
    for newest_first in (True, False):
        for page in (1, 2):
            remote_page = await client.list_instances("steps", page=page, per_page=1,
                                                      newest_first=newest_first)
            local_page = await service.list_instances("steps", page=page, per_page=1,
                                                      newest_first=newest_first)
            assert [r.id for r in remote_page.instances] == [r.id for r in local_page.instances]
            assert remote_page.total == local_page.total == 2
    waiting = await client.list_instances("steps", status="waiting")
    assert [r.id for r in waiting.instances] == ["c2"]
    stored = await service.read_log("steps", "c1")
    assert await client.read_log("steps", "c1") == stored
    assert await client.read_log("steps", "c1", after_seq=stored[2].seq) == stored[3:]
    assert await client.engine_attached()


async def test_control_and_events(client: DevClient, http: httpx.AsyncClient,
                                  wait_status: Any) -> None:
    await client.create("steps", "w", {"wait": True})
    await wait_status(http, "steps", "w", ("waiting",))
    assert await client.pause("steps", "latest") is InstanceStatus.PAUSED
    assert await client.resume("steps", "w") in (InstanceStatus.QUEUED, InstanceStatus.RUNNING,
                                                 InstanceStatus.WAITING)
    await wait_status(http, "steps", "w", ("waiting",))
    await client.send_event("steps", "w", "go", {"n": 1})
    assert (await wait_status(http, "steps", "w"))["output"]["results"] == [0, {"n": 1}]
    status = await client.restart("steps", "w", RestartFrom("approval", 1, "waitForEvent"))
    assert isinstance(status, InstanceStatus)
    await wait_status(http, "steps", "w", ("waiting",))
    assert await client.terminate("steps", "w") is InstanceStatus.TERMINATED
    await client.delete("steps", "w")
    with pytest.raises(InstanceNotFoundError):
        await client.resolve("steps", "w")
    await client.create("steps", "k1")
    await client.create("steps", "k2")
    assert sorted(await client.delete_workflow_instances("steps")) == ["k1", "k2"]
    assert (await client.list_instances("steps")).total == 0


async def test_errors_match_the_service(client: DevClient, runtime: DevRuntime,
                                        http: httpx.AsyncClient, wait_status: Any) -> None:
    service = runtime.service

    async def both(call: str, *args: Any) -> tuple[BaseException, BaseException]:
        errors = []
        for target in (client, service):
            with pytest.raises(Exception) as caught:
                await getattr(target, call)(*args)
            errors.append(caught.value)
        return errors[0], errors[1]

    remote, local = await both("resolve", "nope", "x")
    assert isinstance(remote, NotFoundError) and isinstance(local, NotFoundError)
    assert remote.message == local.message
    remote, local = await both("resolve", "steps", "missing")
    assert isinstance(remote, InstanceNotFoundError) and remote.message == local.message  # type: ignore[attr-defined]
    remote, local = await both("latest", "steps")
    assert type(remote) is type(local) and str(remote) == str(local)
    await client.create("steps", "done")
    await wait_status(http, "steps", "done")
    remote, local = await both("create", "steps", "done")
    assert isinstance(remote, DuplicateInstanceError) and remote.message == local.message  # type: ignore[attr-defined]
    remote, local = await both("create", "steps", "bad id")
    assert isinstance(remote, InvalidInstanceIdError) and remote.message == local.message  # type: ignore[attr-defined]
    remote, local = await both("terminate", "steps", "done")
    assert isinstance(remote, WorkflowError) and str(remote) == str(local)
    remote, local = await both("restart", "steps", "done", RestartFrom("nope"))
    assert isinstance(remote, WorkflowError) and str(remote) == str(local)
    assert remote.error_code == "instance.cannot_restart"
    with pytest.raises(PyflowError, match='Unknown step type "bogus"'):
        RestartFrom("s0", 1, "bogus")  # refused before any request is made


async def test_an_unreachable_server_is_a_clear_error() -> None:
    async with DevClient("http://127.0.0.1:9") as client:
        with pytest.raises(DevServerUnavailable, match=r"Is `pyflow dev` still running\?"):
            await client.list_workflows()


@pytest.mark.parametrize(("status", "error", "expected", "code"), [
    (404, {"code": 10501, "message": "Gone, reworded", "pyflow_code": "instance.not_found"},
     InstanceNotFoundError, "instance.not_found"),
    (409, {"code": 10001, "message": "WorkflowError: (instance.cannot_terminate) Reworded",
           "pyflow_code": "instance.cannot_terminate"}, WorkflowError, "instance.cannot_terminate"),
    (400, {"code": 10001, "message": "WorkflowError: reworded id rule",
           "pyflow_code": "instance.invalid_id"}, InvalidInstanceIdError, "instance.invalid_id"),
    (409, {"code": 10001, "message": "anything", "pyflow_code": "instance.already_exists"},
     DuplicateInstanceError, "instance.already_exists"),
])
async def test_the_client_maps_errors_by_their_stable_code_not_their_text(
        status: int, error: dict[str, Any], expected: type[Exception], code: str) -> None:
    """Unit test of the mapping alone: a transport that answers every request with one error."""
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"success": False, "errors": [error], "messages": [],
                                            "result": None})

    async with DevClient("http://127.0.0.1:8787", transport=httpx.MockTransport(answer)) as dev:
        with pytest.raises(expected) as caught:
            await dev.create("steps", "x")
    assert error_code(caught.value) == code
