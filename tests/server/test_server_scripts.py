"""Several Workers in one ``pyflow dev`` (``-c a/wrangler.toml -c b/wrangler.toml``), and a
workflow bound across them with ``script_name``, as wrangler serves them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from serverkit import API, Output, dev_command, free_port, wait_until

from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.project.config import load_project
from pyflow_cli.server.app import create_app
from pyflow_cli.server.logs import DevLog
from pyflow_cli.server.runtime import DevRuntime

WEB_TOML = """\
name = "web-api-worker"
main = "src/web.py"
compatibility_date = "2025-10-01"

[vars]
WHO = "web"

[[workflows]]
name = "billing-workflow"
binding = "BILLING"
class_name = "BillingWorkflow"
script_name = "billing-worker"
"""

WEB_PY = """\
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = request.url.split("/", 3)[3]
        try:
            if path == "create":
                instance = await self.env.BILLING.create(params={"amount": 42})
                return Response.json({"id": instance.id})
            if path.startswith("status/"):
                instance = await self.env.BILLING.get(path.split("/", 1)[1])
                return Response.json(await instance.status())
        except Exception as error:
            return Response.json({"error": type(error).__name__, "message": str(error)},
                                 status=500)
        return Response("web " + self.env.WHO)
"""

BILLING_TOML = """\
name = "billing-worker"
main = "src/billing.py"
compatibility_date = "2025-10-01"

[vars]
WHO = "billing"

[[workflows]]
name = "billing-workflow"
binding = "OWN"
class_name = "BillingWorkflow"
"""

BILLING_PY = """\
from workers import Response, WorkerEntrypoint, WorkflowEntrypoint


class BillingWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do("charge")
        async def charge():
            # Its own project's env: it runs as Worker "billing-worker".
            return {"charged": event.payload["amount"], "by": self.env.WHO}

        return await charge()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("billing " + self.env.WHO)
"""


def _project(root: Path, config: str, module: str, source: str) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "wrangler.toml").write_text(config)
    (root / "src" / module).write_text(textwrap.dedent(source))
    return root


@pytest.fixture
def projects(tmp_path: Path) -> tuple[Path, Path]:
    return (_project(tmp_path / "web", WEB_TOML, "web.py", WEB_PY),
            _project(tmp_path / "billing", BILLING_TOML, "billing.py", BILLING_PY))


def test_a_worker_creates_and_reads_an_instance_of_another_projects_workflow(
        tmp_path: Path, projects: tuple[Path, Path]) -> None:
    web, billing = projects
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    process = subprocess.Popen(
        [*dev_command(), "--port", str(port), "--no-reload", "-c", str(web / "wrangler.toml"),
         "-c", str(billing / "wrangler.toml")],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20.0) as http:
            wait_until(lambda: _answers(http), timeout=30)
            assert http.get("/").text == "web web"  # the first config's Worker answers HTTP
            created = http.post("/create").json()
            assert "id" in created, created
            status = wait_until(lambda: _complete(http, created["id"]), timeout=20)
            assert status == {"status": "complete", "__LOCAL_DEV_STEP_OUTPUTS": [
                {"charged": 42, "by": "billing"}], "output": {"charged": 42, "by": "billing"}}
            listed = http.get(f"{API}/workflows").json()["result"]
            assert listed == [{"name": "billing-workflow", "class_name": "BillingWorkflow",
                               "script_name": "billing-worker"}]
        # A command in the other project's folder reaches the same session (its instances are
        # in the first project's store).
        cli = subprocess.run(
            [sys.executable, "-m", "pyflow_cli", "workflows", "instances", "list",
             "billing-workflow", "--json"], cwd=billing, capture_output=True, text=True, env=env,
            timeout=60)
        assert cli.returncode == 0, cli.stderr
        assert [row["id"] for row in json.loads(cli.stdout)] == [created["id"]]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert 'Worker "billing-worker" (../billing/wrangler.toml): billing-workflow' in output, output
    assert not (billing / ".pyflow" / "dev.json").exists()  # removed with the session


def _answers(http: httpx.Client) -> bool:
    try:
        return http.get(f"{API}/workflows").status_code == 200
    except httpx.HTTPError:
        time.sleep(0.1)
        return False


def _complete(http: httpx.Client, instance_id: str) -> dict[str, object] | None:
    status: dict[str, object] = http.get(f"/status/{instance_id}").json()
    return status if status.get("status") == "complete" else None


async def test_a_binding_to_a_worker_not_served_fails_naming_it(
        projects: tuple[Path, Path]) -> None:
    web, _ = projects
    runtime = await DevRuntime.open(load_project(web), persist_to=web / "state",
                                    options=EngineOptions(poll_interval_s=0.05),
                                    log=DevLog("none", out=Output().out, err=Output().err))
    try:
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8787") as http:
            answer = (await http.post("/create")).json()
            assert answer == {"error": "UnservedScriptError", "message": (
                'Workflow "billing-workflow" is defined in Worker "billing-worker", which this '
                "pyflow dev does not serve. Serve both: pyflow dev -c wrangler.toml -c <the config "
                'of "billing-worker">.')}
            # Listed, as wrangler lists it; creating one over the API is the same conflict.
            assert [w["name"] for w in (await http.get(f"{API}/workflows")).json()["result"]] == [
                "billing-workflow"]
            refused = await http.post(f"{API}/workflows/billing-workflow/instances", json={})
            assert refused.status_code == 409
            assert "billing-worker" in refused.json()["errors"][0]["message"]
    finally:
        await runtime.close(0)


def test_two_workers_defining_one_workflow_are_refused(tmp_path: Path,
                                                       projects: tuple[Path, Path]) -> None:
    _, billing = projects
    twin = _project(tmp_path / "twin", BILLING_TOML.replace("billing-worker", "twin-worker"),
                    "billing.py", BILLING_PY)
    result = subprocess.run(
        [*dev_command(), "--port", str(free_port()), "-c", str(billing / "wrangler.toml"), "-c",
         str(twin / "wrangler.toml")], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 1
    assert 'Workflow "billing-workflow" is defined by two Workers ("billing-worker" in' in \
        result.stderr + result.stdout
