"""A workflow that waits for a person: it submits a change for approval, then waits (for an hour
at most) for an ``approval`` event, and applies the change only if it was approved.

While it waits the instance costs nothing: it is stored, not running. The event can come from
the command line (``pyflow workflows instances send-event``), the local API, or the Worker's own
routes below, e.g. a button in an internal tool.
"""

import json
from urllib.parse import urlsplit

from workers import Response, WorkerEntrypoint, WorkflowEntrypoint

EVENT_TYPE = "approval"


class HumanApprovalWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        request = event.payload or {}
        title = request.get("title", "Untitled change")

        @step.do("submit for approval")
        async def submit():
            # Notify the approvers here (email, chat...); locally, a line in the dev server's log.
            print(
                f'Approval needed for "{title}": pyflow workflows instances send-event '
                f"human-approval {event.instanceId} --type {EVENT_TYPE} "
                """--payload '{"approved": true}'"""
            )
            return {"title": title, "requestedBy": request.get("requestedBy")}

        await submit()

        try:
            approval = await step.wait_for_event("wait for approval", EVENT_TYPE, timeout="1 hour")
        except Exception:  # the wait timed out: nobody decided within the hour
            approval = None

        @step.do("record the decision")
        async def record_decision():
            if approval is None:
                return {"decision": "expired"}
            answer = approval.get("payload") or {}
            return {
                "decision": "approved" if answer.get("approved") is True else "rejected",
                "by": answer.get("by"),
                "comment": answer.get("comment"),
            }

        decision = await record_decision()

        if decision["decision"] == "approved":

            @step.do("apply the change")
            async def apply_change():
                # Deploy, publish, refund... whatever needed a human's go-ahead.
                return {"applied": title}

            await apply_change()

        return {"title": title, **decision}


class Default(WorkerEntrypoint):
    """``POST /requests`` (JSON body) starts a request; ``POST /requests/<id>/approve`` or
    ``/reject`` decides it; ``GET /requests/<id>`` shows its status."""

    async def fetch(self, request):
        parts = [part for part in urlsplit(request.url).path.split("/") if part]
        if parts[:1] != ["requests"] or len(parts) > 3:
            return Response.json({"error": "not found; see README.md for the routes"}, status=404)
        try:
            body = json.loads(await request.text() or "{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return Response.json({"error": "the body must be a JSON object"}, status=400)

        if len(parts) == 1:
            if request.method != "POST":
                return Response.json({"error": "use POST to start a request"}, status=405)
            instance = await self.env.APPROVAL_WORKFLOW.create(params=body)
            return Response.json({"id": instance.id, "details": await instance.status()})

        try:
            instance = await self.env.APPROVAL_WORKFLOW.get(parts[1])
        except Exception:
            return Response.json({"error": f"no request {parts[1]}"}, status=404)
        if len(parts) == 2:
            return Response.json({"id": instance.id, "details": await instance.status()})
        if parts[2] in ("approve", "reject") and request.method == "POST":
            payload = {**body, "approved": parts[2] == "approve"}
            await instance.send_event({"type": EVENT_TYPE, "payload": payload})
            return Response.json({"id": instance.id, "sent": payload})
        return Response.json({"error": "not found; see README.md for the routes"}, status=404)
