"""Versions of the user's code. Each load of a project's code has a version id (a hash of its
sources, ``project/imports.py``); the store numbers the ids in the order it first sees them, so
that people can speak of ``v3`` and see when it appeared. Instances record the version they
were created (or restarted) on, and each attempt the version it ran on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyflow_cli.engine.errors import InvalidInputError


@dataclass(frozen=True)
class VersionRecord:
    """A version as the store knows it: its id, its number (``v<number>``), when it was first
    seen, and how many instances record it (when the store was asked to count)."""

    id: str
    number: int
    first_seen_ms: float
    instances: int = 0

    @property
    def label(self) -> str:
        return f"v{self.number}"


def labels(versions: Sequence[VersionRecord]) -> dict[str, str]:
    """Version id -> label."""
    return {version.id: version.label for version in versions}


def find_version(wanted: str, versions: Sequence[VersionRecord]) -> VersionRecord:
    """The version called ``wanted``: a label (``v3``), a whole id, or the start of one id.
    ``InvalidInputError`` listing the known labels if none (or several) match."""
    text = wanted.strip()
    for version in versions:
        if text in (version.label, version.id):
            return version
    matches = [v for v in versions if len(text) >= 4 and v.id.startswith(text)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(v.label for v in versions) or "none yet"
    problem = "matches several versions" if matches else "is not a version this store has seen"
    raise InvalidInputError(f'"{wanted}" {problem} (known: {known}). Give a label such as v2 or '
                            "a version id; `pyflow versions list` shows them.")
