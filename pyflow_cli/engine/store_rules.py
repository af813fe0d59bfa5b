"""The part of the storage port the platform's rules need (``engine/retention.py``,
``engine/versions.py``): purging finished instances and numbering versions of the code.
``Store`` includes it; the contract suite checks it for every backend
(``tests/storage/test_store_retention.py``, ``test_store_versions.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pyflow_cli.engine.retention import PurgeQuery
    from pyflow_cli.engine.versions import VersionRecord


class RulesStore(Protocol):
    async def purge_finished(self, query: PurgeQuery, limit: int) -> int:
        """Delete at most ``limit`` of the finished instances ``query`` selects (ended before
        its time: the store keeps when each instance reached a finished status), with every row
        they own, in one short transaction; returns how many. An instance that is not finished
        or is leased is never deleted. Space freed is given back to the file system (SQLite:
        incremental vacuum)."""
        ...

    async def count_purgeable(self, query: PurgeQuery) -> int:
        """How many instances ``purge_finished`` would delete, without a limit."""
        ...

    async def record_version(self, version_id: str, seen_ms: float) -> VersionRecord:
        """Number ``version_id`` (1, 2, 3... in the order versions are first recorded in the
        store) unless it has a number already; returns it with its first-seen time."""
        ...

    async def list_versions(self, count: bool = True) -> list[VersionRecord]:
        """Every version recorded, oldest first, with the number of instances that record it
        (0 unless ``count``: counting reads every instance's version)."""
        ...
