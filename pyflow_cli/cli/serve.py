"""``pyflow serve``: ``pyflow dev`` for deployment — the Worker, the local API and the explorer,
without hot reload, time scaling or keyboard shortcuts, optionally logging JSON lines.

Listening beyond loopback it needs an API token (``--api-token`` or ``PYFLOW_API_TOKEN``),
which then guards the local API, the explorer and its event stream (``server/auth.py``). Only the
signature lives here; the server is imported when the command runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pyflow_cli.cli.dev import check_log_level, server_options
from pyflow_cli.cli.options import (
    ConfigEnv,
    MaxQueued,
    MaxRunning,
    Plan,
    Retention,
    ServedConfigs,
    ServerPort,
    StateDir,
    StoreUrl,
)

LOG_FORMATS = ("text", "json")


def serve(
    ctx: typer.Context,
    ip: Annotated[str, typer.Option(
        "--ip", help="Address to listen on. Anything but loopback (127.0.0.1, localhost, ::1) "
                     "needs --api-token.")] = "127.0.0.1",
    port: ServerPort = 8787,
    api_token: Annotated[str | None, typer.Option(
        "--api-token", envvar="PYFLOW_API_TOKEN", show_envvar=True, show_default=False,
        help="Secret (16 characters or more) that the local API, the explorer and /cdn-cgi/ "
             "require: `Authorization: Bearer <token>`, or the explorer's sign-in page. Prefer "
             "the environment variable: a flag shows in the process list.")] = None,
    persist_to: StateDir = None,
    store: StoreUrl = None,
    env: ConfigEnv = None,
    config: ServedConfigs = None,
    log_level: Annotated[str, typer.Option(
        "--log-level", help="debug (shows step events), log, info, warn, error or none.")] = "log",
    log_format: Annotated[str, typer.Option(
        "--log-format", help="text, or json: one JSON object per line (time, level, "
                             "message).")] = "text",
    max_running: MaxRunning = None,
    max_queued: MaxQueued = None,
    plan: Plan = None,
    retention: Retention = None,
) -> None:
    """Serve your Worker, its Workflows, the local API and the explorer (for deployment)."""
    check_log_level(log_level)
    if log_format not in LOG_FORMATS:
        raise typer.BadParameter(f'"{log_format}" is not one of {", ".join(LOG_FORMATS)}.',
                                 param_hint="--log-format")
    from pyflow_cli.server.logs import DevLog, JsonLog
    from pyflow_cli.server.serve import run_dev

    options = server_options(ctx, ip=ip, port=port, persist_to=persist_to, store=store, env=env,
                             config=config, max_running=max_running, max_queued=max_queued,
                             plan=plan, retention=retention, reload=False, command="serve",
                             hotkeys=False, api_token=api_token, token_off_loopback=True)
    log = JsonLog(log_level) if log_format == "json" else DevLog(log_level)
    code = run_dev(options, log)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the root ``pyflow`` app."""
    app.command("serve")(serve)
