"""Single creates joined into batches: the instances that ``WorkflowService.create`` is asked for
in the same turn of the event loop are written by one store call, as ``create_batch`` writes
them.

A server creates an instance per request (the Worker's binding, the API). One store write each
cost the writer an operation, the loop a future and a hand-over, and the engine a separate
adoption; in W1 through the server, joining them took about a tenth off the CPU per step. Only
creates with a generated id are joined (a batch never holds one id twice, so every caller's
answer is the one a write of its own would give); a failed write fails every caller in it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from pyflow_cli.engine.changes import NewInstance
from pyflow_cli.engine.limits import MAX_BATCH_SIZE

Insert = Callable[[str, list[NewInstance]], Coroutine[Any, Any, list["int | None"]]]
_Waiting = list[tuple[NewInstance, "asyncio.Future[int | None]"]]


class CreateCoalescer:
    """Collects the creates of each workflow until the loop's next turn (or ``MAX_BATCH_SIZE``),
    then writes them with one ``insert(workflow, news)``."""

    def __init__(self, insert: Insert) -> None:
        self._insert = insert
        self._waiting: dict[str, _Waiting] = {}
        self._writing: set[asyncio.Task[list[int | None]]] = set()  # the loop keeps weak refs

    async def insert(self, workflow: str, new: NewInstance) -> int | None:
        """The new instance's iid, or None if it was not created (as ``insert`` answers)."""
        loop = asyncio.get_running_loop()
        waiting = self._waiting.get(workflow)
        if waiting is None or len(waiting) >= MAX_BATCH_SIZE:
            waiting = self._waiting[workflow] = []
            loop.call_soon(self._write, workflow, waiting)
        future: asyncio.Future[int | None] = loop.create_future()
        waiting.append((new, future))
        return await future

    def _write(self, workflow: str, waiting: _Waiting) -> None:
        if self._waiting.get(workflow) is waiting:
            del self._waiting[workflow]
        written = asyncio.get_running_loop().create_task(
            self._insert(workflow, [new for new, _ in waiting]))
        self._writing.add(written)

        def answer(done: asyncio.Task[list[int | None]]) -> None:
            self._writing.discard(done)
            error = None if done.cancelled() else done.exception()
            for index, (_, future) in enumerate(waiting):
                if future.done():  # its caller gave up waiting
                    continue
                if done.cancelled():
                    future.cancel()
                elif error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(done.result()[index])

        written.add_done_callback(answer)
