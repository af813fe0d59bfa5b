"""``pyflow dev --store postgresql://...``: the Worker, its bindings, the engine and the CLI on a
PostgreSQL store, with the password nowhere in the banner, the logs or the session file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from pgcluster import Server
from serverkit import API, DevProcess, instance_status, wait_until, write_project


def test_pyflow_dev_runs_on_postgres_and_never_shows_the_password(
        tmp_path: Path, postgres: Server) -> None:
    root = write_project(tmp_path / "app")
    url = postgres.location()
    shown = url.replace(f":{postgres.password}@", "@")
    server = DevProcess(root, "--store", url).ready()
    try:
        assert f"Instances are stored in PostgreSQL, {shown}" in server.output
        with server.client() as client:
            instance_id = client.post("/create", json={"steps": 2}).json()["id"]
            wait_until(lambda: instance_status(client, "steps", instance_id) == "complete")
            assert client.post(f"{API}/workflows/steps/instances",
                               json={"id": "held", "params": {"wait": True}}).status_code == 200
            wait_until(lambda: instance_status(client, "steps", "held") == "waiting")
        session = json.loads((root / ".pyflow" / "dev.json").read_text())
        assert session["store"] == shown
        # The CLI, pointed at the same store, goes through this dev session.
        env = {**os.environ, "PYFLOW_STORE": url, "NO_COLOR": "1"}
        listed = subprocess.run(
            [sys.executable, "-m", "pyflow_cli", "workflows", "instances", "list", "steps",
             "--json"], cwd=root, env=env, capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0, listed.stderr
        assert sorted(i["id"] for i in json.loads(listed.stdout)) == sorted([instance_id, "held"])
        assert server.stop(signal.SIGTERM) == 0
    finally:
        if server.process.poll() is None:
            server.kill()
    text = server.output + (root / ".pyflow" / "dev.json").read_text() \
        if (root / ".pyflow" / "dev.json").exists() else server.output
    assert str(postgres.password) not in text
    with postgres.connect() as conn:  # SIGTERM handed the waiting instance's lease back
        schema = url.split("schema=")[1]
        owners = conn.execute(f'SELECT lease_owner FROM "{schema}".instances').fetchall()
        assert owners == [(None,), (None,)]
