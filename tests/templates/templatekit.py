"""Helpers for the template tests: a root app with ``init`` registered, run in-process."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner, Result

from pyflow_cli.cli import init, main
from pyflow_cli.cli.options import Runtime

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "templates"
TEMPLATE_NAMES = ("workflows-starter", "cart-invoices", "d1-backup", "human-approval")


def root_app() -> typer.Typer:
    """The ``pyflow`` root (its options and error boundary) with ``init`` registered: the same
    wiring as ``pyflow_cli/cli/main.py``, without depending on it."""
    app = typer.Typer(name="pyflow", cls=main.ErrorBoundary, no_args_is_help=True,
                      pretty_exceptions_enable=False, rich_markup_mode=None)
    app.callback()(main.root)
    init.register(app)
    return app


def run_init(cwd: Path, *args: str, input: str | None = None) -> Result:
    runtime = Runtime(terminal=False, width=None, environ={})
    return CliRunner().invoke(root_app(), ["--cwd", str(cwd), "init", *args], input=input, obj=runtime)
