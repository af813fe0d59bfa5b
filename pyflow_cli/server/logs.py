"""The dev server's terminal output: levelled lines in wrangler's style.

``[pyflow:info] Ready on http://127.0.0.1:8787``, ``▲ [WARNING] ...``, ``✘ [ERROR] ...``. Levels
are wrangler's, from quietest to loudest ``none``, ``error``, ``warn``, ``info``, ``log`` (the
default), ``debug``; instance lifecycle lines are ``info``, step lines ``debug``. Output streams
are injected so tests can capture them. ``JsonLog`` writes the same records as JSON lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar, TextIO

LEVELS = ("none", "error", "warn", "info", "log", "debug")
_RED, _YELLOW, _DIM, _RESET = "\033[31m", "\033[33m", "\033[2m", "\033[0m"


class DevLog:
    """Writes lines at or above ``level``; colour only when the stream is a terminal."""

    def __init__(self, level: str = "log", out: TextIO | None = None, err: TextIO | None = None
                 ) -> None:
        if level not in LEVELS:
            raise ValueError(f'Unknown log level "{level}": use one of {", ".join(LEVELS)}.')
        self.level = level
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr

    def enabled(self, level: str) -> bool:
        return level in self._shown

    @property
    def level(self) -> str:
        return self._level

    @level.setter
    def level(self, level: str) -> None:
        self._level = level
        self._shown = frozenset(LEVELS[1:LEVELS.index(level) + 1])  # asked for every write

    def _write(self, stream: TextIO, text: str, colour: str = "") -> None:
        if colour and getattr(stream, "isatty", lambda: False)():
            text = f"{colour}{text}{_RESET}"
        stream.write(text + "\n")
        stream.flush()

    def _emit(self, level: str, message: str) -> None:
        """Write one message at ``level`` (already known to be enabled)."""
        if level == "debug":
            self._write(self.out, f"[pyflow:debug] {message}", _DIM)
        elif level == "info":
            self._write(self.out, f"[pyflow:info] {message}")
        elif level == "log":
            self._write(self.out, message)
        elif level == "warn":
            self._write(self.err, f"▲ [WARNING] {message}", _YELLOW)
        else:
            self._write(self.err, f"✘ [ERROR] {message}", _RED)

    def debug(self, message: str) -> None:
        if self.enabled("debug"):
            self._emit("debug", message)

    def info(self, message: str) -> None:
        if self.enabled("info"):
            self._emit("info", message)

    def log(self, message: str) -> None:
        """A plain line (banner, user ``print``-like output)."""
        if self.enabled("log"):
            self._emit("log", message)

    def warn(self, message: str) -> None:
        if self.enabled("warn"):
            self._emit("warn", message)

    def error(self, message: str) -> None:
        if self.enabled("error"):
            self._emit("error", message)


class JsonLog(DevLog):
    """The same lines as one JSON object each (``pyflow serve --log-format json``), for a log
    collector: ``{"time": "2026-01-01T12:00:00.000Z", "level": "info", "message": "..."}``, all
    on ``out``. A message of several lines stays one object."""

    def __init__(self, level: str = "log", out: TextIO | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(level, out)
        self.clock = clock
        self._lines: list[str] = []

    def _emit(self, level: str, message: str) -> None:
        """On the event loop, the record is written at the end of the loop's turn with the
        others of that turn (one system call for them all: a busy server writes several lines
        per request); anywhere else at once."""
        self._lines.append(json_line(self.clock(), level, message))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.drain()
            return
        if len(self._lines) == 1:
            loop.call_soon(self.drain)

    def drain(self) -> None:
        """Write the records not written yet."""
        if self._lines:
            text, self._lines = "\n".join(self._lines) + "\n", []
            self.out.write(text)
            self.out.flush()

    @contextlib.contextmanager
    def capturing_standard_streams(self) -> Iterator[None]:
        """While open, what anything writes to ``sys.stdout`` (user code's ``print``) and
        ``sys.stderr`` becomes records too (``log`` and ``error``), so no line of the output is
        anything but JSON."""
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Records(self, "log"), _Records(self, "error")
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            sys.stdout, sys.stderr = saved
            self.drain()


class _Records(io.TextIOBase):
    """A text stream whose writes become log records: one per write that ends a line (``print``
    writes its text, then the newline; a logging handler a whole record at once)."""

    def __init__(self, log: JsonLog, level: str) -> None:
        self._log = log
        self._level = level
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        if self._pending.endswith("\n"):
            self.flush()
        return len(text)

    def flush(self) -> None:
        pending, self._pending = self._pending.rstrip("\n"), ""
        if pending:
            self._log._emit(self._level, pending)


def json_line(epoch_s: float, level: str, message: str) -> str:
    """One log record as a line of JSON."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return json.dumps({"time": stamp, "level": level, "message": message}, ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    """Python logging records (uvicorn's own warnings and errors) as ``json_line``s."""

    _LEVELS: ClassVar[dict[int, str]] = {logging.DEBUG: "debug", logging.INFO: "info",
                                         logging.WARNING: "warn"}

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return json_line(record.created, self._LEVELS.get(record.levelno, "error"), message)


def json_logging_config(level: str) -> dict[str, Any]:
    """uvicorn's ``log_config`` for JSON output: its loggers through ``JsonFormatter``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json",
                              "stream": "ext://sys.__stdout__"}},
        "loggers": {name: {"handlers": ["json"], "level": level.upper(), "propagate": False}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }


def sentence(message: str) -> str:
    """``message`` with a capital first letter (the engine's reports start in lower case)."""
    return message[:1].upper() + message[1:]
