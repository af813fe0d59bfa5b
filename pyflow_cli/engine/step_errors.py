"""A step's errors as stored and as rebuilt on replay: ``{name, message}`` with where the class
lives, the user's frames of a failure, and the failures user code must not catch."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from pyflow_cli.engine import tracebacks
from pyflow_cli.engine.errors import error_name
from pyflow_cli.engine.escapes import EngineControl, UserBaseException
from pyflow_cli.engine.lifetime import Lifetime


class FatalStepFailure(EngineControl):
    """Ends ``run()`` with a failure user code must not catch (e.g. an unstorable result).

    A ``BaseException`` so that ``except Exception`` in user code lets it through; the lifetime
    also records it, so even a blanket ``except BaseException`` cannot turn it into success.
    """


class StepError(Exception):
    """Stands in, on replay, for a stored step error whose class can no longer be found."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.recorded_name = name


def is_non_retryable(error: BaseException) -> bool:
    """Recognised by class name or by a message starting with the name, as in the reference."""
    return (type(error).__name__ == "NonRetryableError"
            or error_name(error) == "NonRetryableError"
            or str(error).startswith("NonRetryableError"))


def error_json(error: BaseException) -> dict[str, Any]:
    """``{name, message}`` of an exception, with where its class lives (to rebuild it on replay)."""
    cls = type(error.original if isinstance(error, UserBaseException) else error)
    return {"name": error_name(error), "message": str(error), "module": cls.__module__,
            "qualname": cls.__qualname__}


def user_traceback(life: Lifetime, error: BaseException) -> dict[str, Any] | None:
    """The user's frames of ``error`` (or of what caused it: a failing delay function)."""
    roots = life.definition.source_roots
    found = tracebacks.capture(error, roots)
    if found is None and error.__cause__ is not None:
        found = tracebacks.capture(error.__cause__, roots)
    return found


def rebuild_error(life: Lifetime, stored: Mapping[str, Any]) -> BaseException:
    """Re-create a stored step error so ``except TheClass`` in ``run()`` still works on replay."""
    name, message = str(stored.get("name", "Error")), str(stored.get("message", ""))
    cls = _find_class(life, str(stored.get("module", "")), str(stored.get("qualname", name)))
    if cls is None:
        return StepError(name, message)
    error = cls.__new__(cls)
    error.args = (message,)
    return error if isinstance(error, Exception) else UserBaseException(error)


def _find_class(life: Lifetime, module_name: str, qualname: str) -> type[BaseException] | None:
    candidates = [module_name, life.definition.cls.__module__]
    for candidate in candidates:
        try:
            obj: Any = importlib.import_module(candidate) if candidate else None
        except Exception:
            continue
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            return obj
    return None
