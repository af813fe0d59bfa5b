"""Fixtures shared by every test folder: a PostgreSQL server (``pgcluster.py``), when a test
asks for one, and checks that no test leaves a store open or a signal handler changed."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import pytest
from pgcluster import Server, shared_server, stop_shared

_STORE_THREADS = ("pyflow-", "_connection_worker_thread")
"""Names of the threads a store runs: pyflow's writer and aiosqlite's connection threads."""

_WATCHED_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""The signals whose handlers pyflow's processes take over, and tests with them."""


@pytest.fixture
def postgres() -> Server:
    """The session's PostgreSQL server (skips the test, saying why, if there is none)."""
    return shared_server()


@pytest.fixture(autouse=True)
def _no_store_left_open() -> Iterator[None]:
    """Fail the test that leaves a store open. A store's threads are not daemons (they finish
    their writes before the process ends), so one left open keeps pytest from exiting after its
    summary: the whole run hangs instead of naming the test."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0  # a closed store's threads end a moment after close()
    while left := [thread.name for thread in threading.enumerate()
                   if thread not in before and not thread.daemon and thread.is_alive()
                   and any(part in thread.name for part in _STORE_THREADS)]:
        if time.monotonic() > deadline:
            pytest.fail(f"the test left a store open (threads still running: {', '.join(left)});"
                        " close every store it opens")
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def _no_signal_handler_left_changed() -> Iterator[None]:
    """Fail the test that leaves the SIGINT or SIGTERM handler of the pytest process changed. A
    handler left behind changes what every later test's Ctrl-C or SIGTERM does (and whether the
    code under test sees the handler it expects), so the failure would show far from its cause;
    the check puts the handler back, so only the test that changed it fails."""
    before = {number: signal.getsignal(number) for number in _WATCHED_SIGNALS}
    yield
    changed = [number for number, handler in before.items() if signal.getsignal(number) != handler]
    for number in changed:
        signal.signal(number, before[number])
    if changed:
        names = " and ".join(signal.Signals(number).name for number in changed)
        pytest.fail(f"the test left the {names} handler{'s' if len(changed) > 1 else ''} changed;"
                    " restore every handler it sets")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_shared()
