"""What one command run works with: the options, the project config, the output, the backend.

``begin`` reads the config once (and checks the workflow name against it, before anything is
opened); ``connect`` opens the backend. Rich and the store are imported only when used.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from pyflow_cli.cli.options import CliState, state
from pyflow_cli.engine.errors import InvalidInputError

if TYPE_CHECKING:
    from pyflow_cli.cli.backend import Backend
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
                ) -> AbstractAsyncContextManager[Backend]:
        """The backend for this project (see ``backend.connect``)."""
        from pyflow_cli.cli.backend import connect

        return connect(self.project, self.state.options.persist_to, creates=creates,
                       engine_options=engine_options)

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


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's async part to completion."""
    return asyncio.run(coroutine)


def parse_json(text: str, what: str) -> Any:
    """``text`` as JSON, or the reference's message: ``Error while parsing <what>: "<text>" ...``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f'Error while parsing {what}: "{text}" with SyntaxError: {exc}\' ') from None

