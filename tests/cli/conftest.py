"""Fixtures for CLI tests (the helpers live in ``clikit``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from clikit import Project, write_project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """The hand-written ``demo-app`` project (workflows demo, failing, sleeper), without state."""
    return Project(write_project(tmp_path / "app"))
