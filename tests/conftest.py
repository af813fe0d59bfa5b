"""Fixtures shared by every test folder: a PostgreSQL server (``pgcluster.py``), when a test
asks for one."""

from __future__ import annotations

import pytest
from pgcluster import Server, shared_server, stop_shared


@pytest.fixture
def postgres() -> Server:
    """The session's PostgreSQL server (skips the test, saying why, if there is none)."""
    return shared_server()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_shared()
