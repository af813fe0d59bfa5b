"""The part of the storage port a cluster of processes needs beyond instances: wake-up notes
between engines (``engine/wakeups.py``) and roles, duties one process does at a time (firing
crons). ``Store`` includes it; the contract suite checks it for every backend
(``tests/storage/test_store_cluster.py``). Role writes are ordered with the store's other
writes (``Store``'s "one order")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pyflow_cli.engine.wakeups import WakeupFeed


class ClusterStore(Protocol):
    def wakeups(self) -> WakeupFeed | None:
        """The store's notes to engines, or None if it has none (engines then poll often)."""
        ...

    async def hold_role(self, role: str, holder: str, now_ms: float, until_ms: float) -> bool:
        """Take or keep ``role`` (a duty one process of a cluster does, such as firing crons)
        for ``holder`` until ``until_ms``: True if ``holder`` has it now (nobody had it, its
        holder's time ran out (``expires < now_ms``), or it had it). Never two holders at once."""
        ...

    async def release_role(self, role: str, holder: str) -> None:
        """Give ``role`` up, if ``holder`` has it (another process may then take it at once)."""
        ...
