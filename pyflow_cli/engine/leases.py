"""How an engine keeps the leases it runs instances under, and what it does when it cannot.

An engine renews its leases at each heartbeat. A renewal that leaves an instance out says the
instance is no longer this engine's (another took it over after the lease ran out, or it was
released): its lifetime ends at once. A renewal that does not come back at all (the store is
down, the network dropped) says nothing, and the lease may run out any moment: once a lease
went ``GUARD_SHARE`` of its time unconfirmed, the engine stops running the instance, before
another engine may claim it, and says so in one line per outage.

Times here are the event loop's (monotonic, real seconds), not the engine's clock: a lease runs
out in real time, while a test's manual clock jumps. A lease is taken as confirmed from the
moment its claim or renewal was sent, never later, so the guard errs on the safe side.

A lease that could not be released when its lifetime ended (the store failed at that moment)
is released once the store answers again, so that its instance is taken up at once instead of
when the lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pyflow_cli.engine.changes import Change, InstanceUpdate
from pyflow_cli.engine.store import Lease, LeaseLost

if TYPE_CHECKING:
    from pyflow_cli.engine.worker import Engine

GUARD_SHARE = 0.8
"""Stop running an instance once this share of its lease went by unconfirmed."""
_log = logging.getLogger("pyflow")


class LeaseKeeper:
    """When each lease this engine runs an instance under was last confirmed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lease_s = engine.options.lease_ms / 1000.0
        self._confirmed: dict[int, float] = {}
        self._unreleased: dict[int, Lease] = {}
        self._said = False  # the guard's line was written for this outage

    @property
    def guard_s(self) -> float:
        """How long a lease may go unconfirmed before its instance stops running here."""
        return self.lease_s * GUARD_SHARE

    def confirm(self, iids: Iterable[int], at: float) -> None:
        """The leases of ``iids`` were claimed or renewed by a write sent at ``at`` (loop time)."""
        for iid in iids:
            if self._confirmed.get(iid, at) <= at:
                self._confirmed[iid] = at

    def confirm_expiry(self, iid: int, expires_ms: float) -> None:
        """The lease of ``iid`` runs until ``expires_ms`` on the engine's clock."""
        ahead_s = (expires_ms - self.engine.clock.now_ms()) / 1000.0
        self.confirm([iid], asyncio.get_running_loop().time() + ahead_s - self.lease_s)

    def forget(self, iid: int) -> None:
        self._confirmed.pop(iid, None)

    def unreleased_count(self) -> int:
        """How many leases this engine still holds without running their instances."""
        return len(self._unreleased)

    def unreleased(self, iid: int, lease: Lease) -> None:
        """``lease`` could not be released (the store failed): release it once it answers."""
        self._unreleased[iid] = lease

    async def renew(self) -> None:
        """Renew the leases of the instances this engine works on (only those: one whose lease
        could not be released must not be kept alive), end the lifetimes whose lease is gone,
        and release what an outage kept from being released."""
        engine = self.engine
        running = {iid: engine.lifetime(iid) for iid in engine.running_iids()}
        sent = asyncio.get_running_loop().time()
        renewed = set(await engine.store.renew_leases(
            engine.id, engine.clock.now_ms() + engine.options.lease_ms,
            [*running, *engine.held_iids()]))
        self.confirm(renewed, sent)
        self._said = False
        for iid, life in running.items():
            # Only the lifetime the renewal was for: one launched meanwhile (the instance was
            # released, then claimed again) holds a lease of its own.
            if iid not in renewed and life is not None and engine.lifetime(iid) is life:
                engine.lease_gone(iid)
        for iid, lease in list(self._unreleased.items()):
            if engine.lifetime(iid) is None:  # claimed again meanwhile: its lease is in use
                with contextlib.suppress(LeaseLost):
                    await engine.store.commit(Change(iid, fence=lease, instance=InstanceUpdate(
                        lease_owner=None, lease_expires=None)))
            del self._unreleased[iid]

    def holds(self, iid: int) -> bool:
        """Whether this engine surely still holds the lease of ``iid``: a lifetime asks before
        each attempt, so that an engine that was frozen (SIGSTOP, a long pause) starts no body
        when it wakes up, before its guard even looked. A stale lease stops its lifetime."""
        at = self._confirmed.get(iid)
        now = asyncio.get_running_loop().time()
        if at is None or now - at <= self.guard_s:
            return True
        self._lapse([iid], now)
        return False

    async def guard(self) -> None:
        """Stop running the instances whose leases went unconfirmed too long (a loop of the
        engine's)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.guard_s / 8)
            now = loop.time()
            lapsing = [iid for iid, at in self._confirmed.items() if now - at > self.guard_s]
            if lapsing:
                self._lapse(lapsing, now)

    def _lapse(self, iids: list[int], now: float) -> None:
        stopped = {iid: self._confirmed.pop(iid) for iid in iids}
        for iid in iids:
            lease = self.engine.lease_lapsed(iid)
            if lease is None:
                del stopped[iid]  # not running here any more
            else:
                self.unreleased(iid, lease)
        if stopped and not self._said:
            self._said = True
            count = len(stopped)
            _log.error("pyflow: this engine could not renew its leases for %.1f s; it stops "
                       "running %d instance%s before their leases can run out: they resume "
                       "from their last committed step, here or on another engine",
                       now - min(stopped.values()), count, "" if count == 1 else "s")
