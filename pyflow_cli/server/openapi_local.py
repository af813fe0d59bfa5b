"""The OpenAPI paths of the explorer's local-data routes (KV, R2, D1, crons, engines, a
workflow's events), merged into the local API's document by ``openapi.openapi_document``.

Where wrangler 4.164's local explorer API has the route, the operation id, parameters and result
are its own; pyflow's additions say so in their description.
"""

from __future__ import annotations

from typing import Any

from pyflow_cli.engine.status import TERMINAL_STATUSES

_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
_NUMBER = {"type": "number"}
_BOOLEAN = {"type": "boolean"}
_ANY: dict[str, Any] = {}
_NULLABLE_STRING = {"type": "string", "nullable": True}
_MAX_SEQ = 2**63 - 1


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"in": "path", "name": name, "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"in": "query", "name": name, "required": False, "description": description,
            "schema": schema}


def _header(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"in": "header", "name": name, "required": False, "description": description,
            "schema": schema}


def _json(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _raw(media: str = "application/octet-stream") -> dict[str, Any]:
    return {"required": False, "content": {media: {"schema": {"type": "string", "format": "binary"}}}}


def _failure(summary: str) -> dict[str, Any]:
    return {"description": f"{summary} response failure.", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/api-response-common-failure"}}}}


def _op(operation_id: str, summary: str, description: str, tag: str,
        parameters: list[dict[str, Any]], result: dict[str, Any] | None,
        body: dict[str, Any] | None = None, result_info: dict[str, Any] | None = None,
        raw_media: str | None = None) -> dict[str, Any]:
    """An operation answering with the envelope around ``result`` (or, with ``raw_media``,
    the stored bytes themselves), and the failure envelope for any 4xx."""
    if raw_media is not None:
        ok: dict[str, Any] = {"description": f"{summary} response.", "content": {
            raw_media: {"schema": {"type": "string", "format": "binary"}}}}
        if result is not None:  # the JSON a request header asks for instead
            ok["content"]["application/json"] = {"schema": _envelope(result, result_info)}
    else:
        ok = {"description": f"{summary} response.",
              "content": {"application/json": {"schema": _envelope(result or _ANY, result_info)}}}
    operation: dict[str, Any] = {"operationId": operation_id, "summary": summary,
                                 "description": description, "tags": [tag],
                                 "parameters": parameters,
                                 "responses": {"200": ok, "4XX": _failure(summary)}}
    if body is not None:
        operation["requestBody"] = body
    return operation


def _envelope(result: dict[str, Any], result_info: dict[str, Any] | None) -> dict[str, Any]:
    properties: dict[str, Any] = {"result": result}
    if result_info is not None:
        properties["result_info"] = result_info
    return {"allOf": [{"$ref": "#/components/schemas/api-response-common"},
                      {"type": "object", "properties": properties}]}


_KV = "Workers KV Namespace"
_NS = _path("namespace_id", "The namespace's id (its `id` in the config).")
_KEY = _path("key_name", "The key (URL-encoded).")
_BULK_RESULT = _object({"successful_key_count": _INTEGER, "unsuccessful_keys": _array(_STRING)})


def _kv_paths() -> dict[str, Any]:
    namespace = _object({"id": _STRING, "title": _STRING, "binding": _STRING, "file": _STRING},
                        ["id", "title"])
    key = _object({"name": _STRING, "expiration": _NUMBER, "metadata": _ANY}, ["name"])
    write = _object({"key": _STRING, "value": _STRING, "base64": _BOOLEAN,
                     "expiration": _INTEGER, "expiration_ttl": _INTEGER, "metadata": _ANY},
                    ["key", "value"])
    return {
        "/storage/kv/namespaces": {"get": _op(
            "workers-kv-namespace-list-namespaces", "List namespaces",
            "The KV namespaces of the config; `title` is the binding.", _KV,
            [_query("order", {"type": "string", "enum": ["id", "title"]}, "Sort by id or title."),
             _query("direction", {"type": "string", "enum": ["asc", "desc"]}, "Sort order.")],
            _array(namespace), result_info=_object({"count": _INTEGER}))},
        "/storage/kv/namespaces/{namespace_id}/keys": {"get": _op(
            "workers-kv-namespace-list-a-namespace'-s-keys", "List keys in a namespace",
            "A page of key names in key order, with expiration and metadata; pass "
            "`result_info.cursor` as `cursor` for the next page.", _KV,
            [_NS, _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1000},
                         "Keys per page."),
             _query("prefix", {"type": "string", "maxLength": 512}, "Only keys starting with this."),
             _query("cursor", {"type": "string", "maxLength": 4096}, "From the previous page.")],
            _array(key), result_info=_object({"count": _INTEGER, "cursor": _STRING}))},
        "/storage/kv/namespaces/{namespace_id}/values/{key_name}": {
            "get": _op("workers-kv-namespace-read-key-value-pair", "Get a key's value",
                       "The value as raw bytes, sent as an attachment; the `expiration` header "
                       "has its expiry (epoch seconds), pyflow's `x-pyflow-kv-metadata` its "
                       "metadata (URL-encoded JSON).", _KV, [_NS, _KEY], None,
                       raw_media="application/octet-stream"),
            "put": _op("workers-kv-namespace-write-key-value-pair-with-metadata",
                       "Write a key-value pair with optional metadata",
                       "Stores the raw request body under the key. A web page must write "
                       "through the JSON bulk route instead.", _KV,
                       [_NS, _KEY,
                        _query("expiration", {"type": "integer", "minimum": 0}, "Epoch seconds."),
                        _query("expiration_ttl", {"type": "integer", "minimum": 0},
                               "Seconds from now (at least 60)."),
                        _query("metadata", {"type": "string", "maxLength": 4096}, "JSON.")],
                       _object({}), body=_raw()),
            "delete": _op("workers-kv-namespace-delete-key-value-pair", "Delete a key-value pair",
                          "Deletes the key; a missing key is not an error.", _KV, [_NS, _KEY],
                          _object({}))},
        "/storage/kv/namespaces/{namespace_id}/bulk": {"put": _op(
            "workers-kv-namespace-write-multiple-key-value-pairs", "Write multiple key-value pairs",
            "Writes up to 10,000 keys given as JSON (`base64: true` for binary values).", _KV,
            [_NS], _BULK_RESULT, body=_json({**_array(write), "maxItems": 10_000}))},
        "/storage/kv/namespaces/{namespace_id}/bulk/delete": {"post": _op(
            "workers-kv-namespace-delete-multiple-key-value-pairs", "Delete multiple key-value pairs",
            "Deletes up to 10,000 keys given as a JSON array of names.", _KV, [_NS], _BULK_RESULT,
            body=_json({**_array(_STRING), "maxItems": 10_000}))},
    }


_R2 = "R2 Bucket"
_BUCKET = _path("bucket_name", "The bucket's name (its `bucket_name` in the config).")
_OBJECT_KEY = _path("object_key", "The object's key (URL-encoded).")
_R2_OBJECT = _object({"key": _STRING, "etag": _STRING, "size": _INTEGER, "version": _STRING,
                      "last_modified": _STRING, "http_metadata": {"type": "object"},
                      "custom_metadata": {"type": "object"}},
                     ["key", "etag", "size", "last_modified"])
_PUT_RESULT = _object({"key": _STRING, "etag": _STRING, "size": _INTEGER, "version": _STRING})


def _r2_paths() -> dict[str, Any]:
    bucket = _object({"name": _STRING, "binding": _STRING, "file": _STRING}, ["name"])
    keys = {**_array(_STRING), "minItems": 1}
    upload = _object({"key": {"type": "string", "minLength": 1}, "value": _STRING,
                      "http_metadata": {"type": "object"},
                      "custom_metadata": {"type": "object", "additionalProperties": _STRING}},
                     ["key", "value"])
    return {
        "/r2/buckets": {"get": _op(
            "r2-list-buckets", "List Buckets", "The R2 buckets of the config.", _R2, [],
            _object({"buckets": _array(bucket)}),
            result_info=_object({"count": _INTEGER, "total_count": _INTEGER}))},
        "/r2/buckets/{bucket_name}": {"get": _op(
            "r2-get-bucket", "Get Bucket", "One bucket of the config.", _R2, [_BUCKET], bucket)},
        "/r2/buckets/{bucket_name}/objects": {
            "get": _op("r2-bucket-list-objects", "List Objects",
                       "A page of objects in key order; with a `delimiter`, the prefixes it "
                       "groups (folders) are in `result_info.delimited`.", _R2,
                       [_BUCKET, _query("prefix", _STRING, "Only keys starting with this."),
                        _query("delimiter", _STRING, "Group keys by this (usually `/`)."),
                        _query("cursor", {"type": "string", "maxLength": 4096}, "From the previous page."),
                        _query("per_page", {"type": "integer", "minimum": 1, "maximum": 1000},
                               "Objects per page.")],
                       _array(_R2_OBJECT), result_info=_object(
                           {"delimited": _array(_STRING), "cursor": _STRING,
                            "is_truncated": {"type": "string", "enum": ["true", "false"]}})),
            "post": _op("pyflow-r2-bucket-upload-object", "Upload Object (JSON)",
                        "pyflow's addition: uploads an object whose bytes are base64 in a JSON "
                        "body (what the explorer's page sends).", _R2, [_BUCKET], _PUT_RESULT,
                        body=_json(upload)),
            "delete": _op("r2-bucket-delete-objects", "Delete Objects",
                          "Deletes the objects whose keys the JSON array lists.", _R2, [_BUCKET],
                          _array(_object({"key": _STRING})), body=_json(keys))},
        "/r2/buckets/{bucket_name}/objects/{object_key}": {
            "get": _op("r2-bucket-get-object", "Get Object",
                       "The object's bytes, sent as an attachment (a browser never renders "
                       "it); with `cf-metadata-only: true`, its metadata as JSON.", _R2,
                       [_BUCKET, _OBJECT_KEY,
                        _header("cf-metadata-only", {"type": "string", "enum": ["true", "false"]},
                                "`true` for the metadata only.")],
                       _R2_OBJECT, raw_media="*/*"),
            "put": _op("r2-bucket-put-object", "Put Object",
                       "Stores the raw request body; its Content-Type becomes the object's, "
                       "`cf-r2-custom-metadata` (JSON) its custom metadata.", _R2,
                       [_BUCKET, _OBJECT_KEY,
                        _header("cf-r2-custom-metadata", {"type": "string", "example": '{"by": "me"}'},
                                "Custom metadata as JSON.")],
                       _PUT_RESULT, body=_raw()),
            "delete": _op("r2-bucket-delete-object", "Delete Object",
                          "Deletes the object; a missing one is not an error.", _R2,
                          [_BUCKET, _OBJECT_KEY], _object({"key": _STRING}))},
    }


_D1 = "D1"
_DB = _path("database_id", "The database's id (`database_id` in the config, else its name).")


def _d1_paths() -> dict[str, Any]:
    database = _object({"uuid": _STRING, "name": _STRING, "version": _STRING,
                        "database_name": _STRING, "binding": _STRING, "file": _STRING},
                       ["uuid", "name"])
    value = {"anyOf": [_STRING, _NUMBER, _BOOLEAN], "nullable": True}
    sql = {"type": "string", "example": "SELECT * FROM items WHERE id = ?"}
    query = _object({"sql": sql, "params": _array(value)}, ["sql"])
    body = {"oneOf": [
        _object({"sql": sql, "params": _array(value), "read_only": _BOOLEAN}, ["sql"]),
        _object({"batch": {**_array(query), "minItems": 1, "maxItems": 100},
                 "read_only": _BOOLEAN}, ["batch"])],
        "example": {"sql": "SELECT * FROM items WHERE id = ?", "params": [1], "read_only": True}}
    result = _object({"results": _object({"columns": _array(_STRING), "rows": _array(_array(_ANY))}),
                      "meta": {"type": "object"}, "success": _BOOLEAN, "sql": _STRING})
    column = _object({"name": _STRING, "type": _STRING, "not_null": _BOOLEAN,
                      "default": _NULLABLE_STRING, "primary_key": _INTEGER})
    table = _object({"name": _STRING, "sql": _STRING, "rows": _INTEGER, "columns": _array(column)})
    return {
        "/d1/database": {"get": _op(
            "d1-list-databases", "List D1 Databases",
            "The D1 databases of the config; `name` is the binding, `uuid` the id.", _D1,
            [_query("name", _STRING, "Only databases whose name or binding contains this.")],
            _array(database), result_info=_object({"count": _INTEGER}))},
        "/d1/database/{database_id}/raw": {"post": _op(
            "d1-raw-database-query", "Raw D1 Database query",
            "Runs SQL in one transaction; several statements without parameters give a result "
            "each. pyflow's `read_only: true` refuses any statement that writes.", _D1, [_DB],
            _array(result), body=_json(body))},
        "/d1/database/{database_id}/tables": {"get": _op(
            "pyflow-d1-list-tables", "List Tables",
            "pyflow's addition: the user tables with their columns, CREATE statement and row "
            "count.", _D1, [_DB], _array(table), result_info=_object({"count": _INTEGER}))},
        "/d1/database/{database_id}/rows": {"get": _op(
            "pyflow-d1-read-rows", "Read Table Rows",
            "pyflow's addition: a page of a table's rows.", _D1,
            [_DB, {**_query("table", {"type": "string", "minLength": 1}, "The table."), "required": True},
             _query("offset", {"type": "integer", "minimum": 0, "maximum": _MAX_SEQ}, "Rows to skip."),
             _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Rows per page.")],
            _object({"columns": _array(_STRING), "rows": _array(_array(_ANY))}),
            result_info=_object({"offset": _INTEGER, "limit": _INTEGER, "total_count": _INTEGER}))},
        "/d1/database/{database_id}/migrations": {"get": _op(
            "pyflow-d1-list-migrations", "List Migrations",
            "pyflow's addition: the migrations recorded in the database and the files not "
            "applied yet.", _D1, [_DB], _object({
                "table": _STRING, "directory": _STRING, "pending": _array(_STRING),
                "applied": _array(_object({"id": _INTEGER, "name": _STRING, "applied_at": _STRING}))}))},
    }


_LOCAL = "Local Explorer"


def _local_paths() -> dict[str, Any]:
    run = _object({"cron": _STRING, "source": {"type": "string", "enum": ["schedule", "manual"]},
                   "scheduled_time": _NULLABLE_STRING, "started": _STRING, "duration_ms": _NUMBER,
                   "outcome": {"type": "string", "enum": ["ok", "exception"]},
                   "error": _NULLABLE_STRING,
                   "instances": _array(_object({"workflow": _STRING, "id": _STRING}))})
    cron = _object({"cron": _STRING, "handler": _BOOLEAN, "workflows": _array(_STRING),
                    "next": _array(_STRING), "error": _NULLABLE_STRING, "runs": _array(run)})
    engine = _object({"id": _STRING, "host": _STRING, "pid": _INTEGER, "version": _NULLABLE_STRING,
                      "heartbeat": _STRING, "current": _BOOLEAN, "alive": _BOOLEAN})
    event = _object({"seq": _INTEGER, "instance_seq": _INTEGER, "instance_id": _STRING,
                     "timestamp": _STRING,
                     "timestamp_ms": _NUMBER, "event": _INTEGER, "event_name": _STRING,
                     "group_key": _NULLABLE_STRING, "target": _NULLABLE_STRING,
                     "metadata": {"type": "object"},
                     "traceback": {"$ref": "#/components/schemas/pyflow_traceback"}})
    return {
        "/local/crons": {"get": _op(
            "pyflow-list-crons", "List Cron Triggers",
            "pyflow's addition: the config's cron expressions, what each runs, its next three "
            "fire times and its last runs this session.", _LOCAL, [], _array(cron),
            result_info=_object({"count": _INTEGER}))},
        "/local/scheduled": {"post": _op(
            "local-explorer-dispatch-scheduled", "Run a Cron Trigger",
            "Runs a configured cron now, as /cdn-cgi/handler/scheduled runs it: the Worker's "
            "scheduled handler and the workflows scheduled on it. A failing handler is a run "
            "with outcome `exception`.", _LOCAL, [], run,
            body=_json(_object({"cron": _STRING, "scheduled_time": {
                "type": "number", "minimum": 0, "maximum": 8.64e15}}, ["cron"])))},
        "/local/engines": {"get": _op(
            "pyflow-list-engines", "List Engines",
            "pyflow's addition: the engines connected to the store: host, pid, the version of "
            "the code they run, last heartbeat.", _LOCAL, [], _array(engine),
            result_info=_object({"count": _INTEGER}))},
        "/workflows/{workflow_name}/events": {"get": _op(
            "pyflow-list-workflow-events", "List Workflow Events",
            "pyflow's addition: the event-log rows of every instance of the workflow, newest "
            "first.", "Workflows",
            [{"in": "path", "name": "workflow_name", "required": True, "schema": _STRING,
              "description": "The name of the workflow."},
             _query("event", _STRING, "Event types (names such as STEP_START, or numbers), "
                                      "comma-separated or repeated."),
             _query("step", {"type": "string", "maxLength": 256}, "Step name contains this."),
             _query("since", _STRING, "An ISO time, or a duration back from now (15m, 24h)."),
             _query("until", _STRING, "An ISO time, or a duration back from now."),
             _query("after_seq", {"type": "integer", "minimum": 0, "maximum": _MAX_SEQ},
                    "Only rows after this sequence number."),
             _query("before_seq", {"type": "integer", "minimum": 1, "maximum": _MAX_SEQ},
                    "Only rows before this sequence number."),
             _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Rows (100).")],
            _array(event), result_info=_object({"count": _INTEGER, "more": _BOOLEAN}))},
    }


def _platform_paths() -> dict[str, Any]:
    """The routes of ``explorer/platform_api.py``: versions, deleting by age."""
    version = _object({"id": _STRING, "label": _STRING, "number": _INTEGER, "first_seen": _STRING,
                       "instances": _INTEGER})
    statuses = {"type": "string", "enum": sorted(s.value for s in TERMINAL_STATUSES)}
    return {
        "/local/versions": {"get": _op(
            "pyflow-list-versions", "List Code Versions",
            "pyflow's addition: every version of the code this store has seen, oldest first "
            "(v1, v2...), when it was first seen and how many instances record it.", _LOCAL, [],
            _array(version), result_info=_object({"count": _INTEGER}))},
        "/workflows/{workflow_name}/purge": {"post": _op(
            "pyflow-purge-workflow-instances", "Delete Finished Instances By Age",
            "pyflow's addition: deletes the workflow's finished instances that ended more than "
            "`older_than` ago, or before `ended_before` (give one), only those with `status` if "
            "given, with all their state; with `dry_run`, counts them instead.", "Workflows",
            [{"in": "path", "name": "workflow_name", "required": True, "schema": _STRING,
              "description": "The name of the workflow."}],
            _object({"deleted": _INTEGER, "matched": _INTEGER}),
            body=_json(_object({"older_than": {"type": "string", "example": "7d"},
                                "ended_before": {"type": "string", "format": "date-time"},
                                "status": {"oneOf": [statuses, _array(statuses)]},
                                "dry_run": _BOOLEAN})))},
    }


def local_data_paths() -> dict[str, Any]:
    """The paths, keyed as the document's ``paths`` are."""
    return {**_kv_paths(), **_r2_paths(), **_d1_paths(), **_local_paths(), **_platform_paths()}
