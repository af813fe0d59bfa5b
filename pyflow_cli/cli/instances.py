"""``pyflow workflows instances ...``: list, describe, follow and control workflow instances.

Every command taking an instance id also takes ``latest``: the newest instance of the workflow.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pyflow_cli.cli import instance_control
from pyflow_cli.cli.formats import parse_date_option
from pyflow_cli.cli.invocation import begin, run
from pyflow_cli.cli.options import (
    InstanceId,
    JsonOutput,
    OptionalInstanceId,
    StatusFilter,
    WorkflowName,
)
from pyflow_cli.engine.clock import iso_ms
from pyflow_cli.engine.errors import InvalidInputError
from pyflow_cli.engine.status import (
    TERMINAL_STATUSES,
    parse_status,
)
from pyflow_cli.engine.versions import labels

if TYPE_CHECKING:
    from pyflow_cli.api import InstanceDetails, InstanceSummary

app = typer.Typer(no_args_is_help=True, help="List, describe, follow and control Workflow instances.")

MAX_PER_PAGE = 100


def _check_status(status: str | None) -> str | None:
    if status is None:
        return None
    try:
        return parse_status(status).value
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None


def _row(record: InstanceSummary, labels: dict[str, str]) -> dict[str, str | None]:
    """An instance as the local API lists it: ``{id, status, created_on}``, and the version of
    the code it records (pyflow's addition)."""
    return {"id": record.id, "status": record.status.value, "created_on": iso_ms(record.created_ms),
            "versionId": record.version_id, "version": labels.get(record.version_id or "")}


# -- reading -------------------------------------------------------------------------------------------
@app.command("list")
def list_instances(
    ctx: typer.Context,
    name: WorkflowName,
    status: StatusFilter = None,
    page: Annotated[int, typer.Option("--page", metavar="N", help="Page of the listing to show.")] = 1,
    per_page: Annotated[int, typer.Option(
        "--per-page", metavar="N", help=f"Instances per page (at most {MAX_PER_PAGE}).")] = 25,
    reverse: Annotated[bool, typer.Option("--reverse", help="Oldest first.")] = False,
    date_start: Annotated[str | None, typer.Option(
        "--date-start", metavar="DATE", help="Only instances created at or after DATE (ISO 8601: "
                                             "2026-01-31 or 2026-01-31T13:00:00Z; UTC unless an "
                                             "offset is given).", show_default=False)] = None,
    date_end: Annotated[str | None, typer.Option(
        "--date-end", metavar="DATE", help="Only instances created at or before DATE; a date "
                                           "without a time covers the whole UTC day.",
        show_default=False)] = None,
    version: Annotated[str | None, typer.Option(
        "--version", metavar="VERSION", help="Only instances that record this version of the "
        "code: a label such as v2, or a version id (see `pyflow versions list`).",
        show_default=False)] = None,
    json_output: JsonOutput = False,
) -> None:
    """List the instances of a Workflow, newest first, a page at a time."""
    checked = _check_status(status)
    if page < 1:
        raise InvalidInputError(f"--page must be 1 or more (got {page}).")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInputError(f"--per-page must be between 1 and {MAX_PER_PAGE} (got {per_page}).")
    start_ms = parse_date_option(date_start, "--date-start") if date_start else None
    end_ms = parse_date_option(date_end, "--date-end", end=True) if date_end else None
    if start_ms is not None and end_ms is not None and start_ms > end_ms:
        raise InvalidInputError(
            f"--date-start ({iso_ms(start_ms)}) must not be after --date-end ({iso_ms(end_ms)}). "
            "Update --date-start or --date-end so --date-start is before or equal to --date-end.")
    inv = begin(ctx, name)

    async def fetch() -> tuple[Any, dict[str, str]]:
        async with inv.connect() as backend:
            found = await backend.list_instances(
                name, status=checked, page=page, per_page=per_page, created_from_ms=start_ms,
                created_to_ms=end_ms, newest_first=not reverse, version=version)
            recorded = any(record.version_id for record in found.instances)
            return found, (labels(await backend.list_versions(count=False)) if recorded else {})

    listing, version_labels = run(fetch())
    rows = [_row(record, version_labels) for record in listing.instances]
    if json_output:
        inv.ui.json(rows)
        return
    if not listing.instances:
        if page > 1:
            inv.ui.warn(f"No instances found on page {page}. Please try a smaller page number.")
        elif checked or start_ms is not None or end_ms is not None or version is not None:
            inv.ui.warn(f'No instances in workflow "{name}" matched the provided filters.')
        else:
            inv.ui.warn(f'There are no instances in workflow "{name}". You can trigger it with '
                        f'"pyflow workflows trigger {name}"')
        return
    from pyflow_cli.cli.screens import instances_table

    inv.ui.doc(instances_table(rows, page, inv.tz, inv.ui.max_width))
    pages = math.ceil(listing.total / per_page)
    if page < pages:
        inv.ui.note(f"Page {page} of {pages} ({listing.total} instances): the next with --page {page + 1}.")


@app.command("describe")
def describe(
    ctx: typer.Context,
    name: WorkflowName,
    instance_id: OptionalInstanceId = "latest",
    step_output: Annotated[bool, typer.Option(
        "--step-output/--no-step-output", help="Show each step's output.")] = True,
    truncate_output_limit: Annotated[int, typer.Option(
        "--truncate-output-limit", min=0, metavar="N",
        help="Cut step outputs longer than N characters.")] = 5000,
    watch: Annotated[bool, typer.Option(
        "--watch", help="Keep the view refreshed until the instance finishes.")] = False,
    json_output: JsonOutput = False,
) -> None:
    """Describe an instance: status, timing, every step with its attempts, retries and output."""
    from pyflow_cli.cli.screens import instance_details

    inv = begin(ctx, name)

    def draw(details: InstanceDetails, now_ms: float) -> Any:
        return instance_details(name, details, now_ms, inv.tz, step_output=step_output,
                                output_limit=truncate_output_limit, max_width=inv.ui.max_width)

    async def fetch() -> InstanceDetails:
        async with inv.connect() as backend:
            details = await backend.describe(name, instance_id)
            if instance_id == "latest" and not json_output:
                inv.ui.print(f'Latest instance is "{details["id"]}"')
            if watch and details["status"] not in TERMINAL_STATUSES:
                from pyflow_cli.cli.live import follow

                if not await backend.engine_attached():
                    inv.no_engine_note("the instance moves on")
                details = await follow(inv, backend, name, details["id"], draw, quiet=json_output)
            return details

    details = run(fetch())
    if json_output:
        inv.ui.json(details)
    else:
        inv.ui.doc(draw(details, inv.now_ms()))


@app.command("logs")
def logs(
    ctx: typer.Context,
    name: WorkflowName,
    instance_id: InstanceId,
    follow_log: Annotated[bool, typer.Option(
        "--follow", "-f", help="Keep printing new events until the instance finishes.")] = False,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object per event.")] = False,
) -> None:
    """Print an instance's event log: time, event, step and details, one event per line."""
    from pyflow_cli.cli.live import print_log

    inv = begin(ctx, name)

    async def show() -> None:
        async with inv.connect() as backend:
            if (follow_log and (await backend.resolve(name, instance_id)).status not in TERMINAL_STATUSES
                    and not await backend.engine_attached()):
                inv.no_engine_note("the instance moves on")
            await print_log(inv, backend, name, instance_id, follow_log, json_output)

    run(show())


# The control commands (instance_control.py), after these in the help.
for _name, _command in (
        ("pause", instance_control.pause),
        ("resume", instance_control.resume),
        ("terminate", instance_control.terminate),
        ("restart", instance_control.restart),
        ("send-event", instance_control.send_event),
        ("delete", instance_control.delete),
        ("terminate-all", instance_control.terminate_all),
):
    app.command(_name)(_command)
