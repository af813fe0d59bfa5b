"""``pyflow dev``: the local server (Worker, bindings, local API, hot reload, crons).

Only the command's signature lives here; the server is imported when the command runs, so
``pyflow --help`` never loads Starlette, uvicorn or watchfiles.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pyflow_cli.cli.options import (
    ConfigEnv,
    MaxQueued,
    MaxRunning,
    Plan,
    Retention,
    Runtime,
    ServedConfigs,
    ServerPort,
    StateDir,
    StoreUrl,
    platform_rules,
    store_location,
)

if TYPE_CHECKING:
    from pyflow_cli.server.serve import DevOptions

LOG_LEVELS = ("debug", "log", "info", "warn", "error", "none")


def dev(
    ctx: typer.Context,
    ip: Annotated[str, typer.Option(
        "--ip", help="Address to listen on. Anything but 127.0.0.1/localhost exposes the Worker "
                     "to your network.")] = "127.0.0.1",
    port: ServerPort = 8787,
    persist_to: StateDir = None,
    store: StoreUrl = None,
    no_reload: Annotated[bool, typer.Option(
        "--no-reload", help="Do not reload when project files change.")] = False,
    env: ConfigEnv = None,
    config: ServedConfigs = None,
    log_level: Annotated[str, typer.Option(
        "--log-level", help="debug (shows step events), log, info, warn, error or none.")] = "log",
    time_scale: Annotated[float, typer.Option(
        "--time-scale", help="Run sleeps, retry delays and event timeouts this many times "
                             "faster (demos).")] = 1.0,
    max_running: MaxRunning = None,
    max_queued: MaxQueued = None,
    plan: Plan = None,
    retention: Retention = None,
) -> None:
    """Run your Worker and its Workflows locally, with hot reload and a local API."""
    check_log_level(log_level)
    from pyflow_cli.server.logs import DevLog
    from pyflow_cli.server.serve import run_dev

    options = server_options(ctx, ip=ip, port=port, persist_to=persist_to, store=store, env=env,
                             config=config, max_running=max_running, max_queued=max_queued,
                             plan=plan, retention=retention, reload=not no_reload,
                             time_scale=time_scale)
    code = run_dev(options, DevLog(log_level))
    if code:
        raise typer.Exit(code)


def server_options(ctx: typer.Context, *, ip: str, port: int, persist_to: Path | None,
                   store: str | None, env: str | None, config: list[Path] | None,
                   max_running: int | None = None, max_queued: int | None = None,
                   plan: str | None = None, retention: str | None = None,
                   **choices: Any) -> DevOptions:
    """The options of ``pyflow dev`` or ``pyflow serve`` (``choices``: the fields where they
    differ). The root command's --cwd, -c, -e, --persist-to and --store apply; the same flags
    given after the command win over them. The platform's limits are the flags' or, where one
    is not given, the ``PYFLOW_*`` variables'."""
    from pyflow_cli.server.serve import DevOptions

    root = getattr(ctx.find_root().obj, "options", None)
    cwd = Path(getattr(root, "cwd", None) or Path.cwd())
    runtime = getattr(ctx.find_root().obj, "runtime", None) or Runtime()
    return DevOptions(
        cwd=cwd, config_path=config[0] if config else getattr(root, "config", None),
        companion_configs=tuple(config[1:]) if config else (),
        env_name=env if env is not None else getattr(root, "env", None), ip=ip, port=port,
        persist_to=(cwd / persist_to).resolve() if persist_to is not None
        else getattr(root, "persist_to", None),
        store=store_location(store, runtime, cwd) if store is not None
        else getattr(root, "store", None) or store_location(None, runtime, cwd),
        rules=platform_rules(runtime.environ, plan=plan, max_running=max_running,
                             max_queued=max_queued, retention=retention), **choices)


def check_log_level(log_level: str) -> None:
    if log_level not in LOG_LEVELS:
        raise typer.BadParameter(f'"{log_level}" is not one of {", ".join(LOG_LEVELS)}.',
                                 param_hint="--log-level")


def register(app: typer.Typer) -> None:
    """Add ``dev`` to the root ``pyflow`` app."""
    app.command("dev")(dev)
