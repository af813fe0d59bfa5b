"""Binding scenarios written against Cloudflare's documented Python Workers API for KV, R2 and D1.

Each scenario takes ``env`` and a prefix (so the fetch and the workflow runs use their own keys)
and returns plain JSON data describing what it saw; an exception it does not expect is returned
as ``{"raised": type, "message": text}``.
"""

import hashlib
from datetime import UTC, datetime

from workers import Headers, Response

SCENARIOS = {}
BIG = 5 * 1024 * 1024


def scenario(function):
    SCENARIOS[function.__name__] = function
    return function


async def run(env, name, prefix):
    try:
        return await SCENARIOS[name](env, prefix)
    except Exception as error:  # reported to the test as data
        return raised(error)


def raised(error):
    return {"raised": type(error).__name__, "message": str(error)}


async def attempt(call):
    """The result of awaiting ``call()``, or what it raised."""
    try:
        return {"ok": await call()}
    except Exception as error:
        return raised(error)


# -- KV ------------------------------------------------------------------------------------------
@scenario
async def kv_put_get(env, p):
    await env.KV.put(f"{p}:greeting", "hello")
    await env.KV.put(f"{p}:bytes", b"\x00\x01\xff")
    await env.KV.put(f"{p}:number", 42)
    return {
        "text": await env.KV.get(f"{p}:greeting"),
        "text_type": await env.KV.get(f"{p}:greeting", "text"),
        "missing": await env.KV.get(f"{p}:nope"),
        "number": await env.KV.get(f"{p}:number"),
        "bytes": list(bytes(await env.KV.get(f"{p}:bytes", "arrayBuffer"))),
        "buffer_type": type(await env.KV.get(f"{p}:bytes", "arrayBuffer")).__name__,
    }


@scenario
async def kv_json_and_options(env, p):
    await env.KV.put(f"{p}:config", '{"theme": "dark", "sizes": [1, 2]}')
    positional = await env.KV.get(f"{p}:config", "json")
    as_dict = await env.KV.get(f"{p}:config", {"type": "json"})
    as_keyword = await env.KV.get(f"{p}:config", type="json")
    return {"positional": positional, "dict": as_dict, "keyword": as_keyword,
            "attribute": positional.theme, "missing": await env.KV.get(f"{p}:no-config", "json"),
            "not_json": await attempt(_not_json(env, p))}


def _not_json(env, p):
    async def call():
        await env.KV.put(f"{p}:plain", "plain text")
        return await env.KV.get(f"{p}:plain", "json")
    return call


@scenario
async def kv_stream(env, p):
    async def chunks():
        yield "str-"
        yield b"bytes"

    await env.KV.put(f"{p}:streamed", chunks())
    stream = await env.KV.get(f"{p}:streamed", "stream")
    parts = [chunk async for chunk in stream]
    reader = stream.getReader()
    first = await reader.read()
    last = await reader.read()
    response = Response(stream)
    return {"joined": b"".join(parts).decode(), "first": first["value"].decode(), "done": last["done"],
            "response": await response.text()}


@scenario
async def kv_bulk_get(env, p):
    await env.KV.put(f"{p}:a", "one")
    await env.KV.put(f"{p}:b", '{"x": 2}', metadata={"tag": "b"})
    keys = [f"{p}:a", f"{p}:b", f"{p}:missing"]
    return {
        "text": await env.KV.get(keys),
        "json": await attempt(lambda: env.KV.get([f"{p}:b", f"{p}:missing"], "json")),
        "with_metadata": await env.KV.getWithMetadata([f"{p}:b", f"{p}:missing"], "json"),
        "bad_json": await attempt(lambda: env.KV.get(keys, "json")),
        "buffer": await attempt(lambda: env.KV.get(keys, "arrayBuffer")),
        "none": await attempt(lambda: env.KV.get([])),
        "too_many": await attempt(lambda: env.KV.get([f"{p}:{i}" for i in range(101)])),
    }


@scenario
async def kv_metadata_and_expiration(env, p):
    now = int(datetime.now(UTC).timestamp())
    await env.KV.put(f"{p}:m1", "v1", {"metadata": {"by": "dict"}, "expirationTtl": 3600})
    await env.KV.put(f"{p}:m2", "v2", metadata={"by": "keyword"}, expiration=now + 7200)
    one = await env.KV.getWithMetadata(f"{p}:m1")
    two = await env.KV.getWithMetadata(f"{p}:m2", "text")
    listed = await env.KV.list(prefix=f"{p}:m")
    expirations = [k["expiration"] - now for k in listed["keys"]]
    return {"one": one, "two": two, "missing": await env.KV.getWithMetadata(f"{p}:none"),
            "listed_metadata": [k["metadata"] for k in listed["keys"]],
            "expirations_near": [abs(e - want) <= 5
                                 for e, want in zip(expirations, (3600, 7200), strict=True)]}


@scenario
async def kv_list_paging(env, p):
    for name in ("c", "a", "b", "d", "e"):
        await env.KV.put(f"{p}:list:{name}", name)
    await env.KV.put(f"{p}:other", "x")
    everything = await env.KV.list({"prefix": f"{p}:list:"})
    pages, cursor = [], None
    while True:
        page = await env.KV.list(prefix=f"{p}:list:", limit=2, cursor=cursor)
        pages.append([k["name"].rsplit(":", 1)[1] for k in page["keys"]])
        if page["list_complete"]:
            break
        cursor = page["cursor"]
    return {"names": [k.name for k in everything.keys], "complete": everything["list_complete"],
            "has_cursor": "cursor" in everything, "pages": pages, "cache_status": everything["cacheStatus"]}


@scenario
async def kv_delete(env, p):
    await env.KV.put(f"{p}:gone", "soon")
    deleted = await env.KV.delete(f"{p}:gone")
    missing = await env.KV.delete(f"{p}:never-there")
    return {"deleted": deleted, "missing": missing, "after": await env.KV.get(f"{p}:gone")}


@scenario
async def kv_errors(env, p):
    return {
        "empty_key": await attempt(lambda: env.KV.put("", "v")),
        "dot_key": await attempt(lambda: env.KV.get(".")),
        "long_key": await attempt(lambda: env.KV.put("k" * 513, "v")),
        "long_key_get": await attempt(lambda: env.KV.get("k" * 513)),
        "short_ttl": await attempt(lambda: env.KV.put(f"{p}:t", "v", expirationTtl=10)),
        "zero_ttl": await attempt(lambda: env.KV.put(f"{p}:t", "v", expirationTtl=0)),
        "past": await attempt(lambda: env.KV.put(f"{p}:t", "v", expiration=1000)),
        "big_metadata": await attempt(lambda: env.KV.put(f"{p}:t", "v", metadata={"x": "y" * 1100})),
        "big_value": await attempt(lambda: env.KV.put(f"{p}:t", "v" * (25 * 1024 * 1024 + 1))),
        "bad_value": await attempt(lambda: env.KV.put(f"{p}:t", {"a": 1})),
        "bad_type": await attempt(lambda: env.KV.get(f"{p}:t", "blob")),
        "cache_ttl": await attempt(lambda: env.KV.get(f"{p}:t", {"cacheTtl": 10})),
        "list_limit": await attempt(lambda: env.KV.list(limit=1001)),
        "stored": await env.KV.get(f"{p}:t"),
    }


# -- R2 ------------------------------------------------------------------------------------------
def shape(obj):
    if obj is None:
        return None
    found = {
        "class": type(obj).__name__, "key": obj.key, "size": obj.size, "etag": obj.etag,
        "httpEtag": obj.httpEtag, "version_hex": len(obj.version) == 32 and int(obj.version, 16) >= 0,
        "uploaded_utc": isinstance(obj.uploaded, datetime) and obj.uploaded.tzinfo is not None,
        "httpMetadata": dict(obj.httpMetadata), "customMetadata": dict(obj.customMetadata),
        "checksums": obj.checksums.toJSON(), "range": obj.range, "has_body": hasattr(obj, "body"),
    }
    return found


@scenario
async def r2_put_head_get(env, p):
    put = await env.BUCKET.put(f"{p}/a.txt", "hello world", {
        "httpMetadata": {"contentType": "text/plain", "cacheControl": "max-age=60"},
        "customMetadata": {"owner": "ada"}})
    head = await env.BUCKET.head(f"{p}/a.txt")
    body = await env.BUCKET.get(f"{p}/a.txt")
    headers = Headers()
    head.writeHttpMetadata(headers)
    return {"put": shape(put), "head": shape(head), "get": shape(body), "text": await body.text(),
            "same_version": put.version == head.version == body.version,
            "headers": dict(headers.items()), "missing_get": await env.BUCKET.get(f"{p}/nope"),
            "missing_head": await env.BUCKET.head(f"{p}/nope")}


@scenario
async def r2_bodies(env, p):
    await env.BUCKET.put(f"{p}/data.json", b'{"n": [1, 2]}')
    as_json = await (await env.BUCKET.get(f"{p}/data.json")).json()
    buffer = await (await env.BUCKET.get(f"{p}/data.json")).arrayBuffer()
    raw = await (await env.BUCKET.get(f"{p}/data.json")).bytes()
    once = await env.BUCKET.get(f"{p}/data.json")
    await once.text()
    response = Response((await env.BUCKET.get(f"{p}/data.json")).body)

    async def chunks():
        yield b"from "
        yield "a stream"

    streamed = await env.BUCKET.put(f"{p}/streamed", chunks())
    empty = await env.BUCKET.put(f"{p}/empty", None)
    return {"json": as_json, "attribute": as_json.n, "buffer_type": type(buffer).__name__,
            "buffer": bytes(buffer).decode(), "bytes": raw.decode(), "used": once.bodyUsed,
            "twice": await attempt(once.text), "response": await response.text(),
            "streamed": await (await env.BUCKET.get(f"{p}/streamed")).text(),
            "streamed_size": streamed.size, "empty_size": empty.size,
            "bad_value": await attempt(lambda: env.BUCKET.put(f"{p}/bad", 5))}


@scenario
async def r2_ranges(env, p):
    await env.BUCKET.put(f"{p}/r.txt", "hello world")

    async def read(options):
        obj = await env.BUCKET.get(f"{p}/r.txt", options)
        return {"range": obj.range, "text": await obj.text()}

    return {
        "offset_length": await read({"range": {"offset": 6, "length": 3}}),
        "offset": await read({"range": {"offset": 6}}),
        "suffix": await read({"range": {"suffix": 5}}),
        "past_end": await read({"range": {"offset": 5, "length": 100}}),
        "header": await read({"range": Headers({"range": "bytes=0-4"})}),
        "keyword": await attempt(lambda: _keyword_range(env, p)),
        "unsatisfiable": await attempt(lambda: env.BUCKET.get(f"{p}/r.txt", range={"offset": 100})),
    }


async def _keyword_range(env, p):
    return await (await env.BUCKET.get(f"{p}/r.txt", range={"length": 5})).text()


@scenario
async def r2_conditions(env, p):
    first = await env.BUCKET.put(f"{p}/c.txt", "v1")
    refused = await env.BUCKET.put(f"{p}/c.txt", "v2", onlyIf={"etagMatches": "nope"})
    accepted = await env.BUCKET.put(f"{p}/c.txt", "v2", onlyIf={"etagMatches": first.etag})
    create_only = await env.BUCKET.put(f"{p}/c.txt", "v3", onlyIf={"etagDoesNotMatch": "*"})
    created = await env.BUCKET.put(f"{p}/new.txt", "n", onlyIf={"etagDoesNotMatch": "*"})
    not_modified = await env.BUCKET.get(f"{p}/c.txt", onlyIf={"etagDoesNotMatch": accepted.etag})
    old = await env.BUCKET.get(f"{p}/c.txt", onlyIf={"uploadedBefore": datetime(2000, 1, 1, tzinfo=UTC)})
    quoted = await env.BUCKET.get(f"{p}/c.txt", onlyIf={"etagMatches": f'"{accepted.etag}"'})
    return {"refused": refused, "accepted": accepted is not None, "create_only": create_only,
            "created": created is not None, "not_modified": shape(not_modified),
            "old": shape(old)["has_body"], "quoted": await quoted.text(),
            "now": await (await env.BUCKET.get(f"{p}/c.txt")).text()}


@scenario
async def r2_checksums(env, p):
    md5 = hashlib.md5(b"hello").hexdigest()
    sha256 = hashlib.sha256(b"hello").hexdigest()
    checked = await env.BUCKET.put(f"{p}/sum", "hello", md5=md5, sha256=sha256)
    return {"checksums": checked.checksums.toJSON(), "sha256_bytes": checked.checksums.sha256.hex(),
            "bad_md5": await attempt(lambda: env.BUCKET.put(f"{p}/bad", "hello", md5="0" * 32)),
            "bad_sha": await attempt(lambda: env.BUCKET.put(f"{p}/bad", "hello", {"sha256": "0" * 64})),
            "short_md5": await attempt(lambda: env.BUCKET.put(f"{p}/bad", "hello", md5="abc")),
            "stored": await env.BUCKET.head(f"{p}/bad")}


@scenario
async def r2_list(env, p):
    for key in ("a", "b/1", "b/2", "c/x/1", "d"):
        await env.BUCKET.put(f"{p}/list/{key}", key, httpMetadata={"contentType": "text/plain"},
                             customMetadata={"k": key})
    base = f"{p}/list/"
    plain = await env.BUCKET.list({"prefix": base})
    grouped = await env.BUCKET.list(prefix=base, delimiter="/")
    included = await env.BUCKET.list(prefix=base, include=["httpMetadata", "customMetadata"], limit=1)
    pages, cursor = [], None
    while True:
        page = await env.BUCKET.list(prefix=base, limit=2, cursor=cursor)
        pages.append([o.key[len(base):] for o in page.objects])
        if not page.truncated:
            break
        cursor = page.cursor
    after = await env.BUCKET.list(prefix=base, startAfter=f"{base}b/2")
    return {"keys": [o.key[len(base):] for o in plain.objects], "truncated": plain.truncated,
            "has_cursor": "cursor" in plain, "plain_metadata": shape(plain.objects[0])["httpMetadata"],
            "objects": [o.key[len(base):] for o in grouped.objects],
            "prefixes": grouped.delimitedPrefixes, "included": shape(included.objects[0]),
            "pages": pages, "after": [o.key[len(base):] for o in after.objects],
            "zero": await attempt(lambda: env.BUCKET.list(limit=0)),
            "too_many": await attempt(lambda: env.BUCKET.list(limit=1001))}


@scenario
async def r2_delete(env, p):
    for key in ("x", "y", "z"):
        await env.BUCKET.put(f"{p}/del/{key}", key)
    one = await env.BUCKET.delete(f"{p}/del/x")
    many = await env.BUCKET.delete([f"{p}/del/y", f"{p}/del/z", f"{p}/del/never"])
    left = await env.BUCKET.list(prefix=f"{p}/del/")
    return {"one": one, "many": many, "left": [o.key for o in left.objects],
            "long_key": await attempt(lambda: env.BUCKET.put("k" * 1025, "v"))}


@scenario
async def r2_multipart(env, p):
    upload = await env.BUCKET.createMultipartUpload(f"{p}/big.bin", {
        "httpMetadata": {"contentType": "application/octet-stream"}, "customMetadata": {"parts": "2"}})
    part1 = await upload.uploadPart(1, b"a" * BIG)
    resumed = env.BUCKET.resumeMultipartUpload(f"{p}/big.bin", upload.uploadId)
    part2 = await resumed.uploadPart(2, "tail")
    completed = await resumed.complete([part1, part2])
    tail = await env.BUCKET.get(f"{p}/big.bin", range={"suffix": 6})
    digest = hashlib.md5(bytes.fromhex(hashlib.md5(b"a" * BIG).hexdigest())
                         + bytes.fromhex(hashlib.md5(b"tail").hexdigest())).hexdigest()

    aborted = await env.BUCKET.createMultipartUpload(f"{p}/aborted.bin")
    await aborted.uploadPart(1, "x")
    await aborted.abort()
    small = await env.BUCKET.createMultipartUpload(f"{p}/small.bin")
    small_parts = [await small.uploadPart(1, "abc"), await small.uploadPart(2, "def")]
    unknown = await env.BUCKET.createMultipartUpload(f"{p}/unknown.bin")
    return {"upload": {"key": upload.key, "id_type": type(upload.uploadId).__name__},
            "part": {"partNumber": part1["partNumber"], "etag_type": type(part1.etag).__name__},
            "object": shape(completed), "etag_is_md5_of_md5s": completed.etag == f"{digest}-2",
            "tail": await tail.text(),
            "after_abort": await attempt(lambda: aborted.uploadPart(2, "y")),
            "aborted_object": await env.BUCKET.head(f"{p}/aborted.bin"),
            "too_small": await attempt(lambda: small.complete(small_parts)),
            "bad_part": await attempt(lambda: unknown.complete([{"partNumber": 1, "etag": "nope"}])),
            "part_zero": await attempt(lambda: unknown.uploadPart(0, "x")),
            "completed_twice": await attempt(lambda: resumed.complete([part1, part2]))}


# -- D1 ------------------------------------------------------------------------------------------
@scenario
async def d1_statements(env, p):
    db = env.DB
    table = f"{p}_users"
    await db.prepare(f"DROP TABLE IF EXISTS {table}").run()
    created = await db.prepare(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT UNIQUE, "
                               "active INTEGER, avatar BLOB, score REAL, note TEXT)").run()
    inserted = await db.prepare(f"INSERT INTO {table} (name, active, avatar, score, note) "
                                "VALUES (?, ?, ?, ?, ?)").bind("ada", True, b"\x01\x02", 2.0, None).run()
    await db.prepare(f"INSERT INTO {table} (name, active, score) VALUES (?1, ?2, ?3)").bind(
        "grace", False, 1.5).run()
    select = db.prepare(f"SELECT id, name, active, avatar, score, note FROM {table} ORDER BY id")
    everything = await select.all()
    return {
        "created": {"success": created["success"], "results": created["results"]},
        "inserted_meta": {k: inserted.meta[k] for k in ("changes", "last_row_id", "changed_db")},
        "meta_keys": sorted(inserted["meta"]),
        "all": everything["results"], "success": everything.success,
        "read_meta": {k: everything.meta[k] for k in ("changes", "changed_db", "rows_read")},
        "run_rows": (await select.run())["results"][1],
        "first": await select.first(), "first_column": await select.first("name"),
        "first_none": await db.prepare(f"SELECT * FROM {table} WHERE id = ?").bind(99).first(),
        "first_none_column": await db.prepare(f"SELECT * FROM {table} WHERE id = 99").first("x"),
        "raw": await select.raw(), "raw_names": await select.raw(columnNames=True),
        "raw_dict": await db.prepare(f"SELECT name FROM {table} WHERE id = 99").raw({"columnNames": True}),
        "attribute": everything.results[0].name,
        "named": await db.prepare("SELECT :a AS a, ?2 AS b").bind(1, 2).first(),
        "several": (await db.prepare("SELECT 1 AS a; SELECT 2 AS b").all())["results"],
    }


@scenario
async def d1_batch_and_exec(env, p):
    db = env.DB
    table = f"{p}_ledger"
    executed = await db.exec(f"DROP TABLE IF EXISTS {table};\nCREATE TABLE {table} (id INTEGER PRIMARY KEY, "
                             "ref TEXT UNIQUE);\n\nINSERT INTO " + table + " (ref) VALUES ('a'); "
                             f"INSERT INTO {table} (ref) VALUES ('b');")
    insert = db.prepare(f"INSERT INTO {table} (ref) VALUES (?)")
    batch = await db.batch([insert.bind("c"), db.prepare(f"SELECT count(*) AS n FROM {table}")])
    failed = await attempt(lambda: db.batch([insert.bind("d"), insert.bind("a")]))
    count = await db.prepare(f"SELECT count(*) AS n FROM {table}").first("n")
    exec_error = await attempt(lambda: db.exec(f"INSERT INTO {table} (ref) VALUES ('e');\n"
                                               "INSERT INTO nowhere VALUES (1);"))
    return {"exec": {"count": executed["count"], "duration_type": type(executed.duration).__name__},
            "batch": [r["results"] for r in batch], "batch_success": [r.success for r in batch],
            "failed": failed, "count_after_failed_batch": count, "exec_error": exec_error,
            "count_after_exec_error": await db.prepare(f"SELECT count(*) AS n FROM {table}").first("n"),
            "empty_batch": await attempt(lambda: db.batch([])),
            "multi_line_statement": await attempt(
                lambda: db.exec(f"INSERT INTO {table}\n(ref) VALUES ('x');"))}


@scenario
async def d1_errors(env, p):
    db = env.DB
    table = f"{p}_strict"
    await db.exec(f"DROP TABLE IF EXISTS {table};\nCREATE TABLE {table} (id INTEGER PRIMARY KEY, "
                  "name TEXT UNIQUE NOT NULL);")
    await db.prepare(f"INSERT INTO {table} (name) VALUES ('taken')").run()
    insert = db.prepare(f"INSERT INTO {table} (name) VALUES (?)")
    return {
        "syntax": await attempt(lambda: db.prepare("SELEC 1").all()),
        "no_table": await attempt(lambda: db.prepare("SELECT * FROM nowhere").all()),
        "unique": await attempt(lambda: insert.bind("taken").run()),
        "not_null": await attempt(lambda: insert.bind(None).run()),
        "bindings": await attempt(lambda: db.prepare("SELECT ? AS a, ? AS b").bind(1).all()),
        "multi_params": await attempt(lambda: db.prepare("SELECT ? AS a; SELECT ? AS b").bind(1, 2).all()),
        "column": await attempt(lambda: db.prepare(f"SELECT name FROM {table}").first("nope")),
        "empty": await attempt(lambda: db.prepare("-- nothing").all()),
        "transaction": await attempt(lambda: db.prepare("BEGIN TRANSACTION").run()),
        "attach": await attempt(lambda: db.prepare("ATTACH DATABASE 'x.db' AS x").run()),
        "pragma": await attempt(lambda: db.prepare("PRAGMA journal_mode").all()),
        "allowed_pragma": await attempt(lambda: _pragma(db, table)),
        "bind_type": await attempt(lambda: _bind(db, {"a": 1})),
        "caught": await _caught(db),
    }


async def _pragma(db, table):
    return [row.name for row in (await db.prepare(f"PRAGMA table_info({table})").all()).results]


async def _bind(db, value):
    return db.prepare("SELECT ? AS a").bind(value)


async def _caught(db):
    try:
        await db.prepare("SELECT * FROM nowhere").all()
    except Exception as error:
        return {"caught": type(error).__name__, "is_exception": isinstance(error, Exception),
                "starts": str(error).startswith("D1_ERROR: ")}
    return None


@scenario
async def d1_sessions(env, p):
    db = env.DB
    session = db.withSession()
    before = session.getBookmark()
    first = await session.prepare("SELECT 1 AS x").first()
    after = session.getBookmark()
    await session.batch([session.prepare("SELECT 2 AS y")])
    later = session.getBookmark()
    primary = db.withSession("first-primary")
    resumed = db.withSession(after)
    return {"before": before, "first": first, "after_is_text": isinstance(after, str),
            "advances": later > after, "primary": primary.getBookmark(),
            "resumed": resumed.getBookmark() == after}
