"""``pyflow workflows instances ...``: list, describe, follow and control workflow instances.

Every command taking an instance id also takes ``latest``: the newest instance of the workflow.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pyflow_cli.cli.formats import parse_date_option
from pyflow_cli.cli.invocation import Invocation, begin, parse_json, run
from pyflow_cli.cli.options import (
    InstanceId,
    JsonOutput,
    OptionalInstanceId,
    StatusFilter,
    WorkflowName,
)
from pyflow_cli.engine.clock import iso_ms
from pyflow_cli.engine.errors import InvalidInputError, PyflowError, WorkflowError
from pyflow_cli.engine.status import (
    RULES,
    TERMINAL_STATUSES,
    ControlAction,
    Effect,
    control_effect,
    parse_status,
    statuses_allowing,
)

if TYPE_CHECKING:
    from pyflow_cli.api import InstanceDetails, InstanceSummary

app = typer.Typer(no_args_is_help=True, help="List, describe, follow and control Workflow instances.")

MAX_PER_PAGE = 100
MAX_DELETE = 100
TERMINABLE = tuple(status.value for status in statuses_allowing(ControlAction.TERMINATE))
RESTART_STEP_TYPES = ("do", "sleep", "waitForEvent")


def _check_status(status: str | None) -> str | None:
    if status is None:
        return None
    try:
        return parse_status(status).value
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None


def _row(record: InstanceSummary) -> dict[str, str]:
    """An instance as the local API lists it: ``{id, status, created_on}``."""
    return {"id": record.id, "status": record.status.value, "created_on": iso_ms(record.created_ms)}


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

    async def fetch() -> Any:
        async with inv.connect() as backend:
            return await backend.list_instances(
                name, status=checked, page=page, per_page=per_page, created_from_ms=start_ms,
                created_to_ms=end_ms, newest_first=not reverse)

    listing = run(fetch())
    if json_output:
        inv.ui.json([_row(record) for record in listing.instances])
        return
    if not listing.instances:
        if page > 1:
            inv.ui.warn(f"No instances found on page {page}. Please try a smaller page number.")
        elif checked or start_ms is not None or end_ms is not None:
            inv.ui.warn(f'No instances in workflow "{name}" matched the provided filters.')
        else:
            inv.ui.warn(f'There are no instances in workflow "{name}". You can trigger it with '
                        f'"pyflow workflows trigger {name}"')
        return
    from pyflow_cli.cli.screens import instances_table

    inv.ui.doc(instances_table([_row(record) for record in listing.instances], page, inv.tz,
                               inv.ui.max_width))
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


# -- control -------------------------------------------------------------------------------------------
def _changed(inv: Invocation, json_output: bool, status: str, message: str) -> None:
    if json_output:
        inv.ui.json({"status": status, "timestamp": iso_ms(inv.now_ms())})
    else:
        inv.ui.success(message)


DOING = {"pause": "pausing", "resume": "resuming"}


async def _control(inv: Invocation, name: str, instance_id: str, action: str,
                   **kwargs: Any) -> tuple[str, str, bool, bool]:
    """Resolve the id and apply ``action``: the id, the status after, whether an engine runs,
    and whether the action changed anything (SPEC §1.3's table, ``engine.status``, decides)."""
    async with inv.connect() as backend:
        record = await backend.resolve(name, instance_id)
        if control_effect(record.status, action) is Effect.NO_OP:
            return record.id, record.status.value, True, False
        status = await getattr(backend, action)(name, record.id, **kwargs)
        return record.id, str(status), await backend.engine_attached(), True


def _unchanged(inv: Invocation, json_output: bool, resolved: str, status: str, action: str) -> None:
    """A pause or resume that changes nothing: a warning (the reference says nothing at all)."""
    rule = RULES[ControlAction(action)]
    inv.ui.warn(f'Instance "{resolved}" is {status}: {DOING[action]} it changes nothing. {rule}')
    if json_output:
        inv.ui.json({"status": status, "timestamp": iso_ms(inv.now_ms())})


@app.command("pause")
def pause(ctx: typer.Context, name: WorkflowName, instance_id: InstanceId,
          json_output: JsonOutput = False) -> None:
    """Pause a running or waiting instance (at its next step boundary)."""
    inv = begin(ctx, name)
    resolved, status, _, changed = run(_control(inv, name, instance_id, "pause"))
    if not changed:
        _unchanged(inv, json_output, resolved, status, "pause")
        return
    _changed(inv, json_output, status, f'⏸️ The instance "{resolved}" from {name} was paused successfully')


@app.command("resume")
def resume(ctx: typer.Context, name: WorkflowName, instance_id: InstanceId,
           json_output: JsonOutput = False) -> None:
    """Resume a paused instance."""
    inv = begin(ctx, name)
    resolved, status, attached, changed = run(_control(inv, name, instance_id, "resume"))
    if not changed:
        _unchanged(inv, json_output, resolved, status, "resume")
        return
    _changed(inv, json_output, status, f'🔄 The instance "{resolved}" from {name} was resumed successfully')
    if not attached and not json_output:
        inv.no_engine_note("it continues")


@app.command("terminate")
def terminate(ctx: typer.Context, name: WorkflowName, instance_id: InstanceId,
              rollback: Annotated[bool, typer.Option(
                  "--rollback", help="Run the rollbacks its steps registered first (needs a "
                  "running `pyflow dev`: they are your code).")] = False,
              json_output: JsonOutput = False) -> None:
    """Terminate an unfinished instance."""
    inv = begin(ctx, name)
    resolved, status, _, _ = run(_control(inv, name, instance_id, "terminate", rollback=rollback))
    _changed(inv, json_output, status,
             f'🥷 The instance "{resolved}" from {name} was terminated successfully')


@app.command("restart")
def restart(
    ctx: typer.Context,
    name: WorkflowName,
    instance_id: InstanceId,
    from_step_name: Annotated[str | None, typer.Option(
        "--from-step-name", metavar="NAME",
        help="Restart from this step, keeping the results of the steps before it.",
        show_default=False)] = None,
    from_step_count: Annotated[int | None, typer.Option(
        "--from-step-count", metavar="N", help="Which use of that step name (1 = the first).",
        show_default=False)] = None,
    from_step_type: Annotated[str | None, typer.Option(
        "--from-step-type", metavar="TYPE", help="Type of that step: do, sleep or waitForEvent "
                                                 "(default do).", show_default=False)] = None,
    json_output: JsonOutput = False,
) -> None:
    """Restart an instance from the beginning, or from one step."""
    from pyflow_cli.engine.control import RestartFrom

    if from_step_name is None and (from_step_count is not None or from_step_type is not None):
        raise InvalidInputError("--from-step-name is required when using --from-step-count or "
                                "--from-step-type")
    if from_step_count is not None and from_step_count < 1:
        raise InvalidInputError("--from-step-count must be a positive integer")
    if from_step_type is not None and from_step_type not in RESTART_STEP_TYPES:
        raise InvalidInputError(f'--from-step-type must be one of {", ".join(RESTART_STEP_TYPES)} '
                                f'(got "{from_step_type}").')
    from_step = None
    if from_step_name is not None:
        from_step = RestartFrom(from_step_name, from_step_count or 1, from_step_type or "do")
    inv = begin(ctx, name)
    resolved, status, attached, _ = run(_control(inv, name, instance_id, "restart",
                                                 from_step=from_step))
    _changed(inv, json_output, status,
             f'🥷 The instance "{resolved}" from {name} was restarted successfully')
    if not attached and not json_output:
        inv.no_engine_note("it runs again")


@app.command("send-event")
def send_event(
    ctx: typer.Context,
    name: WorkflowName,
    instance_id: InstanceId,
    event_type: Annotated[str, typer.Option(
        "--type", metavar="TYPE", help="Type of the event (what step.wait_for_event waits for).",
        show_default=False)],
    payload: Annotated[str | None, typer.Option(
        "--payload", metavar="JSON", help="JSON payload of the event (default {}).",
        show_default=False)] = None,
    json_output: JsonOutput = False,
) -> None:
    """Send an event to an instance (delivered to a waiting or later step.wait_for_event)."""
    value = parse_json(payload, "event payload") if payload is not None else {}
    inv = begin(ctx, name)

    async def send() -> tuple[str, bool]:
        async with inv.connect() as backend:
            resolved = (await backend.resolve(name, instance_id)).id
            await backend.send_event(name, resolved, event_type, value)
            return resolved, await backend.engine_attached()

    resolved, attached = run(send())
    if json_output:
        inv.ui.json({"success": True})
        return
    shown = f' and payload "{payload}"' if isinstance(value, dict | list | str) and value else ""
    inv.ui.success(f'📤 The event with type "{event_type}"{shown} was sent to the instance '
                   f'"{resolved}" from {name}')
    if not attached:
        inv.no_engine_note("a waiting step receives it")


def _ids_from_file(path: Path) -> list[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInputError(f'Cannot read "{path}": {exc.strerror or exc}.') from None
    except ValueError:
        data = None
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        raise InvalidInputError(f'Unexpected JSON input from "{path}". Expected an array of strings.')
    return data


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: WorkflowName,
    instance_ids: Annotated[list[str] | None, typer.Argument(
        metavar="IDS", help="IDs of the instances ('latest' for the newest).",
        show_default=False)] = None,
    filename: Annotated[Path | None, typer.Option(
        "--filename", metavar="FILE", help="A JSON file holding an array of instance IDs.",
        show_default=False)] = None,
    json_output: JsonOutput = False,
) -> None:
    """Delete instances and all their state."""
    requested = [*(instance_ids or []), *(_ids_from_file(filename) if filename else [])]
    if not requested:
        raise InvalidInputError("Provide at least one workflow instance ID")
    if len(requested) > MAX_DELETE:
        raise InvalidInputError(f"You can delete at most {MAX_DELETE} workflow instances at a time")
    inv = begin(ctx, name)

    async def delete_all() -> tuple[list[str], list[tuple[str, str]]]:
        deleted: list[str] = []
        errors: list[tuple[str, str]] = []
        async with inv.connect() as backend:
            for given in dict.fromkeys(requested):
                try:
                    resolved = (await backend.resolve(name, given)).id
                    await backend.delete(name, resolved)
                    deleted.append(resolved)
                except PyflowError as exc:
                    errors.append((given, exc.message))
        return deleted, errors

    deleted, errors = run(delete_all())
    if json_output:
        inv.ui.json({"deleted": [{"id": i} for i in deleted],
                     "errors": [{"id": i, "message": m} for i, m in errors]})
    elif deleted:
        listed = ", ".join(f'"{i}"' for i in deleted)
        inv.ui.success(f'🗑️  Deleted workflow instances from "{name}": {listed}')
    if errors:
        lines = "\n".join(f"  - {i}: {m}" for i, m in errors)
        raise PyflowError(f"Failed to delete {len(errors)} workflow instance(s):\n{lines}")


@app.command("terminate-all")
def terminate_all(ctx: typer.Context, name: WorkflowName, status: Annotated[str | None, typer.Option(
        "--status", metavar="STATUS", help=f"Only instances with this status: {', '.join(TERMINABLE)}.",
        show_default=False)] = None, json_output: JsonOutput = False) -> None:
    """Terminate every unfinished instance of a Workflow (or those with one status)."""
    if status is not None and status not in TERMINABLE:
        raise InvalidInputError(f'Provided status "{status}" is not valid, it must be one of the '
                                f"following: {', '.join(TERMINABLE)}.")
    inv = begin(ctx, name)

    async def terminate_matching() -> list[str]:
        async with inv.connect() as backend:
            ids: list[str] = []
            for wanted in [status] if status else TERMINABLE:
                page = 1
                while True:
                    listing = await backend.list_instances(
                        name, status=wanted, page=page, per_page=MAX_PER_PAGE, created_from_ms=None,
                        created_to_ms=None, newest_first=False)
                    ids += [record.id for record in listing.instances]
                    if page * MAX_PER_PAGE >= listing.total:
                        break
                    page += 1
            done = []
            for instance_id in ids:
                try:
                    await backend.terminate(name, instance_id)
                    done.append(instance_id)
                except (PyflowError, WorkflowError):
                    pass  # finished or deleted since it was listed: nothing left to terminate
            return done

    done = run(terminate_matching())
    which = f' with status "{status}"' if status else ""
    if json_output:
        inv.ui.json({"terminated": done})
    elif not done:
        inv.ui.warn(f'No unfinished instances{which} in workflow "{name}": nothing to terminate.')
    else:
        inv.ui.success(f'🥷 Terminated {len(done)} instance{"s" if len(done) != 1 else ""}{which} '
                       f'of workflow "{name}"')
