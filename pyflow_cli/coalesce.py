"""Single creates joined into batches: the instances that ``WorkflowService.create`` is asked for
in the same turn of the event loop are written by one store call, as ``create_batch`` writes
them.

A server creates an instance per request (the Worker's binding, the API). One store write each
cost the writer an operation, the loop a future and a hand-over, and the engine a separate
adoption; in W1 through the server, joining them took about a tenth off the CPU per step. Only
creates with a generated id are joined (a batch never holds one id twice, so every caller's
answer is the one a write of its own would give); a failed write fails every caller in it.

The platform's creation limits (``--max-queued``, a plan's creation rate) refuse a store call as
a whole when it would pass them, which is right for ``create_batch`` but not for joined creates:
each of those is admitted or refused on its own. A joined write refused by a limit is therefore
written again one create at a time, in the order they were asked for, so each caller gets the
answer a create of its own would have got: the first ones that fit are created, the rest get
the 429 error. The retry costs one store call per create, only when a limit is reached.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from pyflow_cli.engine.changes import NewInstance
from pyflow_cli.engine.errors import TooManyRequestsError
from pyflow_cli.engine.limits import MAX_BATCH_SIZE

Insert = Callable[[str, list[NewInstance]], Coroutine[Any, Any, list["int | None"]]]
_Waiting = list[tuple[NewInstance, "asyncio.Future[int | None]"]]
_Outcome = int | None | TooManyRequestsError  # a create's iid, None, or the limit that refused it


class CreateCoalescer:
    """Collects the creates of each workflow until the loop's next turn (or ``MAX_BATCH_SIZE``),
    then writes them with one ``insert(workflow, news)``."""

    def __init__(self, insert: Insert) -> None:
        self._insert = insert
        self._waiting: dict[str, _Waiting] = {}
        self._writing: set[asyncio.Task[list[_Outcome]]] = set()  # the loop keeps weak refs

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
            self._outcomes(workflow, [new for new, _ in waiting]))
        self._writing.add(written)

        def answer(done: asyncio.Task[list[_Outcome]]) -> None:
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
                    outcome = done.result()[index]
                    if isinstance(outcome, TooManyRequestsError):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)

        written.add_done_callback(answer)

    async def _outcomes(self, workflow: str, news: list[NewInstance]) -> list[_Outcome]:
        """Each create's outcome: one write for all, or, if a limit refuses that, one each."""
        try:
            return list(await self._insert(workflow, news))
        except TooManyRequestsError:
            if len(news) == 1:
                raise
        outcomes: list[_Outcome] = []
        for new in news:
            try:
                [iid] = await self._insert(workflow, [new])
            except TooManyRequestsError as refused:
                outcomes.append(refused)
            else:
                outcomes.append(iid)
        return outcomes
