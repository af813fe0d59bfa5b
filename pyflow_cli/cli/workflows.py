"""``pyflow workflows ...``: list, describe, delete and trigger workflows (``instances`` is its own
group, in ``instances.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from pyflow_cli.cli import instances
from pyflow_cli.cli.doc import Field, labelled
from pyflow_cli.cli.formats import js_json
from pyflow_cli.cli.invocation import Invocation, begin, parse_json, run
from pyflow_cli.cli.options import JsonOutput, TimeScale, WorkflowName
from pyflow_cli.cli.screens import instance_details, workflow_details, workflows_table
from pyflow_cli.engine.errors import InvalidInputError
from pyflow_cli.engine.events import TriggerSource

if TYPE_CHECKING:
    from pyflow_cli.api import InstanceDetails, WorkflowMetrics

app = typer.Typer(no_args_is_help=True, help="Manage Workflows and trigger instances.")
app.add_typer(instances.app, name="instances")


@app.command("list")
def list_workflows(ctx: typer.Context, json_output: JsonOutput = False) -> None:
    """List the Workflows defined in the project config."""
    inv = begin(ctx)
    rows = [{"name": w.name, "class_name": w.class_name, "script_name": w.script_name or inv.project.name}
            for w in inv.project.workflows]
    if json_output:
        inv.ui.json(rows)
    elif not rows:
        inv.ui.warn(f"There are no Workflows in {inv.project.config_path.name}. "
                    "Add a [[workflows]] section.")
    else:
        inv.ui.doc(workflows_table(rows, inv.project.config_path.name, inv.ui.max_width))


@app.command("describe")
def describe_workflow(ctx: typer.Context, name: WorkflowName, json_output: JsonOutput = False) -> None:
    """Describe a Workflow: its class and how many instances it has in each status."""
    inv = begin(ctx, name)
    workflow = inv.project.workflow(name)

    async def counts() -> dict[str, int]:
        async with inv.connect() as backend:
            return await backend.status_counts(name)

    info = {"name": workflow.name, "script_name": workflow.script_name or inv.project.name,
            "class_name": workflow.class_name}
    result = run(counts())
    if json_output:
        inv.ui.json({"name": info["name"], "class_name": info["class_name"],
                     "script_name": info["script_name"], "instances": result})
    else:
        inv.ui.doc(workflow_details(info, result))


@app.command("delete")
def delete_workflow(
    ctx: typer.Context,
    name: WorkflowName,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Delete without asking (needed when there is no terminal to ask on).")
    ] = False,
    json_output: JsonOutput = False,
) -> None:
    """Delete every instance of a Workflow, with all their state (asks first)."""
    inv = begin(ctx, name)

    async def count() -> int:
        async with inv.connect() as backend:
            return sum((await backend.status_counts(name)).values())

    async def delete() -> list[str]:
        async with inv.connect() as backend:
            return await backend.delete_workflow_instances(name)

    existing = 0 if yes else run(count())
    if existing and not yes:
        what = f'every instance of workflow "{name}" ({_instances(existing)})'
        if not inv.state.runtime.can_ask():
            raise InvalidInputError(f"Deleting {what} cannot be undone, and there is no terminal "
                                    "to confirm it on: pass --yes to delete them.")
        if not typer.confirm(f"Delete {what} and all their state?", default=False):
            inv.ui.note("Nothing was deleted.")
            raise typer.Exit(1)
    deleted = run(delete())
    if json_output:
        inv.ui.json({"status": "ok", "success": True})
    else:
        inv.ui.success(f'✅ Workflow "{name}" instances removed successfully '
                       f"({_instances(len(deleted))}).")


def _instances(count: int) -> str:
    return f"{count} instance{'s' if count != 1 else ''}"


@app.command("metrics")
def metrics(
    ctx: typer.Context,
    name: WorkflowName,
    since: Annotated[str, typer.Option(
        "--since", metavar="DURATION", help="How far back to look: 1h, 24h, 7d... (at most 31 days).")
    ] = "24h",
    bucket: Annotated[str | None, typer.Option(
        "--bucket", metavar="DURATION", help="Width of each time bucket (default: chosen by --since).",
        show_default=False)] = None,
    json_output: JsonOutput = False,
) -> None:
    """Metrics of a Workflow: instances started, succeeded, failed and terminated, wall time, and
    steps and retries per step name, over a time window."""
    inv = begin(ctx, name)

    async def read() -> WorkflowMetrics:
        async with inv.connect() as backend:
            return await backend.metrics(name, since, bucket)

    result = run(read())
    if json_output:
        inv.ui.json(result)
    else:
        from pyflow_cli.cli.charts import metrics_doc

        inv.ui.doc(metrics_doc(result, inv.tz, inv.ui.max_width))


@app.command("trigger")
def trigger(
    ctx: typer.Context,
    name: WorkflowName,
    params: Annotated[str, typer.Argument(
        metavar="PARAMS", help="Params of the instance, as JSON (an object or any JSON value); "
                                 "default {}.", show_default=False)] = "",
    instance_id: Annotated[str | None, typer.Option(
        "--id", metavar="ID", help="ID of the new instance (default: a random UUID).",
        show_default=False)] = None,
    wait: Annotated[bool, typer.Option(
        "--wait", help="Run the instance now (in this process unless `pyflow dev` is running) and "
                       "show its steps live until it finishes; exit code 0 if it completes, 1 if "
                       "not.")] = False,
    time_scale: TimeScale = 1.0,
    json_output: JsonOutput = False,
) -> None:
    """Trigger a Workflow: create an instance, optionally with JSON params."""
    if time_scale != 1.0 and not wait:
        raise InvalidInputError("--time-scale speeds up the engine that --wait runs in this "
                                "process, so it needs --wait. Add --wait, or give --time-scale to "
                                "`pyflow dev` instead.")
    value = parse_json(params, "instance parameters") if params else None
    inv = begin(ctx, name)
    if wait:
        code = run(_trigger_and_wait(inv, name, instance_id, value, time_scale, json_output))
        if code:
            raise typer.Exit(code)
        return

    async def create() -> tuple[str, bool]:
        async with inv.connect(creates=True) as backend:
            created = await backend.create(name, instance_id, value, TriggerSource.CLI)
            return created, await backend.engine_attached()

    created, attached = run(create())
    if json_output:
        inv.ui.json({"id": created})
        return
    inv.ui.success(f'🚀 Workflow instance "{created}" has been triggered successfully')
    if not attached:
        inv.no_engine_note("the instance runs")


async def _trigger_and_wait(inv: Invocation, name: str, instance_id: str | None, params: Any,
                            time_scale: float, json_output: bool) -> int:
    from pyflow_cli.cli.live import follow
    from pyflow_cli.cli.live_lines import live_summary
    from pyflow_cli.engine.lifetime import EngineOptions

    options = EngineOptions(time_scale=time_scale, poll_interval_s=0.05)
    async with inv.connect(creates=True, engine_options=options) as backend:
        created = await backend.create(name, instance_id, params, TriggerSource.CLI)
        if not json_output:
            inv.ui.success(f'🚀 Workflow instance "{created}" has been triggered successfully')
            if not backend.runs_engine_here:
                inv.ui.note("A pyflow server (pyflow dev or pyflow serve) runs this project and "
                            "runs the instance"
                            + (" (--time-scale applies only to an engine in this process)."
                               if time_scale != 1.0 else "."))

        def draw(details: InstanceDetails, now_ms: float) -> Any:
            return live_summary(name, details, now_ms, inv.tz, time_scale, width=inv.ui.max_width)

        details = await follow(inv, backend, name, created, draw, time_scale, quiet=json_output)
    if json_output:
        inv.ui.json(details)
    else:
        inv.ui.print()
        inv.ui.doc(instance_details(name, details, inv.now_ms(), inv.tz,
                                    max_width=inv.ui.max_width, time_scale=time_scale))
        if details["status"] == "complete":
            inv.ui.print()
            inv.ui.doc(labelled([Field("Output", js_json(details.get("output")))]))
    return 0 if details["status"] == "complete" else 1
