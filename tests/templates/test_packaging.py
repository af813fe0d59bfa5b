"""pyproject.toml lists pyflow's packages by hand (so templates/ can ship as pyflow_cli/templates):
the list must name every package under pyflow_cli/, or the wheel would silently lack it."""

from __future__ import annotations

import tomllib

from templatekit import REPO


def test_every_package_under_pyflow_cli_is_listed_for_the_wheel() -> None:
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "pyflow_cli").rglob("*.py")
        if "__pycache__" not in init.parts
    }
    assert set(setuptools["packages"]) == on_disk | {"pyflow_cli.templates"}
    assert setuptools["package-dir"] == {"pyflow_cli.templates": "templates"}
