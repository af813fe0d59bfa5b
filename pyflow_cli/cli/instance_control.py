"""The instance control commands of ``pyflow workflows instances``: pause, resume, terminate
(one, or every unfinished instance), restart, send-event and delete. What each action does in each
status is the engine's table (``engine/status.py``); the commands render its answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from pyflow_cli.cli.advice import advised
from pyflow_cli.cli.invocation import Invocation, begin, parse_json, run
from pyflow_cli.cli.options import InstanceId, JsonOutput, WorkflowName
from pyflow_cli.engine.clock import iso_ms
from pyflow_cli.engine.errors import InvalidInputError, PyflowError, WorkflowError
from pyflow_cli.engine.status import (
    RULES,
    ControlAction,
    Effect,
    control_effect,
    statuses_allowing,
)

MAX_PER_PAGE = 100
MAX_DELETE = 100
TERMINABLE = tuple(status.value for status in statuses_allowing(ControlAction.TERMINATE))
RESTART_STEP_TYPES = ("do", "sleep", "waitForEvent")


@dataclass(frozen=True)
class _Control:
    """What sets one control command apart: its action, the words of its message ("<emoji> The
    instance ... was <done> successfully"; "<doing> it changes nothing"), and what the note
    says happens once an engine runs (None: no note)."""

    action: ControlAction
    emoji: str
    done: str
    doing: str
    once_run: str | None = None


PAUSE = _Control(ControlAction.PAUSE, "⏸️", "paused", "pausing")
RESUME = _Control(ControlAction.RESUME, "🔄", "resumed", "resuming", once_run="it continues")
TERMINATE = _Control(ControlAction.TERMINATE, "🥷", "terminated", "terminating")
RESTART = _Control(ControlAction.RESTART, "🥷", "restarted", "restarting", once_run="it runs again")


def _apply(ctx: typer.Context, name: str, instance_id: str, json_output: bool, control: _Control,
           **kwargs: Any) -> None:
    """Resolve the id, apply the control and say what came of it: the success line, or a warning
    when the action changes nothing (only pause and resume can; the reference says nothing at
    all), or the status as JSON."""
    inv = begin(ctx, name)
    resolved, status, attached, changed = run(_control(inv, name, instance_id, control.action,
                                                       **kwargs))
    if not changed:
        rule = RULES[control.action]
        inv.ui.warn(f'Instance "{resolved}" is {status}: {control.doing} it changes nothing. '
                    f"{rule}")
    elif not json_output:
        inv.ui.success(f'{control.emoji} The instance "{resolved}" from {name} was {control.done} '
                       "successfully")
    if json_output:
        inv.ui.json({"status": status, "timestamp": iso_ms(inv.now_ms())})
    elif changed and not attached and control.once_run is not None:
        inv.no_engine_note(control.once_run)


async def _control(inv: Invocation, name: str, instance_id: str, action: ControlAction,
                   **kwargs: Any) -> tuple[str, str, bool, bool]:
    """Resolve the id and apply ``action``: the id, the status after, whether an engine runs,
    and whether the action changed anything (SPEC §1.3's table, ``engine.status``, decides)."""
    async with inv.connect() as backend:
        record = await backend.resolve(name, instance_id)
        if control_effect(record.status, action) is Effect.NO_OP:
            return record.id, record.status.value, True, False
        status = await getattr(backend, action.value)(name, record.id, **kwargs)
        return record.id, str(status), await backend.engine_attached(), True


def pause(ctx: typer.Context, name: WorkflowName, instance_id: InstanceId,
          json_output: JsonOutput = False) -> None:
    """Pause a running or waiting instance (at its next step boundary)."""
    _apply(ctx, name, instance_id, json_output, PAUSE)


def resume(ctx: typer.Context, name: WorkflowName, instance_id: InstanceId,
           json_output: JsonOutput = False) -> None:
    """Resume a paused instance."""
    _apply(ctx, name, instance_id, json_output, RESUME)


def terminate(ctx: typer.Context, name: WorkflowName, instance_id: InstanceId,
              rollback: Annotated[bool, typer.Option(
                  "--rollback", help="Run the rollbacks its steps registered first (needs a "
                  "running `pyflow dev`: they are your code).")] = False,
              json_output: JsonOutput = False) -> None:
    """Terminate an unfinished instance."""
    _apply(ctx, name, instance_id, json_output, TERMINATE, rollback=rollback)


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
    _apply(ctx, name, instance_id, json_output, RESTART, from_step=from_step)


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


def delete(
    ctx: typer.Context,
    name: WorkflowName,
    instance_ids: Annotated[list[str] | None, typer.Argument(
        metavar="IDS", help="IDs of the instances ('latest' for the newest).",
        show_default=False)] = None,
    filename: Annotated[Path | None, typer.Option(
        "--filename", metavar="FILE", help="A JSON file holding an array of instance IDs.",
        show_default=False)] = None,
    older_than: Annotated[str | None, typer.Option(
        "--older-than", metavar="DURATION", help="Instead of IDs: every finished instance that "
        "ended more than DURATION ago (7d, 12h, 30m, 1s).", show_default=False)] = None,
    status: Annotated[list[str] | None, typer.Option(
        "--status", metavar="STATUS", help="With --older-than: only instances with this status "
        "(complete, errored or terminated; repeat for several).", show_default=False)] = None,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="With --older-than: delete without asking (needed when there is no "
        "terminal to ask on).")] = False,
    json_output: JsonOutput = False,
) -> None:
    """Delete instances and all their state: by ID, or every finished one older than a duration."""
    if older_than is not None:
        if instance_ids or filename:
            raise InvalidInputError("Give instance IDs (or --filename), or --older-than, not both.")
        from pyflow_cli.cli.retention import delete_older_than

        delete_older_than(begin(ctx, name), name, older_than, status or [], yes, json_output)
        return
    if status:
        raise InvalidInputError("--status goes with --older-than: it chooses which finished "
                                "instances to delete by age.")
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
                    errors.append((given, advised(exc)))
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
