"""docs/cli.md documents every command and every option the CLI registers."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from clikit import command_tree
from typer.core import TyperGroup

from pyflow_cli.cli.main import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def sections(text: str) -> dict[str, str]:
    """Markdown sections by the command they document: ``### `pyflow workflows list` `` -> body."""
    found: dict[str, str] = {}
    parts = re.split(r"^#{2,3} `(pyflow[^`]*)`$", text, flags=re.MULTILINE)
    for title, body in zip(parts[1::2], parts[2::2], strict=True):
        words = title.split()
        command = []
        for word in words:
            if not re.fullmatch(r"[a-z][a-z0-9-]*", word):
                break
            command.append(word)
        found[" ".join(command)] = body
    return found


def test_every_command_and_option_is_documented() -> None:
    root = typer.main.get_command(app)
    text = DOC.read_text(encoding="utf-8")
    documented = sections(text)
    global_section = text.split("## Global options", 1)[1].split("\n## ", 1)[0]
    missing = []
    for path, command in command_tree(root):
        if isinstance(command, TyperGroup):
            body = global_section if not path else ""
        else:
            key = " ".join(("pyflow", *path))
            if key not in documented:
                missing.append(f"command {key}")
                continue
            body = documented[key]
        for param in command.params:
            names = [n for n in param.opts if n.startswith("--")] if param.param_type_name == "option" else []
            for name in names + [n for n in getattr(param, "secondary_opts", []) if n.startswith("--")]:
                if f"`{name}" not in body:
                    missing.append(f"{' '.join(path) or 'pyflow'}: {name}")
    assert not missing, "undocumented in docs/cli.md: " + ", ".join(missing)
