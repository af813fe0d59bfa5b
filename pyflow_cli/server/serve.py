"""Runs one ``pyflow dev`` or ``pyflow serve`` process: checks, banner, engine, HTTP server,
reload, crons, shutdown. The two commands are one server with different options
(``DevOptions``): ``serve`` turns off hot reload, time scaling and the keyboard shortcuts, and
with an API token guards everything under ``/cdn-cgi/`` (``auth.py``); listening beyond loopback,
it refuses to start without one.

Ctrl-C or SIGTERM stops taking requests, gives running step bodies a few seconds to finish,
releases every lease and exits 0; what is stored is kept and the next ``pyflow dev`` resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from pyflow_cli.engine.admission import NO_RULES, PlatformRules
from pyflow_cli.engine.errors import PyflowError
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.project.config import ProjectConfig, load_project
from pyflow_cli.project.loader import LoadedModule, load_user_module
from pyflow_cli.project.scripts import check_served, unserved
from pyflow_cli.server.app import create_app
from pyflow_cli.server.auth import TOKEN_ENV, ApiToken
from pyflow_cli.server.banner import banner_lines, companion_lines
from pyflow_cli.server.explorer.routes import EXPLORER_PATH
from pyflow_cli.server.hotkeys import Hotkeys, help_box, open_in_browser
from pyflow_cli.server.logs import DevLog, JsonLog, json_logging_config
from pyflow_cli.server.reload import Reloader, changes
from pyflow_cli.server.runtime import DevRuntime
from pyflow_cli.server.security import LocalOnly, is_loopback_bind
from pyflow_cli.server.session import DevSession, read_session, remove_session, write_session
from pyflow_cli.storage.url import StoreLocation
from pyflow_cli.workspace import Companion, state_dir, store_location

SHUTDOWN_GRACE_S = 5


@dataclass(frozen=True)
class DevOptions:
    """``pyflow dev``'s and ``pyflow serve``'s options, parsed."""

    cwd: Path
    config_path: Path | None = None
    companion_configs: tuple[Path, ...] = ()  # more -c: other Workers served (project/scripts.py)
    env_name: str | None = None
    ip: str = "127.0.0.1"
    port: int = 8787
    persist_to: Path | None = None
    reload: bool = True
    time_scale: float = 1.0
    store: StoreLocation | None = None  # --store / PYFLOW_STORE; None: the state directory's
    rules: PlatformRules = NO_RULES
    command: str = "dev"  # how messages name the server: "pyflow dev" or "pyflow serve"
    hotkeys: bool = True  # single-key commands when stdin is a terminal
    api_token: str | None = None  # --api-token / PYFLOW_API_TOKEN: guards /cdn-cgi/
    token_off_loopback: bool = False  # refuse to listen beyond loopback without api_token


class _Server(uvicorn.Server):
    """uvicorn, with Ctrl-C / SIGTERM ending ``serve()`` normally instead of re-raising, and
    ``on_shutdown`` called first thing when it stops (to end streams that would hold it up)."""

    on_shutdown: Callable[[], None] = staticmethod(lambda: None)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.on_shutdown()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        installed: list[int] = []
        for sig in (int(signal.SIGINT), int(signal.SIGTERM)):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._on_signal, sig)
                installed.append(sig)
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: int) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True


def run_dev(options: DevOptions, log: DevLog) -> int:
    """Run the dev server until interrupted; returns the process exit code."""
    previous = signal.signal(signal.SIGTERM, _interrupt)  # before the server takes over signals
    try:
        with contextlib.ExitStack() as stack:
            if isinstance(log, JsonLog):  # user code's print() too
                stack.enter_context(log.capturing_standard_streams())
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                return runner.run(_run(options, log))
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (a dependency except on Windows), else
    asyncio's: W1 through the server spent about a tenth less CPU on it, in the HTTP layer and
    the engine's many small tasks alike."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


async def _run(options: DevOptions, log: DevLog) -> int:
    try:
        project = load_project(options.cwd, options.config_path, options.env_name)
        companions = [load_project(options.cwd, path, options.env_name)
                      for path in options.companion_configs]
        check_served([project, *companions])
    except PyflowError as exc:
        log.error(exc.message)
        return 1
    for served in (project, *companions):
        running = read_session(served.root)
        if running is not None and running.pid != os.getpid():
            which = "this project" if served is project else str(served.config_path)
            log.error(f"pyflow {running.command} is already running for {which} (pid "
                      f"{running.pid}, {running.base_url}). Stop it first, or let pyflow's "
                      "commands use it.")
            return 1
    if options.time_scale <= 0:
        log.error(f"--time-scale must be a positive number, got {options.time_scale:g}.")
        return 1
    try:
        token = ApiToken.parse(options.api_token) if options.api_token is not None else None
    except PyflowError as exc:
        log.error(exc.message)
        return 1
    if not is_loopback_bind(options.ip):
        if token is not None:
            log.info(f"Listening on {options.ip}: your Worker answers every request; the local "
                     "API, the explorer and the rest of /cdn-cgi/ need the API token.")
        elif options.token_off_loopback:
            log.error(f"pyflow {options.command} would listen on {options.ip}, beyond this "
                      f"machine, without an API token. Set {TOKEN_ENV} (or pass --api-token) to "
                      "a secret of 16 characters or more, or listen on 127.0.0.1.")
            return 1
        else:
            log.warn(f"Listening on {options.ip}: other machines on your network can reach your "
                     "Worker. The local API answers only requests addressed to localhost"
                     + ("." if options.ip in ("0.0.0.0", "::") else f" or {options.ip}."))
    try:
        sock = _bind(options.ip, options.port)
    except OSError as exc:
        log.error(f"Cannot listen on {options.ip}:{options.port}: {exc.strerror or exc}. "
                  "Choose another --port, or stop what is using it.")
        return 1
    with contextlib.closing(sock):
        loaded = await _first_load(project, options, log)
        if loaded is None:
            return 1
        project, module = loaded
        try:
            others = [Companion(c, load_user_module(c)) for c in companions]
        except PyflowError as exc:
            log.error(exc.message)
            return 1
        return await _serve(project, module, sock, options, log, token, others)


async def _first_load(project: ProjectConfig, options: DevOptions, log: DevLog
                      ) -> tuple[ProjectConfig, LoadedModule] | None:
    """Load the user's code; with reload on, wait for a fix instead of giving up."""
    while True:
        try:
            return project, load_user_module(project)
        except PyflowError as exc:
            log.error(exc.message)
            if not options.reload:
                return None
        log.log("⎔ Waiting for a fix: save the file to try again (Ctrl-C to quit).")
        stop = asyncio.Event()
        try:
            async for _ in changes(project, stop):
                break
        except asyncio.CancelledError:
            return None
        try:
            project = load_project(project.root, project.config_path, project.env_name)
        except PyflowError as exc:
            log.error(exc.message)


async def _serve(project: ProjectConfig, loaded: LoadedModule, sock: socket.socket,
                 options: DevOptions, log: DevLog, token: ApiToken | None,
                 companions: Sequence[Companion] = ()) -> int:
    state = state_dir(project, options.persist_to)
    location = store_location(project, options.persist_to, options.store)
    for line in banner_lines(project, state, options.time_scale, options.store, options.rules,
                             options.command):
        log.log(line)
    for line in companion_lines(project, [c.project for c in companions]):
        log.log(line)
    for served, workflow in unserved([project, *(c.project for c in companions)]):
        log.warn(f'{served.config_path.name}: workflow "{workflow.name}" is bound from Worker '
                 f'"{workflow.script_name}", which this pyflow {options.command} does not serve: '
                 f'creating one fails. Serve both: pyflow {options.command} -c '
                 f'{served.config_path.name} -c <the config of "{workflow.script_name}">.')
    engine_options = EngineOptions(time_scale=options.time_scale, rules=options.rules)
    try:
        runtime = await DevRuntime.open(project, persist_to=options.persist_to,
                                        location=location, options=engine_options, log=log,
                                        loaded=loaded, companions=companions,
                                        kind=options.command)
    except PyflowError as exc:
        log.error(exc.message)
        return 1
    port = sock.getsockname()[1]
    session = DevSession(os.getpid(), port, options.ip, datetime.now(UTC).isoformat(),
                         str(state), socket.gethostname(), location.shown,
                         command=options.command)
    reloader = Reloader(runtime, log)
    app = create_app(runtime, LocalOnly(bound_ip=options.ip, token_guarded=token is not None),
                     log, token)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
                            log_config=json_logging_config("warning")
                            if isinstance(log, JsonLog) else LOGGING_CONFIG)
    server = _Server(config)
    server.on_shutdown = runtime.live.close
    explorer = session.base_url + EXPLORER_PATH
    keys = Hotkeys({"b": lambda: open_in_browser(explorer), "c": lambda: log.log("\033[2J\033[H"),
                    "x": lambda: setattr(server, "should_exit", True)})
    stopped: list[str] = []

    def stop_serving(reason: str) -> None:  # reported already, in one line
        stopped.append(reason)
        server.should_exit = True

    runtime.on_fatal = stop_serving
    if runtime.engine.failure is not None:  # it failed while starting
        stop_serving(runtime.engine.failure)
    # Commands run in a companion's folder use this session too (its instances are here).
    served_by = str(project.config_path)
    try:
        write_session(project.root, session)
        for companion in companions:
            write_session(companion.project.root, replace(session, served_by=served_by))
        log.log("⎔ Starting local server...")
        runtime.start_crons()
        if options.reload:
            await reloader.start()
        log.info(f"Ready on {_url(options.ip, port)}")
        log.info(f"Local Explorer: {explorer}")
        with contextlib.ExitStack() as stack:
            if options.hotkeys and keys.available() and log.enabled("log"):
                for line in help_box():
                    log.log(line)
                stack.enter_context(keys.listening())
            await server.serve(sockets=[sock])
    finally:
        log.log("⎔ Shutting down local server...")
        await reloader.stop()
        await runtime.close(0 if runtime.engine.failure else SHUTDOWN_GRACE_S)
        for root in (project.root, *(c.project.root for c in companions)):
            remove_session(root, os.getpid())
    return 1 if stopped else 0


def _bind(ip: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(ip, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def _url(ip: str, port: int) -> str:
    host = ip if ":" not in ip else f"[{ip}]"
    return f"http://{host}:{port}"
