"""pyflow's routes for the platform's rules: the versions of the code a store has seen, and
deleting a workflow's finished instances by age (what ``pyflow workflows instances delete
--older-than`` asks a running dev session for).

    GET  /local/versions                 versions: label, id, first seen, instance count
    POST /workflows/:wf/purge            {older_than: "7d" | ended_before: ISO time,
                                          status?: [..], dry_run?: bool}
                                         -> {deleted: n}, or {matched: n} with dry_run
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from pyflow_cli.engine.admission import parse_period_ms
from pyflow_cli.engine.clock import iso_ms
from pyflow_cli.engine.errors import InvalidInputError, NotFoundError
from pyflow_cli.engine.versions import VersionRecord
from pyflow_cli.server.api import json_body
from pyflow_cli.server.envelope import success, workflow_not_found
from pyflow_cli.server.explorer.handlers import Routes, expect_object
from pyflow_cli.server.routes import ApiRoute
from pyflow_cli.server.security import API_BODY_LIMIT
from pyflow_cli.server.validation import ValidationFailed, is_iso_datetime, parse_iso_ms

if TYPE_CHECKING:
    from pyflow_cli.server.runtime import DevRuntime


def version_json(version: VersionRecord) -> dict[str, Any]:
    return {"id": version.id, "label": version.label, "number": version.number,
            "first_seen": iso_ms(version.first_seen_ms), "instances": version.instances}


def platform_routes(runtime: DevRuntime, routes: Routes) -> list[ApiRoute]:

    async def versions(request: Request) -> Response:
        found = [version_json(v) for v in await runtime.service.list_versions()]
        return success(found, {"count": len(found)})

    async def purge(request: Request) -> Response:
        workflow = request.path_params["workflow_name"]
        body = expect_object(await json_body(request, API_BODY_LIMIT), "body")
        before_ms, statuses, dry_run = _purge_body(body, runtime.workspace.clock.now_ms())
        service = runtime.service
        try:
            if dry_run:
                return success({"matched": await service.count_finished_before(
                    workflow, before_ms, statuses)})
            return success({"deleted": await service.delete_finished_before(
                workflow, before_ms, statuses)})
        except NotFoundError:
            raise workflow_not_found(workflow) from None
        except InvalidInputError as exc:
            raise ValidationFailed([exc.message]) from None

    return [routes.route("/local/versions", {"GET": versions}),
            routes.route("/workflows/{workflow_name}/purge", {"POST": purge})]


def _purge_body(body: dict[str, Any], now_ms: float) -> tuple[float, list[str], bool]:
    """(ended before, statuses, dry run) of a purge request: by ``older_than`` (a duration
    back from now) or ``ended_before`` (an ISO time), one of them."""
    older_than, ended_before = body.get("older_than"), body.get("ended_before")
    if (older_than is None) == (ended_before is None):
        raise ValidationFailed(['older_than or ended_before: give one, e.g. {"older_than": "7d"}'])
    if older_than is not None:
        if not isinstance(older_than, str):
            raise ValidationFailed(['older_than: expected a duration such as "7d", "12h" or '
                                    '"30m"'])
        try:
            before_ms = now_ms - parse_period_ms(older_than, "older_than")
        except InvalidInputError as exc:
            raise ValidationFailed([exc.message]) from None
    elif not isinstance(ended_before, str) or not is_iso_datetime(ended_before):
        raise ValidationFailed(["ended_before: expected an ISO datetime such as "
                                "2026-01-31T00:00:00Z"])
    else:
        before_ms = parse_iso_ms(ended_before)
    status = body.get("status", [])
    statuses = [status] if isinstance(status, str) else status
    if not isinstance(statuses, list) or not all(isinstance(s, str) for s in statuses):
        raise ValidationFailed(["status: expected a status or a list of them (complete, "
                                "errored, terminated)"])
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ValidationFailed(["dry_run: expected true or false"])
    return before_ms, statuses, dry_run
