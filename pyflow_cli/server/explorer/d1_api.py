"""The explorer's D1 routes: the databases and a raw query as wrangler 4.164's local explorer API
has them (Cloudflare's REST API for D1), and pyflow's tables, table pages and migrations. SQL
runs through ``D1Store``, as the ``env.<BINDING>`` object and ``pyflow d1 execute`` run it.

    GET  /d1/database                          the config's databases
    POST /d1/database/:id/raw                  {sql, params?, read_only?} or {batch: [...]}
    GET  /d1/database/:id/tables               pyflow's: tables, columns, row counts
    GET  /d1/database/:id/rows?table=&offset=&limit=   pyflow's: a page of a table's rows
    GET  /d1/database/:id/migrations           pyflow's: applied and pending migrations
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from pyflow_cli.bindings import d1_migrations, d1_sql
from pyflow_cli.bindings.d1 import D1Store
from pyflow_cli.bindings.local import file_name
from pyflow_cli.project.resources import D1DatabaseConfig
from pyflow_cli.server.api import json_body
from pyflow_cli.server.envelope import success
from pyflow_cli.server.explorer.handlers import Routes, expect_object, not_found, text_param, whole_number
from pyflow_cli.server.routes import ApiRoute
from pyflow_cli.server.security import API_BODY_LIMIT
from pyflow_cli.server.validation import ValidationFailed

if TYPE_CHECKING:
    from pyflow_cli.server.runtime import DevRuntime

PREFIX = "/d1/database"
MAX_PAGE_ROWS = 1000
MAX_BATCH = 100


def d1_routes(runtime: DevRuntime, routes: Routes) -> list[ApiRoute]:

    def database(request: Request) -> tuple[D1Store, D1DatabaseConfig]:
        wanted = request.path_params["database_id"]
        for config in runtime.project.d1_databases:
            if config.id == wanted:
                bindings = runtime.workspace.bindings
                assert bindings is not None
                return bindings.d1(config), config
        raise not_found(f'No D1 database with id "{wanted}" in {runtime.project.config_path.name}.')

    async def list_databases(request: Request) -> Response:
        name = (text_param(request, "name") or "").lower()
        found = [{"uuid": d.id, "name": d.binding, "version": "production",
                  "database_name": d.database_name, "binding": d.binding,
                  "file": f"d1/{file_name(d.id)}"}
                 for d in runtime.project.d1_databases
                 if name in d.binding.lower() or name in d.database_name.lower()]
        return success(found, {"count": len(found)})

    async def raw(request: Request) -> Response:
        store, _ = database(request)
        body = expect_object(await json_body(request, API_BODY_LIMIT), "body")
        items = body.get("batch", [body])
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
            raise ValidationFailed([f"batch: expected 1 to {MAX_BATCH} queries"])
        queries: list[tuple[str, list[Any]]] = []
        for n, item in enumerate(items):
            sql, params = _query(item, f"batch[{n}]" if "batch" in body else "body")
            statements = d1_sql.split(sql)
            # Several statements without parameters: a result each, as `d1 execute` shows them.
            queries += [(s, []) for s in statements] if len(statements) > 1 and not params \
                else [(sql, params)]
        results = await store.query(queries, read_only=body.get("read_only") is True)
        return success([{"results": {"columns": r.columns, "rows": r.rows}, "meta": r.meta,
                         "success": True, "sql": sql} for r, (sql, _) in zip(results, queries, strict=True)])

    async def tables(request: Request) -> Response:
        store, _ = database(request)
        found = [{"name": t.name, "sql": t.sql, "rows": t.rows,
                  "columns": [{"name": c.name, "type": c.type, "not_null": c.not_null,
                               "default": c.default, "primary_key": c.primary_key}
                              for c in t.columns]}
                 for t in await store.describe()]
        return success(found, {"count": len(found)})

    async def rows(request: Request) -> Response:
        store, _ = database(request)
        table = text_param(request, "table")
        if table is None:
            raise ValidationFailed(["table: required"])
        offset = whole_number(request, "offset", 0) or 0
        limit = whole_number(request, "limit", 50, 1, MAX_PAGE_ROWS) or 50
        known = {t.name: t.rows for t in await store.describe()}
        if table not in known:
            raise not_found(f"no such table: {table}")
        page = await store.read_table(table, offset, limit)
        return success({"columns": page.columns, "rows": page.rows},
                       {"offset": offset, "limit": limit, "total_count": known[table]})

    async def migrations(request: Request) -> Response:
        store, config = database(request)
        applied = await d1_migrations.history(store, config.migrations_table)
        done = {name for _, name, _ in applied}
        folder = d1_migrations.folder(runtime.project, config)
        return success({
            "table": config.migrations_table, "directory": config.migrations_dir,
            "applied": [{"id": i, "name": name, "applied_at": at} for i, name, at in applied],
            "pending": [name for name in d1_migrations.files(folder) if name not in done]})

    return [
        routes.route(PREFIX, {"GET": list_databases}),
        routes.route(PREFIX + "/{database_id}/raw", {"POST": raw}),
        routes.route(PREFIX + "/{database_id}/tables", {"GET": tables}),
        routes.route(PREFIX + "/{database_id}/rows", {"GET": rows}),
        routes.route(PREFIX + "/{database_id}/migrations", {"GET": migrations}),
    ]


def _query(item: Any, where: str) -> tuple[str, list[Any]]:
    if not isinstance(item, dict) or not isinstance(item.get("sql"), str):
        raise ValidationFailed([f"{where}: expected {{sql, params?}} with sql a string"])
    params = item.get("params", [])
    if not isinstance(params, list):
        raise ValidationFailed([f"{where}.params: expected an array"])
    return item["sql"], [d1_sql.bind_value(value) for value in params]
