"""The templates themselves and ``pyflow_cli.project.templates``: finding, describing, copying and
naming; every template is complete, its README shows what ``init`` suggests, and its code lints."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from templatekit import REPO, TEMPLATE_NAMES, TEMPLATES

from pyflow_cli.engine.errors import NotFoundError
from pyflow_cli.project import templates
from pyflow_cli.project.config import implicit_step_dependencies, load_project


@pytest.mark.parametrize(("directory", "expected"), [
    ("my-app", "my-app"),
    ("My Shop!", "my-shop"),
    ("billing_v2", "billing_v2"),
    ("--odd--", "odd"),
    ("日本", "pyflow-app"),
    ("x" * 80, "x" * 64),
    ("a" * 63 + " b", "a" * 63),
])
def test_project_names_follow_the_workflow_name_rules(tmp_path: Path, directory: str,
                                                      expected: str) -> None:
    assert templates.project_name(tmp_path / directory) == expected


def test_rename_sets_only_the_top_level_name_and_keeps_comments() -> None:
    config = ('name = "old"  # the Worker\nmain = "src/entry.py"\n\n[[workflows]]\nname = "flow"\n')
    assert templates.rename_project(config, "new") == (
        'name = "new"  # the Worker\nmain = "src/entry.py"\n\n[[workflows]]\nname = "flow"\n')


def test_rename_adds_a_missing_name() -> None:
    assert templates.rename_project('main = "src/entry.py"\n', "app") == (
        'name = "app"\nmain = "src/entry.py"\n')


def test_templates_come_from_the_package_before_the_checkout(tmp_path: Path) -> None:
    package = tmp_path / "site" / "pyflow_cli"
    checkout_template = tmp_path / "site" / "templates" / "from-checkout"
    checkout_template.mkdir(parents=True)
    (checkout_template / "wrangler.toml").write_text("")
    assert templates.templates_root(package) == tmp_path / "site" / "templates"
    packaged = package / "templates" / "from-package"
    packaged.mkdir(parents=True)
    (packaged / "wrangler.toml").write_text("")
    assert templates.templates_root(package) == package / "templates"


def test_no_templates_anywhere_is_an_error_naming_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as caught:
        templates.templates_root(tmp_path / "pyflow_cli")
    assert caught.value.message == (
        f"No project templates found (looked in {tmp_path / 'pyflow_cli' / 'templates'} and "
        f"{tmp_path / 'templates'}). Reinstall pyflow-cli.")


def test_local_state_and_caches_are_not_copied(tmp_path: Path) -> None:
    source = tmp_path / "tpl"
    for relative in ("wrangler.toml", "template.toml", "src/entry.py", "src/__pycache__/entry.pyc",
                     ".pyflow/state/pyflow.sqlite", ".data/shop.sqlite3", ".dev.vars", ".gitignore",
                     "tests/test_x.py"):
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        (source / relative).write_text("")
    copied = [relative.as_posix() for _, relative in templates.template_files(source)]
    assert copied == [".gitignore", "src/entry.py", "tests/test_x.py", "wrangler.toml"]


def test_the_checkout_holds_exactly_the_known_templates() -> None:
    found = [t.name for t in templates.list_templates(TEMPLATES)]
    assert found == list(TEMPLATE_NAMES)


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_each_template_is_a_complete_project(name: str) -> None:
    template = templates.get_template(name, TEMPLATES)
    project = load_project(template.path)
    assert project.name == name
    assert project.main == template.path / "src" / "entry.py"
    assert project.workflows, "a template defines at least one workflow"
    assert list((template.path / "tests").glob("test_*.py"))
    assert (template.path / ".gitignore").is_file()
    assert 20 <= len(template.description) <= 100
    assert template.next_commands, "template.toml lists the commands to try"


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_each_template_runs_on_cloudflare_as_it_is(name: str) -> None:
    """Cloudflare's wrangler refuses Python code without the ``python_workers`` flag; pyflow reads
    it and keeps the step.do mode the compatibility date chooses (legacy before 2026-02-25)."""
    project = load_project(templates.get_template(name, TEMPLATES).path)
    assert "python_workers" in project.compatibility_flags
    assert implicit_step_dependencies(project.compatibility_date, project.compatibility_flags) is \
        implicit_step_dependencies(project.compatibility_date, ())


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_the_commands_init_suggests_are_in_the_readme(name: str) -> None:
    template = templates.get_template(name, TEMPLATES)
    readme = (template.path / "README.md").read_text(encoding="utf-8")
    assert "```sh\npyflow dev\n```" in readme
    for command in template.next_commands:
        assert command in readme, f"{name}/README.md does not show `{command}`"


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_each_template_file_ships_in_the_wheel(name: str) -> None:
    """Every file a project gets (and template.toml) matches the package-data patterns in
    pyproject.toml, so the wheel has it."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["pyflow_cli.templates"]
    folder = TEMPLATES / name
    for source in [*(s for s, _ in templates.template_files(folder)), folder / "template.toml"]:
        path = source.relative_to(TEMPLATES).as_posix()
        assert any(shipped(path, p) for p in patterns), f"{path} is not in the wheel"


def shipped(path: str, pattern: str) -> bool:
    """setuptools' package-data globs: ``*`` never crosses a ``/``, and matches a hidden name
    only where the pattern spells the dot."""
    parts, wanted = path.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(
        fnmatch.fnmatchcase(part, want) and (not part.startswith(".") or want.startswith("."))
        for part, want in zip(parts, wanted, strict=True))


def test_template_code_is_ruff_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(TEMPLATES)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
