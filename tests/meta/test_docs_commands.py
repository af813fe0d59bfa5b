"""The docs' commands run on any machine: no interpreter at a path of the machine they were
written on, and the README says what its test command costs."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ABSOLUTE_INTERPRETER = re.compile(r"(?<![\w.])/[\w.-]+(?:/[\w.-]+)*/bin/python[\d.]*")


def _docs() -> list[Path]:
    return [REPO / "README.md", REPO / "benchmarks" / "README.md",
            *sorted((REPO / "docs").glob("*.md"))]


def test_no_doc_runs_an_interpreter_at_an_absolute_path() -> None:
    found = [f"{path.relative_to(REPO)}: {match.group()}" for path in _docs()
             for match in ABSOLUTE_INTERPRETER.finditer(path.read_text(encoding="utf-8"))]
    assert not found, "use the project's own .venv/bin/python: " + ", ".join(found)


def test_the_readme_says_how_long_its_test_command_takes() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    after = readme.split(".venv/bin/python -m pytest -q\n```", 1)[1].split("##", 1)[0]
    assert re.search(r"\d+ on 2 cores", after) and "tests/engine" in after
