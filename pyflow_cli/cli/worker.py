"""``pyflow worker`` (a headless engine for the project's workflows, one of many on a shared
store) and ``pyflow workers list`` (the engines registered in the store).

Only the commands' signatures live here; the engine is imported when a command runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pyflow_cli.cli.dev import LOG_LEVELS
from pyflow_cli.cli.doc import Doc, line, table
from pyflow_cli.cli.formats import relative
from pyflow_cli.cli.invocation import begin, run
from pyflow_cli.cli.options import (
    JsonOutput,
    MaxQueued,
    MaxRunning,
    Plan,
    Retention,
    Runtime,
    StoreUrl,
    platform_rules,
    store_location,
)

if TYPE_CHECKING:
    from pyflow_cli.api import EngineView

app = typer.Typer(no_args_is_help=True, help="See the engines that run your Workflows.")


def worker(
    ctx: typer.Context,
    store: StoreUrl = None,
    concurrency: Annotated[int, typer.Option(
        "--concurrency", help="How many instances this worker runs at once, at most.")] = 100,
    workflows: Annotated[str | None, typer.Option(
        "--workflows", metavar="A,B", help="Run only these workflows (comma-separated names; "
                                           "default: every workflow of the project).")] = None,
    lease: Annotated[float, typer.Option(
        "--lease", metavar="SECONDS", help="How long an instance stays with this worker after "
                                           "it stops answering (then another takes it over).")
    ] = 15.0,
    log_level: Annotated[str, typer.Option(
        "--log-level", help="debug (shows step events), log, info, warn, error or none.")] = "log",
    max_running: MaxRunning = None,
    max_queued: MaxQueued = None,
    plan: Plan = None,
    retention: Retention = None,
) -> None:
    """Run your Workflows headless: one of many engines sharing a store (no HTTP server)."""
    if log_level not in LOG_LEVELS:
        raise typer.BadParameter(f'"{log_level}" is not one of {", ".join(LOG_LEVELS)}.',
                                 param_hint="--log-level")
    from pyflow_cli.server.headless import WorkerOptions, run_worker
    from pyflow_cli.server.logs import DevLog

    root = getattr(ctx.find_root().obj, "options", None)
    cwd = Path(getattr(root, "cwd", None) or Path.cwd())
    runtime = getattr(ctx.find_root().obj, "runtime", None) or Runtime()
    names = [n.strip() for n in workflows.split(",") if n.strip()] if workflows else None
    options = WorkerOptions(
        cwd=cwd, config_path=getattr(root, "config", None), env_name=getattr(root, "env", None),
        persist_to=getattr(root, "persist_to", None),
        store=store_location(store, runtime, cwd) if store is not None
        else getattr(root, "store", None) or store_location(None, runtime, cwd),
        concurrency=concurrency, workflows=names, lease_s=lease,
        rules=platform_rules(runtime.environ, plan=plan, max_running=max_running,
                             max_queued=max_queued, retention=retention))
    code = run_worker(options, DevLog(log_level))
    if code:
        raise typer.Exit(code)


@app.command("list")
def list_workers(ctx: typer.Context, json_output: JsonOutput = False) -> None:
    """List the engines registered in the store: workers, dev and serve sessions."""
    inv = begin(ctx)

    async def engines() -> list[EngineView]:
        async with inv.connect() as backend:
            return await backend.engines()

    found = run(engines())
    if json_output:
        inv.ui.json(found)
    elif not found:
        inv.ui.warn("No engine is registered in the store: start `pyflow worker` or `pyflow dev`.")
    else:
        inv.ui.doc(workers_table(found, inv.now_ms(), inv.ui.max_width))


def workers_table(engines: Sequence[EngineView], now_ms: float, max_width: int | None) -> Doc:
    """``workers list``: the count line and a table of the engines."""
    count = len(engines)
    rows = [{"Id": e["id"], "Kind": e["kind"] or "?", "Host": e["host"], "Pid": str(e["pid"]),
             "Code version": e["version"] or "-", "Workflows": ", ".join(e["workflows"]) or "-",
             "Started": _ago(e["started"], now_ms), "Heartbeat": _ago(e["heartbeat"], now_ms)
             + ("" if e["alive"] else " (gone)")} for e in engines]
    return [line(f"Showing {count} engine{'s' if count != 1 else ''}:"),
            *table(rows, max_width, flexible=["Id", "Workflows"])]


def _ago(iso: str | None, now_ms: float) -> str:
    if iso is None:
        return "-"
    return relative(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000, now_ms)


def register(root: typer.Typer) -> None:
    """Add ``worker`` and ``workers`` to the root ``pyflow`` app."""
    root.command("worker")(worker)
    root.add_typer(app, name="workers")
