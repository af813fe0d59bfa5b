"""What the ``kv``, ``r2`` and ``d1`` commands share: their ``--local`` / ``--persist-to`` options
and the project's local bindings, opened on the state directory ``pyflow dev`` uses.

These commands open the binding files directly, whether or not ``pyflow dev`` runs: SQLite's
locking lets both processes use a file at once, and what one writes the other reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pyflow_cli.cli.invocation import Invocation

if TYPE_CHECKING:
    from pyflow_cli.bindings.local import LocalBindings

LocalOption = Annotated[bool, typer.Option(
    "--local", help="Use local storage (always: pyflow has no remote storage; accepted for "
                    "wrangler's command lines).")]
PersistTo = Annotated[Path | None, typer.Option(
    "--persist-to", metavar="DIR", help="Directory of the local state (default .pyflow/state; the "
                                        "global --persist-to also applies).", show_default=False)]


def state_dir(inv: Invocation, persist_to: Path | None) -> Path:
    """``--persist-to`` after the command, else the global one, else the project's default."""
    from pyflow_cli.workspace import state_dir as default_state_dir

    if persist_to is not None:
        return (inv.state.options.cwd / persist_to).resolve()
    return default_state_dir(inv.project, inv.state.options.persist_to)


@contextlib.contextmanager
def local_bindings(inv: Invocation, persist_to: Path | None) -> Iterator[LocalBindings]:
    """The project's stores, closed (their writes committed) when the command ends."""
    from pyflow_cli.bindings.local import LocalBindings

    bindings = LocalBindings(state_dir(inv, persist_to), inv.now_ms)
    try:
        yield bindings
    finally:
        bindings.close()


def shown_path(inv: Invocation, path: Path) -> str:
    """``path`` relative to the project when it is inside it."""
    root = inv.project.root
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
