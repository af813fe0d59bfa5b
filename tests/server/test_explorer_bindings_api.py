"""The explorer's API for local data, in-process (ASGI): KV, R2 and D1 through the same binding
classes the Worker uses, crons run the way /cdn-cgi/handler/scheduled runs them, the engines
registry, a workflow's event log across instances, and the local API's checks on all of it."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from pantry import write_pantry
from serverkit import API

from pyflow_cli.bindings import d1_migrations
from pyflow_cli.server.runtime import DevRuntime

KV = f"{API}/storage/kv/namespaces/config-ns"
R2 = f"{API}/r2/buckets/pantry-files"
D1 = f"{API}/d1/database/pantry-db-id"
PAGE = {"origin": "http://127.0.0.1:8787", "sec-fetch-site": "same-origin",
        "content-type": "application/json"}
"""Headers a same-origin fetch from the explorer's page carries."""


@pytest.fixture
def project_root(tmp_path: Path) -> Path:
    return write_pantry(tmp_path / "app")


def result(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return body["result"]


def error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["errors"][0]["message"])


async def test_the_configs_bindings_are_listed_as_wrangler_lists_them(http: httpx.AsyncClient) -> None:
    namespaces = await http.get(f"{API}/storage/kv/namespaces")
    assert result(namespaces) == [{"id": "config-ns", "title": "CONFIG", "binding": "CONFIG",
                                   "file": "kv/config-ns.sqlite"}]
    assert namespaces.json()["result_info"] == {"count": 1}
    buckets = result(await http.get(f"{API}/r2/buckets"))
    assert buckets == {"buckets": [{"name": "pantry-files", "binding": "FILES",
                                    "file": "r2/pantry-files.sqlite"}]}
    [database] = result(await http.get(f"{API}/d1/database"))
    assert (database["uuid"], database["name"], database["database_name"]) == (
        "pantry-db-id", "DB", "pantry-db")
    assert result(await http.get(f"{API}/d1/database", params={"name": "nothing"})) == []
    for path in (f"{API}/storage/kv/namespaces/nope/keys", f"{API}/r2/buckets/nope/objects",
                 f"{API}/d1/database/nope/tables"):
        assert "in wrangler.toml" in error(await http.get(path), 404)


async def test_kv_keys_the_worker_wrote_are_read_and_edits_reach_the_worker(
        http: httpx.AsyncClient) -> None:
    for key, value in [("greeting", "hello"), ("config:json", '{"a": [1, 2]}'), ("zeta", "z")]:
        await http.post("/kv/put", json={"key": key, "value": value, "metadata": {"by": "worker"}})
    page = await http.get(f"{KV}/keys", params={"limit": 2})
    assert [k["name"] for k in result(page)] == ["config:json", "greeting"]
    assert result(page)[0]["metadata"] == {"by": "worker"}
    cursor = page.json()["result_info"]["cursor"]
    rest = await http.get(f"{KV}/keys", params={"limit": 2, "cursor": cursor})
    assert [k["name"] for k in result(rest)] == ["zeta"]
    assert rest.json()["result_info"]["cursor"] == ""
    assert [k["name"] for k in result(await http.get(f"{KV}/keys", params={"prefix": "g"}))] == [
        "greeting"]

    value = await http.get(f"{KV}/values/config:json")
    assert value.content == b'{"a": [1, 2]}'
    assert value.headers["content-type"] == "application/octet-stream"
    assert value.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in value.headers["content-security-policy"]
    assert json.loads(unquote(value.headers["x-pyflow-kv-metadata"])) == {"by": "worker"}
    assert error(await http.get(f"{KV}/values/missing"), 404) == "key not found"

    # The page's edit: a JSON bulk write, then the Worker reads the new value.
    written = await http.put(f"{KV}/bulk", headers=PAGE, json=[
        {"key": "greeting", "value": "bonjour", "expiration_ttl": 3600, "metadata": {"by": "ui"}},
        {"key": "blob", "value": base64.b64encode(b"\x00\xff").decode(), "base64": True}])
    assert result(written) == {"successful_key_count": 2, "unsuccessful_keys": []}
    assert (await http.get("/kv/get", params={"key": "greeting"})).json() == {"value": "bonjour"}
    assert (await http.get(f"{KV}/values/blob")).content == b"\x00\xff"
    [listed] = result(await http.get(f"{KV}/keys", params={"prefix": "greeting"}))
    assert listed["metadata"] == {"by": "ui"} and listed["expiration"] > 0
    assert result(await http.delete(f"{KV}/values/greeting", headers=PAGE)) == {}
    assert (await http.get("/kv/get", params={"key": "greeting"})).json() == {"value": None}
    assert result(await http.post(f"{KV}/bulk/delete", headers=PAGE, json=["zeta", "blob"]))[
        "successful_key_count"] == 2
    assert [k["name"] for k in result(await http.get(f"{KV}/keys"))] == ["config:json"]

    # The binding's own rules and messages, as user code would meet them.
    too_long = await http.put(f"{KV}/bulk", headers=PAGE, json=[{"key": "k" * 513, "value": "v"}])
    assert "exceeds key length limit of 512" in error(too_long, 400)
    short_ttl = await http.put(f"{KV}/bulk", headers=PAGE,
                               json=[{"key": "k", "value": "v", "expiration_ttl": 5}])
    assert "Expiration TTL must be at least 60" in error(short_ttl, 400)


async def test_kv_raw_writes_are_for_command_line_clients(http: httpx.AsyncClient) -> None:
    assert result(await http.put(f"{KV}/values/raw/key", content=b"\x01\x02",
                                 params={"metadata": '{"n": 1}'})) == {}
    assert (await http.get(f"{KV}/values/raw/key")).content == b"\x01\x02"
    # Any key reaches its route, slashes and newlines too (each is one encoded segment).
    odd = "line one\nline/two %2F"
    assert result(await http.put(f"{KV}/values/{quote(odd, safe='')}", content=b"odd")) == {}
    assert (await http.get(f"{KV}/values/{quote(odd, safe='')}")).content == b"odd"
    assert odd in [k["name"] for k in result(await http.get(f"{KV}/keys"))]
    # A web page's write must be JSON: the raw PUT is refused from one.
    refused = await http.put(f"{KV}/values/raw/key", content=b"x",
                             headers={**PAGE, "content-type": "text/plain"})
    assert "must send JSON" in error(refused, 415)


async def test_r2_objects_are_browsed_like_folders_downloaded_safely_uploaded_and_deleted(
        http: httpx.AsyncClient) -> None:
    for key in ("docs/a.txt", "docs/b.txt", "docs/deep/c.txt", "readme.txt"):
        await http.post("/r2/put", params={"key": key}, content=f"text of {key}")
    await http.post("/r2/put", params={"key": "page.html", "type": "text/html"},
                    content="<img src=x onerror=alert(1)>")
    top = await http.get(f"{R2}/objects", params={"delimiter": "/"})
    assert [o["key"] for o in result(top)] == ["page.html", "readme.txt"]
    assert top.json()["result_info"] == {"delimited": ["docs/"], "is_truncated": "false"}
    docs = await http.get(f"{R2}/objects", params={"delimiter": "/", "prefix": "docs/"})
    assert [o["key"] for o in result(docs)] == ["docs/a.txt", "docs/b.txt"]
    assert docs.json()["result_info"]["delimited"] == ["docs/deep/"]
    paged = await http.get(f"{R2}/objects", params={"per_page": 2})
    assert paged.json()["result_info"]["is_truncated"] == "true"
    after = await http.get(f"{R2}/objects", params={"cursor": paged.json()["result_info"]["cursor"]})
    assert [o["key"] for o in result(after)] == ["docs/deep/c.txt", "page.html", "readme.txt"]

    meta = result(await http.get(f"{R2}/objects/docs/a.txt", headers={"cf-metadata-only": "true"}))
    assert (meta["size"], meta["custom_metadata"], meta["http_metadata"]) == (
        18, {"by": "worker"}, {"contentType": "text/plain"})
    assert len(meta["etag"]) == 32 and meta["last_modified"].endswith("Z")
    hostile = await http.get(f"{R2}/objects/page.html")
    assert hostile.text == "<img src=x onerror=alert(1)>"
    assert hostile.headers["content-disposition"] == "attachment; filename*=UTF-8''page.html"
    assert hostile.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in hostile.headers["content-security-policy"]
    assert hostile.headers["x-r2-custom-metadata-by"] == "worker"
    assert "does not exist" in error(await http.get(f"{R2}/objects/nope"), 404)

    uploaded = await http.post(f"{R2}/objects", headers=PAGE, json={
        "key": "docs/new.bin", "value": base64.b64encode(b"\x00new").decode(),
        "http_metadata": {"contentType": "application/x-test"}, "custom_metadata": {"by": "ui"}})
    assert result(uploaded)["size"] == 4
    assert (await http.get(f"{R2}/objects/docs/new.bin")).content == b"\x00new"
    raw = await http.put(f"{R2}/objects/cli.txt", content=b"from curl",
                         headers={"content-type": "text/plain", "cf-r2-custom-metadata": '{"k": "v"}'})
    assert result(raw)["size"] == 9
    assert result(await http.delete(f"{R2}/objects/docs/a.txt", headers=PAGE)) == {"key": "docs/a.txt"}
    assert (await http.get("/r2/get", params={"key": "docs/a.txt"})).json() == {"text": None}
    assert result(await http.request("DELETE", f"{R2}/objects", headers=PAGE,
                                     json=["docs/b.txt", "cli.txt"])) == [
        {"key": "docs/b.txt"}, {"key": "cli.txt"}]
    bad = await http.post(f"{R2}/objects", headers=PAGE, json={"key": "x", "value": "not base64!"})
    assert "base64" in error(bad, 400)


async def test_d1_tables_pages_console_and_migrations(http: httpx.AsyncClient,
                                                      runtime: DevRuntime, project_root: Path) -> None:
    [config] = runtime.project.d1_databases
    assert runtime.workspace.bindings is not None
    store = runtime.workspace.bindings.d1(config)
    await d1_migrations.apply(store, project_root / "migrations" / "0001_create_items.sql",
                              config.migrations_table)
    for n in range(7):
        await http.post("/d1", json={"sql": "INSERT INTO items (name, qty) VALUES (?, ?)",
                                     "params": [f"item {n}", n]})
    tables = {t["name"]: t for t in result(await http.get(f"{D1}/tables"))}
    assert set(tables) == {"d1_migrations", "items"}
    assert tables["items"]["rows"] == 7
    assert [(c["name"], c["type"], c["primary_key"]) for c in tables["items"]["columns"]] == [
        ("id", "INTEGER", 1), ("name", "TEXT", 0), ("qty", "INTEGER", 0)]
    assert tables["items"]["columns"][1]["not_null"] is True
    assert tables["items"]["sql"].startswith("CREATE TABLE items")
    page = await http.get(f"{D1}/rows", params={"table": "items", "offset": 5, "limit": 5})
    assert result(page) == {"columns": ["id", "name", "qty"], "rows": [[6, "item 5", 5], [7, "item 6", 6]]}
    assert page.json()["result_info"] == {"offset": 5, "limit": 5, "total_count": 7}
    assert "no such table" in error(await http.get(f"{D1}/rows", params={"table": "nope"}), 404)

    # The console: read-only unless asked; several statements give a result each.
    read = await http.post(f"{D1}/raw", headers=PAGE, json={
        "sql": "SELECT COUNT(*) AS n FROM items; SELECT name FROM items WHERE qty > 5;",
        "read_only": True})
    assert [r["results"] for r in result(read)] == [
        {"columns": ["n"], "rows": [[7]]}, {"columns": ["name"], "rows": [["item 6"]]}]
    refused = await http.post(f"{D1}/raw", headers=PAGE,
                              json={"sql": "DELETE FROM items", "read_only": True})
    assert "read-only" in error(refused, 400)
    assert tables["items"]["rows"] == len(result(await http.post(
        f"{D1}/raw", headers=PAGE, json={"sql": "SELECT * FROM items", "read_only": True}))[0][
        "results"]["rows"])
    wrote = await http.post(f"{D1}/raw", headers=PAGE,
                            json={"sql": "UPDATE items SET qty = ? WHERE id = 1", "params": [99]})
    assert result(wrote)[0]["meta"]["changes"] == 1
    assert (await http.post("/d1", json={"sql": "SELECT qty FROM items WHERE id = 1"})).json() == [
        {"qty": 99}]
    batch = await http.post(f"{D1}/raw", json={"batch": [{"sql": "SELECT 1 AS one"},
                                                         {"sql": "SELECT ? AS two", "params": [2]}]})
    assert [r["results"]["rows"] for r in result(batch)] == [[[1]], [[2]]]
    assert "no such table" in error(await http.post(f"{D1}/raw", json={"sql": "SELECT * FROM x"}), 400)

    migrations = result(await http.get(f"{D1}/migrations"))
    assert [m["name"] for m in migrations["applied"]] == ["0001_create_items.sql"]
    assert migrations["applied"][0]["applied_at"]
    assert migrations["pending"] == ["0002_add_suppliers.sql"]
    assert (migrations["table"], migrations["directory"]) == ("d1_migrations", "migrations")


async def test_crons_show_next_fire_times_and_run_now_like_the_scheduled_endpoint(
        http: httpx.AsyncClient, wait_status: Any) -> None:
    crons = {c["cron"]: c for c in result(await http.get(f"{API}/local/crons"))}
    assert set(crons) == {"0 0 1 1 *", "30 4 * * *"}
    assert crons["0 0 1 1 *"]["handler"] is True and crons["0 0 1 1 *"]["workflows"] == []
    nightly = crons["30 4 * * *"]
    assert (nightly["handler"], nightly["workflows"], nightly["runs"]) == (False, ["restock"], [])
    assert len(nightly["next"]) == 3 and all(t.endswith("T04:30:00.000Z") for t in nightly["next"])

    run = result(await http.post(f"{API}/local/scheduled", headers=PAGE, json={"cron": "30 4 * * *"}))
    assert (run["outcome"], run["source"], run["error"]) == ("ok", "manual", None)
    [started] = run["instances"]
    assert started["workflow"] == "restock"
    details = await wait_status(http, "restock", started["id"])
    assert details["trigger"]["source"] == "cron"
    # The scheduled endpoint goes the same way, and is noted the same way.
    assert (await http.get("/cdn-cgi/handler/scheduled", params={"cron": "0 0 1 1 *"})).text == "ok"
    assert (await http.get("/kv/get", params={"key": "last-cron"})).json() == {"value": "0 0 1 1 *"}
    crons = {c["cron"]: c for c in result(await http.get(f"{API}/local/crons"))}
    assert [r["instances"] for r in crons["30 4 * * *"]["runs"]] == [[started]]
    assert [r["outcome"] for r in crons["0 0 1 1 *"]["runs"]] == ["ok"]

    assert "No cron trigger" in error(await http.post(f"{API}/local/scheduled", headers=PAGE,
                                                      json={"cron": "* * * * *"}), 404)
    assert "cron" in error(await http.post(f"{API}/local/scheduled", json={"cron": 5}), 400)


async def test_engines_show_host_pid_code_version_and_heartbeat(http: httpx.AsyncClient,
                                                                runtime: DevRuntime) -> None:
    [engine] = result(await http.get(f"{API}/local/engines"))
    assert engine["current"] is True and engine["alive"] is True
    assert engine["version"] == runtime.version_id and engine["version"]
    assert engine["pid"] > 0 and engine["host"] and engine["heartbeat"].endswith("Z")
    # what it is: the kind of process, the workflows it runs, since when
    assert engine["kind"] == "dev" and engine["started"].endswith("Z")
    assert engine["workflows"] == [w.name for w in runtime.project.workflows]


async def test_a_workflows_events_across_its_instances_filtered(http: httpx.AsyncClient,
                                                               wait_status: Any) -> None:
    for instance_id, params in [("calm", {}), ("flaky", {"failures": 1})]:
        await http.post(f"{API}/workflows/restock/instances", json={"id": instance_id, "params": params})
        await wait_status(http, "restock", instance_id)
    rows = result(await http.get(f"{API}/workflows/restock/events"))
    assert {r["instance_id"] for r in rows} == {"calm", "flaky"}
    assert [r["seq"] for r in rows] == sorted((r["seq"] for r in rows), reverse=True)
    failures = result(await http.get(f"{API}/workflows/restock/events",
                                     params={"event": "ATTEMPT_FAILURE"}))
    assert [(r["instance_id"], r["event_name"], r["target"]) for r in failures] == [
        ("flaky", "ATTEMPT_FAILURE", "order more-1")]
    assert failures[0]["metadata"]["error"]["message"] == "supplier busy on attempt 1"
    assert failures[0]["traceback"]["frames"][-1]["function"] == "order"  # the user's frame
    by_step = result(await http.get(f"{API}/workflows/restock/events",
                                    params={"step": "COUNT", "event": "STEP_START,STEP_SUCCESS"}))
    assert sorted((r["instance_id"], r["event_name"]) for r in by_step) == [
        ("calm", "STEP_START"), ("calm", "STEP_SUCCESS"), ("flaky", "STEP_START"), ("flaky", "STEP_SUCCESS")]
    assert result(await http.get(f"{API}/workflows/restock/events",
                                 params={"since": "2000-01-01T00:00:00Z", "until": "2000-01-02"})) == []
    assert len(result(await http.get(f"{API}/workflows/restock/events", params={"since": "1h"}))) == len(rows)
    newer = await http.get(f"{API}/workflows/restock/events", params={"after_seq": rows[1]["seq"]})
    assert [r["seq"] for r in result(newer)] == [rows[0]["seq"]]
    older = await http.get(f"{API}/workflows/restock/events", params={"before_seq": rows[0]["seq"],
                                                                      "limit": 1})
    assert [r["seq"] for r in result(older)] == [rows[1]["seq"]]
    assert older.json()["result_info"] == {"count": 1, "more": True}
    assert "not an event type" in error(await http.get(f"{API}/workflows/restock/events",
                                                       params={"event": "NAPPING"}), 400)
    assert "neither an ISO time" in error(await http.get(f"{API}/workflows/restock/events",
                                                         params={"since": "soon"}), 400)
    assert "not found" in error(await http.get(f"{API}/workflows/nope/events"), 404)


async def test_every_route_keeps_the_local_apis_rules(http: httpx.AsyncClient) -> None:
    evil = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    for method, path in [("GET", f"{KV}/keys"), ("GET", f"{R2}/objects/x"), ("GET", f"{D1}/tables"),
                         ("POST", f"{API}/local/scheduled"), ("GET", f"{API}/local/engines")]:
        assert (await http.request(method, path, headers=evil)).status_code == 403, path
    rebound = await http.get(f"{KV}/keys", headers={"host": "attacker.example"})
    assert "is not this machine" in error(rebound, 403)
    same_site = {"origin": "http://localhost:3000", "sec-fetch-site": "same-site"}
    assert (await http.get(f"{KV}/keys", headers=same_site)).status_code == 200
    assert (await http.put(f"{KV}/bulk", headers=same_site, json=[])).status_code == 403
    form = await http.post(f"{API}/local/scheduled", headers={**PAGE,
                           "content-type": "application/x-www-form-urlencoded"}, content=b"cron=x")
    assert error(form, 415).startswith("A POST from a web page must send JSON")
    wrong = await http.patch(f"{KV}/values/a/b")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, HEAD, PUT, DELETE"
    assert (await http.post(f"{API}/local/engines")).status_code == 405
    assert (await http.head(f"{API}/local/crons")).status_code == 200
    assert "expected a whole number" in error(await http.get(f"{KV}/keys", params={"limit": "0"}), 400)


async def test_open_pages_hear_of_worker_writes_cron_runs_and_engines(http: httpx.AsyncClient,
                                                                      runtime: DevRuntime) -> None:
    async def no_counts(workflow: str) -> dict[str, int]:
        return {}

    stream = runtime.live.stream(None, None, no_counts)
    hello = await anext(stream)
    assert "event: hello" in hello and "event: engines" in hello  # the engines, from the start
    await http.post("/kv/put", json={"key": "k", "value": "v"})
    await http.post("/r2/put", params={"key": "k"}, content=b"v")
    await http.get("/kv/get", params={"key": "k"})  # a read: nothing to tell
    await http.post(f"{API}/local/scheduled", json={"cron": "0 0 1 1 *"})  # writes "last-cron"
    notes: list[tuple[str, dict[str, Any]]] = []
    while ("cron", {"cron": "0 0 1 1 *"}) not in notes:
        notes += parse(await asyncio.wait_for(anext(stream), 10))
    assert {(n[1]["kind"], n[1]["name"]) for n in notes if n[0] == "binding"} == {
        ("kv", "config-ns"), ("r2", "pantry-files")}
    await stream.aclose()


def parse(text: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"])))
    return found


async def test_values_no_calendar_holds_are_refused_and_nothing_breaks(http: httpx.AsyncClient) -> None:
    # A cache expiry past the year 9999 would make every later listing of the bucket fail.
    far = await http.post(f"{R2}/objects", headers=PAGE, json={
        "key": "far", "value": "", "http_metadata": {"cacheExpiry": 1e20}})
    assert "between the years 1 and 9999" in error(far, 400)
    assert result(await http.get(f"{R2}/objects")) == []
    # An expiry SQLite cannot store as milliseconds is refused before it is written.
    huge = await http.put(f"{KV}/values/k", content=b"v", params={"expiration": str(2**62)})
    assert "expected a whole number" in error(huge, 400)
    bulk = await http.put(f"{KV}/bulk", headers=PAGE, json=[{"key": "k", "value": "v",
                                                             "expiration": 2**62}])
    assert "from 0 to 253402300799" in error(bulk, 400)
    assert result(await http.get(f"{KV}/keys")) == []
    late = await http.post(f"{API}/local/scheduled", json={"cron": "0 0 1 1 *", "scheduled_time": 1e300})
    assert "epoch milliseconds" in error(late, 400)
