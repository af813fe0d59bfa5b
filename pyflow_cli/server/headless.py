"""Runs one ``pyflow worker`` process: the engine for the project's workflows (with their
bindings and the Worker's scheduled handler), without HTTP, reload or time scaling.

Several workers (and ``pyflow dev`` or ``pyflow serve``) may share one store: each claims due
instances under a lease, and crons fire once between them (``DevRuntime``'s crons role). It
prints one line per instance transition, as ``pyflow dev`` does. SIGTERM or Ctrl-C stops
claiming, lets the attempts under way finish for ``SHUTDOWN_GRACE_S`` seconds, then hands every
lease back and exits 0; SIGKILL is safe too (the leases run out and other engines take over).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyflow_cli.engine.admission import NO_RULES, PlatformRules
from pyflow_cli.engine.errors import PyflowError
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.project.config import load_project
from pyflow_cli.server.logs import DevLog
from pyflow_cli.server.runtime import DevRuntime
from pyflow_cli.storage.url import StoreLocation
from pyflow_cli.workspace import store_location

SHUTDOWN_GRACE_S = 5.0


@dataclass(frozen=True)
class WorkerOptions:
    """``pyflow worker``'s options, parsed."""

    cwd: Path
    config_path: Path | None = None
    env_name: str | None = None
    persist_to: Path | None = None
    store: StoreLocation | None = None
    concurrency: int = 100
    workflows: Sequence[str] | None = None  # None: every workflow of the project
    lease_s: float = 15.0
    rules: PlatformRules = NO_RULES  # the platform's limits, as pyflow dev and serve apply them


def run_worker(options: WorkerOptions, log: DevLog) -> int:
    """Run a worker until SIGTERM or Ctrl-C; returns the process exit code. Either signal
    while it starts stops it as well (exit code 0)."""
    previous = signal.signal(signal.SIGTERM, _interrupt)  # until the loop takes signals over
    try:
        return asyncio.run(_run(options, log))
    except KeyboardInterrupt:
        log.info("Stopped while starting.")
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def worker_id() -> str:
    """A new engine id: readable (host, pid) and unique (a pid is reused after a restart)."""
    return f"worker-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


async def _run(options: WorkerOptions, log: DevLog) -> int:
    if options.concurrency < 1:
        log.error(f"--concurrency must be at least 1, got {options.concurrency}.")
        return 1
    if options.lease_s <= 0:
        log.error(f"--lease must be a positive number of seconds, got {options.lease_s:g}.")
        return 1
    try:
        project = load_project(options.cwd, options.config_path, options.env_name)
        names = [w.name for w in project.workflows]
        unknown = [n for n in options.workflows or () if n not in names]
        if unknown:
            log.error(f"No workflow named {', '.join(repr(n) for n in unknown)} in "
                      f"{project.config_path.name} (workflows: {', '.join(names) or 'none'}).")
            return 1
        location = store_location(project, options.persist_to, options.store)
        engine_options = EngineOptions(max_concurrent=options.concurrency,
                                       lease_ms=options.lease_s * 1000.0, rules=options.rules)
        runtime = await DevRuntime.open(project, persist_to=options.persist_to,
                                        location=location, options=engine_options, log=log,
                                        kind="worker", only=options.workflows,
                                        engine_id=worker_id())
    except PyflowError as exc:
        log.error(exc.message)
        return 1
    stop = asyncio.Event()
    failed: list[str] = []

    def fatal(message: str) -> None:  # reported already, in one line
        failed.append(message)
        stop.set()

    runtime.on_fatal = fatal
    if runtime.engine.failure is not None:
        fatal(runtime.engine.failure)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        running = ", ".join(runtime.engine.workflows) or "no workflows"
        log.info(f"pyflow worker {runtime.engine.id} on {location.shown}: running {running} "
                 f"(up to {options.concurrency} at once, lease {options.lease_s:g} s)")
        runtime.start_crons()
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        log.info("Stopping: letting attempts under way finish, then handing leases back...")
        with contextlib.suppress(Exception):
            await runtime.close(0 if failed else SHUTDOWN_GRACE_S)
        log.info("Stopped.")
    return 1 if failed else 0
