"""A project with every kind of local data the explorer shows: a KV namespace, an R2 bucket, a D1
database with a migration, a workflow on a schedule, a cron for the Worker's scheduled handler.
Its Worker reads and writes the bindings on request, so tests act as user code would."""

from __future__ import annotations

import textwrap
from pathlib import Path

CONFIG = """\
name = "pantry"
main = "src/entry.py"
compatibility_date = "2025-10-01"

[triggers]
crons = ["0 0 1 1 *"]

[[workflows]]
name = "restock"
binding = "RESTOCK"
class_name = "RestockWorkflow"
schedules = ["30 4 * * *"]

[[kv_namespaces]]
binding = "CONFIG"
id = "config-ns"

[[r2_buckets]]
binding = "FILES"
bucket_name = "pantry-files"

[[d1_databases]]
binding = "DB"
database_name = "pantry-db"
database_id = "pantry-db-id"
"""

MIGRATION = """\
-- Migration number: 0001
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER DEFAULT 0);
"""

ENTRY = """\
from urllib.parse import parse_qs, urlsplit

from workers import Response, WorkerEntrypoint, WorkflowEntrypoint


class RestockWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        payload = event.payload or {}

        @step.do("count shelves")
        async def count():
            return {"shelves": 3}

        await count()

        @step.do("order more", config={"retries": {"limit": 2, "delay": "10 ms"}})
        async def order(ctx):
            if ctx["attempt"] <= payload.get("failures", 0):
                raise RuntimeError(f"supplier busy on attempt {ctx['attempt']}")
            return {"ordered": True}

        return await order()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlsplit(request.url)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if url.path == "/kv/put":
            body = await request.json()
            await self.env.CONFIG.put(body["key"], body["value"], metadata=body.get("metadata"))
            return Response.json({"ok": True})
        if url.path == "/kv/get":
            return Response.json({"value": await self.env.CONFIG.get(query["key"])})
        if url.path == "/r2/put":
            await self.env.FILES.put(query["key"], await request.text(), {
                "httpMetadata": {"contentType": query.get("type", "text/plain")},
                "customMetadata": {"by": "worker"}})
            return Response.json({"ok": True})
        if url.path == "/r2/get":
            found = await self.env.FILES.get(query["key"])
            return Response.json({"text": await found.text() if found else None})
        if url.path == "/d1":
            body = await request.json()
            result = await self.env.DB.prepare(body["sql"]).bind(*body.get("params", [])).run()
            return Response.json(result["results"])
        return Response("pantry")

    async def scheduled(self, controller):
        await self.env.CONFIG.put("last-cron", controller.cron)
"""


def write_pantry(root: Path) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "migrations").mkdir(exist_ok=True)
    (root / "wrangler.toml").write_text(CONFIG)
    (root / "src" / "entry.py").write_text(textwrap.dedent(ENTRY))
    (root / "migrations" / "0001_create_items.sql").write_text(MIGRATION)
    (root / "migrations" / "0002_add_suppliers.sql").write_text(
        "CREATE TABLE suppliers (id INTEGER PRIMARY KEY, name TEXT);\n")
    return root
