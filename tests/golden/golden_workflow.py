"""The workflow behind the golden state files: a step, a long sleep, an event wait, a step."""

from __future__ import annotations

from typing import Any

from pyflow_cli.engine.entrypoint import WorkflowEntrypoint

ran: list[str] = []


class Golden(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> Any:
        first = await step.do("first", lambda: ran.append("first") or {"n": event.payload.n})
        await step.sleep("nap", "1 hour")
        got = await step.wait_for_event("go", "go", timeout="1 day")
        second = await step.do("second", lambda: ran.append("second") or first.n + got.payload)
        return second
