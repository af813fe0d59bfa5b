"""Single-key commands in the ``pyflow dev`` terminal, as wrangler's: ``b`` opens the Local
Explorer in a browser, ``c`` clears the console, ``x`` stops the server.

Only when standard input is a terminal: it is put in cbreak mode (keys arrive one by one, not
echoed; Ctrl-C still interrupts) and restored when the server stops, however it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import webbrowser
from collections.abc import Callable, Iterator
from typing import TextIO

HELP = ("[b] open the Local Explorer in a browser", "[c] clear console", "[x] exit")


def help_box() -> list[str]:
    """The box of keys printed under the banner."""
    width = max(len(line) for line in HELP) + 2
    return ["╭" + "─" * width + "╮", *(f"│ {line:<{width - 2}} │" for line in HELP),
            "╰" + "─" * width + "╯"]


def open_in_browser(url: str) -> None:
    """Open ``url`` with the user's browser (``$BROWSER`` if set), off the event loop: some
    browsers' launchers block until the browser exits."""
    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()


class Hotkeys:
    """Reads keys from ``stream`` (a terminal) on the running event loop."""

    def __init__(self, actions: dict[str, Callable[[], None]], stream: TextIO | None = None) -> None:
        self.actions = actions
        self.stream = stream if stream is not None else sys.stdin

    def available(self) -> bool:
        try:
            return self.stream.isatty() and os.name == "posix"
        except (AttributeError, ValueError):
            return False

    @contextlib.contextmanager
    def listening(self) -> Iterator[None]:
        """Keys call their actions while inside; the terminal is restored on the way out."""
        import termios
        import tty

        fd = self.stream.fileno()
        saved = termios.tcgetattr(fd)
        loop = asyncio.get_running_loop()
        try:
            tty.setcbreak(fd)
            loop.add_reader(fd, self._read, fd)
            yield
        finally:
            with contextlib.suppress(Exception):
                loop.remove_reader(fd)
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    def _read(self, fd: int) -> None:
        try:
            keys = os.read(fd, 32).decode(errors="ignore")
        except OSError:
            return
        for key in keys.lower():
            action = self.actions.get(key)
            if action is not None:
                action()
