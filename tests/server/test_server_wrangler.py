"""The real wrangler CLI (4.164.0, from the npm registry) drives ``pyflow dev`` with ``--local``.

wrangler is installed once into a cache directory under the system temp dir, keyed by version,
together with a Node 22 (the npm package ``node-<os>-<arch>@22``), since wrangler needs Node >= 22.
The test is skipped, with the reason shown, only where npm itself is unavailable.
"""

from __future__ import annotations

import fcntl
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from serverkit import DevProcess, instance_status, wait_until, write_project

WRANGLER_VERSION = "4.164.0"
CACHE = Path(tempfile.gettempdir()) / f"pyflow-wrangler-{WRANGLER_VERSION}"


def node_package() -> str:
    system = {"linux": "linux", "darwin": "darwin"}.get(sys.platform, sys.platform)
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower())
    return f"node-{system}-{machine}"


def install_wrangler() -> tuple[Path, Path]:
    """(node's bin directory, the wrangler launcher), installing them on first use."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is not available, so wrangler {WRANGLER_VERSION} cannot be installed")
    package = node_package()
    node_bin = CACHE / "node_modules" / package / "bin"
    wrangler = CACHE / "node_modules" / ".bin" / "wrangler"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test runs install once
        if not ((node_bin / "node").exists() and wrangler.exists()):
            subprocess.run([npm, "install", "--prefix", str(CACHE), "--no-audit", "--no-fund",
                            f"{package}@22", f"wrangler@{WRANGLER_VERSION}"],
                           check=True, capture_output=True, timeout=900)
    return node_bin, wrangler


@pytest.fixture(scope="module")
def wrangler_install() -> tuple[Path, Path]:
    return install_wrangler()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DevProcess]:
    process = DevProcess(write_project(tmp_path / "app")).ready()
    yield process
    if process.process.poll() is None:
        process.stop()


def run_wrangler(install: tuple[Path, Path], port: int, cwd: Path, *args: str) -> str:
    node_bin, wrangler = install
    env = {**os.environ, "PATH": f"{node_bin}{os.pathsep}{os.environ.get('PATH', '')}",
           "WRANGLER_SEND_METRICS": "false", "WRANGLER_LOG_PATH": str(cwd / "wrangler-logs"),
           "XDG_CONFIG_HOME": str(cwd / "config"), "NO_COLOR": "1", "FORCE_COLOR": "0"}
    result = subprocess.run([str(wrangler), *args, "--local", "--port", str(port)], cwd=cwd,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"wrangler {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_wrangler_workflows_commands_work_against_pyflow_dev(
        wrangler_install: tuple[Path, Path], server: DevProcess, tmp_path: Path) -> None:
    cwd = tmp_path / "wrangler-cwd"
    cwd.mkdir()

    def wrangler(*args: str) -> str:
        return run_wrangler(wrangler_install, server.port, cwd, *args)

    listed = wrangler("workflows", "list")
    assert "Showing 2 workflows from local dev session:" in listed
    assert "│ steps   │ server-test │ StepsWorkflow   │" in listed

    triggered = wrangler("workflows", "trigger", "steps", '{"wait": true}', "--id", "w1")
    assert '🚀 Workflow instance "w1" has been triggered successfully' in triggered
    with server.client() as client:
        wait_until(lambda: instance_status(client, "steps", "w1") == "waiting")

        instances = wrangler("workflows", "instances", "list", "steps")
        assert "Showing 1 instance from page 1:" in instances and "│ w1 " in instances
        assert "⏰ Waiting" in instances

        described = wrangler("workflows", "instances", "describe", "steps", "latest")
        assert 'Latest instance is "w1"' in described
        for line in ("Workflow Name:         steps", "Instance Id:           w1",
                     "Trigger:               🌎 API", "Name:      s0-1", "Output:    0"):
            assert line in described, described
        assert "Version Id:" in described

        assert '⏸️ The instance "w1" from steps was paused successfully' in \
            wrangler("workflows", "instances", "pause", "steps", "w1")
        assert instance_status(client, "steps", "w1") == "paused"
        assert '🔄 The instance "w1" from steps was resumed successfully' in \
            wrangler("workflows", "instances", "resume", "steps", "latest")
        wait_until(lambda: instance_status(client, "steps", "w1") == "waiting")

        sent = wrangler("workflows", "instances", "send-event", "steps", "w1", "--type", "go",
                        "--payload", '{"ok": 1}')
        assert '📤 The event with type "go"' in sent and 'was sent to the instance "w1" from steps' in sent
        wait_until(lambda: instance_status(client, "steps", "w1") == "complete")
        done = wrangler("workflows", "instances", "describe", "steps", "w1")
        assert "Status:                ✅ Completed" in done and "Success:               ✅ Yes" in done

        # A failure's traceback is pyflow's extra field: wrangler's view of it is unchanged.
        wrangler("workflows", "trigger", "steps", '{"fail": true}', "--id", "f1")
        wait_until(lambda: instance_status(client, "steps", "f1") == "errored")
        failed = wrangler("workflows", "instances", "describe", "steps", "f1")
        assert "ValueError: boom" in failed and "❌ Errored" in failed, failed
        assert "Traceback" not in failed and "src/entry.py" not in failed, failed

        wrangler("workflows", "trigger", "steps", '{"wait": true}', "--id", "t1")
        wait_until(lambda: instance_status(client, "steps", "t1") == "waiting")
        assert '🥷 The instance "t1" from steps was terminated successfully' in \
            wrangler("workflows", "instances", "terminate", "steps", "t1")
        assert instance_status(client, "steps", "t1") == "terminated"

        deleted = wrangler("workflows", "instances", "delete", "steps", "w1", "t1")
        assert '🗑️  Deleted workflow instances from "steps": "w1", "t1"' in deleted
        assert instance_status(client, "steps", "w1") == ""

        wrangler("workflows", "trigger", "steps")
        assert '✅ Workflow "steps" instances removed successfully from local dev session.' in \
            wrangler("workflows", "delete", "steps")
        assert client.get("/cdn-cgi/local/explorer/api/workflows/steps/instances").json()[
            "result"] == []


def test_wrangler_accepts_every_project_pyflow_init_makes(wrangler_install: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    """Cloudflare's own wrangler builds a project made by ``pyflow init`` as it is (it refuses
    Python code without the ``python_workers`` flag); ``deploy --dry-run`` validates the config and
    bundles the Worker without uploading anything."""
    from pyflow_cli.project.templates import list_templates

    node_bin, wrangler = wrangler_install
    env = {**os.environ, "PATH": f"{node_bin}{os.pathsep}{os.environ.get('PATH', '')}",
           "WRANGLER_SEND_METRICS": "false", "WRANGLER_LOG_PATH": str(tmp_path / "wrangler-logs"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "NO_COLOR": "1", "FORCE_COLOR": "0"}
    for template in list_templates():
        project = tmp_path / template.name
        made = subprocess.run([sys.executable, "-m", "pyflow_cli", "init", str(project),
                               "--template", template.name], capture_output=True, text=True,
                              timeout=60)
        assert made.returncode == 0, made.stderr
        built = subprocess.run([str(wrangler), "deploy", "--dry-run", "--outdir",
                                str(tmp_path / "out" / template.name)], cwd=project, env=env,
                               capture_output=True, text=True, timeout=120)
        assert built.returncode == 0, f"{template.name}:\n{built.stdout}\n{built.stderr}"
        assert "--dry-run: exiting now." in built.stdout, built.stdout
