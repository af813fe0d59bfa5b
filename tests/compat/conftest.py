"""Fixtures for compat tests: a real local HTTP server for fetch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from echo import echo_server


@pytest.fixture
def echo_url() -> Iterator[str]:
    with echo_server() as url:
        yield url
