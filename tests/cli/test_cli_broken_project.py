"""A broken project must not leave the state store open (a process that reported the error would
otherwise hang at exit on aiosqlite's non-daemon thread)."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from pathlib import Path

import aiosqlite
import pytest
from clikit import WRANGLER_TOML, write_project

from pyflow_cli.engine.errors import UserCodeError
from pyflow_cli.project.config import load_project
from pyflow_cli.workspace import open_workspace


def test_open_workspace_closes_the_store_when_a_workflow_class_is_missing(tmp_path: Path) -> None:
    root = write_project(tmp_path / "app", config=WRANGLER_TOML.replace('"Failing"', '"Missing"'))
    project = load_project(root)
    before = threading.active_count()

    async def open_it() -> None:
        with pytest.raises(UserCodeError, match='Class "Missing"'):
            await open_workspace(project, with_engine=True)

    async def close_leaked() -> None:  # so the test process itself can still exit
        for leaked in [o for o in gc.get_objects() if isinstance(o, aiosqlite.Connection)]:
            if leaked._running:
                await leaked.close()

    try:
        asyncio.run(open_it())
        time.sleep(0.1)
        assert threading.active_count() == before
    finally:
        asyncio.run(close_leaked())
