"""The store is chosen in one place, and the PostgreSQL tests run or say why they did not."""

from __future__ import annotations

import re
from pathlib import Path

import pgcluster
import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pyflow_cli"
BACKEND_CLASS = re.compile(r"\b(SqliteStore|PostgresStore)\b")
BACKEND_MODULE = re.compile(r"pyflow_cli\.storage\.(sqlite|postgres)\b|from pyflow_cli\.storage "
                            r"import .*\b(sqlite|postgres)\b")


def test_no_module_outside_storage_names_a_store_class_or_backend_module() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("storage/"):
            continue
        text = path.read_text()
        if BACKEND_CLASS.search(text) or BACKEND_MODULE.search(text):
            offenders.append(relative)
    assert offenders == []


def test_only_the_factory_builds_a_store() -> None:
    builders = [path.relative_to(PACKAGE).as_posix() for path in sorted(PACKAGE.rglob("*.py"))
                if re.search(r"(?<!class )\b(SqliteStore|PostgresStore)\(", path.read_text())]
    assert builders == ["storage/factory.py"]


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_config
    monkeypatch.delenv(pgcluster.ENV_URL, raising=False)
    reason = pgcluster.start()
    assert isinstance(reason, str)
    return reason


def test_without_a_server_the_postgres_tests_skip_saying_why(
        no_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(pgcluster.ENV_REQUIRE, raising=False)
    assert "pg_config is not on PATH" in no_server
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL: pg_config is not on PATH"):
        pgcluster.unavailable(no_server)


def test_without_a_server_the_postgres_tests_fail_when_ci_requires_them(
        no_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pgcluster.ENV_REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match="PYFLOW_REQUIRE_POSTGRES=1"):
        pgcluster.unavailable(no_server)
