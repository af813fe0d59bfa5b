"""The OpenAPI 3.0 document of the local explorer API, served at ``GET /cdn-cgi/local/explorer/api``.

It describes the Workflows routes pyflow serves, with the reference's operation ids, so tools
generated from the reference's document work against pyflow too; the explorer's routes for KV,
R2, D1, crons and engines come from ``openapi_local``.
"""

from __future__ import annotations

from typing import Any

from pyflow_cli.engine.status import STATUS_NAMES, ControlAction
from pyflow_cli.server.openapi_local import local_data_paths

API_PATH = "/cdn-cgi/local/explorer/api"
_STATUSES = ["queued", "running", "paused", "errored", "terminated", "complete", "waitingForPause",
             "waiting"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _path_param(name: str, description: str, schema: str = "") -> dict[str, Any]:
    return {"in": "path", "name": name, "required": True, "description": description,
            "schema": _ref(schema) if schema else {"type": "string"}}


def _query_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"in": "query", "name": name, "required": False, "description": description,
            "schema": schema}


def _json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _responses(result: dict[str, Any], summary: str, result_info: dict[str, Any] | None = None
               ) -> dict[str, Any]:
    success: dict[str, Any] = {"allOf": [_ref("api-response-common"),
                                         {"type": "object", "properties": {"result": result}}]}
    if result_info is not None:
        success["allOf"][1]["properties"]["result_info"] = result_info
    return {
        "200": {"description": f"{summary} response.",
                "content": {"application/json": {"schema": success}}},
        "4XX": {"description": f"{summary} response failure.",
                "content": {"application/json": {"schema": _ref("api-response-common-failure")}}},
    }


def _operation(operation_id: str, summary: str, description: str, parameters: list[dict[str, Any]],
               result: dict[str, Any], body: dict[str, Any] | None = None,
               result_info: dict[str, Any] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id, "summary": summary, "description": description,
        "tags": ["Workflows"], "parameters": parameters,
        "responses": _responses(result, summary, result_info)}
    if body is not None:
        operation["requestBody"] = body
    return operation


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


_STRING = {"type": "string"}
_NUMBER = {"type": "number"}
_BOOLEAN = {"type": "boolean"}
_NULLABLE_STRING = {"type": "string", "nullable": True}
_ACTIONS = {"type": "array", "items": {"type": "string", "enum": [a.value for a in ControlAction]},
            "description": "pyflow's addition: the control actions that change the instance in "
                           "its status (pause, resume, terminate, restart, delete)."}
_WF = _path_param("workflow_name", "The name of the workflow.", "workflows_workflow-name")
_ID = _path_param("instance_id", "The instance id.", "workflows_instance-id")


def _schemas() -> dict[str, Any]:
    message = _object({"code": {"type": "integer"}, "message": _STRING}, ["code", "message"])
    status_enum = {"type": "string", "enum": [*_STATUSES, "unknown"]}
    return {
        "api-response-common": _object(
            {"success": _BOOLEAN, "errors": {"type": "array", "items": message},
             "messages": {"type": "array", "items": message}},
            ["success", "errors", "messages"]),
        "api-response-common-failure": _object(
            {"success": {"type": "boolean", "enum": [False]},
             "errors": {"type": "array", "items": message},
             "messages": {"type": "array", "items": message},
             "result": {"type": "object", "nullable": True}},
            ["success", "errors", "messages", "result"]),
        "workflows_workflow-name": {"type": "string", "example": "my-workflow",
                                    "description": "The name of the workflow."},
        "workflows_instance-id": {"type": "string",
                                  "description": "The unique identifier of a workflow instance."},
        "workflows_workflow": _object({"name": _STRING, "class_name": _STRING,
                                       "script_name": _STRING}, ["name"]),
        "workflows_workflow-details": _object(
            {"name": _STRING, "class_name": _STRING, "script_name": _STRING,
             "instances": _object({name: _NUMBER for name in sorted(STATUS_NAMES)})},
            ["name", "class_name", "script_name", "instances"]),
        "workflows_instance": _object({"id": _STRING, "status": status_enum,
                                       "created_on": _STRING, "actions": _ACTIONS,
                                       "versionId": _NULLABLE_STRING,
                                       "version": _NULLABLE_STRING}, ["id"]),
        "workflows_instance-details": _object(
            {"status": status_enum, "params": {}, "queued": _NULLABLE_STRING,
             "start": _NULLABLE_STRING, "end": _NULLABLE_STRING, "output": {},
             "error": {**_object({"name": _STRING, "message": _STRING}), "nullable": True},
             "steps": {"type": "array", "items": {"type": "object"}, "description": (
                 "Each step; a failed attempt (`attempts[].error`) may carry pyflow's "
                 "`traceback` beside its error, and every attempt the `versionId` of the code it "
                 "ran on and the `engine` that ran it.")},
             "step_count": _NUMBER,
             "versionId": _NULLABLE_STRING, "version": {**_NULLABLE_STRING, "description": (
                 "pyflow's addition: the label (v1, v2...) of the version of the code the "
                 "instance records; each attempt has its own `versionId` and `version`.")},
             "trigger": _object({"source": _STRING}),
             "success": {"type": "boolean", "nullable": True}, "created_on": _STRING,
             "actions": _ACTIONS,
             "traceback": {"allOf": [_ref("pyflow_traceback")], "description": (
                 "pyflow's addition: the user's frames of the instance's error, when it has any.")}},
            ["status", "steps"]),
        "pyflow_metrics": _metrics_schema(),
        "pyflow_traceback": {**_object(
            {"frames": {"type": "array", "items": _object(
                {"file": _STRING, "line": {"type": "integer"}, "function": _STRING,
                 "source": _STRING}, ["file", "line", "function", "source"])},
             "omitted": {"type": "integer", "description": "Earlier frames left out."},
             "text": {"type": "string", "description": "The compact text form, for terminals."}},
            ["frames", "omitted", "text"]),
            "description": "The frames of the user's code in a failure's traceback, innermost "
                           "last (pyflow's addition)."},
    }


def _metrics_schema() -> dict[str, Any]:
    nullable = {"type": "number", "nullable": True}
    counts = {name: {"type": "integer"} for name in ("started", "succeeded", "failed", "terminated")}
    return _object({
        "workflow": _STRING, "since": _STRING, "until": _STRING, "bucket_ms": _NUMBER,
        "totals": _object({**counts, "wall_time_ms": _object(
            {"p50": nullable, "p95": nullable, "runs": {"type": "integer"}})}),
        "series": {"type": "array", "items": _object(
            {"start": _STRING, **counts, "wall_time_p50_ms": nullable, "wall_time_p95_ms": nullable})},
        "steps": {"type": "array", "items": _object(
            {"name": _STRING, "started": {"type": "integer"}, "failed": {"type": "integer"},
             "failed_attempts": {"type": "integer"}, "retries": {"type": "integer"}})},
    }, ["workflow", "since", "until", "bucket_ms", "totals", "series", "steps"])


def openapi_document() -> dict[str, Any]:
    """The whole document (a fresh dict each call)."""
    listing_info = _object({"page": _NUMBER, "per_page": _NUMBER, "total_count": _NUMBER,
                            "total_pages": _NUMBER, "status_counts": {"type": "object"}})
    status_body = {"oneOf": [
        _object({"status": {"type": "string", "enum": ["pause"]}}, ["status"]),
        _object({"status": {"type": "string", "enum": ["resume"]}}, ["status"]),
        _object({"status": {"type": "string", "enum": ["terminate"]}, "rollback": _BOOLEAN},
                ["status"]),
        _object({"status": {"type": "string", "enum": ["restart"]},
                 "from": _object({"name": {"type": "string", "minLength": 1, "maxLength": 256},
                                  "count": {"type": "integer", "minimum": 1},
                                  "type": {"type": "string", "enum": ["do", "sleep", "waitForEvent"]}},
                                 ["name"])}, ["status"]),
    ]}
    ids = {"type": "array", "minItems": 1, "maxItems": 100,
           "items": {"type": "string", "minLength": 1, "maxLength": 271,
                     "pattern": "^[a-zA-Z0-9, */#_-]+$"}}
    paths = {
        "/workflows": {"get": _operation(
            "workflows-list-workflows", "List Workflows",
            "Returns the workflows configured for local development.", [],
            {"type": "array", "items": _ref("workflows_workflow")},
            result_info=_object({"count": _NUMBER}))},
        "/workflows/{workflow_name}": {
            "get": _operation("workflows-get-workflow-details", "Get Workflow Details",
                              "Returns details of a workflow including instance status counts.",
                              [_WF], _ref("workflows_workflow-details")),
            "delete": _operation("workflows-delete-workflow", "Delete Workflow (all instances)",
                                 "Deletes every instance of a workflow.", [_WF],
                                 _object({"status": _STRING, "success": _BOOLEAN}))},
        "/workflows/{workflow_name}/metrics": {"get": _operation(
            "pyflow-workflow-metrics", "Workflow Metrics",
            "pyflow's addition: instances started, succeeded, failed and terminated per time "
            "bucket, wall time p50/p95, and steps and retries per step name, from the event log.",
            [_WF, _query_param("since", {"type": "string", "default": "24h"},
                               "How far back: a duration such as 1h, 24h or 7d (1 minute to "
                               "31 days)."),
             _query_param("bucket", {"type": "string"},
                          "Width of each bucket, a duration (default: chosen by `since`).")],
            _ref("pyflow_metrics"))},
        "/workflows/{workflow_name}/instances": {
            "get": _operation(
                "workflows-list-instances", "List Workflow Instances",
                "Returns the instances of a workflow, newest first.",
                [_WF,
                 _query_param("page", {"type": "number", "minimum": 1, "default": 1}, "Page number."),
                 _query_param("per_page", {"type": "number", "minimum": 1, "maximum": 100,
                                           "default": 25}, "Instances per page."),
                 _query_param("status", {"type": "string", "enum": _STATUSES}, "Only this status."),
                 _query_param("date_start", {"type": "string", "format": "date-time"},
                              "Only instances created at or after this time."),
                 _query_param("date_end", {"type": "string", "format": "date-time"},
                              "Only instances created at or before this time."),
                 _query_param("id_prefix", {"type": "string", "maxLength": 256},
                              "pyflow's addition: only instances whose id starts with this."),
                 _query_param("q", {"type": "string", "maxLength": 256},
                              "pyflow's addition: only instances whose params, output or error "
                              "contain this text (ASCII case ignored)."),
                 _query_param("version", {"type": "string", "maxLength": 256},
                              "pyflow's addition: only instances that record this version of "
                              "the code (a label such as v2, or a version id).")],
                {"type": "array", "items": _ref("workflows_instance")}, result_info=listing_info),
            "post": _operation(
                "workflows-create-instance", "Create Workflow Instance",
                "Creates a new workflow instance.", [_WF], _object({"id": _STRING}, ["id"]),
                body=_json_body(_object({"id": _STRING, "params": {
                    "description": "Optional JSON payload to pass to the workflow."}}), False))},
        "/workflows/{workflow_name}/instances/batch/delete": {"post": _operation(
            "workflows-batch-delete-instances", "Batch Delete Workflow Instances",
            "Deletes up to 100 workflow instances.", [_WF],
            _object({"deleted": {"type": "array", "items": _object({"id": _STRING})},
                     "errors": {"type": "array", "items": _object(
                         {"id": _STRING, "code": _NUMBER, "message": _STRING})}}),
            body=_json_body(_object({"instances": ids}, ["instances"])))},
        "/workflows/{workflow_name}/instances/{instance_id}": {
            "get": _operation("workflows-get-instance-details", "Get Workflow Instance Details",
                              "Returns the status details of a workflow instance.", [_WF, _ID],
                              _ref("workflows_instance-details")),
            "delete": _operation("workflows-delete-instance", "Delete Workflow Instance",
                                 "Deletes a workflow instance and everything stored about it.",
                                 [_WF, _ID], _object({"success": _BOOLEAN}))},
        "/workflows/{workflow_name}/instances/{instance_id}/log": {"get": _operation(
            "pyflow-read-instance-log", "Read Workflow Instance Event Log",
            "pyflow's addition: the instance's event-log rows after `after_seq`, oldest first.",
            [_WF, _ID, _query_param("after_seq", {"type": "integer", "minimum": 0,
                                                  "maximum": 2**63 - 1, "default": 0},
                                    "Only rows after this sequence number.")],
            {"type": "array", "items": _object(
                {"seq": {"type": "integer"}, "timestamp_ms": _NUMBER, "event": {"type": "integer"},
                 "group_key": _NULLABLE_STRING, "target": _NULLABLE_STRING,
                 "metadata": {"type": "object"}, "traceback": _ref("pyflow_traceback"),
                 "version": {"type": "string", "description": (
                     "On an attempt's start: the version of the code it ran on.")},
                 "runner": {**_object({"engine": _STRING, "version": _NULLABLE_STRING},
                                      ["engine", "version"]), "description": (
                     "On an attempt's start: the engine that ran it, and its code version.")}})})},
        "/workflows/{workflow_name}/instances/{instance_id}/status": {"patch": _operation(
            "wor-change-status-workflow-instance", "Change Workflow Instance Status",
            "Pauses, resumes, terminates or restarts a workflow instance.", [_WF, _ID],
            _object({"status": {"type": "string", "enum": _STATUSES}, "timestamp": _STRING}),
            body=_json_body(status_body))},
        "/workflows/{workflow_name}/instances/{instance_id}/events/{event_type}": {"post": _operation(
            "workflows-send-instance-event", "Send Event to Workflow Instance",
            "Sends an event to a workflow instance; the raw JSON body is the payload.",
            [_WF, _ID, _path_param("event_type", "The event type.")],
            _object({"success": _BOOLEAN}), body=_json_body({}, False))},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Local Explorer API", "version": "0.0.1",
                 "description": "pyflow's local API for inspecting and changing Workflows, KV, R2 "
                                "and D1 state during local development (a subset of the "
                                "Cloudflare API)."},
        "servers": [{"description": "Local Explorer", "url": API_PATH}],
        "paths": {**paths, **local_data_paths()},
        "components": {"schemas": _schemas()},
    }
