"""A step body runs in exactly one task, from its first line to its last: libraries built on
anyio (httpx's ``AsyncClient``) and ``asyncio.current_task()`` / context variables see the same
task throughout, and nothing the body sets leaks into ``run()``."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import types
import warnings
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from conftest import EnvFactory

from pyflow_cli.engine import bodies
from pyflow_cli.engine.entrypoint import WorkflowEntrypoint

SEEN: contextvars.ContextVar[str] = contextvars.ContextVar("SEEN", default="unset")


@pytest.fixture
async def local_server() -> AsyncIterator[str]:
    """A tiny HTTP server on a free loopback port that answers every request with ``hello``."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/"


async def run_to_end(make_env: EnvFactory, workflow: type[WorkflowEntrypoint],
                     params: Any = None) -> dict[str, Any]:
    async with make_env({"wf": workflow}) as env:
        instance_id = await env.service.create("wf", params=params)
        await env.run_until_done("wf", instance_id)
        details: dict[str, Any] = await env.service.describe("wf", instance_id)
        return details


async def test_a_step_body_can_use_httpx_async_client_directly(make_env: EnvFactory,
                                                               local_server: str) -> None:
    class Fetches(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            @step.do("get")
            async def get() -> str:
                async with httpx.AsyncClient() as client:
                    response = await client.get(event.payload["url"])
                return response.text

            return await get()

    details = await run_to_end(make_env, Fetches, {"url": local_server})
    assert (details["status"], details["output"], details["error"]) == ("complete", "hello", None)


async def test_an_anyio_cancel_scope_may_span_an_await_in_a_step_body(
        make_env: EnvFactory) -> None:
    class Scoped(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            @step.do("scoped")
            async def scoped() -> str:
                with anyio.CancelScope():
                    await asyncio.sleep(0)
                    await anyio.sleep(0.001)
                return "done"

            return await scoped()

    details = await run_to_end(make_env, Scoped)
    assert (details["status"], details["output"], details["error"]) == ("complete", "done", None)


async def test_a_step_body_keeps_its_task_and_its_context_to_itself(make_env: EnvFactory) -> None:
    class Tasks(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            @step.do("body")
            async def body() -> dict[str, Any]:
                first = asyncio.current_task()
                SEEN.set("in the body")
                await asyncio.sleep(0.001)
                return {"same_task": asyncio.current_task() is first,
                        "not_run_task": first is not outer, "seen": SEEN.get()}

            outer = asyncio.current_task()
            result: dict[str, Any] = await body()
            return {**result, "leaked": SEEN.get()}

    details = await run_to_end(make_env, Tasks)
    assert details["output"] == {"same_task": True, "not_run_task": True, "seen": "in the body",
                                 "leaked": "unset"}


async def test_a_body_stopped_before_its_task_starts_leaves_no_coroutine_unawaited() -> None:
    """A lifetime that ends (terminate, shutdown) at the very turn a body's task was made
    cancels it before its first step: the body's coroutine is closed, never left unawaited
    (a RuntimeWarning at garbage collection, an error under the test suite's warning filter)."""
    ran: list[str] = []

    async def body(ctx: Any) -> str:
        ran.append("ran")
        return "never"

    life: Any = types.SimpleNamespace(body_tasks=set(), holds_lease=None)
    gc.collect()  # earlier tests' garbage (an unclosed file) must not warn inside the block
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = bodies.start_body(life, body, None)
        assert isinstance(started, asyncio.Task)
        bodies.cancel_body(started)
        await asyncio.gather(started, return_exceptions=True)
        del started
        gc.collect()
    assert ran == []
    assert [str(w.message) for w in caught if w.category is RuntimeWarning] == []
