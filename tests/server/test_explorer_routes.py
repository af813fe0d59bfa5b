"""The Local Explorer's routes in-process (ASGI): the page and its policy, its files, redirects,
the reserved /cdn-cgi/ paths, search and metrics through the local API, JSON-only writes."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from serverkit import API, ENTRY, write_project

from pyflow_cli.server.explorer.assets import modules

EXPLORER = "/cdn-cgi/local/explorer/"
WF = f"{API}/workflows/steps"
# The Worker notes every request it gets: a /cdn-cgi/ path must never show up here.
NOTING_ENTRY = ENTRY.replace(
    "    async def fetch(self, request):\n",
    "    async def fetch(self, request):\n        note('fetch ' + request.url)\n", 1)


@pytest.fixture
def project_root(tmp_path: Path) -> Path:
    return write_project(tmp_path / "app", entry=NOTING_ENTRY)


def journal(root: Path) -> str:
    path = root / "journal.txt"
    return path.read_text() if path.exists() else ""


async def test_the_explorer_page_is_html_with_a_strict_policy(http: httpx.AsyncClient) -> None:
    response = await http.get(EXPLORER)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>Local Explorer" in response.text
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["require-trusted-types-for"] == "'script'"
    assert directives["trusted-types"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in csp and "http" not in csp
    # The one inline script, the import map, is allowed by its hash and nothing else is inline.
    import_map = re.search(r'<script type="importmap">(.*?)</script>', response.text, re.DOTALL)
    assert import_map is not None
    digest = base64.b64encode(hashlib.sha256(import_map.group(1).encode()).digest()).decode()
    assert directives["script-src"] == f"'self' 'sha256-{digest}'"
    assert len(re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*importmap)", response.text)) == 0
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


async def test_every_page_path_serves_the_page_and_others_are_404(http: httpx.AsyncClient,
                                                                 project_root: Path) -> None:
    for path in ("workflows/steps", "workflows/steps/metrics", "workflows/steps/instances/abc"):
        response = await http.get(EXPLORER + path)
        assert response.status_code == 200, path
        assert "importmap" in response.text
    for path in ("workflows", "nope", "workflows/steps/instances", "static/../assets.py",
                 "static/vendor/preact/LICENSE", "static/.hidden.js", "static/missing.js"):
        assert (await http.get(EXPLORER + path)).status_code == 404, path
    assert "fetch" not in journal(project_root)


async def test_unknown_cdn_cgi_paths_are_404_and_never_reach_the_worker(
        http: httpx.AsyncClient, project_root: Path) -> None:
    for method, path in [("GET", "/cdn-cgi/nope"), ("POST", "/cdn-cgi/local/other"),
                         ("GET", "/cdn-cgi/"), ("DELETE", "/cdn-cgi/local/explorer/static/app.js"),
                         ("TRACE", "/cdn-cgi/x"), ("GET", "/cdn-cgi/a%0Ab")]:
        response = await http.request(method, path)
        assert response.status_code in (404, 405), (method, path, response.status_code)
        assert "hello from" not in response.text
    assert "fetch" not in journal(project_root)
    assert (await http.get("/anything")).text == "hello from v1"
    assert "fetch http://127.0.0.1:8787/anything" in journal(project_root)


async def test_short_explorer_paths_redirect_to_the_explorer(http: httpx.AsyncClient) -> None:
    for path in ("/cdn-cgi/explorer", "/cdn-cgi/explorer/", "/cdn-cgi/local/explorer"):
        response = await http.get(path)
        assert response.status_code == 302, path
        assert response.headers["location"] == EXPLORER


async def test_static_files_have_types_and_revalidate(http: httpx.AsyncClient) -> None:
    response = await http.get(EXPLORER + "static/app.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    etag = response.headers["etag"]
    again = await http.get(EXPLORER + "static/app.js", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    css = await http.get(EXPLORER + "static/style.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"


async def test_each_view_preloads_what_it_needs_under_versioned_addresses(http: httpx.AsyncClient) -> None:
    for path, view in (("", "home"), ("workflows/steps", "workflow"), ("workflows/steps/metrics", "metrics"),
                       ("workflows/steps/instances/x", "instance")):
        page = (await http.get(EXPLORER + path)).text
        found = re.search(r'<script type="importmap">(.*?)</script>', page, re.DOTALL)
        assert found is not None
        mapped = json.loads(found.group(1))["imports"]
        for module in modules():  # every module's plain address goes to its versioned one
            assert mapped[f"{EXPLORER}static/{module}"].startswith(f"{EXPLORER}static/{module}?v=")
        preloaded = re.findall(r'<link rel="modulepreload" href="([^"]+)">', page)
        names = {url.split("/static/", 1)[1].split("?")[0] for url in preloaded}
        assert {"boot.js", "app.js", f"pages/{view}.js", "vendor/preact/preact.mjs"} <= names
        assert ("vendor/uplot/uPlot.esm.js" in names) == (view == "metrics")
        assert not {f"pages/{other}.js" for other in ("home", "workflow", "metrics", "instance")
                    if other != view} & names
        for url in preloaded[:3]:
            response = await http.get(url)
            assert response.status_code == 200
            assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = await http.get(EXPLORER + "static/app.js?v=000000000000")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"


async def test_every_import_of_every_module_resolves(http: httpx.AsyncClient) -> None:
    page = (await http.get(EXPLORER)).text
    found = re.search(r'<script type="importmap">(.*?)</script>', page, re.DOTALL)
    assert found is not None
    bare = {name for name in json.loads(found.group(1))["imports"] if not name.startswith("/")}
    checked = 0
    for module in modules():
        if module.startswith("vendor/"):
            continue
        source = (await http.get(EXPLORER + "static/" + module)).text
        base = (EXPLORER + "static/" + module).rsplit("/", 1)[0]
        targets = re.findall(r'^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"', source, re.MULTILINE)
        targets += re.findall(r'\bimport\("([^"]+)"\)', source)
        for target in targets:
            if target.startswith("."):
                resolved = httpx.URL(f"http://x{base}/").join(target).path
                assert (await http.get(resolved)).status_code == 200, f"{module} imports {target}"
            else:
                assert target in bare, f"{module} imports {target}, which the import map lacks"
            checked += 1
    assert checked > 40


async def test_pages_files_and_streams_refuse_other_hosts(http: httpx.AsyncClient) -> None:
    for path in (EXPLORER, EXPLORER + "static/app.js", f"{API}/stream",
                 f"{API}/workflows/steps/metrics", "/cdn-cgi/explorer"):
        response = await http.get(path, headers={"host": "evil.example"})
        assert response.status_code == 403, path
    cross = await http.get(f"{API}/workflows/steps/metrics", headers={"origin": "https://evil.example"})
    assert cross.status_code == 403


async def test_a_browser_write_must_be_json(http: httpx.AsyncClient) -> None:
    # What a plain HTML form could send: refused, and nothing is created.
    form = await http.post(f"{WF}/instances", content=b'{"id": "from-a-form"}',
                           headers={"origin": "http://127.0.0.1:8787", "content-type": "text/plain"})
    assert form.status_code == 415
    assert form.json()["errors"][0]["message"] == (
        "A POST from a web page must send JSON (Content-Type: application/json, not text/plain).")
    assert (await http.get(f"{WF}/instances/from-a-form")).status_code == 404
    page = await http.post(f"{WF}/instances", json={"id": "from-the-page"},
                           headers={"origin": "http://127.0.0.1:8787"})
    assert page.status_code == 200
    # Command-line clients send no Origin and keep working as before.
    curl = await http.post(f"{WF}/instances", content=b'{"id": "from-curl"}',
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert curl.status_code == 200


async def test_instances_are_searched_by_id_prefix_and_by_text(http: httpx.AsyncClient,
                                                             wait_status: Any) -> None:
    for instance_id, params in [("order-1", {"customer": "Ada"}), ("order-2", {"customer": "Grace"}),
                                ("refund-1", {"customer": "ADA LOVELACE"}), ("order_3", {})]:
        response = await http.post(f"{WF}/instances", json={"id": instance_id, "params": params})
        assert response.status_code == 200
        await wait_status(http, "steps", instance_id)

    async def listed(**query: Any) -> tuple[list[str], int]:
        response = await http.get(f"{WF}/instances", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        return sorted(r["id"] for r in body["result"]), body["result_info"]["total_count"]

    assert await listed(id_prefix="order-") == (["order-1", "order-2"], 2)
    assert await listed(id_prefix="order") == (["order-1", "order-2", "order_3"], 3)
    assert await listed(q="ada") == (["order-1", "refund-1"], 2)  # ASCII case ignored
    assert await listed(q="ada", id_prefix="refund") == (["refund-1"], 1)
    assert await listed(q="100%") == ([], 0)  # LIKE wildcards are literal
    assert await listed(q="_") == ([], 0)
    assert await listed(status="complete", per_page=2) == (["order_3", "refund-1"], 4)  # newest
    too_long = await http.get(f"{WF}/instances", params={"q": "x" * 257})
    assert too_long.status_code == 400
    assert too_long.json()["errors"][0]["message"] == "q: Too big: expected string to have <=256 characters"


async def test_metrics_count_outcomes_wall_times_and_steps(http: httpx.AsyncClient,
                                                         wait_status: Any) -> None:
    ids = []
    for params in ({"steps": 2}, {"steps": 1}, {"steps": 1, "fail": True}):
        response = await http.post(f"{WF}/instances", json={"params": params})
        ids.append(response.json()["result"]["id"])
    for instance_id in ids:
        await wait_status(http, "steps", instance_id)
    response = await http.get(f"{API}/workflows/steps/metrics", params={"since": "1h"})
    assert response.status_code == 200, response.text
    metrics = response.json()["result"]
    totals = metrics["totals"]
    assert {k: totals[k] for k in ("started", "succeeded", "failed", "terminated")} == {
        "started": 3, "succeeded": 2, "failed": 1, "terminated": 0}
    assert totals["wall_time_ms"]["runs"] == 3
    assert 0 <= totals["wall_time_ms"]["p50"] <= totals["wall_time_ms"]["p95"]
    assert metrics["bucket_ms"] == 60_000 and len(metrics["series"]) in (60, 61)
    assert sum(p["started"] for p in metrics["series"]) == 3
    steps = {s["name"]: s for s in metrics["steps"]}
    assert steps["s0"]["started"] == 3 and steps["s1"]["started"] == 1
    assert steps["doomed"] == {"name": "doomed", "started": 1, "failed": 1, "failed_attempts": 1,
                               "retries": 0}


async def test_metrics_refuse_bad_windows_and_unknown_workflows(http: httpx.AsyncClient) -> None:
    bad = await http.get(f"{API}/workflows/steps/metrics", params={"since": "3 parsecs"})
    assert bad.status_code == 400
    assert bad.json()["errors"] == [{"code": 10001, "pyflow_code": "pyflow.invalid_input", "message":
                                     'since "3 parsecs" is not a duration; use e.g. 15m, 24h or 7d.'}]
    too_fine = await http.get(f"{API}/workflows/steps/metrics", params={"since": "7d", "bucket": "1m"})
    assert too_fine.status_code == 400
    unknown = await http.get(f"{API}/workflows/nope/metrics")
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["message"] == "Workflow 'nope' not found."


async def test_the_explorers_api_routes_answer_other_methods_with_405(http: httpx.AsyncClient) -> None:
    for path in (f"{API}/workflows/steps/metrics", f"{API}/stream"):
        response = await http.post(path, json={})
        assert response.status_code == 405, path
        assert response.headers["allow"] == "GET, HEAD"


async def test_stream_needs_a_known_workflow(http: httpx.AsyncClient) -> None:
    assert (await http.get(f"{API}/stream", params={"workflow": "nope"})).status_code == 404
    assert (await http.get(f"{API}/stream", params={"instance": "x"})).status_code == 400
