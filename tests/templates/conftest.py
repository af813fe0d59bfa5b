"""The ``e2e`` marker: tests that build the wheel, install it and run real processes. They run by
default (CI runs them); select them alone with ``-m e2e``, or leave them out with ``-m "not e2e"``."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: builds and installs the wheel, then runs pyflow as a user would (slow)")
