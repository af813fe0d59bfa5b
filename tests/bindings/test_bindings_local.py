"""The bindings in-process, through ``WorkflowTestEnv.from_project``: where their data lives, KV
expiry on the env's clock, many instances at once, and SQLite work kept off the event loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from bindingkit import copy_app

from pyflow_cli.bindings.errors import D1Error
from pyflow_cli.bindings.kv import KVNamespace
from pyflow_cli.bindings.local import LocalBindings
from pyflow_cli.bindings.r2 import R2Bucket
from pyflow_cli.project.config import load_project
from pyflow_cli.project.resources import D1DatabaseConfig, KvNamespaceConfig, R2BucketConfig
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


async def test_each_store_pages_through_its_data_for_readers_such_as_the_explorer(tmp_path: Path) -> None:
    bindings = LocalBindings(tmp_path / "state", lambda: 1_767_225_600_000.0)
    try:
        kv = bindings.kv(KvNamespaceConfig("KV", "ns"))
        for n in range(5):
            await kv.put(f"k{n}", b"v", None, None)
        first = await kv.list(limit=2)
        second = await kv.list(limit=2, after=first.keys[-1].key)
        assert ([k.key for k in first.keys], first.more) == (["k0", "k1"], True)
        assert ([k.key for k in second.keys], second.more) == (["k2", "k3"], True)
        assert [k.key for k in (await kv.list(prefix="k4")).keys] == ["k4"]

        r2 = bindings.r2(R2BucketConfig("B", "bucket"))
        bucket = R2Bucket(r2, "B", bindings.now_ms)
        for key in ("a", "b", "c"):
            await bucket.put(key, key * 3)
        assert [o.key for o in await r2.list_keys(after="a", limit=5)] == ["b", "c"]
        head = await r2.head("b")
        assert head is not None and (head.size, head.key) == (3, "b")

        d1 = bindings.d1(D1DatabaseConfig("DB", "db", None))
        await d1.script("CREATE TABLE b (x); CREATE TABLE a (y); INSERT INTO a VALUES (1), (2), (3);")
        assert await d1.tables() == ["a", "b"]
        page = await d1.read_table("a", offset=1, limit=1)
        assert (page.columns, page.rows) == (["y"], [[2]])
        with pytest.raises(D1Error, match="no such table: c"):
            await d1.read_table("c")
    finally:
        bindings.close()


WRITER = """
import asyncio, sys, time
from pathlib import Path
from pyflow_cli.bindings.d1 import D1Database
from pyflow_cli.bindings.kv import KVNamespace
from pyflow_cli.bindings.local import LocalBindings
from pyflow_cli.project.resources import D1DatabaseConfig, KvNamespaceConfig

async def main(state, name):
    bindings = LocalBindings(Path(state), lambda: time.time() * 1000)
    kv = KVNamespace(bindings.kv(KvNamespaceConfig("KV", "shared")), "KV", bindings.now_ms)
    db = D1Database(bindings.d1(D1DatabaseConfig("DB", "shared", None)), "DB")
    await db.exec("CREATE TABLE IF NOT EXISTS hits (who TEXT, n INTEGER);")
    insert = db.prepare("INSERT INTO hits VALUES (?, ?)")
    await asyncio.gather(*(kv.put(f"{name}-{n}", str(n)) for n in range(200)),
                         *(insert.bind(name, n).run() for n in range(200)))
    bindings.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def test_two_processes_write_one_namespace_and_database_at_once(tmp_path: Path) -> None:
    state = tmp_path / "state"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(state), name]) for name in ("a", "b")]
    assert [w.wait(60) for w in writers] == [0, 0]

    async def check() -> tuple[int, Any]:
        bindings = LocalBindings(state, lambda: 1_767_225_600_000.0)
        try:
            keys = (await bindings.kv(KvNamespaceConfig("KV", "shared")).list(limit=1000)).keys
            [result] = await bindings.d1(D1DatabaseConfig("DB", "shared", None)).query(
                [("SELECT who, count(*) FROM hits GROUP BY who ORDER BY who", ())])
            return len(keys), result.rows
        finally:
            bindings.close()

    assert asyncio.run(check()) == (400, [["a", 200], ["b", 200]])
