"""A damaged or read-only state database is noticed and named in one line: an engine refuses to
start on a damaged one (a quick integrity check, bounded in time), ``pyflow doctor`` lists the
damage, and a write to a read-only one says what to do instead of an SQLite error."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import Project

from pyflow_cli.engine.changes import NewInstance
from pyflow_cli.storage.schema import LATEST_VERSION
from pyflow_cli.storage.sqlite import SqliteStore

PAGE = 4096


def fill(state: Path, count: int = 300) -> Path:
    """A store with ``count`` instances (enough pages to damage some and keep the header)."""

    async def main() -> None:
        store = SqliteStore(state)
        await store.open()
        await store.create_instances([
            NewInstance("demo", f"i{n}", f'{{"user": "{"x" * 200}", "n": {n}}}', 1e12 + n, 0, None)
            for n in range(count)])
        await store.close()

    asyncio.run(main())
    return state / "pyflow.sqlite"


def damage(db: Path) -> bytes:
    """Random bytes over a dozen data pages (never page 1, the header and schema)."""
    pages = db.stat().st_size // PAGE
    chance = random.Random(20261124)
    with db.open("r+b") as file:
        for page in chance.sample(range(2, pages), min(12, pages - 2)):
            file.seek(page * PAGE + 64)
            file.write(chance.randbytes(PAGE // 2))
    return db.read_bytes()


@pytest.fixture
def damaged(project: Project) -> Project:
    damage(fill(project.db.parent))
    return project


def one_error_line(stderr: str) -> str:
    assert stderr.startswith("✘ [ERROR] ") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr and "Unexpected error" not in stderr
    return stderr.removeprefix("✘ [ERROR] ").rstrip()


def test_an_engine_refuses_a_damaged_store_in_one_line(damaged: Project) -> None:
    before = damaged.db.read_bytes()
    result = damaged.cli("workflows", "trigger", "demo", "--wait")
    assert result.exit_code == 1
    message = one_error_line(result.stderr)
    assert message.startswith(f"The state database {damaged.db} is damaged (")
    assert "move it and its -wal and -shm files aside" in message and "pyflow doctor" in message
    assert damaged.db.read_bytes() == before  # nothing was written


def test_doctor_lists_the_damage(damaged: Project) -> None:
    result = damaged.cli("doctor")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"State database:  {damaged.db}"
    assert lines[2].startswith("Integrity:       ") and lines[2].endswith(" problems")
    assert lines[3].startswith("  - ")
    assert one_error_line(result.stderr).startswith(f"The state database {damaged.db} is damaged")


def test_doctor_on_a_healthy_store(project: Project) -> None:
    fill(project.db.parent, 5)
    result = project.cli("doctor")
    assert result.exit_code == 0, result.output
    assert (f"Schema version:  {LATEST_VERSION}\nInstances:       5\nIntegrity:       ok ("
            in result.stdout)
    assert result.stdout.endswith("✅ The state database is healthy.\n")


def test_doctor_without_a_store(project: Project) -> None:
    result = project.cli("doctor")
    assert result.exit_code == 0
    assert result.stdout.startswith("No state database yet (")
    assert not project.db.exists()


def test_a_server_refuses_a_damaged_store(damaged: Project) -> None:
    run = subprocess.run([sys.executable, "-m", "pyflow_cli", "--cwd", str(damaged.root), "dev",
                          "--port", "0", "--no-reload"], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "NO_COLOR": "1"})
    assert run.returncode == 1
    assert f"✘ [ERROR] The state database {damaged.db} is damaged (" in run.stdout + run.stderr
    assert "Ready on" not in run.stdout


# -- read-only ------------------------------------------------------------------------------------
def as_reader(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pyflow bound by file permissions: as root, without the capability to override them
    (root may write a read-only file otherwise)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: file permissions cannot bind")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    return subprocess.run([*prefix, sys.executable, "-m", "pyflow_cli", "--cwd", str(root), *args],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NO_COLOR": "1"})


def test_a_write_to_a_read_only_database_is_one_clear_line(project: Project) -> None:
    fill(project.db.parent, 3).chmod(0o444)  # its directory stays writable
    listed = as_reader(project.root, "workflows", "instances", "list", "demo")
    assert listed.returncode == 0, listed.stderr  # reading works
    run = as_reader(project.root, "workflows", "trigger", "demo", "--id", "new")
    assert run.returncode == 1
    message = one_error_line(run.stderr)
    assert message.startswith(f"The state database {project.db} is read-only ("), message
    assert "pass --persist-to a writable directory" in message


def test_a_read_only_state_directory_is_one_clear_line(project: Project) -> None:
    fill(project.db.parent, 3)
    project.db.parent.chmod(0o555)
    try:
        run = as_reader(project.root, "workflows", "trigger", "demo", "--id", "new")
    finally:
        project.db.parent.chmod(0o755)
    assert run.returncode == 1
    message = one_error_line(run.stderr)
    assert message.startswith(f"The state database {project.db} is read-only ("), message
