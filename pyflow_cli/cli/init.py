"""``pyflow init``: create a project from one of the templates shipped with pyflow.

In a terminal without ``--template`` it asks which template (a numbered list) and where; when
it cannot ask (stdin is not a terminal) it uses the default template and says so.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pyflow_cli.cli.options import state

if TYPE_CHECKING:
    from pyflow_cli.cli.render import Ui
    from pyflow_cli.project.templates import Template


def stdin_is_terminal() -> bool:
    """Whether ``init`` may ask questions (tests replace this)."""
    return sys.stdin.isatty()


def init(
    ctx: typer.Context,
    directory: Annotated[Path | None, typer.Argument(
        metavar="DIRECTORY", help="Where to create the project (default: a new folder named after "
                                    "the template). Its name becomes the project name.",
        show_default=False)] = None,
    template: Annotated[str | None, typer.Option(
        "--template", "-t", metavar="NAME",
        help="Template to use (see --list). Without it, pyflow asks in a terminal and uses "
             "workflows-starter otherwise.", show_default=False)] = None,
    list_only: Annotated[bool, typer.Option(
        "--list", help="List the templates with a one-line description, and exit.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Write into DIRECTORY even if it is not empty (template files are "
                        "overwritten, other files are kept).")] = False,
) -> None:
    """Create a project from a template: a Worker with Workflows, its README and its tests."""
    from pyflow_cli.cli.render import Ui
    from pyflow_cli.project import templates

    cli = state(ctx)
    ui = Ui(cli.runtime)
    available = templates.list_templates()
    if list_only:
        _print_list(ui, available)
        return
    interactive = template is None and stdin_is_terminal()
    if template is not None:
        chosen = templates.get_template(template)
    elif interactive:
        chosen = _ask_template(ui, available)
    else:
        chosen = templates.get_template(templates.DEFAULT_TEMPLATE)
        ui.note(f'No --template given and not in a terminal: using "{chosen.name}".')
    if directory is None:
        directory = Path(typer.prompt("Project directory", default=chosen.name)) if interactive \
            else Path(chosen.name)
    target = (cli.options.cwd / directory).resolve()
    written = templates.create_project(chosen, target, force=force)
    name = templates.project_name(target)
    ui.success(f'✨ Created project "{name}" in {_shown(target, cli.options.cwd)} from the '
               f'"{chosen.name}" template ({len(written)} files).')
    _print_next(ui, chosen, target, cli.options.cwd)


def _print_list(ui: Ui, available: list[Template]) -> None:
    width = max(len(t.name) for t in available)
    for template in available:
        ui.print(f"{template.name.ljust(width)}  {template.description}".rstrip())


def _ask_template(ui: Ui, available: list[Template]) -> Template:
    ui.print("Templates:")
    width = max(len(t.name) for t in available)
    for number, template in enumerate(available, start=1):
        ui.print(f"  {number}. {template.name.ljust(width)}  {template.description}".rstrip())
    by_name = {t.name: t for t in available}
    while True:
        answer = str(typer.prompt("Template (number or name)", default="1")).strip()
        if answer.isdigit() and 1 <= int(answer) <= len(available):
            return available[int(answer) - 1]
        if answer in by_name:
            return by_name[answer]
        ui.warn(f'"{answer}" is not one of the templates. Type a number from 1 to {len(available)}.')


def _print_next(ui: Ui, template: Template, target: Path, cwd: Path) -> None:
    ui.print("")
    ui.print("Next:")
    if target != cwd.resolve():
        ui.print(f"  cd {shlex.quote(_shown(target, cwd))}")
    ui.print("  pyflow dev")
    if template.next_commands:
        ui.print("Then, in another terminal in the project:")
        for command in template.next_commands:
            ui.print(f"  {command}")
    ui.print("")
    ui.print("README.md walks through it; `pytest` runs the project's tests.")


def _shown(path: Path, cwd: Path) -> str:
    """``path`` relative to ``cwd`` when it is inside it, as the user would type it."""
    cwd = cwd.resolve()
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)


def register(app: typer.Typer) -> None:
    """Add ``init`` to the root ``pyflow`` app."""
    app.command("init")(init)
