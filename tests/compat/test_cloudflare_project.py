"""A project written only with Cloudflare's documented Python Workflows API and the imports
Python Workers code uses (``js``, ``pyodide.ffi.to_js`` with ``Object.fromEntries``,
``workers.fetch``) runs unchanged under ``WorkflowTestEnv`` and under ``pyflow dev``."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from echo import echo_server

from pyflow_cli.compat.http import Request
from pyflow_cli.engine.entrypoint import ExecutionContext
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.testing import WorkflowTestEnv

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from serverkit import DevProcess, wait_until

PROJECT = Path(__file__).resolve().parent / "cloudflare_project"
PARAMS = {"order": {"id": 7, "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": None}]},
          "note": None}
AI_ERROR = ("NotAvailableLocally: env.AI is a Workers AI binding (ai in wrangler.toml), which "
            "pyflow does not emulate locally. Use it only in code that runs on Cloudflare "
            "(wrangler deploy, or wrangler dev --remote), or give your code a local stand-in.")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The project, copied, with ECHO_URL (a local HTTP server it fetches from) in .dev.vars."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    root = tmp_path / "app"
    shutil.copytree(PROJECT, root, ignore=shutil.ignore_patterns("__pycache__", ".pyflow"))
    with echo_server() as url:
        (root / ".dev.vars").write_text(f"ECHO_URL={url}\n")
        yield root
    for name, module in list(sys.modules.items()):  # the project's modules, loaded by the test
        if Path(getattr(module, "__file__", None) or "/").is_relative_to(tmp_path):
            del sys.modules[name]


def check_output(output: dict[str, Any]) -> None:
    assert output["summary"] == {"year": 2026, "when": "2026-05-17T12:30:15.250000+00:00",
                                 "path": "/orders/7"}
    assert output["flaky"] == 3
    assert output["reserved"] == "not reserved: item 42 is out of stock"
    assert output["ai"] == AI_ERROR
    assert output["approval"] == {"approved": True, "by": ["ops", None]}
    assert output["params"] == PARAMS


@pytest.mark.parametrize("hibernate", [False, True], ids=["resident", "hibernated"])
async def test_runs_under_workflow_test_env(project: Path, hibernate: bool) -> None:
    env = WorkflowTestEnv.from_project(project, options=EngineOptions(force_hibernate=hibernate,
                                                                      poll_interval_s=0.02))
    async with env:
        module = sys.modules[env.definitions["orders"].cls.__module__]
        worker = module.Default(ExecutionContext(), env.env())

        async def call(path: str, body: Any = None) -> Any:
            request = Request(f"http://worker{path}", method="POST" if body is not None else "GET",
                              body=json.dumps(body) if body is not None else None)
            response = await worker.fetch(request)
            assert response.status == 200, await response.text()
            return await response.json()

        created = await call("/start", {"id": "order-7", "params": PARAMS})
        await call("/event/order-7", {"approved": True, "by": ["ops", None]})
        batch = await call("/batch", [{"id": "quick-1", "params": {"quick": True, "n": [1]}},
                                      {"id": "quick-2", "params": {"quick": True, "n": [2]}}])
        record = await env.run_until_done("orders", created["id"])
        assert record.status == "complete"
        status = await call(f"/status/{created['id']}")
        check_output(status["output"])
        for instance_id, n in zip(batch["ids"], (1, 2), strict=True):
            await env.run_until_done("orders", instance_id)
            quick = await call(f"/status/{instance_id}")
            assert quick["output"] == {"quick": {"quick": True, "n": [n]}}
        details = await env.service.describe("orders", "order-7")

    flaky = next(s for s in details["steps"] if s["name"] == "flaky-1")
    assert [a["error"]["name"] for a in flaky["attempts"][:2]] == ["ConnectionError"] * 2
    assert flaky["attempts"][0]["traceback"]["frames"][-1]["file"] == "src/entry.py"
    assert [s["name"] for s in details["steps"]] == [
        "stamped-1", "cool down-1", "reserve-1", "ask_ai-1", "approval-1", "fetched-1", "summary-1",
        "flaky-1"]


def test_runs_under_pyflow_dev(project: Path) -> None:
    process = DevProcess(project, "--time-scale", "600", "--log-level", "debug").ready()
    try:
        with process.client() as client:
            assert client.post("/start", json={"id": "order-7", "params": PARAMS}).json() == {
                "id": "order-7"}
            client.post("/event/order-7", json={"approved": True, "by": ["ops", None]})
            ids = client.post("/batch", json=[{"id": "quick-1", "params": {"quick": True}},
                                              {"id": "quick-2", "params": {"quick": True}}])
            assert ids.json() == {"ids": ["quick-1", "quick-2"]}

            def finished() -> Any:
                status = client.get("/status/order-7").json()
                return status if status["status"] in ("complete", "errored") else None

            status = wait_until(finished, timeout=60)
            assert status["status"] == "complete", status  # type: ignore[index]
            check_output(status["output"])  # type: ignore[index]
            assert wait_until(lambda: client.get("/status/quick-2").json()["output"])
            assert client.get("/self").text == "200 pong"  # fetch to pyflow dev itself
        out = process.output
        assert "Not available locally (pyflow does not emulate these; using one raises an error):" in out
        assert "  - AI: Workers AI (ai)" in out
        assert "orders order-7: order 7 started" in out  # console.log, naming its instance
        assert f"orders order-7: fetch POST {(project / '.dev.vars').read_text()[9:].strip()}" in out
        # each failed attempt of user code is one block: the error, then the user's frames
        process.wait_for(r'orders order-7: step "flaky-1" attempt 1 failed: ConnectionError: '
                         r"upstream busy \(attempt 1\), retrying in 1\.0s")
        failure = out.splitlines().index(next(line for line in out.splitlines()
                                              if 'step "flaky-1" attempt 1 failed' in line))
        assert out.splitlines()[failure + 1].startswith("    src/entry.py:")
        assert out.splitlines()[failure + 1].endswith(" in flaky")
    finally:
        assert process.stop() == 0
