"""What one command run works with: the options, the project config, the output, the backend.

``begin`` reads the config once (and checks the workflow name against it, before anything is
opened); ``connect`` opens the backend. Rich and the store are imported only when used.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from pyflow_cli.cli.options import CliState, state
from pyflow_cli.engine.errors import InvalidInputError

if TYPE_CHECKING:
    from pyflow_cli.api import WorkflowApi
    from pyflow_cli.cli.render import Ui
    from pyflow_cli.engine.lifetime import EngineOptions
    from pyflow_cli.project.config import ProjectConfig

T = TypeVar("T")

NO_ENGINE_NOTE = ("No engine is running on this project's state: {what} when one starts "
                  '("pyflow dev", or "pyflow workflows trigger NAME --wait").')


@dataclass
class Invocation:
    """One run of a command: its state, the project config and its output."""
    state: CliState
    project: ProjectConfig
    ui: Ui

    @property
    def tz(self) -> tzinfo | None:
        """The time zone dates are shown in (None: the machine's)."""
        return self.state.runtime.tz

    def now_ms(self) -> float:
        """The current time, for durations and countdowns."""
        return self.state.runtime.now_ms()

    def connect(self, *, creates: bool = False, engine_options: EngineOptions | None = None
                ) -> AbstractAsyncContextManager[WorkflowApi]:
        """The backend for this project (see ``backend.connect``), with the platform's limits
        the ``PYFLOW_*`` variables set (an engine here or instances created here obey them)."""
        from pyflow_cli.cli.backend import connect
        from pyflow_cli.cli.options import platform_rules

        options = self.state.options
        return connect(self.project, options.persist_to, creates=creates,
                       engine_options=engine_options, store=options.store,
                       rules=platform_rules(self.state.runtime.environ), url=options.url,
                       token=self.state.runtime.environ.get("PYFLOW_API_TOKEN") or None)

    def no_engine_note(self, what: str) -> None:
        """Say that nothing runs the change until an engine starts."""
        self.ui.note(NO_ENGINE_NOTE.format(what=what))


def begin(ctx: typer.Context, workflow: str | None = None) -> Invocation:
    """Load the project (config errors stop here) and check ``workflow`` is defined in it."""
    from pyflow_cli.cli.render import Ui

    current = state(ctx)
    project = current.options.load_project()
    if workflow is not None:
        project.workflow(workflow)
    return Invocation(current, project, Ui(current.runtime))


class Stopped(Exception):
    """The command was stopped by a signal (SIGTERM) and has cleaned up: the exit code is
    128 + the signal's number, as a shell reports it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's async part to completion.

    SIGTERM (``timeout``, a cancelled CI job, ``kill``) stops it as Ctrl-C does: the command is
    cancelled and unwinds, so an engine in this process (``trigger --wait``) hands its instances
    back before the process exits, instead of holding them until its lease runs out. A second
    SIGTERM kills at once."""
    return asyncio.run(_stoppable(coroutine))


async def _stoppable(coroutine: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        loop.remove_signal_handler(signum)  # the default action again: a second one kills
        if task is not None:
            task.cancel()

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGTERM, stop, signal.SIGTERM)
    try:
        return await coroutine
    except asyncio.CancelledError:
        if received:
            raise Stopped(received[0]) from None
        raise
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGTERM)


def parse_json(text: str, what: str) -> Any:
    """``text`` as JSON, or the reference's message: ``Error while parsing <what>: "<text>" ...``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f'Error while parsing {what}: "{text}" with SyntaxError: {exc}\' ') from None

