"""An engine's presence in the store: it registers itself (its process, its code, its kind,
its workflows, its start), beats its heart (renewing its leases, saying it is alive and looking
at what other processes asked) and, when it starts, forgets the engines that are gone: those
on this machine whose process died, and those whose heartbeat stopped three leases ago."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import TYPE_CHECKING

from pyflow_cli.engine.engine_rules import EngineRules
from pyflow_cli.engine.errors import StateLostError
from pyflow_cli.engine.leases import LeaseKeeper
from pyflow_cli.engine.processes import process_alive
from pyflow_cli.engine.signals import Signals
from pyflow_cli.engine.store import EngineRecord
from pyflow_cli.engine.supervisor import Outage, report_error, report_warning

if TYPE_CHECKING:
    from pyflow_cli.engine.worker import Engine


class Presence:
    """The registration and heartbeat of one engine."""

    def __init__(self, engine: Engine, leases: LeaseKeeper, signals: Signals,
                 rules: EngineRules) -> None:
        self.engine = engine
        self._leases = leases
        self._signals = signals
        self._rules = rules
        self._started_ms: float | None = None

    async def register(self) -> None:
        """Forget the engines that are gone, then register this one."""
        engine = self.engine
        stale_before = engine.clock.now_ms() - 3 * engine.options.lease_ms
        for other in await engine.store.list_engines():
            if not process_alive(other.pid, other.host) or other.heartbeat_ms < stale_before:
                await engine.store.unregister_engine(other.id)
        self._started_ms = engine.clock.now_ms()
        await engine.store.register_engine(self.record(self._started_ms))
        await self._rules.record_versions(engine.version, engine.workflows)

    def record(self, heartbeat_ms: float) -> EngineRecord:
        engine = self.engine
        return EngineRecord(engine.id, os.getpid(), socket.gethostname(), heartbeat_ms,
                            engine.version, engine.kind, tuple(engine.workflows), self._started_ms)

    async def heartbeat(self) -> None:
        """Beat until the engine stops (a loop of the engine's); a failed beat is tried again."""
        interval = min(self.engine.options.lease_ms / 3000.0, 1.0)
        outage = Outage("engine's heartbeat (renewing leases in the store)", report_error,
                        report_warning)
        while self.engine.started:
            try:
                await self._beat()
            except StateLostError as lost:
                self.engine.fail(lost.message)
                return
            except Exception as error:  # the store failed: try again, and again
                await asyncio.sleep(outage.failed(error))
                continue
            outage.succeeded()
            await asyncio.sleep(interval)

    async def _beat(self) -> None:
        engine = self.engine
        await self._leases.renew()
        await engine.store.register_engine(self.record(engine.clock.now_ms()))
        await self._rules.record_versions(engine.version, engine.workflows)
        await self._signals.check_all()
