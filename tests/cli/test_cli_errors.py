"""The one error boundary: every failure is one line and exit code 1; ``--debug`` adds the traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from clikit import Project, fixed_runtime, write_project
from typer.testing import CliRunner

from pyflow_cli import __version__
from pyflow_cli.cli.main import app
from pyflow_cli.service import WorkflowService


def test_no_config_file_found(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--cwd", str(tmp_path), "workflows", "list"], obj=fixed_runtime())
    assert result.exit_code == 1
    assert result.stderr == (f"✘ [ERROR] No wrangler.toml, wrangler.json or wrangler.jsonc found in "
                             f"{tmp_path.resolve()} or its parents. Run `pyflow init` to create a "
                             "project, or pass -c PATH.\n")
    assert result.stdout == ""


def test_invalid_config_names_file_key_and_value(tmp_path: Path) -> None:
    config = '''\
name = "demo-app"
main = "src/entry.py"

[[workflows]]
name = "bad name"
binding = "X"
class_name = "Y"
'''
    root = write_project(tmp_path / "app", config=config)
    result = Project(root).cli("workflows", "instances", "list", "x")
    assert result.exit_code == 1
    assert result.stderr.startswith('✘ [ERROR] wrangler.toml: workflows[0].name: "bad name" is not a '
                                    "valid workflow name.")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(("source", "where"), [
    ('import json\n\nraise RuntimeError("kaput")\n', "src/entry.py:3: RuntimeError: kaput"),
    ("def broken(:\n", "src/entry.py:1: SyntaxError: invalid syntax"),
    ("import no_such_module_for_pyflow\n", "src/entry.py:1: ModuleNotFoundError: No module named "
                                           "'no_such_module_for_pyflow'"),
])
def test_user_module_that_fails_to_import_is_reported_at_its_line(tmp_path: Path, source: str,
                                                                   where: str) -> None:
    project = Project(write_project(tmp_path / "app", entry=source))
    result = project.cli("workflows", "trigger", "demo", "--wait")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"✘ [ERROR] {where}")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
    assert not project.db.exists()  # nothing was created


def test_user_module_error_leaves_existing_state_untouched(project: Project) -> None:
    project.cli("workflows", "trigger", "demo", "--id", "before")
    before = project.dump()
    (project.root / "src" / "entry.py").write_text("raise ImportError('gone')\n")
    result = project.cli("workflows", "trigger", "demo", "--wait")
    assert result.exit_code == 1
    assert project.dump() == before


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    async def explode(self: WorkflowService, workflow: str) -> dict[str, int]:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(WorkflowService, "status_counts", explode)
    result = project.cli("workflows", "describe", "demo")
    assert result.exit_code == 1
    assert result.stderr == ("✘ [ERROR] Unexpected error: RuntimeError: kaboom (run with --debug for "
                             "the traceback)\n")
    debug = CliRunner().invoke(app, ["--debug", "--cwd", str(project.root), "workflows", "describe",
                                     "demo"], obj=fixed_runtime())
    assert debug.exit_code == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert 'raise RuntimeError("kaboom")' in debug.stderr
    assert debug.stderr.endswith("✘ [ERROR] Unexpected error: RuntimeError: kaboom (run with --debug "
                                 "for the traceback)\n")


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"pyflow {__version__}\n"


def test_usage_errors_exit_2_without_a_traceback(project: Project) -> None:
    result = project.cli("workflows", "instances", "describe")
    assert result.exit_code == 2
    assert "Missing argument" in result.output
    assert "Traceback" not in result.output


def test_help_on_every_level() -> None:
    for args in ([], ["workflows"], ["workflows", "instances"], ["workflows", "instances", "restart"]):
        result = CliRunner().invoke(app, [*args, "--help"])
        assert result.exit_code == 0
        assert "Usage: pyflow" in result.stdout
