"""``pyflow d1 execute`` and ``pyflow d1 migrations create|list|apply``: SQL on a D1 database's
local file, as wrangler's ``d1`` commands run it, while ``pyflow dev`` runs or not."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pyflow_cli.cli.doc import table
from pyflow_cli.cli.formats import js_json
from pyflow_cli.cli.invocation import Invocation, begin, run
from pyflow_cli.cli.storage import LocalOption, PersistTo, local_bindings, shown_path
from pyflow_cli.engine.errors import InvalidInputError

if TYPE_CHECKING:
    from pyflow_cli.bindings.d1_sql import QueryResult

app = typer.Typer(no_args_is_help=True, help="Run SQL and migrations on D1 databases (local data).")
migrations_app = typer.Typer(no_args_is_help=True,
                             help="Create, list and apply the migrations of a D1 database.")
app.add_typer(migrations_app, name="migrations")

Database = Annotated[str, typer.Argument(
    metavar="DATABASE", help="The database's name or binding ([[d1_databases]]).", show_default=False)]
Yes = Annotated[bool, typer.Option("-y", "--yes", help="Accepted for wrangler's command lines; "
                                                       "pyflow does not ask.")]


@app.command("execute")
def execute(
    ctx: typer.Context,
    database: Database,
    command: Annotated[str | None, typer.Option(
        "--command", metavar="SQL", help="SQL to run; several statements separated by ';'.",
        show_default=False)] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", metavar="FILE", help="A .sql file to run.", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    yes: Yes = False,
    local: LocalOption = True,
    persist_to: PersistTo = None,
) -> None:
    """Run SQL (--command or --file) on a database, in one transaction; print each result's rows."""
    from pyflow_cli.bindings.errors import D1Error
    from pyflow_cli.bindings.local import d1_database

    if (command is None) == (file is None):
        raise InvalidInputError('Give one of --command "<SQL>" or --file FILE.')
    inv = begin(ctx)
    config = d1_database(inv.project, database)
    sql = command if command is not None else _read(inv, file)
    with local_bindings(inv, persist_to) as bindings:
        if not json_output:
            inv.ui.print(f"🌀 Executing on local database {database} ({config.id}) from "
                         f"{shown_path(inv, bindings.d1_path(config))}:")
        try:
            results = run(bindings.d1(config).script(sql))
        except D1Error as exc:
            if not json_output:
                raise InvalidInputError(exc.cause) from None
            inv.ui.json({"error": {"text": exc.cause}})
            raise typer.Exit(1) from None
    if json_output:
        inv.ui.json([{"results": _objects(r), "success": True, "meta": {"duration": r.meta["duration"]}}
                     for r in results])
        return
    count = len(results)
    inv.ui.print(f"🚣 {count} command{'s' if count != 1 else ''} executed successfully.")
    for result in results:
        if result.rows:
            inv.ui.doc(table([{c: _cell(v) for c, v in zip(result.columns, row, strict=True)}
                              for row in result.rows], inv.ui.max_width))


@migrations_app.command("create")
def create(
    ctx: typer.Context,
    database: Database,
    message: Annotated[str, typer.Argument(metavar="MESSAGE", help="What the migration does "
                                                                   "(becomes its file name).")],
) -> None:
    """Create the next migration file in the database's migrations_dir."""
    from pyflow_cli.bindings import d1_migrations
    from pyflow_cli.bindings.local import d1_database

    inv = begin(ctx)
    folder = d1_migrations.folder(inv.project, d1_database(inv.project, database))
    created = d1_migrations.create(folder, message, inv.now_ms())
    inv.ui.success(f"✅ Successfully created Migration '{created.name}'!\n\n"
                   f"The migration is available for editing here\n{created}")


@migrations_app.command("list")
def list_migrations(
    ctx: typer.Context,
    database: Database,
    local: LocalOption = True,
    persist_to: PersistTo = None,
) -> None:
    """List the migrations not yet applied to the database."""
    inv = begin(ctx)
    pending, _ = _pending(inv, database, persist_to)
    if not pending:
        inv.ui.success("✅ No migrations to apply!")
        return
    inv.ui.print("Migrations to be applied:")
    inv.ui.doc(table([{"Name": name} for name in pending], inv.ui.max_width))


@migrations_app.command("apply")
def apply(
    ctx: typer.Context,
    database: Database,
    yes: Yes = False,
    local: LocalOption = True,
    persist_to: PersistTo = None,
) -> None:
    """Apply the pending migrations in order, each in its own transaction; stop at the first
    that fails (it is rolled back; the ones before it stay applied)."""
    from pyflow_cli.bindings import d1_migrations
    from pyflow_cli.bindings.errors import D1Error

    inv = begin(ctx)
    pending, config = _pending(inv, database, persist_to)
    if not pending:
        inv.ui.success("✅ No migrations to apply!")
        return
    inv.ui.print("Migrations to be applied:")
    inv.ui.doc(table([{"name": name} for name in pending], inv.ui.max_width))
    folder = d1_migrations.folder(inv.project, config)
    status = dict.fromkeys(pending, "🕒️")
    failure: str | None = None
    with local_bindings(inv, persist_to) as bindings:
        inv.ui.print(f"🌀 Executing on local database {database} ({config.id}) from "
                     f"{shown_path(inv, bindings.d1_path(config))}:")
        store = bindings.d1(config)
        for name in pending:
            try:
                run(d1_migrations.apply(store, folder / name, config.migrations_table))
            except D1Error as exc:
                status[name], failure = "❌", exc.cause
                break
            status[name] = "✅"
    inv.ui.doc(table([{"name": name, "status": mark} for name, mark in status.items()],
                     inv.ui.max_width))
    if failure is not None:
        raise InvalidInputError(f"Migration {next(n for n, s in status.items() if s == '❌')} "
                                f"failed and was rolled back: {failure}")


def _pending(inv: Invocation, database: str, persist_to: Path | None) -> tuple[list[str], Any]:
    from pyflow_cli.bindings import d1_migrations
    from pyflow_cli.bindings.local import d1_database

    config = d1_database(inv.project, database)
    folder = d1_migrations.folder(inv.project, config)
    if not d1_migrations.files(folder):
        raise InvalidInputError(f"No migrations present at {folder}. Create one with "
                                f'`pyflow d1 migrations create {database} "<message>"`.')
    with local_bindings(inv, persist_to) as bindings:
        return run(d1_migrations.pending(bindings.d1(config), inv.project, config)), config


def _objects(result: QueryResult) -> list[dict[str, Any]]:
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else js_json(value)


def _read(inv: Invocation, file: Path | None) -> str:
    assert file is not None
    try:
        return (inv.state.options.cwd / file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"Cannot read {file}: {exc}. Check the --file path.") from None
