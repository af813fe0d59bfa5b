"""``pyflow workflows instances delete NAME --older-than 7d [--status S] [--yes]``: delete the
finished instances of a workflow by age, by hand, as ``--retention`` does in the background."""

from __future__ import annotations

import typer

from pyflow_cli.cli.invocation import Invocation, run
from pyflow_cli.engine.admission import format_period, parse_period_ms
from pyflow_cli.engine.errors import InvalidInputError
from pyflow_cli.engine.status import TERMINAL_STATUSES

FINISHED = sorted(s.value for s in TERMINAL_STATUSES)


def delete_older_than(inv: Invocation, name: str, older_than: str, statuses: list[str],
                      yes: bool, json_output: bool) -> None:
    """Count what would go, ask (on a terminal, unless ``yes``), delete, say how many."""
    older_than_ms = parse_period_ms(older_than, "--older-than")
    for status in statuses:
        if status not in FINISHED:
            raise InvalidInputError(f'--status must be one of {", ".join(FINISHED)} when deleting '
                                    f'by age (got "{status}"): only finished instances go.')
    which = _which(name, statuses, older_than_ms)
    ended_before_ms = inv.now_ms() - older_than_ms

    async def count() -> int:
        async with inv.connect() as backend:
            return await backend.count_finished_before(name, ended_before_ms, statuses)

    async def delete() -> int:
        async with inv.connect() as backend:
            return await backend.delete_finished_before(name, ended_before_ms, statuses)

    if not yes:
        matched = run(count())
        if not matched:
            _report(inv, json_output, 0, which)
            return
        if not inv.state.runtime.can_ask():
            raise InvalidInputError(f"Deleting {_instances(matched)} ({which}) cannot be undone, "
                                    "and there is no terminal to confirm it on: pass --yes to "
                                    "delete them.")
        if not typer.confirm(f"Delete {_instances(matched)} ({which}) and all their state?",
                             default=False):
            inv.ui.note("Nothing was deleted.")
            raise typer.Exit(1)
    _report(inv, json_output, run(delete()), which)


def _which(name: str, statuses: list[str], older_than_ms: float) -> str:
    kinds = " or ".join(statuses) if statuses else "finished"
    return f'{kinds} instances of workflow "{name}" that ended more than ' \
           f"{format_period(older_than_ms)} ago"


def _report(inv: Invocation, json_output: bool, deleted: int, which: str) -> None:
    if json_output:
        inv.ui.json({"deleted": deleted})
    elif deleted:
        inv.ui.success(f"🗑️  Deleted {_instances(deleted)}: {which}.")
    else:
        inv.ui.note(f"Nothing to delete: no {which}.")


def _instances(count: int) -> str:
    return f"{count:,} instance{'s' if count != 1 else ''}"
