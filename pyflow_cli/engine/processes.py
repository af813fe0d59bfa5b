"""Whether a process that left its pid behind (an engine, a dev session) is still alive."""

from __future__ import annotations

import os
import socket


def process_alive(pid: int, host: str | None = None) -> bool:
    """True unless ``pid`` on this machine is certainly gone; a process on another machine (or
    one we may not signal) is assumed alive, and its heartbeat or lease decides instead.

    A killed process whose parent has not collected it yet (a zombie: ``kill -9`` from a shell
    script, a test, a CI runner) still has its pid, but runs nothing: it counts as gone."""
    if host and host != socket.gethostname():
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has exited and waits to be collected (Linux ``/proc``; False elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return False
    # "<pid> (<command, which may hold spaces and parentheses>) <state> ..."
    state = text[text.rfind(")") + 2:text.rfind(")") + 3]
    return state in ("Z", "X")
