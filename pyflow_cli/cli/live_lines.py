"""The lines of pyflow's live views (``trigger --wait``, ``describe --watch``): a status line and
one line per step, each fitted to the terminal's width.

A step line reads ``<icon> <name> · <state>: <detail>``: the state says when the step moves on
(``retries at 4:02:20 PM (in 8s)``, ``sleeping until 4:03:00 PM (in 53s)``) and comes before the
detail (an error, an output), which is what gives way first when the line is too wide, then the
name. Wake and retry times are the engine's own (the details' ``wakeAt`` / ``retryAt``: shifted by
a pause, shortened by a ``--time-scale``); without them they are worked out from the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from pyflow_cli.cli.doc import LABEL_STYLE, Doc, cell_width, line
from pyflow_cli.cli.formats import (
    distance_strict,
    iso_to_ms,
    js_json,
    locale_time,
    status_text,
    truncate,
)
from pyflow_cli.cli.screens import error_text, retry_due_ms

LIVE_OUTPUT_LIMIT = 60
ELLIPSIS = "…"
MIN_NAME = 8  # a name is never cut shorter than this (the state goes first, at tiny widths)
PAUSED = frozenset({"paused", "waitingForPause"})


def countdown(target_ms: float, now_ms: float) -> str:
    """``in 8s``, ``in 2m 5s``, ``in 1h 3m``, ``in 2d 4h``; ``3s ago`` once past."""
    seconds = round(abs(target_ms - now_ms) / 1000)
    if seconds < 60:
        span = f"{seconds}s"
    else:
        big, small = ((seconds // 60, seconds % 60), "ms") if seconds < 3600 else \
            ((seconds // 3600, seconds % 3600 // 60), "hm") if seconds < 86_400 else \
            ((seconds // 86_400, seconds % 86_400 // 3600), "dh")
        span = f"{big[0]}{small[0]}" + (f" {big[1]}{small[1]}" if big[1] else "")
    return f"in {span}" if target_ms >= now_ms else f"{span} ago"


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` terminal cells, ending in ``…`` if it had to be cut."""
    if cell_width(text) <= width:
        return text
    kept = ""
    for char in text:
        if cell_width(kept + char) > width - 1:
            break
        kept += char
    return kept + ELLIPSIS


def fit(icon: str, name: str, state: str, detail: str, width: int | None, indent: int = 0) -> str:
    """``<icon> <name> · <state>: <detail>`` in ``width`` cells (after ``indent``): the detail
    gives way first, then the name; the state, the part that moves, is kept whole."""
    head = f"{icon} {name}" + (f" · {state}" if state else "")
    full = head + (f"{': ' if state else ' · '}{detail}" if detail else "")
    if width is None or cell_width(full) + indent <= width:
        return full
    room = width - indent
    if cell_width(head) + 4 <= room and detail:  # some of the detail fits
        return head + cut(f"{': ' if state else ' · '}{detail}", room - cell_width(head))
    fixed = cell_width(f"{icon} " + (f" · {state}" if state else ""))
    if room - fixed >= MIN_NAME:
        return f"{icon} {cut(name, room - fixed)}" + (f" · {state}" if state else "")
    return cut(head, room)


def step_line(step: Mapping[str, Any], now_ms: float, tz: tzinfo | None, time_scale: float = 1.0,
              live: bool = True, width: int | None = None, indent: int = 0,
              paused: bool = False) -> str:
    """One line for one step. ``live`` adds countdowns and running times; without it the text
    changes only when the step's state does (for plain progressive output)."""
    name, kind = str(step["name"]), step["type"]
    start = iso_to_ms(step["start"]) if step.get("start") else now_ms
    end = iso_to_ms(step["end"]) if step.get("end") else None

    def shown(icon: str, state: str, detail: str = "") -> str:
        return fit(icon, name, state, detail, width, indent)

    if kind == "sleep":
        if end is not None:
            return shown("💤", f"slept {distance_strict(end, start)}")
        if paused:
            return shown("💤", "sleep paused")
        wake = (iso_to_ms(step["wakeAt"]) if step.get("wakeAt")
                else start + float(step.get("durationMs") or 0) / time_scale)
        when = f" ({countdown(wake, now_ms)})" if live else ""
        return shown("💤", f"sleeping until {locale_time(wake, tz)}{when}")
    if kind == "waitForEvent":
        event = step.get("eventType") or "?"
        if step.get("output") is not None:
            return shown("📨", f'received event "{event}"')
        if step.get("error") is not None:
            return shown("⌛", f'timed out waiting for event "{event}"')
        waited = f" for {distance_strict(now_ms, start)}" if live else ""
        return shown("👀", f'waiting for event "{event}"{waited}')
    attempts = step.get("attempts") or []
    if step.get("success") is True:
        tries = f" (attempt {len(attempts)})" if len(attempts) > 1 else ""
        output = truncate(js_json(step["output"]), LIVE_OUTPUT_LIMIT, ELLIPSIS) \
            if "output" in step else ""
        return fit("✅", name + tries, "", output, width, indent)
    if step.get("success") is False:
        error = attempts[-1].get("error") if attempts else None
        plural = "s" * (len(attempts) != 1)
        return shown("❌", f"failed after {len(attempts)} attempt{plural}",
                     error_text(error) if error else "")
    if not attempts:
        return shown("▶", "starting")
    last = attempts[-1]
    if last.get("success") is False:
        due = iso_to_ms(step["retryAt"]) if step.get("retryAt") else retry_due_ms(step, time_scale)
        when = "unknown" if due is None else locale_time(due, tz)
        if live and due is not None:
            when += f" ({countdown(due, now_ms)})"
        return shown("🔄", f"attempt {len(attempts)} failed · retries at {when}",
                     error_text(last["error"]) if last.get("error") else "")
    running = ""
    if live and last.get("start"):
        running = f" for {distance_strict(now_ms, iso_to_ms(last['start']))}"
    return shown("▶", f"attempt {len(attempts)} running{running}")


def live_summary(workflow: str, details: Mapping[str, Any], now_ms: float, tz: tzinfo | None,
                 time_scale: float = 1.0, width: int | None = None) -> Doc:
    """The compact view ``trigger --wait`` keeps refreshed: a status line and a line per step,
    each at most ``width`` cells."""
    header = f"{status_text(details.get('status'))} · {workflow} · {details['id']}"
    if details.get("start"):
        end = iso_to_ms(details["end"]) if details.get("end") else now_ms
        header += f" · {distance_strict(end, iso_to_ms(details['start']))}"
    doc: Doc = [line(cut(header, width) if width else header, LABEL_STYLE)]
    paused = details.get("status") in PAUSED
    for step in details.get("steps", []):
        doc.append(line("  " + step_line(step, now_ms, tz, time_scale, width=width, indent=2,
                                         paused=paused)))
    return doc
