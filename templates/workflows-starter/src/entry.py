"""The Cloudflare Workflows starter, in Python: list some files, call an API, sleep a minute,
then make a call that fails half the time and is retried with exponential backoff."""

import platform
import random

from workers import Response, WorkerEntrypoint, WorkflowEntrypoint


class MyWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        # Can access bindings on self.env and params on event.payload.
        @step.do("my first step")
        async def list_files():
            # Fetch a list of files from $SOME_SERVICE
            return {
                "inputParams": event.payload,
                "files": [
                    "doc_7392_rev3.pdf",
                    "report_x29_final.pdf",
                    "memo_2024_05_12.pdf",
                    "file_089_update.pdf",
                    "proj_alpha_v2.pdf",
                    "data_analysis_q2.pdf",
                    "notes_meeting_52.pdf",
                    "summary_fy24_draft.pdf",
                ],
            }

        files = await list_files()

        @step.do("some other step")
        async def call_api():
            # The guide calls a public API here; this stand-in answers offline.
            return {"success": True, "runtime": f"Python {platform.python_version()}"}

        api_response = await call_api()

        await step.sleep("wait on something", "1 minute")

        @step.do(
            "make a call to write that could maybe, just might, fail",
            config={
                "retries": {"limit": 5, "delay": "5 second", "backoff": "exponential"},
                "timeout": "15 minutes",
            },
        )
        async def write(ctx):
            # Do stuff here, with access to the state from our previous steps
            if random.random() > 0.5:
                raise Exception("API call to $STORAGE_SYSTEM failed")
            return {"written": len(files["files"]), "attempt": ctx["attempt"]}

        result = await write()
        return {"files": len(files["files"]), "api": api_response["success"], "write": result}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = request.url
        if "/favicon" in url:
            return Response.json({}, status=404)

        # Get the status of an existing instance, if provided
        if "instanceId=" in url:
            instance_id = url.split("instanceId=", 1)[1].split("&", 1)[0]
            instance = await self.env.MY_WORKFLOW.get(instance_id)
            return Response.json({"status": await instance.status()})

        # Spawn a new instance and return the ID and status
        instance = await self.env.MY_WORKFLOW.create()
        return Response.json({"id": instance.id, "details": await instance.status()})
