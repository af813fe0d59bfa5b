"""What to do next, in commands. The engine and the service speak only of instances and values;
the CLI adds this advice when it shows one of their errors."""

from __future__ import annotations

from pyflow_cli.engine.errors import DuplicateInstanceError, InstanceNotFoundError, PyflowError


def command_advice(exc: BaseException) -> str | None:
    """The next step to suggest for ``exc``, if the CLI has one."""
    if isinstance(exc, InstanceNotFoundError):
        return f"Check the id with `pyflow workflows instances list {exc.workflow}`."
    if isinstance(exc, DuplicateInstanceError):
        return "Choose another --id, or omit it to get a generated one."
    return None


def advised(exc: PyflowError) -> str:
    """The error's message, followed by the advice for it (one line)."""
    advice = command_advice(exc)
    return f"{exc.message} {advice}" if advice else exc.message
