"""An engine process for the crash tests: runs a fixed set of instances until all are finished.

    python crash_worker.py STORE JOURNAL MODE INSTANCES STEPS

STORE is a state directory (SQLite) or a store URL (``postgresql://...``).

Every step body appends ``start`` and ``done`` lines to JOURNAL (with O_APPEND, so a SIGKILL
never leaves a torn line) and returns a fresh random token; the test compares the journal with
what the store kept. MODE ``steps`` runs plain steps; ``mixed`` adds sleeps that hibernate,
first attempts that fail and retry, and a wait for an event this process sends itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import uuid
from pathlib import Path
from typing import Any

from pyflow_cli.engine.clock import SystemClock
from pyflow_cli.engine.entrypoint import WorkflowDefinition, WorkflowEntrypoint
from pyflow_cli.engine.errors import DuplicateInstanceError
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.engine.worker import Engine
from pyflow_cli.service import WorkflowInfo, WorkflowService
from pyflow_cli.storage.factory import build_store
from pyflow_cli.storage.url import DB_NAME, SqliteLocation, StoreLocation, parse_store_url

STORE, JOURNAL, MODE = sys.argv[1], sys.argv[2], sys.argv[3]
INSTANCES, STEPS = int(sys.argv[4]), int(sys.argv[5])
journal_fd = os.open(JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def note(**entry: Any) -> None:
    os.write(journal_fd, (json.dumps(entry) + "\n").encode())


def body(instance: str, name: str, fail_first: bool) -> Any:
    async def run(ctx: Any) -> str:
        note(kind="start", i=instance, s=name, attempt=ctx.attempt)
        await asyncio.sleep(0.03 + random.random() * 0.06)
        if fail_first and ctx.attempt == 1:
            raise RuntimeError("first attempt fails")
        token = uuid.uuid4().hex
        note(kind="done", i=instance, s=name, token=token)
        return token
    return run


class Crashy(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        tokens = []
        mixed = MODE == "mixed"
        for k in range(STEPS):
            name = f"s{k}"
            # More retries than the test kills the process: interrupted attempts count as failed.
            config = {"retries": {"limit": 10, "delay": "100 ms", "backoff": "constant"}}
            fails_first = mixed and k % 4 == 1
            tokens.append(await step.do(name, body(event.instanceId, name, fails_first), config=config))
            if mixed and k == 3:
                await step.sleep("nap", "300 ms")
            if mixed and k == 6:
                await step.wait_for_event("go", "go", timeout="1 hour")
        return tokens


def location(store: str) -> StoreLocation:
    if "://" in store:
        return parse_store_url(store, Path.cwd())
    return SqliteLocation(Path(store) / DB_NAME)


async def send_events(service: WorkflowService, store: Any) -> None:
    """Keep one undelivered "go" event queued for each unfinished instance."""
    while True:
        for i in range(INSTANCES):
            record = await store.get_instance("crashy", f"i{i}")
            unfinished = record is not None and not record.status.is_terminal
            if unfinished and record is not None and not await store.load_inbox(record.iid):
                await service.send_event("crashy", record.id, "go", {"i": i})
        await asyncio.sleep(0.2)


async def main() -> None:
    store = build_store(location(STORE))
    await store.open()
    clock = SystemClock()
    engine = Engine(store, {"crashy": WorkflowDefinition("crashy", Crashy)}, clock,
                    EngineOptions(hibernate_after_ms=50, lease_ms=5000, poll_interval_s=0.05))
    service = WorkflowService(store, {"crashy": WorkflowInfo("crashy", "Crashy", "crashy")}, clock,
                              engine)
    for i in range(INSTANCES):
        with contextlib.suppress(DuplicateInstanceError):  # created by an earlier, killed run
            await service.create("crashy", f"i{i}", {"i": i})
    await engine.start()
    sender = asyncio.create_task(send_events(service, store)) if MODE == "mixed" else None
    while True:
        counts = await store.status_counts("crashy")
        if sum(counts.get(s, 0) for s in ("complete", "errored", "terminated")) == INSTANCES:
            break
        await asyncio.sleep(0.05)
    if sender is not None:
        sender.cancel()
    await engine.stop()
    await store.close()
    print(json.dumps(counts), flush=True)


asyncio.run(main())
