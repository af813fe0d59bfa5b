"""Random instance ids, as ``str(uuid.uuid4())`` makes them, drawn from a pool of random bytes.

``uuid4`` asks the kernel for 16 bytes per id. On a busy server every such system call lets the
store's writer thread take the GIL, and the event loop then waits for it back before it can
answer the next request; W1 through the server spent 7% of the loop's profile there. The pool is
filled from ``os.urandom`` 4 KiB at a time (one call per 256 ids), is emptied in a forked child
(which must not repeat its parent's ids), and is guarded by a lock for callers on other threads.
"""

from __future__ import annotations

import os
import threading
import uuid

_POOL_BYTES = 4096
_pool = bytearray()
_lock = threading.Lock()


def new_instance_id() -> str:
    """A new random (version 4) UUID in its usual text form."""
    with _lock:
        if len(_pool) < 16:
            _pool.extend(os.urandom(_POOL_BYTES))
        raw = bytes(_pool[-16:])
        del _pool[-16:]
    return str(uuid.UUID(bytes=raw, version=4))


def _forget_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    _pool.clear()


os.register_at_fork(after_in_child=_forget_in_child)
