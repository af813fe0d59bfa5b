"""Where user code's console lines, and pyflow's notes about what it does (outbound fetches),
go: the dev log under ``pyflow dev`` (which installs itself with ``set_sink``), standard output
and error anywhere else. Lines written while an instance runs name it (``wf 1234: text``)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from pyflow_cli.engine.running import current_instance

Sink = Callable[[str, str], None]
"""``(level, text)``; levels are the dev log's: ``debug``, ``log``, ``info``, ``warn``, ``error``."""


def _standard_streams(level: str, text: str) -> None:
    if level == "debug":
        return
    stream = sys.stderr if level in ("warn", "error") else sys.stdout
    print(text, file=stream, flush=True)


_sink: Sink = _standard_streams


def set_sink(sink: Sink | None) -> None:
    """Send lines to ``sink`` from now on (``None``: back to standard output and error)."""
    global _sink
    _sink = sink if sink is not None else _standard_streams


def emit(level: str, text: str) -> None:
    """Write ``text`` at ``level``, naming the instance it was written for, if any."""
    instance = current_instance.get()
    _sink(level, f"{instance}: {text}" if instance is not None else text)
