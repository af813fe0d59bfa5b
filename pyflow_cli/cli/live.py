"""Views that follow an instance while it runs: ``trigger --wait``, ``describe --watch`` and
``logs --follow``.

On a terminal the view is redrawn in place (Rich ``Live``), with countdowns to the next retry or
wake-up. Anywhere else it degrades to plain lines, one per change, with no ANSI codes, so a log
file or a CI job reads as a story.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rich.live import Live

from pyflow_cli.api import InstanceDetails, WorkflowApi
from pyflow_cli.cli.doc import Doc, line
from pyflow_cli.cli.formats import status_text
from pyflow_cli.cli.invocation import Invocation
from pyflow_cli.cli.live_lines import step_line
from pyflow_cli.cli.render import doc_text
from pyflow_cli.cli.screens import log_json, log_lines
from pyflow_cli.engine.status import TERMINAL_STATUSES

QUIET_STATUSES = frozenset({"running", "waiting"})  # flip often; the step lines tell the story

Draw = Callable[[InstanceDetails, float], Doc]


def fit_height(doc: Doc, height: int) -> Doc:
    """The last lines of ``doc`` that fit ``height`` rows, saying how many were left out."""
    if len(doc) <= height or height < 2:
        return doc
    keep = doc[len(doc) - height + 1:]
    return [line(f"… {len(doc) - len(keep)} more lines above", "dim"), *keep]


async def follow(inv: Invocation, backend: WorkflowApi, workflow: str, instance_id: str, draw: Draw,
                 time_scale: float = 1.0, quiet: bool = False) -> InstanceDetails:
    """Poll the instance until it finishes; returns its final details."""
    if inv.ui.interactive and not quiet:
        return await _follow_live(inv, backend, workflow, instance_id, draw)
    return await _follow_plain(inv, backend, workflow, instance_id, time_scale, quiet)


async def _follow_live(inv: Invocation, backend: WorkflowApi, workflow: str, instance_id: str,
                       draw: Draw) -> InstanceDetails:
    console = inv.ui.out
    with Live(console=console, auto_refresh=False, transient=True,
              vertical_overflow="crop") as live:
        while True:
            details = await backend.describe(workflow, instance_id)
            live.update(doc_text(fit_height(draw(details, inv.now_ms()), console.height - 1)),
                        refresh=True)
            if details["status"] in TERMINAL_STATUSES:
                return details
            await asyncio.sleep(inv.state.runtime.poll_s)


async def _follow_plain(inv: Invocation, backend: WorkflowApi, workflow: str, instance_id: str,
                        time_scale: float, quiet: bool) -> InstanceDetails:
    shown: dict[str, str] = {}
    status = None
    while True:
        details = await backend.describe(workflow, instance_id)
        if not quiet:
            changed = status is not None and details["status"] != status
            if changed and details["status"] not in QUIET_STATUSES | TERMINAL_STATUSES:
                inv.ui.print(status_text(details["status"]))
            status = details["status"]
            for step in details["steps"]:
                text = step_line(step, inv.now_ms(), inv.tz, time_scale, live=False)
                if shown.get(str(step["name"])) != text:
                    shown[str(step["name"])] = text
                    inv.ui.print("  " + text)
        if details["status"] in TERMINAL_STATUSES:
            return details
        await asyncio.sleep(inv.state.runtime.poll_s)


async def print_log(inv: Invocation, backend: WorkflowApi, workflow: str, instance_id: str,
                    follow_log: bool, as_json: bool) -> None:
    """Print the instance's event log; with ``follow_log``, keep printing until it finishes."""
    instance_id = (await backend.resolve(workflow, instance_id)).id
    seq = 0
    while True:
        status = (await backend.resolve(workflow, instance_id)).status.value if follow_log else None
        for row in await backend.read_log(workflow, instance_id, seq):
            seq = row.seq
            if as_json:
                inv.ui.json_line(log_json(row))
            else:
                for text in log_lines(row, inv.tz):
                    inv.ui.print(text)
        if not follow_log or status in TERMINAL_STATUSES:
            return
        await asyncio.sleep(inv.state.runtime.poll_s)
