"""The explorer's R2 routes, shaped as wrangler 4.164's local explorer API (Cloudflare's REST API
for R2): buckets, a page of objects by prefix and delimiter, an object, uploads and deletes.
Every read and write goes through ``R2Bucket``, the object user code gets as ``env.<BINDING>``.

    GET    /r2/buckets                                          the config's buckets
    GET    /r2/buckets/:bucket                                  one bucket
    GET    /r2/buckets/:bucket/objects?prefix=&delimiter=&cursor=&per_page=
    DELETE /r2/buckets/:bucket/objects                          delete keys given as JSON
    POST   /r2/buckets/:bucket/objects                          pyflow's: upload given as JSON
    GET    /r2/buckets/:bucket/objects/:key                     the object (cf-metadata-only:
                                                                true for its metadata as JSON)
    PUT    /r2/buckets/:bucket/objects/:key                     upload the raw body
    DELETE /r2/buckets/:bucket/objects/:key                     delete one object

An object is sent as an attachment a browser never renders, whatever its Content-Type says.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from pyflow_cli.bindings.local import file_name
from pyflow_cli.bindings.r2 import MAX_LIST_KEYS, R2Bucket
from pyflow_cli.bindings.r2_objects import R2Object
from pyflow_cli.engine.clock import iso_ms
from pyflow_cli.server.api import NO_BODY, json_body
from pyflow_cli.server.envelope import success
from pyflow_cli.server.explorer.handlers import Routes, expect_object, not_found, text_param, whole_number
from pyflow_cli.server.explorer.kv_api import raw_response
from pyflow_cli.server.routes import ApiRoute
from pyflow_cli.server.security import WORKER_BODY_LIMIT, read_body
from pyflow_cli.server.validation import ValidationFailed

if TYPE_CHECKING:
    from pyflow_cli.server.runtime import DevRuntime

NO_SUCH_KEY = 10007
PREFIX = "/r2/buckets"


def object_json(found: R2Object) -> dict[str, Any]:
    """An object as the API shows it: key, etag, size, upload time, metadata."""
    http = {name: iso_ms(value.timestamp() * 1000) if isinstance(value, datetime) else value
            for name, value in found.httpMetadata.items()}
    return {"key": found.key, "etag": found.etag, "size": found.size, "version": found.version,
            "last_modified": iso_ms(found.uploaded.timestamp() * 1000),
            "http_metadata": http, "custom_metadata": dict(found.customMetadata)}


def r2_routes(runtime: DevRuntime, routes: Routes) -> list[ApiRoute]:

    def bucket(request: Request) -> R2Bucket:
        wanted = request.path_params["bucket_name"]
        for config in runtime.project.r2_buckets:
            if config.bucket_name == wanted:
                bindings = runtime.workspace.bindings
                assert bindings is not None
                return R2Bucket(bindings.r2(config), config.binding, bindings.now_ms)
        raise not_found(f'No R2 bucket "{wanted}" in {runtime.project.config_path.name}.')

    def described(name: str) -> dict[str, Any]:
        config = next(b for b in runtime.project.r2_buckets if b.bucket_name == name)
        return {"name": name, "binding": config.binding, "file": f"r2/{file_name(name)}"}

    async def list_buckets(request: Request) -> Response:
        buckets = [described(b.bucket_name) for b in runtime.project.r2_buckets]
        return success({"buckets": buckets}, {"count": len(buckets), "total_count": len(buckets)})

    async def get_bucket(request: Request) -> Response:
        bucket(request)
        return success(described(request.path_params["bucket_name"]))

    async def list_objects(request: Request) -> Response:
        found = await bucket(request).list(
            prefix=text_param(request, "prefix") or "", delimiter=text_param(request, "delimiter") or "",
            cursor=text_param(request, "cursor", 4096),
            limit=whole_number(request, "per_page", MAX_LIST_KEYS, 1, MAX_LIST_KEYS))
        info = {"delimited": list(found["delimitedPrefixes"]),
                "is_truncated": "true" if found["truncated"] else "false"}
        if found["truncated"]:
            info["cursor"] = found["cursor"]
        return success([object_json(o) for o in found["objects"]], info)

    async def get_object(request: Request) -> Response:
        key = request.path_params["object_key"]
        r2 = bucket(request)
        metadata_only = request.headers.get("cf-metadata-only") == "true"
        found = await (r2.head(key) if metadata_only else r2.get(key))
        if found is None:
            raise not_found("The specified key does not exist.", NO_SUCH_KEY)
        if metadata_only:
            return success(object_json(found))
        data: bytes = await found.bytes()  # type: ignore[attr-defined]
        custom = {f"x-r2-custom-metadata-{name}": value
                  for name, value in found.customMetadata.items() if _header_safe(name, value)}
        content_type = str(found.httpMetadata.get("contentType") or "")
        return raw_response(
            data, key, content_type if _header_safe("t", content_type) else "application/octet-stream",
            headers={"ETag": found.httpEtag, **custom,
                     "Last-Modified": found.uploaded.strftime("%a, %d %b %Y %H:%M:%S GMT")})

    async def put_object(request: Request) -> Response:
        data = await read_body(request, WORKER_BODY_LIMIT)
        custom_text = request.headers.get("cf-r2-custom-metadata")
        try:
            custom = None if custom_text is None else json.loads(custom_text)
        except ValueError:
            raise ValidationFailed(["cf-r2-custom-metadata: expected a JSON object"]) from None
        content_type = request.headers.get("content-type")
        stored = await bucket(request).put(request.path_params["object_key"], data, {
            "httpMetadata": {"contentType": content_type} if content_type else {},
            "customMetadata": custom})
        return success(_put_result(stored))

    async def upload(request: Request) -> Response:
        body = expect_object(await json_body(request, WORKER_BODY_LIMIT), "body")
        key, value = body.get("key"), body.get("value")
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise ValidationFailed(["body: expected {key, value} with value the object's bytes in "
                                    "base64"])
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed(["value: not valid base64"]) from None
        stored = await bucket(request).put(key, data, {
            "httpMetadata": body.get("http_metadata"), "customMetadata": body.get("custom_metadata")})
        return success(_put_result(stored))

    async def delete_object(request: Request) -> Response:
        key = request.path_params["object_key"]
        await bucket(request).delete(key)
        return success({"key": key})

    async def delete_objects(request: Request) -> Response:
        keys = await json_body(request, WORKER_BODY_LIMIT)
        if keys is NO_BODY or not isinstance(keys, list) or not keys \
                or not all(isinstance(key, str) for key in keys):
            raise ValidationFailed(["Request body must be a non-empty array of keys"])
        await bucket(request).delete(keys)
        return success([{"key": key} for key in keys])

    return [
        routes.route(PREFIX, {"GET": list_buckets}),
        routes.route(PREFIX + "/{bucket_name}", {"GET": get_bucket}),
        routes.route(PREFIX + "/{bucket_name}/objects",
                     {"GET": list_objects, "POST": upload, "DELETE": delete_objects}),
        routes.route(PREFIX + "/{bucket_name}/objects/{object_key:rest}",
                     {"GET": get_object, "PUT": put_object, "DELETE": delete_object}),
    ]


def _put_result(stored: R2Object | None) -> dict[str, Any]:
    assert stored is not None  # no onlyIf condition was given
    return {"key": stored.key, "etag": stored.etag, "size": stored.size, "version": stored.version}


def _header_safe(name: str, value: str) -> bool:
    """Whether ``name: value`` can be sent as an HTTP header as it is."""
    return bool(value) and all(32 < ord(c) < 127 and c not in '()<>@,;:\\"/[]?={}' for c in name) \
        and all(31 < ord(c) < 127 for c in value)
