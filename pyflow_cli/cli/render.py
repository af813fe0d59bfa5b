"""All terminal output: one ``Ui`` per command, over Rich consoles for stdout and stderr.

Colour only on a terminal and only without ``NO_COLOR``; otherwise not one ANSI code. Rich's
markup, emoji codes and highlighting are off, so user data (``[x]``, ``:smile:``) prints as it is.
Messages keep wrangler's shapes: ``✘ [ERROR] ...`` and ``▲ [WARNING] ...`` on stderr.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.text import Text

from pyflow_cli.cli.doc import Doc, Line
from pyflow_cli.cli.formats import pretty_json
from pyflow_cli.cli.options import Runtime


def make_console(runtime: Runtime, stderr: bool = False) -> Console:
    """A console that writes to the current ``sys.stdout``/``sys.stderr`` (tests swap them)."""
    if stderr:
        terminal = runtime.terminal if runtime.terminal is not None else sys.stderr.isatty()
    else:
        terminal = runtime.is_terminal()
    plain = runtime.no_color or not terminal
    return Console(
        file=sys.stderr if stderr else sys.stdout,
        force_terminal=terminal,
        color_system=None if plain else "auto",
        no_color=runtime.no_color,
        width=runtime.width or (None if terminal else 100_000),
        markup=False, emoji=False, highlight=False, soft_wrap=True,
        legacy_windows=False,
    )


def to_text(line: Line, wrap: bool = False) -> Text:
    """One document line as Rich text; ``wrap`` lets it fold at the console width."""
    text = Text(no_wrap=not wrap, overflow="fold" if wrap else None, end="")
    for part, style in line:
        text.append(part, style or None)
    return text


def doc_text(doc: Doc) -> Text:
    """A document as one Rich text for live displays, where long lines wrap."""
    return Text("\n").join(to_text(line, wrap=True) for line in doc)


class Ui:
    """Where a command writes: documents, messages, JSON."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.out = make_console(runtime)
        self.err = make_console(runtime, stderr=True)

    @property
    def interactive(self) -> bool:
        """Output goes to a terminal (live views redraw in place)."""
        return self.out.is_terminal

    @property
    def max_width(self) -> int | None:
        """How wide tables may be: the terminal's width, no limit when piped (unless set)."""
        if self.runtime.width is not None:
            return self.runtime.width
        if self.out.is_terminal:
            return self.out.width
        columns = self.runtime.environ.get("COLUMNS", "")
        return int(columns) if columns.isdigit() else None

    def print(self, text: str = "", style: str = "") -> None:
        """One plain line on stdout."""
        self.out.print(Text(text, style=style or "", end=""), soft_wrap=True)

    def doc(self, doc: Doc) -> None:
        """A document on stdout, line by line."""
        for line in doc:
            self.out.print(to_text(line), soft_wrap=True)

    def json(self, value: Any) -> None:
        """``value`` as indented JSON, as ``--json`` prints it."""
        self.out.file.write(pretty_json(value) + "\n")
        self.out.file.flush()

    def json_line(self, value: Any) -> None:
        """``value`` as one compact JSON line (for streams)."""
        from pyflow_cli.cli.formats import js_json

        self.out.file.write(js_json(value) + "\n")
        self.out.file.flush()

    def success(self, message: str) -> None:
        """What a changing command did (wrangler's info line)."""
        self.print(message)

    def note(self, message: str) -> None:
        """A side remark (what happens next), dim, on stderr."""
        self.err.print(Text(message, style="dim", end=""), soft_wrap=True)

    def warn(self, message: str) -> None:
        """``▲ [WARNING] message`` on stderr."""
        text = Text("▲ [WARNING] ", style="bold yellow", end="")
        text.append(message)
        self.err.print(text, soft_wrap=True)

    def error(self, message: str, hint: str | None = None) -> None:
        """``✘ [ERROR] message`` on stderr, with an optional dim hint on the same line."""
        text = Text("✘ [ERROR] ", style="bold red", end="")
        text.append(message, style="red")
        if hint:
            text.append(" " + hint, style="dim")
        self.err.print(text, soft_wrap=True)
