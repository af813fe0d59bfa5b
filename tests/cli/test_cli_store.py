"""``--store URL`` and ``PYFLOW_STORE``: one way to choose the store, for every command; on
PostgreSQL, every command works and no output ever shows the password, whatever goes wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import write_project
from pgcluster import Server

DONE = '{"skip_approval": true}'


def pyflow(root: Path, *args: str, env: dict[str, str] | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
    values = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "PYFLOW_STORE")}
    values.update({"TZ": "UTC", **(env or {})})
    return subprocess.run([sys.executable, "-m", "pyflow_cli", *args], cwd=root, env=values,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_project(tmp_path / "app")


def _ids(run: subprocess.CompletedProcess[str]) -> list[str]:
    assert run.returncode == 0, run.stderr
    return [item["id"] for item in json.loads(run.stdout)]


def test_the_store_option_and_the_environment_choose_the_sqlite_file(
        root: Path, tmp_path: Path) -> None:
    chosen = tmp_path / "elsewhere" / "mine.sqlite"
    chosen.parent.mkdir()
    run = pyflow(root, "--store", str(chosen), "workflows", "trigger", "demo", DONE, "--wait",
                 "--time-scale", "2000")
    assert run.returncode == 0, run.stderr
    assert chosen.exists() and not (root / ".pyflow" / "state" / "pyflow.sqlite").exists()
    listing = ("workflows", "instances", "list", "demo", "--json")
    assert len(_ids(pyflow(root, *listing, env={"PYFLOW_STORE": f"sqlite://{chosen}"}))) == 1
    assert len(_ids(pyflow(root, "--store", str(chosen.parent), *listing))) == 0  # pyflow.sqlite
    assert _ids(pyflow(root, *listing)) == []  # the project's own store
    # The flag wins over the environment.
    assert _ids(pyflow(root, "--store", str(tmp_path / "other.sqlite"), *listing,
                       env={"PYFLOW_STORE": str(chosen)})) == []


def test_a_store_pyflow_does_not_know_is_one_line(root: Path) -> None:
    for args in (("--store", "mysql://u:pw@host/db"), ("--store", "postgresql://h/db?schema=1x")):
        run = pyflow(root, *args, "workflows", "instances", "list", "demo")
        assert run.returncode == 1
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert "pw" not in run.stderr
    assert 'Unknown store "mysql://..."' in pyflow(
        root, "--store", "mysql://u:pw@host/db", "workflows", "list").stderr + pyflow(
        root, "--store", "mysql://u:pw@host/db", "workflows", "instances", "list", "demo").stderr


def test_without_psycopg_a_postgresql_store_says_how_to_install_it(root: Path) -> None:
    blocked = ("import sys; sys.modules['psycopg'] = None; "
               "sys.argv = ['pyflow', '--store', 'postgresql://u:pw@h/db', 'workflows', 'instances', "
               "'list', 'demo']; from pyflow_cli.cli.main import run; run()")
    run = subprocess.run([sys.executable, "-c", blocked], cwd=root, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 1
    assert run.stderr.strip().endswith(
        "A postgresql:// store needs psycopg, which is not installed: pip install "
        "'pyflow-cli[postgres]'")
    assert len(run.stderr.strip().splitlines()) == 1


def test_commands_on_postgres_work_and_no_output_shows_the_password(
        root: Path, postgres: Server) -> None:
    url = postgres.location()
    secret = str(postgres.password)
    outputs: list[str] = []

    def ok(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        run = pyflow(root, *args, env=env)
        outputs.append(run.stdout + run.stderr)
        assert run.returncode == 0, run.stderr
        return run

    triggered = ok("--store", url, "workflows", "trigger", "demo", DONE, "--wait",
                   "--time-scale", "2000")
    assert 'Output:  {"files":2,"attempts":3}' in triggered.stdout
    assert len(_ids(ok("workflows", "instances", "list", "demo", "--json",
                       env={"PYFLOW_STORE": url}))) == 1
    described = ok("--store", url, "workflows", "instances", "describe", "demo", "latest")
    assert "Status:                ✅ Completed" in described.stdout
    assert "complete" in ok("--store", url, "workflows", "describe", "demo").stdout
    doctor = ok("--store", url, "doctor")
    assert "Instances:" in doctor.stdout and "✅ The PostgreSQL store is reachable." in doctor.stdout
    assert not (root / ".pyflow" / "state" / "pyflow.sqlite").exists()

    wrong_password = url.replace(secret, "wrong-" + secret[::-1])
    failures = {
        "refused": (wrong_password, "refused user"),
        "unreachable": (url.replace(f":{postgres.port}/", ":1/"), "Cannot reach PostgreSQL at"),
        "no database": (url.replace(f"/{postgres.database}?", "/nope?"), 'Database "nope"'),
    }
    for name, (bad, expected) in failures.items():
        for args in (("workflows", "instances", "list", "demo"), ("--debug", "doctor"),
                     ("workflows", "trigger", "demo", "--wait")):
            run = pyflow(root, "--store", bad, *args)
            outputs.append(run.stdout + run.stderr)
            assert run.returncode == 1, (name, args, run.stderr)
            assert expected in run.stderr, (name, run.stderr)
            assert "wrong-" not in run.stderr
    for output in outputs:
        assert secret not in output and secret[::-1] not in output
