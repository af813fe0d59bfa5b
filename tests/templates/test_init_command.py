"""``pyflow init``: listing, choosing (asked or not), naming, refusing to overwrite, next steps."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from templatekit import TEMPLATE_NAMES, run_init

from pyflow_cli.cli import init


def config_name(project: Path) -> str:
    name = tomllib.loads((project / "wrangler.toml").read_text(encoding="utf-8"))["name"]
    assert isinstance(name, str)
    return name


def files(project: Path) -> list[str]:
    return sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())


def test_list_prints_every_template_with_its_description(tmp_path: Path) -> None:
    result = run_init(tmp_path, "--list")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "workflows-starter  The Workflows starter: a files step, an API step, a one-minute sleep, "
        "a flaky step with retries\n"
        "cart-invoices      Pay a cart and send an invoice: poll a cart until checkout, charge it, "
        "email the invoice\n"
        "d1-backup          Back up a database on a cron: start an export, poll until it is ready, "
        "store the dump\n"
        "human-approval     Wait for a human: pause on an approval event (with a timeout), then act "
        "on the decision\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_without_a_terminal_the_default_template_is_used_and_said(tmp_path: Path) -> None:
    result = run_init(tmp_path)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == 'No --template given and not in a terminal: using "workflows-starter".\n'
    project = tmp_path / "workflows-starter"
    assert files(project) == [".gitignore", "README.md", "src/entry.py", "tests/test_workflow.py",
                              "wrangler.toml"]
    assert config_name(project) == "workflows-starter"


def test_the_project_is_named_after_its_directory_and_next_steps_are_printed(tmp_path: Path) -> None:
    result = run_init(tmp_path, "My Shop!", "--template", "cart-invoices")
    assert result.exit_code == 0, result.stderr
    project = tmp_path / "My Shop!"
    assert config_name(project) == "my-shop"
    assert files(project) == [".gitignore", "README.md", "migrations/0001_create_cart.sql",
                              "src/entry.py", "src/shop.py", "tests/test_cart_invoices.py",
                              "wrangler.toml"]
    assert result.stdout == (
        '✨ Created project "my-shop" in My Shop! from the "cart-invoices" template (7 files).\n'
        "\n"
        "Next:\n"
        "  cd 'My Shop!'\n"
        "  pyflow dev\n"
        "Then, in another terminal in the project:\n"
        "  pyflow d1 migrations apply cart-db\n"
        '  curl "http://127.0.0.1:8787/new?cartId=123"\n'
        "  curl -X POST http://127.0.0.1:8787/carts/123/checkout\n"
        "  pyflow workflows instances describe cart-invoices-workflow latest\n"
        "\n"
        "README.md walks through it; `pytest` runs the project's tests.\n"
    )
    assert result.stderr == ""


def test_init_in_the_current_directory_prints_no_cd(tmp_path: Path) -> None:
    cwd = tmp_path / "approvals"
    cwd.mkdir()
    result = run_init(cwd, ".", "-t", "human-approval")
    assert result.exit_code == 0, result.stderr
    assert config_name(cwd) == "approvals"
    assert "  cd " not in result.stdout
    assert "Next:\n  pyflow dev\n" in result.stdout


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_template_can_be_created(tmp_path: Path, name: str) -> None:
    result = run_init(tmp_path, "app", "--template", name)
    assert result.exit_code == 0, result.stderr
    project = tmp_path / "app"
    assert config_name(project) == "app"
    assert {"README.md", "wrangler.toml", "src/entry.py"} <= set(files(project))
    assert any(f.startswith("tests/test_") for f in files(project))
    assert "template.toml" not in files(project)


def test_a_non_empty_directory_is_refused_in_one_line(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    result = run_init(tmp_path, "app", "-t", "workflows-starter")
    assert result.exit_code == 1
    assert result.stderr == (
        f"✘ [ERROR] Directory {project} is not empty (notes.txt). Choose a new directory, or pass "
        "--force to write the template into it.\n"
    )
    assert result.stdout == ""
    assert files(project) == ["notes.txt"]


def test_force_writes_into_a_non_empty_directory_and_keeps_other_files(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    (project / "wrangler.toml").write_text("old")
    result = run_init(tmp_path, "app", "-t", "workflows-starter", "--force")
    assert result.exit_code == 0, result.stderr
    assert (project / "notes.txt").read_text() == "mine"
    assert config_name(project) == "app"


def test_an_unknown_template_is_one_line_naming_the_available_ones(tmp_path: Path) -> None:
    result = run_init(tmp_path, "app", "-t", "nope")
    assert result.exit_code == 1
    assert result.stderr == (
        '✘ [ERROR] Template "nope" does not exist (available: workflows-starter, cart-invoices, '
        "d1-backup, human-approval). Run `pyflow init --list` to see what each one is.\n"
    )
    assert not (tmp_path / "app").exists()


def test_a_file_in_the_way_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "app").write_text("")
    result = run_init(tmp_path, "app", "-t", "workflows-starter")
    assert result.exit_code == 1
    assert result.stderr == (f"✘ [ERROR] {tmp_path / 'app'} exists and is not a directory. "
                             "Choose another directory.\n")


def test_a_failed_write_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(source: Path, target: Path) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(shutil, "copyfile", refuse)
    result = run_init(tmp_path, "app", "-t", "workflows-starter")
    assert result.exit_code == 1
    assert result.stderr == (f"✘ [ERROR] Cannot write the project into {tmp_path / 'app'}: Permission "
                             "denied. Check the permissions or choose another directory.\n")


def test_in_a_terminal_the_template_and_directory_are_asked(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(init, "stdin_is_terminal", lambda: True)
    result = run_init(tmp_path, input="3\n\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        "Templates:\n"
        "  1. workflows-starter  The Workflows starter: a files step, an API step, a one-minute "
        "sleep, a flaky step with retries\n"
        "  2. cart-invoices      Pay a cart and send an invoice: poll a cart until checkout, charge "
        "it, email the invoice\n"
        "  3. d1-backup          Back up a database on a cron: start an export, poll until it is "
        "ready, store the dump\n"
        "  4. human-approval     Wait for a human: pause on an approval event (with a timeout), "
        "then act on the decision\n"
        "Template (number or name) [1]: 3\n"
        "Project directory [d1-backup]: \n"
        '✨ Created project "d1-backup" in d1-backup from the "d1-backup" template'
    )
    assert config_name(tmp_path / "d1-backup") == "d1-backup"


def test_a_wrong_answer_is_asked_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(init, "stdin_is_terminal", lambda: True)
    result = run_init(tmp_path, input="9\nhuman-approval\nmy-approvals\n")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == '▲ [WARNING] "9" is not one of the templates. Type a number from 1 to 4.\n'
    assert config_name(tmp_path / "my-approvals") == "my-approvals"
    assert (tmp_path / "my-approvals" / "tests" / "test_human_approval.py").is_file()


def test_a_named_template_is_not_asked_even_in_a_terminal(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(init, "stdin_is_terminal", lambda: True)
    result = run_init(tmp_path, "-t", "human-approval")
    assert result.exit_code == 0, result.stderr
    assert "Template (number or name)" not in result.stdout
    assert config_name(tmp_path / "human-approval") == "human-approval"
