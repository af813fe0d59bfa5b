"""User code's ``BaseException``s, contained: they fail the work that raised them, never the process.

Python lets any code end a program: ``sys.exit()`` raises ``SystemExit``, and asyncio re-raises
``SystemExit`` and ``KeyboardInterrupt`` out of the event loop from whichever task raised them,
so one ``sys.exit()`` in a step body stopped ``pyflow dev`` (and every restart, which resumed the
same instance). User code is hostile input: wherever the engine calls it (step bodies, ``run()``,
rollbacks, delay functions, Worker handlers, module import), a ``BaseException`` it raises is
turned into a ``UserBaseException`` — an ordinary ``Exception`` that keeps the original's class
name — so the attempt fails and is retried per its policy, or the instance errors.

Three kinds pass through untouched:

* the engine's own control flow, ``EngineControl`` subclasses (``StateNotWritten``,
  ``FatalStepFailure``), which user code must not be able to stop either;
* cancellation the engine or the process asked for (the task was ``cancel()``-ed); a
  ``CancelledError`` that user code raised by itself is a failure like any other;
* the process's own signals: a ``KeyboardInterrupt`` raised by this process's Python-level
  SIGINT or SIGTERM handler (asyncio's, or ``pyflow dev``'s), recognised by the handler being
  the frame it was raised in. Where Python's built-in SIGINT handler is in place, a Ctrl-C
  cannot be told apart from user code's ``raise KeyboardInterrupt``, so every
  ``KeyboardInterrupt`` is then taken for the process's own.
"""

from __future__ import annotations

import asyncio
import functools
import signal
from types import CodeType
from typing import Any, NoReturn


class EngineControl(BaseException):
    """Base of the engine's own control-flow exceptions: never contained, never user errors."""


class UserBaseException(Exception):
    """A ``BaseException`` raised by user code, carried as an ordinary error. ``name`` is the
    original's class name (what the event log and the instance's error show), ``original`` the
    exception itself; its traceback is the original's."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(_text(original))
        self.name = type(original).__name__
        self.recorded_name = self.name  # what the log and the views show (errors.error_name)
        self.original = original
        self.__traceback__ = original.__traceback__  # the user's frames, for stored tracebacks


def contain(error: BaseException) -> BaseException:
    """``error`` as a failure of the user code that raised it: itself if it is an ``Exception``
    or must pass through (see the module docstring), else a ``UserBaseException``."""
    if isinstance(error, Exception | EngineControl):
        return error
    if isinstance(error, asyncio.CancelledError):
        return error if _cancel_requested() else UserBaseException(error)
    return error if is_process_signal(error) else UserBaseException(error)


def reraise_contained(error: BaseException) -> NoReturn:
    """Re-raise ``error`` (being handled) as ``contain`` says: as is, or contained."""
    contained = contain(error)
    if contained is error:
        raise error
    raise contained from error


def is_process_signal(error: BaseException) -> bool:
    """Whether ``error`` is this process's own Ctrl-C or SIGTERM rather than user code's."""
    if not isinstance(error, KeyboardInterrupt):
        return False
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        return True  # a Ctrl-C raised by Python's built-in handler looks like user code's
    innermost = error.__traceback__
    if innermost is None:
        return False
    while innermost.tb_next is not None:
        innermost = innermost.tb_next
    raised_in = innermost.tb_frame.f_code
    return any(raised_in is _code_of(signal.getsignal(number))
               for number in (signal.SIGINT, signal.SIGTERM))


def _cancel_requested() -> bool:
    """Whether the running task was asked to cancel (by the engine or the process)."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return True
    return task is None or task.cancelling() > 0


def _code_of(handler: Any) -> CodeType | None:
    while isinstance(handler, functools.partial):
        handler = handler.func
    handler = getattr(handler, "__func__", handler)
    code = getattr(handler, "__code__", None)
    return code if isinstance(code, CodeType) else None


def _text(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:
        return f"<{type(error).__name__} whose message cannot be read>"
