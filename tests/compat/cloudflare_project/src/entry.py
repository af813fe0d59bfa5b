import json
from datetime import UTC, datetime
from urllib.parse import urlparse

from js import JSON, Object, console
from pyodide.ffi import to_js
from workers import Response, WorkerEntrypoint, WorkflowEntrypoint, fetch
from workers.workflows import NonRetryableError


def js_object(value):
    return to_js(value, dict_converter=Object.fromEntries)


class OrderWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        params = event["payload"]
        if params.get("quick"):
            return {"quick": params}
        console.log("order", params["order"]["id"], "started")

        @step.do()
        async def fetched():
            response = await fetch(
                f"{self.env.ECHO_URL}/orders/{params['order']['id']}",
                method="POST",
                headers={"content-type": "application/json"},
                body=JSON.stringify(params["order"]),
            )
            seen = await response.json()
            return {"status": response.status, "path": seen["path"], "sent": json.loads(seen["body"])}

        @step.do()
        async def stamped():
            return datetime(2026, 5, 17, 12, 30, 15, 250000, tzinfo=UTC)

        await stamped()
        await step.sleep("cool down", "1 minute")

        @step.do(concurrent=True)
        async def summary(fetched, stamped):
            return {"year": stamped.year, "when": stamped.isoformat(), "path": fetched["path"]}

        @step.do(config={"retries": {"limit": 3, "delay": "1 second", "backoff": "constant"}})
        async def flaky(ctx):
            if int(ctx["attempt"]) < 3:
                raise ConnectionError(f"upstream busy (attempt {ctx['attempt']})")
            return int(ctx["attempt"])

        @step.do(config={"retries": {"limit": 5, "delay": "1 second"}})
        async def reserve():
            raise NonRetryableError("item 42 is out of stock")

        try:
            reserved = await reserve()
        except NonRetryableError as error:
            reserved = f"not reserved: {error}"

        @step.do(config={"retries": {"limit": 0, "delay": 0}})
        async def ask_ai():
            return await self.env.AI.run("@cf/meta/llama-3-8b-instruct", {"prompt": "hi"})

        try:
            answer = await ask_ai()
        except Exception as error:
            answer = f"{type(error).__name__}: {error}"

        approval = await step.wait_for_event("approval", "approval", timeout="1 hour")
        return {"summary": await summary(), "flaky": await flaky(), "reserved": reserved,
                "ai": answer, "approval": approval["payload"], "params": params}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlparse(request.url).path
        if path == "/start":
            body = await request.json()
            instance = await self.env.ORDERS.create(js_object({"id": body["id"], "params": body["params"]}))
            return Response.json({"id": instance.id})
        if path == "/batch":
            body = await request.json()
            instances = await self.env.ORDERS.create_batch(
                [js_object({"id": item["id"], "params": item["params"]}) for item in body])
            return Response.json({"ids": [instance.id for instance in instances]})
        if path.startswith("/event/"):
            instance = await self.env.ORDERS.get(path.rsplit("/", 1)[1])
            body = await request.json()
            await instance.send_event(js_object({"type": "approval", "payload": body}))
            return Response.json({"sent": True})
        if path.startswith("/status/"):
            instance = await self.env.ORDERS.get(path.rsplit("/", 1)[1])
            status = await instance.status()
            return Response(json.dumps(status, default=str), headers={"content-type": "application/json"})
        if path == "/ping":
            return Response("pong")
        if path == "/self":  # a request to this same Worker, through the network
            url = urlparse(request.url)
            answer = await fetch(f"{url.scheme}://{url.netloc}/ping")
            return Response(f"{answer.status} {await answer.text()}")
        return Response("not found", status=404)
