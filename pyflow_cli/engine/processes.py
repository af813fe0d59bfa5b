"""Whether a process that left its pid behind (an engine, a dev session) is still alive."""

from __future__ import annotations

import os
import socket


def process_alive(pid: int, host: str | None = None) -> bool:
    """True unless ``pid`` on this machine is certainly gone; a process on another machine (or
    one we may not signal) is assumed alive, and its heartbeat or lease decides instead."""
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
    return True
