"""The user's Worker in-process: fetch through bindings, env, errors, crons on demand, reload swaps."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from serverkit import API, ENTRY, Output

from pyflow_cli.engine.errors import UserCodeError
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.project.config import load_project
from pyflow_cli.server.logs import DevLog
from pyflow_cli.server.reload import Reloader
from pyflow_cli.server.runtime import DevRuntime


async def test_fetch_creates_an_instance_through_the_binding(
        http: httpx.AsyncClient, wait_status: Any) -> None:
    response = await http.post("/create", json={"steps": 1})
    assert response.status_code == 200
    body = response.json()
    assert body["status"]["status"] in ("queued", "running", "complete")
    details = await wait_status(http, "steps", body["id"])
    assert details["trigger"] == {"source": "binding"}
    status = (await http.get(f"/status/{body['id']}")).json()
    assert status == {"status": "complete", "__LOCAL_DEV_STEP_OUTPUTS": [0],
                      "output": {"version": "v1", "results": [0]}}


async def test_env_has_vars_and_secrets(http: httpx.AsyncClient) -> None:
    assert (await http.get("/env")).json() == {"greeting": "hello", "secret": "s3cret",
                                               "version": "v1"}


async def test_response_headers_and_body_pass_through(http: httpx.AsyncClient) -> None:
    response = await http.get("/")
    assert response.text == "hello from v1"
    assert response.headers["x-version"] == "v1"
    assert response.headers["content-type"] == "text/plain;charset=UTF-8"


async def test_a_user_exception_is_a_500_and_a_readable_traceback(
        http: httpx.AsyncClient, output: Output) -> None:
    response = await http.get("/boom")
    assert response.status_code == 500
    assert "RuntimeError: fetch exploded" in response.text
    assert "✘ [ERROR] Uncaught exception in GET /boom: RuntimeError: fetch exploded" in output.text
    assert 'File "src/entry.py", line' in output.text and "in fetch" in output.text
    assert 'raise RuntimeError("fetch exploded")' in output.text
    assert "starlette" not in output.text  # only the user's frames


async def test_scheduled_on_demand_runs_the_handler(http: httpx.AsyncClient, wait_status: Any) -> None:
    response = await http.get("/cdn-cgi/handler/scheduled",
                              params={"cron": "0 0 1 1 *", "time": "1767225600000"})
    assert (response.status_code, response.text) == (200, "ok")
    listed = (await http.get(f"{API}/workflows/steps/instances")).json()["result"]
    details = await wait_status(http, "steps", listed[0]["id"])
    assert details["params"] == {"cron": "0 0 1 1 *", "at": 1767225600000}
    assert details["trigger"] == {"source": "binding"}


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("time", ["9" * 400, "8640000000000001", "-5", "NaN", "Infinity", "1e3",
                                  "1.5", "soon", " 5", "\u0661\u0662"])
async def test_scheduled_on_demand_refuses_a_time_that_is_not_epoch_ms(
        http: httpx.AsyncClient, method: str, time: str) -> None:
    response = await http.request(method, "/cdn-cgi/handler/scheduled",
                                  params={"cron": "0 0 1 1 *", "time": time})
    assert response.status_code == 400, response.text
    shown = time if len(time) <= 40 else time[:40] + "…"
    assert response.text == ('time: expected epoch milliseconds, a whole number from 0 to '
                             f'8640000000000000; got "{shown}".')
    assert (await http.get(f"{API}/workflows/steps/instances")).json()["result"] == []


@pytest.mark.parametrize("time", ["soon", "-5", "9" * 400])
async def test_scheduled_on_demand_refuses_a_bad_time_in_json_as_the_api_does(
        http: httpx.AsyncClient, time: str) -> None:
    """With ``format=json`` the refusal is the local API's error envelope, as its other errors
    are: a client that asked for JSON can read it (the reference answers a 500 with a plain-text
    stack trace either way)."""
    response = await http.get("/cdn-cgi/handler/scheduled",
                              params={"cron": "0 0 1 1 *", "time": time, "format": "json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    shown = time if len(time) <= 40 else time[:40] + "…"
    assert response.json() == {"success": False, "errors": [{
        "code": 10001, "pyflow_code": "pyflow.invalid_input",
        "message": ("time: expected epoch milliseconds, a whole number from 0 to "
                    f'8640000000000000; got "{shown}".')}], "messages": [], "result": None}
    assert (await http.get(f"{API}/workflows/steps/instances")).json()["result"] == []


async def test_scheduled_on_demand_starts_workflow_schedules(
        http: httpx.AsyncClient, wait_status: Any) -> None:
    response = await http.get("/cdn-cgi/local/scheduled", params={"cron": "0 3 * * *",
                                                                 "format": "json"})
    assert response.json() == {"outcome": "ok", "noRetry": False}
    listed = (await http.get(f"{API}/workflows/nightly/instances")).json()["result"]
    assert len(listed) == 1
    assert (await wait_status(http, "nightly", listed[0]["id"]))["trigger"] == {"source": "cron"}


async def test_cron_entries_cover_triggers_and_schedules(runtime: DevRuntime) -> None:
    entries = runtime.cron_entries()
    assert [(e.expression.source, e.label) for e in entries] == [
        ("0 0 1 1 *", "scheduled"), ("0 3 * * *", "nightly")]


def edit(root: Path, old: str, new: str) -> None:
    entry = root / "src" / "entry.py"
    entry.write_text(entry.read_text().replace(old, new))


async def test_reload_swaps_code_and_version_without_stopping_the_engine(
        runtime: DevRuntime, http: httpx.AsyncClient, project_root: Path, wait_status: Any) -> None:
    before = runtime.version_id
    engine = runtime.engine
    edit(project_root, 'VERSION = "v1"', 'VERSION = "v2"')
    result = runtime.reload()
    assert result.version_changed and result.version_id != before
    assert runtime.engine is engine and runtime.service.workflows["steps"].version_id == result.version_id
    assert (await http.get("/")).text == "hello from v2"
    created = (await http.post("/create", json={})).json()["id"]
    details = await wait_status(http, "steps", created)
    assert details["output"]["version"] == "v2" and details["versionId"] == result.version_id


async def test_a_broken_file_keeps_the_last_good_version_serving(
        runtime: DevRuntime, http: httpx.AsyncClient, project_root: Path, output: Output) -> None:
    good = runtime.version_id
    edit(project_root, "class NightlyWorkflow", "class NightlyWorkflow(:\n    pass\nclass Broken")
    with pytest.raises(UserCodeError, match=r"src/entry.py:\d+: SyntaxError"):
        runtime.reload()
    assert runtime.version_id == good
    reloader = Reloader(runtime, runtime.log)
    assert not reloader.apply({(1, str(project_root / "src" / "entry.py"))})  # type: ignore[arg-type]
    assert "✘ [ERROR] src/entry.py:" in output.text and "Still serving the last good version" in output.text
    assert (await http.get("/")).text == "hello from v1"
    (project_root / "src" / "entry.py").write_text(textwrap.dedent(ENTRY).replace('"v1"', '"v3"'))
    assert reloader.apply({(2, str(project_root / "src" / "entry.py"))})  # type: ignore[arg-type]
    assert (await http.get("/")).text == "hello from v3"
    assert "Local server updated and ready" in output.text


async def test_config_and_secrets_reload_too(
        runtime: DevRuntime, http: httpx.AsyncClient, project_root: Path) -> None:
    (project_root / ".dev.vars").write_text("TOKEN=rotated\n")
    config = project_root / "wrangler.toml"
    config.write_text(config.read_text().replace('GREETING = "hello"', 'GREETING = "hi"'))
    runtime.reload()
    assert (await http.get("/env")).json() == {"greeting": "hi", "secret": "rotated", "version": "v1"}


async def test_legacy_on_fetch_and_missing_handlers(
        runtime: DevRuntime, http: httpx.AsyncClient, project_root: Path) -> None:
    edit(project_root, "class Default(WorkerEntrypoint):", "class Unused(WorkerEntrypoint):")
    runtime.reload()
    response = await http.get("/")
    assert response.status_code == 500 and "has no fetch handler" in response.text
    (project_root / "src" / "entry.py").write_text(
        (project_root / "src" / "entry.py").read_text()
        + "\n\nasync def on_fetch(request, env):\n"
          "    return Response('legacy ' + env.GREETING)\n")
    runtime.reload()
    assert (await http.get("/")).text == "legacy hello"
    failed = await http.get("/cdn-cgi/handler/scheduled", params={"cron": "1 1 1 1 1"})
    assert (failed.status_code, failed.text) == (500, "exception")


async def test_a_replay_after_reload_runs_the_new_code_without_rerunning_steps(
        project_root: Path, output: Output, wait_status: Any) -> None:
    from pyflow_cli.engine.lifetime import EngineOptions
    from pyflow_cli.project.config import load_project
    from pyflow_cli.server.app import create_app
    from pyflow_cli.server.logs import DevLog

    runtime = await DevRuntime.open(
        load_project(project_root), persist_to=project_root / "state",
        options=EngineOptions(poll_interval_s=0.05, force_hibernate=True),
        log=DevLog("debug", out=output.out, err=output.err))
    try:
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            await http.post(f"{API}/workflows/steps/instances",
                            json={"id": "sleeper", "params": {"wait": True}})
            await wait_status(http, "steps", "sleeper", ("waiting",))
            record = await runtime.service.get("steps", "sleeper")
            assert runtime.engine.lifetime(record.iid) is None  # hibernated: nothing resident
            edit(project_root, 'VERSION = "v1"', 'VERSION = "v2"')
            runtime.reload()
            await http.post(f"{API}/workflows/steps/instances/sleeper/events/go", json=7)
            details = await wait_status(http, "steps", "sleeper")
        assert details["output"] == {"version": "v2", "results": [0, 7]}
        assert (project_root / "journal.txt").read_text().splitlines() == ["sleeper s0"]
    finally:
        await runtime.close(0)


async def test_a_cron_fires_once_between_processes_sharing_a_store(
        runtime: DevRuntime, project_root: Path) -> None:
    """Two processes on one store (a dev session and a worker, say) both reach the minute of a
    workflow's schedule: the one holding the store's crons role starts the instance."""
    other = await DevRuntime.open(load_project(project_root), persist_to=project_root / "state",
                                  options=EngineOptions(poll_interval_s=0.05),
                                  log=DevLog("none"), kind="worker")
    try:
        nightly = [next(e for e in r.cron_entries() if e.label == "nightly")
                   for r in (runtime, other)]
        for minute in range(3):
            at = 1767225600000.0 + minute * 60_000
            await asyncio.gather(*(entry.action("0 3 * * *", at) for entry in nightly))
        listed = await runtime.service.list_instances("nightly")
        assert listed.total == 3  # once per firing, not once per process
    finally:
        await other.close(0)
