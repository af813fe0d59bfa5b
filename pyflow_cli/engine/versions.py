"""Versions of the user's code. Each load of a project's code has a version id (a hash of its
sources, ``project/imports.py``); the store numbers the ids in the order it first sees them, so
that people can speak of ``v3`` and see when it appeared. Instances record the version they
were created (or restarted) on, and each attempt the version it ran on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyflow_cli.engine.errors import InvalidInputError

if TYPE_CHECKING:
    from pyflow_cli.engine.store_rules import RulesStore


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


class VersionBook:
    """The versions one service works with: it numbers a version before the first instance
    that records it is created, and keeps the labels (a version's number never changes once
    given, so they are read from the store again only when an unknown id turns up)."""

    def __init__(self, store: RulesStore) -> None:
        self.store = store
        self._recorded: set[str] = set()
        self._labels: dict[str, str] = {}

    async def record(self, version_id: str | None, now_ms: float) -> None:
        if version_id is not None and version_id not in self._recorded:
            await self.store.record_version(version_id, now_ms)
            self._recorded.add(version_id)

    async def labels(self, ids: Iterable[str | None] = ()) -> dict[str, str]:
        """Version id -> label (``v2``)."""
        if not self._labels or any(i is not None and i not in self._labels for i in ids):
            self._labels = labels(await self.store.list_versions(count=False))
        return self._labels

    async def id_of(self, version: str) -> str:
        """The id of the version called ``version`` (a label such as ``v2``, or an id)."""
        return find_version(version, await self.store.list_versions(count=False)).id
