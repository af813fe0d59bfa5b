"""The explorer's KV routes, shaped as wrangler 4.164's local explorer API (Cloudflare's REST API
for Workers KV): namespaces, a page of keys, a value, writes and deletes. Every read and write
goes through ``KVNamespace``, the object user code gets as ``env.<BINDING>``, so the same rules,
limits and messages apply.

    GET    /storage/kv/namespaces                                the config's namespaces
    GET    /storage/kv/namespaces/:id/keys?prefix=&cursor=&limit= a page of keys, in key order
    GET    /storage/kv/namespaces/:id/values/:key                 the value, as raw bytes
    PUT    /storage/kv/namespaces/:id/values/:key                 write the raw body
    DELETE /storage/kv/namespaces/:id/values/:key                 delete one key
    PUT    /storage/kv/namespaces/:id/bulk                        write keys given as JSON
    POST   /storage/kv/namespaces/:id/bulk/delete                 delete keys given as JSON

A browser page writes only through the JSON routes (the local API takes no other writes from a
page). A value is sent as an attachment that a browser never renders.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from pyflow_cli.bindings.errors import BindingError
from pyflow_cli.bindings.kv import MAX_LIST_KEYS, MAX_VALUE_BYTES, KVNamespace
from pyflow_cli.bindings.kv_store import KvStore
from pyflow_cli.bindings.local import file_name
from pyflow_cli.server.api import NO_BODY, json_body
from pyflow_cli.server.envelope import FAILED, ApiError, success
from pyflow_cli.server.explorer.handlers import Routes, not_found, text_param, whole_number
from pyflow_cli.server.routes import ApiRoute
from pyflow_cli.server.security import WORKER_BODY_LIMIT, read_body
from pyflow_cli.server.validation import ValidationFailed

if TYPE_CHECKING:
    from pyflow_cli.server.runtime import DevRuntime

KEY_NOT_FOUND = 10009
MAX_BULK_KEYS = 10_000
BODY_LIMIT = MAX_VALUE_BYTES + 64 * 1024
MAX_EXPIRATION_S = 253_402_300_799  # the end of year 9999
PREFIX = "/storage/kv/namespaces"
RAW_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
               "Content-Security-Policy": "default-src 'none'; sandbox"}
"""Headers of a stored value or object sent as it is: whatever it holds, a browser shows no
page for it (it is downloaded, and would run nothing in this origin if it were shown)."""


def raw_response(data: bytes, name: str, media_type: str = "application/octet-stream",
                 headers: dict[str, str] | None = None) -> Response:
    """``data`` as an attachment named after ``name`` (its last path segment)."""
    shown = quote(name.rsplit("/", 1)[-1] or "value", safe="")
    return Response(data, media_type=media_type, headers={
        **RAW_HEADERS, "Content-Disposition": f"attachment; filename*=UTF-8''{shown}", **(headers or {})})


def kv_routes(runtime: DevRuntime, routes: Routes) -> list[ApiRoute]:

    def namespace(request: Request) -> tuple[KVNamespace, KvStore]:
        wanted = request.path_params["namespace_id"]
        for config in runtime.project.kv_namespaces:
            if config.id == wanted:
                bindings = runtime.workspace.bindings
                assert bindings is not None
                store = bindings.kv(config)
                return KVNamespace(store, config.binding, bindings.now_ms), store
        raise not_found(f'No KV namespace with id "{wanted}" in {runtime.project.config_path.name}.')

    async def list_namespaces(request: Request) -> Response:
        order = request.query_params.get("order") or "id"
        direction = request.query_params.get("direction") or "asc"
        if order not in ("id", "title") or direction not in ("asc", "desc"):
            raise ValidationFailed(['order: "id" or "title"; direction: "asc" or "desc"'])
        found = [{"id": n.id, "title": n.binding, "binding": n.binding,
                  "file": f"kv/{file_name(n.id)}"} for n in runtime.project.kv_namespaces]
        found.sort(key=lambda n: n[order], reverse=direction == "desc")
        return success(found, {"count": len(found)})

    async def list_keys(request: Request) -> Response:
        kv, _ = namespace(request)
        limit = whole_number(request, "limit", MAX_LIST_KEYS, 1, MAX_LIST_KEYS)
        page = await kv.list(prefix=text_param(request, "prefix") or "", limit=limit,
                             cursor=text_param(request, "cursor", 4096))
        keys = [{"name": k["name"], **({"expiration": k["expiration"]} if "expiration" in k else {}),
                 **({"metadata": k["metadata"]} if "metadata" in k else {})} for k in page["keys"]]
        return success(keys, {"count": len(keys), "cursor": page.get("cursor", "")})

    async def get_value(request: Request) -> Response:
        _, store = namespace(request)
        key = request.path_params["key_name"]
        found = await store.get(key)
        if found is None:
            raise not_found("key not found", KEY_NOT_FOUND)
        headers = {}
        if found.expiration_ms is not None:
            headers["expiration"] = str(found.expiration_ms // 1000)
        if found.metadata_json is not None:  # pyflow's addition: the explorer shows it
            headers["x-pyflow-kv-metadata"] = quote(found.metadata_json, safe="")
        return raw_response(found.value, key, headers=headers)

    async def put_value(request: Request) -> Response:
        kv, _ = namespace(request)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ApiError(415, FAILED, "Send the value as the raw request body "
                                        "(multipart/form-data is not supported locally).")
        data = await read_body(request, BODY_LIMIT)
        metadata_text = text_param(request, "metadata", 4096)
        try:
            metadata = None if metadata_text is None else json.loads(metadata_text)
        except ValueError:
            raise ValidationFailed(["metadata: expected JSON"]) from None
        options = _expiry({"expiration": whole_number(request, "expiration", None, 0, MAX_EXPIRATION_S),
                           "expiration_ttl": whole_number(request, "expiration_ttl", None, 0,
                                                          MAX_EXPIRATION_S)})
        await kv.put(request.path_params["key_name"], data,
                     {**options, **({"metadata": metadata} if metadata is not None else {})})
        return success({})

    async def delete_value(request: Request) -> Response:
        kv, _ = namespace(request)
        await kv.delete(request.path_params["key_name"])
        return success({})

    async def bulk_write(request: Request) -> Response:
        kv, _ = namespace(request)
        items = _array(await json_body(request, WORKER_BODY_LIMIT), "body")
        writes = [_write(item, f"body[{n}]") for n, item in enumerate(items)]
        failed: list[str] = []
        first: Exception | None = None
        for key, value, options in writes:
            try:
                await kv.put(key, value, options)
            except (BindingError, TypeError) as exc:
                failed.append(key)
                first = first or exc
        if first is not None:
            raise ApiError(400, FAILED, f"{len(failed)} of {len(writes)} keys were not written "
                                        f"({', '.join(failed[:5])}): {first}")
        return success({"successful_key_count": len(writes), "unsuccessful_keys": []})

    async def bulk_delete(request: Request) -> Response:
        kv, _ = namespace(request)
        keys = _array(await json_body(request, WORKER_BODY_LIMIT), "body")
        if not all(isinstance(key, str) for key in keys):
            raise ValidationFailed(["body: expected an array of key names (strings)"])
        for key in dict.fromkeys(keys):
            await kv.delete(key)
        return success({"successful_key_count": len(set(keys)), "unsuccessful_keys": []})

    return [
        routes.route(PREFIX, {"GET": list_namespaces}),
        routes.route(PREFIX + "/{namespace_id}/keys", {"GET": list_keys}),
        routes.route(PREFIX + "/{namespace_id}/values/{key_name:rest}",
                     {"GET": get_value, "PUT": put_value, "DELETE": delete_value}),
        routes.route(PREFIX + "/{namespace_id}/bulk", {"PUT": bulk_write}),
        routes.route(PREFIX + "/{namespace_id}/bulk/delete", {"POST": bulk_delete}),
    ]


def _array(body: Any, what: str) -> list[Any]:
    if body is NO_BODY or not isinstance(body, list):
        raise ValidationFailed([f"{what}: expected a JSON array"])
    if len(body) > MAX_BULK_KEYS:
        raise ValidationFailed([f"{what}: at most {MAX_BULK_KEYS:,} keys, got {len(body):,}"])
    return body


def _write(item: Any, where: str) -> tuple[str, str | bytes, dict[str, Any]]:
    """One entry of a bulk write: ``{key, value, base64?, metadata?, expiration?,
    expiration_ttl?}``, as the key, its value and ``put`` options."""
    if not isinstance(item, dict) or not isinstance(item.get("key"), str) \
            or not isinstance(item.get("value"), str):
        raise ValidationFailed([f"{where}: expected an object with a string key and value"])
    value: str | bytes = item["value"]
    if item.get("base64") is True:
        try:
            value = base64.b64decode(item["value"], validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed([f"{where}.value: not valid base64"]) from None
    options = _expiry({name: item.get(name) for name in ("expiration", "expiration_ttl")}, where)
    if item.get("metadata") is not None:
        options["metadata"] = item["metadata"]
    return item["key"], value, options


def _expiry(given: dict[str, Any], where: str = "") -> dict[str, Any]:
    """``expiration`` / ``expiration_ttl`` (the API's names) as ``put`` options; the TTL wins."""
    for name, value in given.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 0 <= value <= MAX_EXPIRATION_S):
            raise ValidationFailed([f"{where + '.' if where else ''}{name}: expected a whole number "
                                    f"of seconds from 0 to {MAX_EXPIRATION_S}"])
    if given.get("expiration_ttl") is not None:
        return {"expirationTtl": given["expiration_ttl"]}
    if given.get("expiration") is not None:
        return {"expiration": given["expiration"]}
    return {}
