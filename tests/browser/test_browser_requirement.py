"""Without a Chromium the browser tests skip, with the reason, unless CI requires them."""

from __future__ import annotations

from pathlib import Path

import pytest
from browserkit import REQUIRE, chromium


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("PYFLOW_CHROMIUM", raising=False)
    return tmp_path / "chromium"


def test_no_chromium_skips_with_the_reason(no_chromium: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium is installed"):
        chromium(default=no_chromium)


def test_no_chromium_fails_when_browsers_are_required(no_chromium: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match="PYFLOW_REQUIRE_BROWSER=1"):
        chromium(default=no_chromium)


def test_a_chromium_is_found_on_the_path(no_chromium: Path) -> None:
    no_chromium.write_text("#!/bin/sh\n")
    no_chromium.chmod(0o755)
    assert chromium(default=Path("/nonexistent")) == str(no_chromium)
