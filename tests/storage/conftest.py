"""Fixtures of the storage contract suite: ``store_factory`` runs a test once per backend of
``backends.BACKENDS`` (the one place a backend is added)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from backends import BACKENDS, StoreFactory

from pyflow_cli.engine.store import Store


@pytest.fixture(params=BACKENDS)
async def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    factory: StoreFactory = request.param(tmp_path)
    try:
        yield factory
    finally:
        await factory.close_all()


@pytest.fixture
async def store(store_factory: StoreFactory) -> Store:
    """A new, empty store of each backend (closed after the test)."""
    return await store_factory.open()
