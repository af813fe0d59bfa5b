"""What other processes ask of the instances an engine runs: control requests left on an
instance's row and events sent to it, both of which change the row's ``signal``.

The engine looks at every instance it runs at each heartbeat (a second at most: the fallback);
a store that sends wake-up notes (``Store.wakeups``) points it at one instance at once, so a
pause sent from another machine reaches the engine within milliseconds. One look at a time: a
control request must be carried out once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pyflow_cli.engine.lifetime import EndReason
from pyflow_cli.engine.store import InstanceRecord
from pyflow_cli.engine.wakeups import Wakeup, WakeupFeed

if TYPE_CHECKING:
    from pyflow_cli.engine.worker import Engine

_log = logging.getLogger("pyflow")


class Signals:
    """An engine's looks at its instances' signals, and the store's notes that prompt them."""

    def __init__(self, engine: Engine,
                 apply_requested: Callable[[InstanceRecord], Awaitable[None]]) -> None:
        self.engine = engine
        self._apply_requested = apply_requested
        self._lock = asyncio.Lock()
        self._pending: set[int] = set()
        self._everything = False
        self._noted = asyncio.Event()

    def note(self, iid: int | None) -> None:
        """Look at instance ``iid`` (every instance, if None) soon."""
        if iid is None:
            self._everything = True
        else:
            self._pending.add(iid)
        self._noted.set()

    def delivered(self, wakeup: Wakeup) -> None:
        """A store's note: due work wakes the scheduler, a signal is looked at."""
        if wakeup.iid is not None:
            self.note(wakeup.iid)
        else:
            self.engine.wake()
        if wakeup.everything:
            self.note(None)

    async def follow(self, feed: WakeupFeed) -> None:
        """Take the store's notes as they come (a loop of the engine's)."""
        await feed.follow(self.delivered)

    async def watch(self) -> None:
        """Look at what ``note`` asked for, as it is asked (a loop of the engine's)."""
        while True:
            await self._noted.wait()
            self._noted.clear()
            everything, self._everything = self._everything, False
            pending, self._pending = self._pending, set()
            try:
                if everything:
                    await self.check_all()
                else:
                    async with self._lock:
                        for iid in pending:
                            await self._check(iid, None)
            except Exception as error:  # the heartbeat looks again within a second
                _log.debug("pyflow: looking at signalled instances failed (%s: %s)",
                           type(error).__name__, error)

    async def check_all(self) -> None:
        """Look at every instance this engine runs whose signal changed."""
        async with self._lock:
            for iid, signal in await self.engine.store.signalled(self.engine.id):
                await self._check(iid, signal)

    async def _check(self, iid: int, signal: int | None) -> None:
        """Carry out what was asked of instance ``iid`` if its signal is not ``signal`` any
        more (None: read it)."""
        engine = self.engine
        life = engine.lifetime(iid)
        if life is None or life.ended or life.instance.signal == signal:
            return
        record = await engine.store.get_instance_by_iid(iid)
        if record is None:
            await engine.end(iid, EndReason.DELETE)
            return
        if record.signal == life.instance.signal:
            return
        events = await engine.store.load_inbox(iid)
        if record.control:
            await self._apply_requested(record)
        if life.ended:
            # It ended meanwhile (going to sleep, say): what it writes last is guarded by the
            # signal it knew, so that the instance runs again for what arrived.
            return
        # Only now is the signal taken as seen: a look that failed above (the store did not
        # answer) is made again, instead of leaving an event undelivered for good.
        life.instance = record
        for event in events:
            life.deliver(event)
