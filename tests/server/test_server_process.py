"""``pyflow dev`` as a real process, driven over HTTP: the Worker and its bindings, the local API,
hot reload, broken code, crons, shutdown, a second session, and SIGKILL with a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from serverkit import API, DevProcess, instance_status, wait_until, write_project

from pyflow_cli.engine.events import EventType
from pyflow_cli.server.session import read_session
from pyflow_cli.storage.sqlite import SqliteStore

WF = f"{API}/workflows/steps"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_project(tmp_path / "app")


@pytest.fixture
def server(root: Path) -> Iterator[DevProcess]:
    process = DevProcess(root).ready()
    yield process
    if process.process.poll() is None:
        process.kill()


def journal(root: Path) -> list[str]:
    path = root / "journal.txt"
    return path.read_text().splitlines() if path.exists() else []


def test_banner_lists_bindings_and_hides_secret_values(server: DevProcess) -> None:
    output = server.output
    assert "- Workflows:\n  - STEPS: StepsWorkflow (steps)\n  - NIGHTLY: NightlyWorkflow (nightly)" in output
    assert '- Vars:\n  - GREETING: "hello"' in output
    assert "- Secrets:\n  - TOKEN" in output and "s3cret" not in output
    assert '  - "0 0 1 1 *": scheduled handler' in output
    assert f"[pyflow:info] Ready on http://127.0.0.1:{server.port}" in output


def test_fetch_handler_creates_instances_through_its_binding(server: DevProcess) -> None:
    with server.client() as client:
        created = client.post("/create", json={"steps": 2})
        assert created.status_code == 200
        instance_id = created.json()["id"]
        status = wait_until(lambda: (s := client.get(f"/status/{instance_id}").json())
                            ["status"] == "complete" and s)
        assert status == {"status": "complete", "__LOCAL_DEV_STEP_OUTPUTS": [0, 10],
                          "output": {"version": "v1", "results": [0, 10]}}
        assert client.get("/env").json()["secret"] == "s3cret"
    server.wait_for(rf"steps {instance_id}: 🕒 queued \(🔗 Binding\)")
    server.wait_for(rf"steps {instance_id}: ▶ running")
    server.wait_for(rf"steps {instance_id}: ✅ complete \(")
    server.wait_for(r"\[pyflow:info\] POST /create 200 OK \(\d+ms\)")


def test_every_local_api_route_over_http(server: DevProcess) -> None:
    with server.client() as client:
        assert client.get(API).json()["openapi"] == "3.0.3"
        assert client.get(f"{API}/workflows").json()["result_info"] == {"count": 2}
        assert client.get(WF).json()["result"]["instances"]["complete"] == 0
        assert client.post(f"{WF}/instances", json={"id": "r1", "params": {"wait": True}}
                           ).json()["result"] == {"id": "r1"}
        wait_until(lambda: instance_status(client, "steps", "r1") == "waiting")
        listed = client.get(f"{WF}/instances").json()
        assert [i["id"] for i in listed["result"]] == ["r1"]
        assert listed["result_info"]["status_counts"] == {"waiting": 1}
        for action, expected in (("pause", {"paused"}), ("resume", {"queued", "running", "waiting"})):
            result = client.patch(f"{WF}/instances/r1/status", json={"status": action}).json()
            assert result["result"]["status"] in expected, result
        wait_until(lambda: instance_status(client, "steps", "r1") == "waiting")
        assert client.post(f"{WF}/instances/r1/events/go", json={"x": 1}).json()["result"] == \
            {"success": True}
        wait_until(lambda: instance_status(client, "steps", "r1") == "complete")
        restarted = client.patch(f"{WF}/instances/r1/status", json={"status": "restart"}).json()
        assert restarted["success"] is True
        wait_until(lambda: instance_status(client, "steps", "r1") == "waiting")
        assert client.patch(f"{WF}/instances/r1/status", json={"status": "terminate"}
                            ).json()["result"]["status"] == "terminated"
        conflict = client.patch(f"{WF}/instances/r1/status",
                                json={"status": "restart", "from": {"name": "zzz"}})
        assert conflict.status_code == 409
        client.post(f"{WF}/instances", json={"id": "r2"})
        assert client.post(f"{WF}/instances/batch/delete", json={"instances": ["r2", "zz"]}
                           ).json()["result"]["deleted"] == [{"id": "r2"}]
        assert client.delete(f"{WF}/instances/r1").json()["result"] == {"success": True}
        assert client.get(f"{WF}/instances/r1").status_code == 404
        assert client.delete(WF).json()["result"] == {"status": "ok", "success": True}
        refused = client.get(f"{API}/workflows", headers={"host": "attacker.example"})
        assert refused.status_code == 403


def test_hot_reload_changes_version_and_behaviour_while_an_instance_is_in_flight(
        server: DevProcess, root: Path) -> None:
    with server.client() as client:
        client.post(f"{WF}/instances", json={"id": "inflight", "params": {"steps": 2, "nap": 2500}})
        wait_until(lambda: "inflight s0" in journal(root))
        old_version = client.get(f"{WF}/instances/inflight").json()["result"]["versionId"]
        mark = len(server.lines)
        entry = root / "src" / "entry.py"
        saved = time.monotonic()
        entry.write_text(entry.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
        line = server.wait_for(r"Local server updated and ready \(version [0-9a-f]{8}\)", after=mark)
        assert time.monotonic() - saved < 2.0, "reload took longer than 2 seconds"
        assert line.split("version ")[1][:8] != old_version[:8]
        assert client.get("/").text == "hello from v2"
        client.post(f"{WF}/instances", json={"id": "fresh"})
        wait_until(lambda: instance_status(client, "steps", "fresh") == "complete")
        fresh = client.get(f"{WF}/instances/fresh").json()["result"]
        assert fresh["output"]["version"] == "v2"
        assert fresh["versionId"] != old_version
        wait_until(lambda: instance_status(client, "steps", "inflight") == "complete", timeout=15)
        inflight = client.get(f"{WF}/instances/inflight").json()["result"]
        assert inflight["output"]["results"] == [0, 10]
        assert inflight["versionId"] == old_version
    counts = Counter(journal(root))
    assert counts["inflight s0"] == 1 and counts["inflight s1"] == 1


def test_a_syntax_error_is_reported_and_fixed_without_a_restart(server: DevProcess, root: Path) -> None:
    entry = root / "src" / "entry.py"
    good = entry.read_text()
    mark = len(server.lines)
    entry.write_text(good.replace("class NightlyWorkflow(WorkflowEntrypoint):",
                                  "class NightlyWorkflow(WorkflowEntrypoint:"))
    server.wait_for(r"✘ \[ERROR\] src/entry\.py:\d+: SyntaxError", after=mark)
    server.wait_for(r"Still serving the last good version", after=mark)
    with server.client() as client:
        assert client.get("/").text == "hello from v1"
        assert client.post(f"{WF}/instances", json={"id": "during"}).status_code == 200
        wait_until(lambda: instance_status(client, "steps", "during") == "complete")
        mark = len(server.lines)
        entry.write_text(good.replace('VERSION = "v1"', 'VERSION = "fixed"'))
        server.wait_for(r"Local server updated and ready", after=mark)
        assert client.get("/").text == "hello from fixed"
    assert server.process.poll() is None


def test_crons_fire_on_demand(server: DevProcess) -> None:
    with server.client() as client:
        fired = client.get("/cdn-cgi/handler/scheduled", params={"cron": "0 0 1 1 *"})
        assert (fired.status_code, fired.text) == (200, "ok")
        listed = client.get(f"{WF}/instances").json()["result"]
        assert len(listed) == 1
        details = client.get(f"{WF}/instances/{listed[0]['id']}").json()["result"]
        assert details["params"]["cron"] == "0 0 1 1 *"
        scheduled = client.get("/cdn-cgi/handler/scheduled", params={"cron": "0 3 * * *"})
        assert scheduled.text == "ok"
        nightly = client.get(f"{API}/workflows/nightly/instances").json()["result"]
        assert len(nightly) == 1
        wait_until(lambda: instance_status(client, "nightly", nightly[0]["id"]) == "complete")
        assert client.get(f"{API}/workflows/nightly/instances/{nightly[0]['id']}"
                          ).json()["result"]["trigger"] == {"source": "cron"}
    server.wait_for(r'⏰ scheduled handler \(cron "0 0 1 1 \*"\)')


def test_sigterm_exits_cleanly_and_a_second_session_is_refused(server: DevProcess, root: Path) -> None:
    session = read_session(root)
    assert session is not None and session.port == server.port
    assert session.pid == server.process.pid
    second = DevProcess(root)
    assert second.process.wait(20) == 1
    second.wait_for(rf"pyflow dev is already running for this project \(pid {server.process.pid}, "
                    rf"http://127.0.0.1:{server.port}\)")
    assert server.stop(signal.SIGTERM) == 0
    assert "⎔ Shutting down local server..." in server.output
    assert read_session(root) is None and not (root / ".pyflow" / "dev.json").exists()


def test_a_new_session_starts_at_once_after_kill_9_of_the_last(server: DevProcess,
                                                                root: Path) -> None:
    with server.client() as client:
        client.post(f"{WF}/instances", json={"id": "held", "params": {"steps": 1, "nap": 20_000}})
        wait_until(lambda: instance_status(client, "steps", "held") == "waiting")
    os.kill(server.process.pid, signal.SIGKILL)
    time.sleep(0.3)  # killed, not reaped by its parent yet: its pid is a zombie
    second = DevProcess(root).ready()
    try:
        assert "already running" not in second.output
        with second.client() as client:  # its lease is taken over at once, not in 15 s
            patched = client.patch(f"{WF}/instances/held/status", json={"status": "pause"})
            assert patched.json()["result"]["status"] == "paused"
    finally:
        assert second.stop() == 0
        server.process.wait(10)


def test_ctrl_c_exits_zero(server: DevProcess) -> None:
    assert server.stop(signal.SIGINT) == 0
    assert "Traceback" not in server.output


def test_binding_beyond_this_machine_warns(root: Path) -> None:
    process = DevProcess(root, "--ip", "0.0.0.0").ready()
    try:
        process.wait_for(r"▲ \[WARNING\] Listening on 0\.0\.0\.0")
    finally:
        assert process.stop() == 0


async def completed_steps(state: Path) -> dict[str, set[str]]:
    """Per instance, the steps whose success was durably recorded."""
    store = SqliteStore(state)
    await store.open()
    try:
        page = await store.list_instances("steps", limit=1000)
        done: dict[str, set[str]] = {}
        for record in page.records:
            log = await store.read_log(record.iid)
            done[record.id] = {(row.target or "").rsplit("-", 1)[0] for row in log
                               if row.event is EventType.STEP_SUCCESS}
        return done
    finally:
        await store.close()


def test_sigkill_mid_run_then_restart_completes_every_instance_without_rerunning_steps(
        root: Path) -> None:
    first = DevProcess(root).ready()
    ids = [f"k{i}" for i in range(6)]
    with first.client() as client:
        for instance_id in ids:
            client.post(f"{WF}/instances", json={"id": instance_id,
                                                 "params": {"steps": 4, "nap": 400}})
        wait_until(lambda: len(journal(root)) >= 8, interval=0.02)
    first.kill()
    done_at_kill = asyncio.run(completed_steps(root / "state"))
    lines_at_kill = len(journal(root))
    assert any(len(steps) < 4 for steps in done_at_kill.values()), "killed too late"
    assert (root / ".pyflow" / "dev.json").exists()  # stale: its process is gone

    second = DevProcess(root).ready()
    try:
        with second.client() as client:
            for instance_id in ids:
                wait_until(lambda i=instance_id: instance_status(client, "steps", i) == "complete",
                           timeout=30)
                details = client.get(f"{WF}/instances/{instance_id}").json()["result"]
                assert details["output"]["results"] == [0, 10, 20, 30]
    finally:
        assert second.stop() == 0
    rerun = [line for line in journal(root)[lines_at_kill:]
             if line.split()[1] in done_at_kill[line.split()[0]]]
    assert rerun == [], f"completed steps ran again after the restart: {rerun}"
    assert set(journal(root)) == {f"{i} s{n}" for i in ids for n in range(4)}


def test_a_busy_port_is_a_clear_error(root: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        process = DevProcess(root, port=busy.getsockname()[1])
        assert process.process.wait(20) == 1
    process.wait_for(r"✘ \[ERROR\] Cannot listen on 127\.0\.0\.1:\d+: Address already in use\. "
                     r"Choose another --port")
