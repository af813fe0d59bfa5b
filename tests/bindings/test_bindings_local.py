"""The bindings in-process, through ``WorkflowTestEnv.from_project``: where their data lives, KV
expiry on the env's clock, many instances at once, and SQLite work kept off the event loop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from bindingkit import copy_app

from pyflow_cli.bindings.kv import KVNamespace
from pyflow_cli.project.config import load_project
from pyflow_cli.testing import WorkflowTestEnv


async def test_from_project_gives_workflows_and_tests_the_storage_bindings(tmp_path: Path) -> None:
    root = copy_app(tmp_path / "app")
    async with WorkflowTestEnv.from_project(root, state_dir=tmp_path / "state") as env:
        instance = await env.service.create("scenarios", params={"names": ["kv_put_get", "d1_sessions"],
                                                                 "prefix": "t"})
        record = await env.run_until_done("scenarios", instance)
        details = await env.service.describe("scenarios", instance)
        assert record.status == "complete", details["error"]
        assert details["output"]["kv_put_get"]["text"] == "hello"
        assert await env.env().KV.get("t:greeting") == "hello"
    assert sorted(p.relative_to(tmp_path / "state").as_posix()
                  for p in (tmp_path / "state").glob("*/*.sqlite")) == [
        "d1/7b0c7d6e-1a2b-4c3d-8e9f-0a1b2c3d4e5f.sqlite", "kv/0f2ac74b498b48028cb68387c421e279.sqlite"]


async def test_expired_keys_vanish_when_the_clock_passes_them(tmp_path: Path) -> None:
    async with WorkflowTestEnv.from_project(copy_app(tmp_path / "app")) as env:
        kv: KVNamespace = env.env().KV
        await kv.put("short", "v", expirationTtl=60)
        await kv.put("long", "v", expirationTtl=3600)
        env.clock.advance(59_000)
        assert await kv.get("short") == "v"
        env.clock.advance(2_000)
        assert await kv.get("short") is None
        assert await kv.getWithMetadata("short") == {"value": None, "metadata": None, "cacheStatus": None}
        assert [k["name"] for k in (await kv.list())["keys"]] == ["long"]
        await kv.put("short", "again")  # an expired key can be written again
        assert await kv.get("short") == "again"


async def test_many_instances_write_at_once_without_losing_anything(tmp_path: Path) -> None:
    async with WorkflowTestEnv.from_project(copy_app(tmp_path / "app")) as env:
        bindings = env.env()
        await bindings.DB.exec("CREATE TABLE hits (n INTEGER);")

        async def one(n: int) -> None:
            await bindings.KV.put(f"k{n:03d}", str(n))
            await bindings.BUCKET.put(f"o{n:03d}", str(n))
            await bindings.DB.prepare("INSERT INTO hits VALUES (?)").bind(n).run()

        await asyncio.gather(*(one(n) for n in range(100)))
        assert len((await bindings.KV.list())["keys"]) == 100
        assert len((await bindings.BUCKET.list()).objects) == 100
        assert await bindings.DB.prepare("SELECT count(*) AS n, sum(n) AS s FROM hits").first() == {
            "n": 100, "s": sum(range(100))}


async def test_storage_work_runs_off_the_event_loop(tmp_path: Path) -> None:
    root = copy_app(tmp_path / "app")
    [namespace] = load_project(root).kv_namespaces
    async with WorkflowTestEnv.from_project(root) as env:
        assert env.bindings is not None
        gate = threading.Event()
        blocked = asyncio.ensure_future(env.bindings.kv(namespace).file.run(lambda conn: gate.wait(5)))
        await asyncio.sleep(0.05)  # the loop still runs while the operation waits on its thread...
        gate.set()  # ...so it can release it; on the loop, the wait would time out first
        assert await blocked is True
