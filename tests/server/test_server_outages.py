"""A real ``pyflow dev`` whose state goes away under it: a full disk is survived (one line when
the engine's loops start failing, one when they work again, every instance completes after space
is freed), and a deleted state directory stops the server with one line."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serverkit import API, DevProcess, instance_status, wait_until, write_project

WF = f"{API}/workflows/steps"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_project(tmp_path / "app")


def test_deleting_the_state_directory_stops_pyflow_dev_with_one_line(root: Path) -> None:
    server = DevProcess(root).ready()
    try:
        with server.client() as client:
            client.post(f"{WF}/instances", json={"id": "busy", "params": {"steps": 50,
                                                                          "nap": 100}})
            wait_until(lambda: instance_status(client, "steps", "busy") in ("running",
                                                                            "waiting"))
        shutil.rmtree(root / "state")
        assert server.process.wait(15) == 1
    finally:
        if server.process.poll() is None:
            server.kill()
    server.wait_for("Shutting down")
    errors = [line for line in server.lines if "[ERROR]" in line or line.startswith("pyflow:")]
    assert errors == [f"✘ [ERROR] The state database {root / 'state' / 'pyflow.sqlite'} was "
                      "deleted or replaced while pyflow was using it; anything written now would "
                      "be lost, so pyflow stops writing. Start it again (restore the database "
                      "first to keep its instances)."], server.output
    assert "Traceback" not in server.output


def test_deleting_the_state_directory_under_trigger_wait_ends_it_with_one_line(
        root: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    command = subprocess.Popen(
        [sys.executable, "-m", "pyflow_cli", "--persist-to", "state", "workflows", "trigger",
         "steps", '{"steps": 50, "nap": 100}', "--wait"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: (root / "state" / "pyflow.sqlite").exists() and
                   (root / "journal.txt").exists())
        shutil.rmtree(root / "state")
        out, err = command.communicate(timeout=20)
    finally:
        if command.poll() is None:
            command.kill()
    assert command.returncode == 1, out + err
    assert err.strip().splitlines() == [
        f"✘ [ERROR] The state database {root / 'state' / 'pyflow.sqlite'} was deleted or "
        "replaced while pyflow was using it; anything written now would be lost, so pyflow "
        "stops writing. Start it again (restore the database first to keep its instances)."]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB filesystem of its own (tmpfs), to fill up; needs root."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("filling a real disk needs root (to mount a small tmpfs)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", "--lazy", str(disk)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def heartbeat_age_s(state: Path) -> float:
    with sqlite3.connect(state / "pyflow.sqlite") as conn:
        (heartbeat,) = conn.execute("SELECT MAX(heartbeat_ms) FROM engines").fetchone()
    return time.time() - heartbeat / 1000.0


def test_a_full_disk_is_survived_and_every_instance_completes_once_space_is_freed(
        root: Path, small_disk: Path) -> None:
    state = small_disk / "state"
    server = DevProcess(root, "--persist-to", str(state)).ready()  # the later --persist-to wins
    ids = [f"f{i}" for i in range(3)]
    try:
        with server.client() as client:
            for instance_id in ids:
                client.post(f"{WF}/instances", json={"id": instance_id,
                                                     "params": {"steps": 30, "nap": 100}})
            wait_until(lambda: all(instance_status(client, "steps", i) in ("running", "waiting")
                                   for i in ids))
        filler = fill(small_disk)
        server.wait_for(r"pyflow: the engine's heartbeat \(renewing leases in the store\) "
                        r"failed \(OperationalError: database or disk is full\); retrying")
        time.sleep(2.5)  # more beats fail meanwhile
        filler.unlink()
        server.wait_for(r"the engine's heartbeat \(renewing leases in the store\) works again "
                        r"after", timeout=20)
        wait_until(lambda: heartbeat_age_s(state) < 3.0)
        with server.client() as client:
            for instance_id in ids:  # stranded ones are claimed once their leases run out
                wait_until(lambda i=instance_id: instance_status(client, "steps", i)
                           == "complete", timeout=45)
        assert server.process.poll() is None
    finally:
        try:
            code = server.stop()
        finally:
            if server.process.poll() is None:  # it did not stop: never leave it running
                server.kill()
    assert code == 0
    failed = [line for line in server.lines if "heartbeat" in line and " failed (" in line]
    assert len(failed) == 1, server.output
