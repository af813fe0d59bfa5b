"""docs/cli.md documents ``pyflow init`` with each of its options (the CLI docs test covers the
commands registered on the root app; this one covers ``init`` on its own)."""

from __future__ import annotations

import re

import typer
from templatekit import REPO, root_app
from typer._click import Context
from typer.core import TyperGroup


def test_init_and_its_options_are_documented() -> None:
    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    match = re.search(r"^## `pyflow init[^`]*`$(.*?)(?=^## )", text, flags=re.MULTILINE | re.DOTALL)
    assert match, "docs/cli.md has no `## `pyflow init ...`` section"
    body = match.group(1)
    group = typer.main.get_command(root_app())
    assert isinstance(group, TyperGroup)
    command = group.get_command(Context(group), "init")
    assert command is not None
    options = [name for param in command.params if param.param_type_name == "option"
               for name in param.opts if name.startswith("--")]
    assert options == ["--template", "--list", "--force"]
    missing = [name for name in options if f"`{name}" not in body]
    assert not missing, f"docs/cli.md does not document init's {missing}"


def test_templates_doc_names_every_template() -> None:
    text = (REPO / "docs" / "templates.md").read_text(encoding="utf-8")
    for name in ("workflows-starter", "cart-invoices", "d1-backup", "human-approval"):
        assert f"`{name}`" in text
