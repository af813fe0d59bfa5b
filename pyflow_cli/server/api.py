"""The workflows routes of the local API at ``/cdn-cgi/local/explorer/api`` (SPEC §5), over
``WorkflowService``; ``server.routes`` routes the requests and answers the errors.

Same routes, envelope, error codes, HTTP statuses and messages as wrangler 4.164's, so the real
``wrangler workflows ... --local`` commands work against ``pyflow dev``; pyflow's own CLI uses it
through ``pyflow_cli.client``. Instance ids in paths are literal ids, as in the reference.

Deliberate differences: a malformed JSON body is a 400 on every route (the reference silently
treats it as ``{}`` when creating an instance), bodies over ``API_BODY_LIMIT`` get a 413, client
mistakes the reference answers with a 500 (an invalid id, terminating a finished instance) are a
400 or 409 with the same message, a method a route does not take is a 405, status counts are
always fresh, and requests must pass the checks of ``security``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pyflow_cli.engine.clock import iso_ms
from pyflow_cli.engine.control import RestartFrom
from pyflow_cli.engine.errors import InstanceNotFoundError, InvalidInputError
from pyflow_cli.engine.events import LogEvent, TriggerSource
from pyflow_cli.engine.status import InstanceStatus, allowed_actions
from pyflow_cli.server.envelope import (
    BAD_DATE_RANGE,
    FAILED,
    ApiError,
    client_mistake,
    instance_not_found,
    server_error,
    success,
    workflow_not_found,
)
from pyflow_cli.server.openapi import openapi_document
from pyflow_cli.server.routes import Answers, ApiRoute, Handler
from pyflow_cli.server.security import API_BODY_LIMIT, API_JSON_DEPTH_LIMIT, json_depth_over, read_body
from pyflow_cli.server.validation import (
    ValidationFailed,
    js_type,
    parse_batch_delete_body,
    parse_iso_ms,
    parse_list_query,
    parse_status_body,
)
from pyflow_cli.service import WorkflowService

_TRIGGER_NAMES = {int(t): t.name.lower() for t in TriggerSource}
NO_BODY = object()
TRIGGER_HEADER = "x-pyflow-trigger"
MAX_SEQ = 2**63 - 1  # SQLite's largest integer
WorkflowHandler = Callable[[Request, str], Awaitable[Response]]


class WorkflowRoutes:
    """The workflows routes of the local API (``routes``), over one ``WorkflowService``."""

    def __init__(self, service: WorkflowService, warn: Callable[[str], None]) -> None:
        self.service = service
        self.answers = Answers(warn, cors=True)

    def routes(self) -> list[ApiRoute]:
        wf, one = "/workflows/{workflow_name}", "/workflows/{workflow_name}/instances/{instance_id}"
        known = self._known_workflow
        return [
            ApiRoute("/", {"GET": self.document}, self.answers, include_in_schema=False),
            ApiRoute("/workflows", {"GET": self.list_workflows}, self.answers),
            ApiRoute(wf, {"GET": known(self.workflow_details), "DELETE": known(self.delete_workflow)},
                     self.answers),
            ApiRoute(f"{wf}/instances", {"GET": known(self.list_instances),
                                         "POST": known(self.create_instance)}, self.answers),
            ApiRoute(f"{wf}/instances/batch/delete", {"POST": known(self.batch_delete)}, self.answers),
            ApiRoute(one, {"GET": known(self.instance_details), "DELETE": known(self.delete_instance)},
                     self.answers),
            ApiRoute(f"{one}/log", {"GET": known(self.instance_log)}, self.answers),
            ApiRoute(f"{one}/status", {"PATCH": known(self.change_status)}, self.answers),
            ApiRoute(f"{one}/events/{{event_type}}", {"POST": known(self.send_event)}, self.answers),
        ]

    def _known_workflow(self, handler: WorkflowHandler) -> Handler:
        """``handler`` for a workflow of the project only (404 for any other name)."""

        async def checked(request: Request) -> Response:
            workflow = request.path_params["workflow_name"]
            if workflow not in self.service.workflows:
                raise workflow_not_found(workflow)
            return await handler(request, workflow)

        return checked

    async def document(self, request: Request) -> Response:
        return JSONResponse(openapi_document())

    # -- workflows ---------------------------------------------------------------------------------
    async def list_workflows(self, request: Request) -> Response:
        workflows = [{"name": w.name, "class_name": w.class_name, "script_name": w.script_name}
                     for w in await self.service.list_workflows()]
        return success(workflows, {"count": len(workflows)})

    async def workflow_details(self, request: Request, workflow: str) -> Response:
        info = self.service.info(workflow)
        counts = await self.service.status_counts(workflow)
        return success({"name": info.name, "class_name": info.class_name,
                        "script_name": info.script_name, "instances": counts})

    async def delete_workflow(self, request: Request, workflow: str) -> Response:
        await self.service.delete_workflow_instances(workflow)
        return success({"status": "ok", "success": True})

    # -- instances -----------------------------------------------------------------------------------
    async def list_instances(self, request: Request, workflow: str) -> Response:
        query = parse_list_query(request.query_params.multi_items())
        start_ms = parse_iso_ms(query.date_start) if query.date_start else None
        end_ms = parse_iso_ms(query.date_end) if query.date_end else None
        if start_ms is not None and end_ms is not None and start_ms > end_ms:
            raise ApiError(400, BAD_DATE_RANGE,
                           "'date_start' must not be after 'date_end'. Update 'date_start' or "
                           "'date_end' so 'date_start' is before or equal to 'date_end'.")
        counts = {k: v for k, v in (await self.service.status_counts(workflow)).items() if v}
        per_page = query.per_page
        if not counts:  # the reference's answer when no instance was ever stored
            return success([], {"page": 1, "per_page": per_page, "total_count": 0, "total_pages": 0})
        try:
            page = await self.service.list_instances(
                workflow, status=query.status, page=math.floor(query.page),
                per_page=math.floor(per_page), created_from_ms=start_ms,
                # created_on has millisecond precision; creation times have more.
                created_to_ms=end_ms + 0.999 if end_ms is not None else None,
                id_prefix=query.id_prefix, text=query.q, version=query.version)
        except InvalidInputError as exc:  # a version the store has not seen
            raise client_mistake(exc) or server_error(exc) from exc
        labels = await self.service.versions.labels(r.version_id for r in page.instances)
        # pyflow adds the version each instance records (its id and label).
        items = [{"id": r.id, "status": r.status.value, "created_on": iso_ms(r.created_ms),
                  "actions": _actions(r.status), "versionId": r.version_id,
                  "version": labels.get(r.version_id or "")} for r in page.instances]
        return success(items, {"page": query.page, "per_page": per_page, "total_count": page.total,
                               "total_pages": max(1, math.ceil(page.total / per_page)),
                               "status_counts": counts})

    async def create_instance(self, request: Request, workflow: str) -> Response:
        body = await self._json(request)
        if body is NO_BODY:
            body = {}
        elif not isinstance(body, dict):  # the reference creates an instance without params
            raise ValidationFailed([f"Invalid input: expected object, received {js_type(body)}"])
        # pyflow's CLI says who triggered it; the reference ignores the header.
        trigger = TriggerSource.CLI if request.headers.get(TRIGGER_HEADER) == "cli" else TriggerSource.API
        try:
            instance_id = await self.service.create(workflow, body.get("id"), body.get("params"),
                                                    trigger)
        except Exception as exc:
            raise client_mistake(exc) or server_error(exc) from exc
        return success({"id": instance_id})

    async def instance_details(self, request: Request, workflow: str) -> Response:
        instance_id = request.path_params["instance_id"]
        await self._existing(workflow, instance_id)
        found = await self.service.describe(workflow, instance_id)
        details: dict[str, Any] = {key: value for key, value in found.items() if key != "id"}
        details["actions"] = _actions(InstanceStatus(found["status"]))
        trigger = details.get("trigger")
        if isinstance(trigger, dict) and isinstance(trigger.get("source"), int):
            # wrangler shows remote-style names ("🌎 API"); numbers would read "Unknown".
            details["trigger"] = {**trigger, "source": _TRIGGER_NAMES.get(trigger["source"], "unknown")}
        return success(details)

    async def instance_log(self, request: Request, workflow: str) -> Response:
        """pyflow's addition: the instance's event-log rows after ``after_seq`` (live views)."""
        instance_id = request.path_params["instance_id"]
        after = request.query_params.get("after_seq", "0")
        if not (after.isascii() and after.isdigit() and int(after) <= MAX_SEQ):
            raise ValidationFailed([f"after_seq: expected a whole number from 0 to {MAX_SEQ}, "
                                    f'got "{after}"'])
        await self._existing(workflow, instance_id)
        rows = await self.service.read_log(workflow, instance_id, int(after))
        return success([_log_row(r) for r in rows])

    async def change_status(self, request: Request, workflow: str) -> Response:
        instance_id = request.path_params["instance_id"]
        change = parse_status_body(await self._json(request, required=True))
        await self._existing(workflow, instance_id)
        try:
            if change.status == "pause":
                status = await self.service.pause(workflow, instance_id)
            elif change.status == "resume":
                status = await self.service.resume(workflow, instance_id)
            elif change.status == "terminate":
                status = await self.service.terminate(workflow, instance_id, change.rollback)
            else:
                start = RestartFrom(**change.from_step) if change.from_step else None
                status = await self.service.restart(workflow, instance_id, start)
        except InstanceNotFoundError as exc:
            raise instance_not_found(instance_id) from exc
        except Exception as exc:
            raise client_mistake(exc) or server_error(exc) from exc
        record = await self.service.find(workflow, instance_id)
        now = datetime.now(UTC)
        return success({"status": (record.status if record else status).value,
                        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"})

    async def batch_delete(self, request: Request, workflow: str) -> Response:
        ids = parse_batch_delete_body(await self._json(request, required=True))
        deleted: list[dict[str, str]] = []
        errors: list[dict[str, Any]] = []
        done: set[str] = set()
        for instance_id in ids:
            if instance_id in done:
                deleted.append({"id": instance_id})
                continue
            try:
                await self.service.get(workflow, instance_id)
                await self.service.delete(workflow, instance_id)
            except InstanceNotFoundError:
                errors.append({"id": instance_id, "code": 10400,
                               "message": "workflows.api.error.instance.not_found"})
                continue
            except Exception:
                errors.append({"id": instance_id, "code": FAILED,
                               "message": "workflows.api.error.internal_server"})
                continue
            done.add(instance_id)
            deleted.append({"id": instance_id})
        return success({"deleted": deleted, "errors": errors})

    async def delete_instance(self, request: Request, workflow: str) -> Response:
        instance_id = request.path_params["instance_id"]
        await self._existing(workflow, instance_id)
        try:
            await self.service.delete(workflow, instance_id)
        except InstanceNotFoundError as exc:
            raise instance_not_found(instance_id) from exc
        except Exception as exc:
            raise ApiError(500, FAILED, "Failed to delete instance") from exc
        return success({"success": True})

    async def send_event(self, request: Request, workflow: str) -> Response:
        instance_id, event_type = request.path_params["instance_id"], request.path_params["event_type"]
        payload = await self._json(request)
        await self._existing(workflow, instance_id)
        try:
            await self.service.send_event(workflow, instance_id, event_type,
                                          None if payload is NO_BODY else payload)
        except InstanceNotFoundError as exc:
            raise instance_not_found(instance_id) from exc
        except Exception as exc:
            raise client_mistake(exc) or server_error(exc) from exc
        return success({"success": True})

    # -- helpers -------------------------------------------------------------------------------------
    async def _existing(self, workflow: str, instance_id: str) -> None:
        """404 unless an instance has exactly this id (``latest`` is not special here)."""
        try:
            await self.service.get(workflow, instance_id)
        except InstanceNotFoundError as exc:
            raise instance_not_found(instance_id) from exc

    async def _json(self, request: Request, required: bool = False) -> Any:
        """The JSON body; ``NO_BODY`` (or ``{}`` when ``required``) for an empty one."""
        body = await json_body(request, API_BODY_LIMIT)
        if body is NO_BODY and required:
            return {}
        return body


async def json_body(request: Request, limit: int) -> Any:
    """The request's JSON body (at most ``limit`` bytes, ``BodyTooLarge`` past it), or
    ``NO_BODY`` for an empty one; ``ApiError`` (400) for anything that is not JSON."""
    raw = await read_body(request, limit)
    if not raw.strip():
        return NO_BODY
    if json_depth_over(raw, API_JSON_DEPTH_LIMIT):
        raise ApiError(400, FAILED, "Invalid JSON request body: nested deeper than "
                                    f"{API_JSON_DEPTH_LIMIT} levels")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, FAILED, "Invalid JSON request body") from exc


def _log_row(row: LogEvent) -> dict[str, Any]:
    item = {"seq": row.seq, "timestamp_ms": row.timestamp_ms, "event": int(row.event),
            "group_key": row.group_key, "target": row.target, "metadata": row.metadata}
    if row.traceback is not None:
        item["traceback"] = row.traceback
    if row.version is not None:
        item["version"] = row.version
    if row.runner is not None:
        item["runner"] = {"engine": row.runner.engine, "version": row.runner.version}
    return item


def _actions(status: InstanceStatus) -> list[str]:
    """pyflow's addition: the control actions that change an instance in ``status`` (the
    engine's table), so the explorer offers those and keeps no copy of the rules."""
    return [action.value for action in allowed_actions(status)]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python accepts NaN/Infinity; JSON.parse does not
