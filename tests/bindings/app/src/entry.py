"""Runs the binding scenarios of scenarios.py from a Worker's fetch handler (GET /run?name=...)
and from workflow steps (one step per scenario), so tests see what each path observes."""

from urllib.parse import parse_qs, urlsplit

import scenarios
from workers import Response, WorkerEntrypoint, WorkflowEntrypoint


class ScenarioWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        results = {}
        for name in event.payload["names"]:
            results[name] = await step.do(name, self.scenario(name, event.payload["prefix"]))
        return results

    def scenario(self, name, prefix):
        async def body():
            return await scenarios.run(self.env, name, prefix)

        return body


class D1RetryWorkflow(WorkflowEntrypoint):
    """A D1 error escaping a step fails the attempt; the retry (after creating the table) works."""

    async def run(self, event, step):
        table = event.payload["table"]

        @step.do("query", config={"retries": {"limit": 2, "delay": "1 second"}})
        async def query(ctx):
            if ctx["attempt"] > 1:
                await self.env.DB.exec(f"CREATE TABLE IF NOT EXISTS {table} (x INTEGER);")
            return (await self.env.DB.prepare(f"SELECT count(*) AS n FROM {table}").first())["n"]

        return await query()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlsplit(request.url)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if url.path == "/run":
            return Response.json(await scenarios.run(self.env, query["name"], query.get("prefix", "fetch")))
        if url.path == "/names":
            return Response.json(sorted(scenarios.SCENARIOS))
        if url.path == "/kv":
            value = await self.env.KV.get(query["key"])
            return Response.json({"value": value})
        if url.path == "/kv/put":
            await self.env.KV.put(query["key"], query["value"])
            return Response.json({"ok": True})
        if url.path == "/r2":
            found = await self.env.BUCKET.get(query["key"])
            return Response(found.body if found else b"missing", status=200 if found else 404)
        if url.path == "/r2/put":
            await self.env.BUCKET.put(query["key"], await request.bytes())
            return Response.json({"ok": True})
        if url.path == "/d1":
            result = await self.env.DB.prepare(query["sql"]).all()
            return Response.json(result["results"])
        return Response("not found", status=404)
