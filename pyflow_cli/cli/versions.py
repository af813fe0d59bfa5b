"""``pyflow versions list``: the versions of the project's code its store has seen."""

from __future__ import annotations

import typer

from pyflow_cli.cli.invocation import begin, run
from pyflow_cli.cli.options import JsonOutput
from pyflow_cli.engine.clock import iso_ms
from pyflow_cli.engine.versions import VersionRecord

app = typer.Typer(no_args_is_help=True,
                  help="The versions of your code that instances ran on (v1, v2...).")


@app.command("list")
def list_versions(ctx: typer.Context, json_output: JsonOutput = False) -> None:
    """List the versions of the code seen on this project's store, oldest first: each load of
    changed code is a new version, numbered when it first runs."""
    inv = begin(ctx)

    async def fetch() -> list[VersionRecord]:
        async with inv.connect() as backend:
            return await backend.list_versions()

    found = run(fetch())
    if json_output:
        inv.ui.json([{"id": v.id, "label": v.label, "number": v.number,
                      "first_seen": iso_ms(v.first_seen_ms), "instances": v.instances}
                     for v in found])
        return
    if not found:
        inv.ui.warn("No versions yet: a version is recorded when `pyflow dev` (or `pyflow "
                    "workflows trigger --wait`) first runs the code.")
        return
    from pyflow_cli.cli.screens import versions_table

    inv.ui.doc(versions_table(found, inv.tz, inv.ui.max_width))
