"""Every command pointed at a store it cannot use says so in one line and exits 1: a PostgreSQL
server that is not there, refuses the password or lacks the database; a URL scheme pyflow does
not know; a SQLite file in a directory that does not exist, under a file, where nothing can be
written, or a file that is not a database. No traceback, no password, nothing left running.

The commands come from the CLI's own command tree, so a new command is checked without anyone
adding it here; only the commands that never open the instance store are left out, and a test
below proves they really do not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import typer
from clikit import Project, command_tree, fixed_runtime, write_project
from pgcluster import Server
from typer._click import Context
from typer.core import TyperGroup
from typer.testing import CliRunner

from pyflow_cli.cli.main import app

PASSWORD = "s3cret-Pw"
NO_STORE = {("init",), ("kv",), ("r2",), ("d1",), ("workflows", "list")}
"""Commands that never open the instance store: the project's files, or KV, R2 and D1's own."""

VALUES = {"name": "demo", "instance_id": "abc", "instance_ids": "abc", "params": "{}"}
OPTIONS = {("workflows", "instances", "send-event"): ["--type", "go"]}
SERVERS = {"dev": ["--port", "0", "--no-reload"], "serve": ["--port", "0"], "worker": []}
"""Commands that run until stopped (with options that keep them from clashing with others)."""


def command_line(path: tuple[str, ...]) -> list[str]:
    """``path`` with a value for each of its required arguments and options."""
    command = typer.main.get_command(app)
    for name in path:
        assert isinstance(command, TyperGroup)
        found = command.get_command(Context(command), name)
        assert found is not None
        command = found
    arguments = [VALUES[param.name or ""] for param in command.params
                 if param.param_type_name == "argument" and param.required]
    return [*path, *arguments, *OPTIONS.get(path, [])]


COMMANDS = [path for path, command in command_tree(typer.main.get_command(app))
            if not isinstance(command, TyperGroup)
            and not any(path[:len(skip)] == skip for skip in NO_STORE)]
READS_ONLY_OK = {"doctor", "workers list", "versions list", "workflows describe",
                 "workflows delete", "workflows metrics", "workflows instances list",
                 "workflows instances terminate-all"}
"""Commands that may read a store that does not exist yet as an empty one (they create
nothing): only for the store nothing can be created in."""


def sqlite_stores(tmp_path: Path) -> dict[str, str]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory\n")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_text("not a database\n" * 500)  # SQLite takes a file under a page for an empty one
    found = {
        "scheme typo": f"postgersql://pyflow:{PASSWORD}@127.0.0.1/pyflow",
        "sqlite in a missing directory": str(tmp_path / "missing" / "dir" / "pyflow.sqlite"),
        "sqlite under a file": f"sqlite://{a_file}/pyflow.sqlite",
        "sqlite not a database": str(garbage),
    }
    if Path("/proc/self").is_dir():  # a directory no one, root included, can create a file in
        found["sqlite unwritable"] = "/proc/pyflow.sqlite"
    return found


def postgres_stores(server: Server) -> dict[str, str]:
    base = f"postgresql://{server.user}:{PASSWORD}@{server.host}"
    return {
        "postgres refused": f"{base}:1/{server.database}",
        "postgres unknown host": f"postgresql://pyflow:{PASSWORD}@no-such-host.invalid/pyflow",
        "postgres wrong password": f"{base}:{server.port}/{server.database}",
        "postgres missing database": server.url.rsplit("/", 1)[0] + "/no_such_database",
    }


def run(root: Path, store: str, path: tuple[str, ...]) -> tuple[int, str, str]:
    """The command's exit code, stdout and stderr: in this process, but for the servers and
    engines, which would run on forever if they did not fail (a subprocess, with a timeout)."""
    if path[0] in SERVERS:
        env = {**os.environ, "PYFLOW_STORE": store, "NO_COLOR": "1"}
        try:
            done = subprocess.run([sys.executable, "-m", "pyflow_cli", "--cwd", str(root),
                                   *command_line(path), *SERVERS[path[0]]], env=env,
                                  capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return -1, "", f"pyflow {' '.join(path)} did not stop within 60 s"
        return done.returncode, done.stdout, done.stderr
    runtime = replace(fixed_runtime(), environ={"PYFLOW_STORE": store})
    result = CliRunner().invoke(app, ["--cwd", str(root), *command_line(path)], obj=runtime)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{' '.join(path)} raised {result.exception!r}"
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "app")


def check(root: Path, path: tuple[str, ...], stores: dict[str, str], secrets: list[str]) -> None:
    failures = []
    for case, store in stores.items():
        code, out, err = run(root, store, path)
        lines = err.strip().splitlines()
        if case == "sqlite unwritable" and code == 0 and " ".join(path) in READS_ONLY_OK:
            continue  # read as a store that does not exist yet: empty, nothing created
        if code != 1 or len(lines) != 1 or "Traceback" in err or "Unexpected error" in err:
            failures.append(f"{case}: exit {code}, stderr {err!r}")
        if any(secret in out + err for secret in secrets):
            failures.append(f"{case}: the password is in the output")
    assert not failures, f"pyflow {' '.join(path)}:\n" + "\n".join(failures)


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_a_sqlite_store_that_cannot_be_used_is_one_line_and_exit_code_1(
        path: tuple[str, ...], project: Path, tmp_path: Path) -> None:
    check(project, path, sqlite_stores(tmp_path), [PASSWORD])
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_a_postgres_store_that_cannot_be_used_is_one_line_and_exit_code_1(
        path: tuple[str, ...], project: Path, postgres: Server) -> None:
    check(project, path, postgres_stores(postgres), [PASSWORD, postgres.password or PASSWORD])


def test_the_commands_left_out_never_open_the_store(project: Path) -> None:
    """``workflows list`` reads wrangler.toml only; ``init`` writes a project; ``kv``, ``r2``
    and ``d1`` keep their data in the state directory whatever the store (docs/deploy.md)."""
    code, out, err = run(project, f"postgresql://pyflow:{PASSWORD}@127.0.0.1:1/pyflow",
                         ("workflows", "list"))
    assert code == 0 and "demo" in out, err


def test_a_sqlite_store_in_a_missing_directory_creates_no_directory(tmp_path: Path) -> None:
    project = Project(write_project(tmp_path / "app"))
    target = tmp_path / "typo" / "pyflow.sqlite"
    result = project.cli("--store", str(target), "workflows", "trigger", "demo")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"✘ [ERROR] The directory of the SQLite store {target} does not exist: create it, or "
        "fix the path in --store.")
    assert not target.parent.exists()
