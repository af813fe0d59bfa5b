"""The ``pyflow`` command: the root app, its global options, and the one error boundary.

Every error a command raises ends here and becomes one line on stderr and exit code 1:
a ``PyflowError`` prints its message; a ``WorkflowError`` from the runtime prints as the reference
prints it, with a hint; anything else is an unexpected error, named in one line. ``--debug``
adds the traceback. Nothing else in the CLI catches errors to report them.

Imports stay light here: command modules import Rich, the store and the engine inside the
command functions, so ``pyflow --help`` loads none of them.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click import Context
from typer.core import TyperGroup

from pyflow_cli import __version__
from pyflow_cli.cli import d1, dev, doctor, init, kv, r2, serve, versions, worker, workflows
from pyflow_cli.cli.invocation import Stopped
from pyflow_cli.cli.options import CliState, GlobalOptions, Runtime, StoreUrl, store_location
from pyflow_cli.engine.status import RULES, ControlAction

# Hints for the runtime's error codes (SPEC §1.4): what to do next.
WORKFLOW_ERROR_HINTS = {
    "instance.cannot_terminate": RULES[ControlAction.TERMINATE],
    "instance.cannot_restart": "Check the step names with `pyflow workflows instances describe`.",
    "instance.already_exists": "Choose another --id, or omit it to get a generated one.",
    "instance.not_found": "Check the id with `pyflow workflows instances list`.",
    "pyflow.needs_code": "Start `pyflow dev` and run this again.",
}
DEFAULT_WORKFLOW_ERROR_HINT = "The Workflows runtime refused the operation."
INTERRUPTED_EXIT_CODE = 130


class ErrorBoundary(TyperGroup):
    """The root group: runs the command, and turns whatever it raises into one line."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort):
            raise  # usage errors and deliberate exits: Typer prints and exits as usual
        except KeyboardInterrupt:
            _ui(ctx).note("Interrupted.")
            raise typer.Exit(INTERRUPTED_EXIT_CODE) from None
        except Stopped as stopped:
            _ui(ctx).note(f"Stopped ({stopped}).")
            raise typer.Exit(stopped.exit_code) from None
        except Exception as exc:
            raise typer.Exit(report(ctx, exc)) from None


def report(ctx: Context, exc: BaseException) -> int:
    """Print ``exc`` as one error line (after its traceback with ``--debug``); the exit code."""
    from pyflow_cli.bindings.errors import BindingError
    from pyflow_cli.cli.advice import command_advice
    from pyflow_cli.engine.errors import PyflowError, WorkflowError
    from pyflow_cli.storage.url import scrub

    obj = ctx.obj
    ui = _ui(ctx)
    store = obj.options.store if isinstance(obj, CliState) else None
    if isinstance(obj, CliState) and obj.options.debug:
        ui.err.file.write(scrub(store, "".join(traceback.format_exception(exc))))
    if isinstance(exc, PyflowError):
        ui.error(scrub(store, exc.message), command_advice(exc))
        return exc.exit_code
    if isinstance(exc, BindingError):  # KV, R2 or D1 refused: its own words, as wrangler prints them
        ui.error(exc.message)
        return 1
    if isinstance(exc, WorkflowError):
        hint = WORKFLOW_ERROR_HINTS.get(exc.error_code or "", DEFAULT_WORKFLOW_ERROR_HINT)
        message = f"WorkflowError: {exc}"
        ui.error(message if message.endswith(".") else message + ".", hint)
        return 1
    ui.error(scrub(store, f"Unexpected error: {type(exc).__name__}: {exc} (run with --debug for "
                          "the traceback)"))
    return 1


def _ui(ctx: Context) -> Any:
    from pyflow_cli.cli.render import Ui

    obj = ctx.obj
    runtime = obj.runtime if isinstance(obj, CliState) else obj if isinstance(obj, Runtime) else Runtime()
    return Ui(runtime)


app = typer.Typer(
    name="pyflow", cls=ErrorBoundary, no_args_is_help=True, pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Durable Cloudflare-style Workflows for Python, on your own machine.",
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"pyflow {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    cwd: Annotated[Path | None, typer.Option(
        "--cwd", metavar="DIR", file_okay=False, exists=True,
        help="Run as if pyflow was started in DIR (where the config is looked for).",
        show_default=False)] = None,
    config: Annotated[Path | None, typer.Option(
        "-c", "--config", metavar="PATH",
        help="Path to wrangler.toml, wrangler.json or wrangler.jsonc (default: the first found "
             "in the directory or its parents).", show_default=False)] = None,
    env: Annotated[str | None, typer.Option(
        "-e", "--env", metavar="NAME", help="Use the [env.NAME] section of the config.",
        show_default=False)] = None,
    persist_to: Annotated[Path | None, typer.Option(
        "--persist-to", metavar="DIR",
        help="Directory of the state (default: .pyflow/state in the project): the SQLite "
             "store, and the KV, R2 and D1 data.", show_default=False)] = None,
    store: StoreUrl = None,
    url: Annotated[str | None, typer.Option(
        "--url", metavar="URL", envvar="PYFLOW_URL", show_default=False,
        help="Talk to the pyflow server at URL (a `pyflow serve`, e.g. https://flows.example.com) "
             "instead of opening the store; its API token is read from $PYFLOW_API_TOKEN. "
             "Default: $PYFLOW_URL, else the project's running pyflow dev/serve, else the "
             "store.")] = None,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show the full traceback when a command fails.")] = False,
    version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_show_version,
        help="Print the pyflow version and exit.")] = False,
) -> None:
    """Durable Cloudflare-style Workflows for Python, on your own machine."""
    runtime = ctx.obj if isinstance(ctx.obj, Runtime) else Runtime()
    base = (cwd or Path.cwd()).resolve()
    persist = (base / persist_to).resolve() if persist_to is not None else None
    ctx.obj = CliState(GlobalOptions(base, config, env, persist, debug), runtime)  # if --store is bad
    ctx.obj = CliState(GlobalOptions(base, config, env, persist, debug,
                                     store_location(store, runtime, base), server_url(url, store)),
                       runtime)


def server_url(url: str | None, store: str | None) -> str | None:
    """``--url``, checked: an http(s) address, and not given with ``--store``."""
    from pyflow_cli.engine.errors import InvalidInputError

    if not url:
        return None
    if store is not None:
        raise InvalidInputError("Give --url (a pyflow server) or --store (a database), not both.")
    if not url.startswith(("http://", "https://")):
        raise InvalidInputError(f'--url must be an http:// or https:// address, got "{url}".')
    return url


init.register(app)
dev.register(app)
serve.register(app)
worker.register(app)
doctor.register(app)
app.add_typer(workflows.app, name="workflows")
app.add_typer(versions.app, name="versions")
app.add_typer(kv.app, name="kv")
app.add_typer(r2.app, name="r2")
app.add_typer(d1.app, name="d1")


def run() -> None:
    """The console script ``pyflow``."""
    app(prog_name="pyflow")


if __name__ == "__main__":
    run()
