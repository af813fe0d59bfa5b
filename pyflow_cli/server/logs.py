"""The dev server's terminal output: levelled lines in wrangler's style.

``[pyflow:info] Ready on http://127.0.0.1:8787``, ``▲ [WARNING] ...``, ``✘ [ERROR] ...``. Levels
are wrangler's, from quietest to loudest ``none``, ``error``, ``warn``, ``info``, ``log`` (the
default), ``debug``; instance lifecycle lines are ``info``, step lines ``debug``. Output streams
are injected so tests can capture them.
"""

from __future__ import annotations

import sys
from typing import TextIO

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
        return level != "none" and LEVELS.index(level) <= LEVELS.index(self.level)

    def _write(self, stream: TextIO, text: str, colour: str = "") -> None:
        if colour and getattr(stream, "isatty", lambda: False)():
            text = f"{colour}{text}{_RESET}"
        stream.write(text + "\n")
        stream.flush()

    def debug(self, message: str) -> None:
        if self.enabled("debug"):
            self._write(self.out, f"[pyflow:debug] {message}", _DIM)

    def info(self, message: str) -> None:
        if self.enabled("info"):
            self._write(self.out, f"[pyflow:info] {message}")

    def log(self, message: str) -> None:
        """A plain line (banner, user ``print``-like output)."""
        if self.enabled("log"):
            self._write(self.out, message)

    def warn(self, message: str) -> None:
        if self.enabled("warn"):
            self._write(self.err, f"▲ [WARNING] {message}", _YELLOW)

    def error(self, message: str) -> None:
        if self.enabled("error"):
            self._write(self.err, f"✘ [ERROR] {message}", _RED)


def sentence(message: str) -> str:
    """``message`` with a capital first letter (the engine's reports start in lower case)."""
    return message[:1].upper() + message[1:]
