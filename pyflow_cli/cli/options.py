"""Options shared by many commands, defined once, and the state the root command hands down.

``GlobalOptions`` are the root flags (``--cwd``, ``-c``, ``-e``, ``--persist-to``, ``--store``,
``--url``, ``--debug``).
``Runtime`` is what the environment gives the CLI — the clock used for "now", the time zone, the
terminal — so tests can pass fixed ones (``CliRunner.invoke(app, args, obj=Runtime(...))``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pyflow_cli.engine.admission import PlatformRules
    from pyflow_cli.project.config import ProjectConfig
    from pyflow_cli.storage.url import StoreLocation


def _wall_clock_ms() -> float:
    return time.time() * 1000.0


@dataclass(frozen=True)
class Runtime:
    """The outside world as the CLI sees it. ``None`` fields mean "detect"."""

    now_ms: Callable[[], float] = _wall_clock_ms
    tz: tzinfo | None = None  # None: the machine's time zone
    width: int | None = None  # None: the terminal's width (no limit when not a terminal)
    terminal: bool | None = None  # None: whether stdout is a terminal
    input_terminal: bool | None = None  # None: whether stdin is a terminal (may we ask?)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    poll_s: float = 0.1  # how often live views look for changes

    @property
    def no_color(self) -> bool:
        """Whether ``NO_COLOR`` is set (to anything but the empty string)."""
        return bool(self.environ.get("NO_COLOR"))

    def is_terminal(self) -> bool:
        """Whether stdout is a terminal (live views, colour)."""
        if self.terminal is not None:
            return self.terminal
        return sys.stdout.isatty()

    def can_ask(self) -> bool:
        """Whether a command may ask the user a question (stdin is a terminal)."""
        if self.input_terminal is not None:
            return self.input_terminal
        return sys.stdin is not None and sys.stdin.isatty()


@dataclass(frozen=True)
class GlobalOptions:
    """The root command's flags, with paths resolved against ``--cwd``."""

    cwd: Path
    config: Path | None = None
    env: str | None = None
    persist_to: Path | None = None
    debug: bool = False
    store: StoreLocation | None = None  # --store or PYFLOW_STORE; None: the project's SQLite file
    url: str | None = None  # --url or PYFLOW_URL: a pyflow server's address, instead of the store

    def load_project(self) -> ProjectConfig:
        """Read the project config (once per command, at the edge)."""
        from pyflow_cli.project.config import load_project

        return load_project(self.cwd, self.config, self.env)


@dataclass
class CliState:
    """What every command finds in ``ctx.obj``."""

    options: GlobalOptions
    runtime: Runtime = field(default_factory=Runtime)


def state(ctx: typer.Context) -> CliState:
    """The ``CliState`` the root callback stored (found on the root context)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):  # a sub-app invoked on its own, in tests
        obj = CliState(GlobalOptions(cwd=Path.cwd()), obj if isinstance(obj, Runtime) else Runtime())
        ctx.find_root().obj = obj
    return obj


# -- shared arguments and options --------------------------------------------------------------------
StoreUrl = Annotated[str | None, typer.Option(
    "--store", metavar="URL", show_default=False,
    help="Where instances are stored: a SQLite file (a path, or sqlite:///path) or a PostgreSQL "
         "database (postgresql://user[:password]@host[:port]/db[?schema=NAME]). Default: "
         "$PYFLOW_STORE, else .pyflow/state/pyflow.sqlite in the project (see --persist-to).")]
"""The store option of every command that opens the store (the root's, ``dev``'s...)."""

ServerPort = Annotated[int, typer.Option("--port", help="Port to listen on.")]
StateDir = Annotated[Path | None, typer.Option(
    "--persist-to", help="Directory of the state (default .pyflow/state): the SQLite store, "
                         "and the KV, R2 and D1 data.")]
ConfigEnv = Annotated[str | None, typer.Option(
    "-e", "--env", help="Use the [env.<name>] section of the config.")]
"""Options ``pyflow dev`` and ``pyflow serve`` share (their --ip differs only in its help)."""


def store_location(flag: str | None, runtime: Runtime, cwd: Path) -> StoreLocation | None:
    """``--store``, else ``PYFLOW_STORE`` from the environment; parsed (a bad URL is one line)."""
    from pyflow_cli.storage.url import resolve_store

    return resolve_store(flag, runtime.environ, cwd)


WorkflowName = Annotated[str, typer.Argument(
    metavar="NAME", help="Name of the workflow (the [[workflows]] name in wrangler.toml).",
    show_default=False)]
InstanceId = Annotated[str, typer.Argument(
    metavar="ID", help="ID of the instance, or 'latest' for the newest instance of the workflow.",
    show_default=False)]
OptionalInstanceId = Annotated[str, typer.Argument(
    metavar="ID", help="ID of the instance, or 'latest' (the default) for the newest instance.")]
JsonOutput = Annotated[bool, typer.Option(
    "--json", help="Print machine-readable JSON instead of text.")]
StatusFilter = Annotated[str | None, typer.Option(
    "--status", metavar="STATUS", help="Only instances with this status: queued, running, paused, errored, "
                     "terminated, complete, waiting or waitingForPause.", show_default=False)]
TimeScale = Annotated[float, typer.Option(
    "--time-scale", min=0.001, metavar="F",
    help="Run sleeps, retry delays and event timeouts this many times faster in the in-process "
         "engine: 60 makes a 1-minute sleep take 1 second.")]

# -- the servers' (pyflow dev, pyflow serve) configs: several Workers served together.
ServedConfigs = Annotated[list[Path] | None, typer.Option(
    "-c", "--config", help="Path to wrangler.toml / wrangler.json / wrangler.jsonc. Repeat "
    "it to serve several Workers, as wrangler does: the first answers HTTP, every one's "
    "workflows run (and a binding with script_name reaches another's).")]

# -- the platform's limits: every command that runs an engine takes these (pyflow dev, pyflow
# serve; the same options suit pyflow worker), and PYFLOW_* variables set them for every process.
MaxRunning = Annotated[int | None, typer.Option(
    "--max-running", metavar="N", show_default=False,
    help="At most N instances run at once across every engine on this store; the rest wait in "
         "queued (default: no limit; PYFLOW_MAX_RUNNING).")]
MaxQueued = Annotated[int | None, typer.Option(
    "--max-queued", metavar="N", show_default=False,
    help="Refuse (HTTP 429) a create once N instances wait in queued (default: no limit; "
         "PYFLOW_MAX_QUEUED).")]
Plan = Annotated[str | None, typer.Option(
    "--plan", metavar="free|paid", show_default=False,
    help="Apply a Workers plan's documented limits: running, queued, creation rate and "
         "retention (PYFLOW_PLAN). --max-running, --max-queued and --retention override them.")]
Retention = Annotated[str | None, typer.Option(
    "--retention", metavar="DURATION", show_default=False,
    help="Delete finished instances this long after they end: 7d, 12h, 30m, 1s (default: keep "
         "them; PYFLOW_RETENTION).")]

RULE_VARIABLES = {"plan": "PYFLOW_PLAN", "max_running": "PYFLOW_MAX_RUNNING",
                  "max_queued": "PYFLOW_MAX_QUEUED", "retention": "PYFLOW_RETENTION"}


def platform_rules(environ: Mapping[str, str], *, plan: str | None = None,
                   max_running: int | None = None, max_queued: int | None = None,
                   retention: str | None = None) -> PlatformRules:
    """The limits a process applies: each option given, else its ``PYFLOW_*`` variable (an
    empty one counts as unset). Errors name the option or the variable."""
    from pyflow_cli.engine.admission import parse_rules

    given = {"plan": plan, "max_running": max_running, "max_queued": max_queued,
             "retention": retention}
    values: dict[str, str | None] = {}
    names: dict[str, str] = {}
    for rule, value in given.items():
        variable = RULE_VARIABLES[rule]
        if value is not None:
            values[rule] = str(value)
        elif environ.get(variable):
            values[rule], names[rule] = environ[variable], variable
        else:
            values[rule] = None
    return parse_rules(plan=values["plan"], max_running=values["max_running"],
                       max_queued=values["max_queued"], retention=values["retention"],
                       names=names)
