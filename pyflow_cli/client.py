"""``DevClient``: the running ``pyflow dev`` session's local API, over HTTP: a ``WorkflowApi``
(``api.py``), as ``WorkflowService`` is, so the CLI can use either without knowing which.

    async with DevClient.from_session(read_session(root), config_name="wrangler.toml") as api:
        await api.pause("my-workflow", "latest")        # read_session: server/session.py

API errors come back as the exceptions the service raises (``InstanceNotFoundError``,
``DuplicateInstanceError``, ``WorkflowError``...), chosen by the error's stable code
(``pyflow_code``), never by its text (``client_errors.py``). ``latest`` is resolved here, as
the service resolves it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, cast
from urllib.parse import quote

import httpx

from pyflow_cli.api import (
    EngineView,
    InstanceDetails,
    InstanceList,
    InstanceSummary,
    StatusView,
    WorkflowInfo,
    WorkflowMetrics,
)
from pyflow_cli.client_errors import DevServerUnavailable, Unauthorized, answer_error
from pyflow_cli.engine import serde
from pyflow_cli.engine.clock import iso_ms
from pyflow_cli.engine.control import RestartFrom
from pyflow_cli.engine.errors import NotFoundError, PyflowError
from pyflow_cli.engine.events import EventType, LogEvent, Runner, TriggerSource
from pyflow_cli.engine.status import STATUS_NAMES, InstanceStatus
from pyflow_cli.engine.versions import VersionRecord
from pyflow_cli.server.session import DevSession

__all__ = ["API_PATH", "TRIGGER_HEADER", "DevClient", "DevServerUnavailable", "Unauthorized"]

API_PATH = "/cdn-cgi/local/explorer/api"
TRIGGER_HEADER = "x-pyflow-trigger"
"""pyflow's addition to the create route: who triggered the instance (``cli``); the reference
ignores unknown headers."""
_MAX_PAGE = 100
_TRIGGER_NUMBERS = {t.name.lower(): int(t) for t in TriggerSource}
_RESTART_TYPES = {"do": "do", "step": "do", "sleep": "sleep", "waitForEvent": "waitForEvent"}


class DevClient:
    """An HTTP client of one dev session's local API (``pyflow dev``, or ``pyflow serve`` with
    its API token sent as ``Authorization: Bearer``)."""

    def __init__(self, base_url: str, *, config_name: str = "wrangler.toml", timeout_s: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.config_name = config_name
        self.sends_token = bool(token)
        headers = {"Authorization": f"Bearer {token.strip()}"} if token else None
        self._http = httpx.AsyncClient(base_url=self.base_url + API_PATH, timeout=timeout_s,
                                       transport=transport, headers=headers)

    @classmethod
    def from_session(cls, session: DevSession, *, config_name: str = "wrangler.toml",
                     token: str | None = None) -> DevClient:
        """A client of the session's server; ``token`` (``PYFLOW_API_TOKEN``) for one that
        needs it (``pyflow serve --api-token``)."""
        return cls(session.base_url, config_name=config_name, token=token)

    async def __aenter__(self) -> DevClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport -----------------------------------------------------------------------------------
    async def _call(self, method: str, path: str, *, workflow: str | None = None,
                    instance_id: str | None = None, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise DevServerUnavailable(
                f"Could not reach the pyflow dev session at {self.base_url} ({exc}). Is `pyflow dev` "
                "still running?") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and isinstance(body, dict) and body.get("success"):
            return body
        errors = [e for e in (body.get("errors") or []) if isinstance(e, dict)] \
            if isinstance(body, dict) else []
        raise await self._error(response.status_code, errors, workflow, instance_id,
                                response.headers.get("retry-after"))

    async def _error(self, status: int, errors: list[dict[str, Any]], workflow: str | None,
                     instance_id: str | None, retry_after: str | None = None) -> Exception:
        """The exception for an error answer (``client_errors.py``); an unknown workflow's
        names the ones the server defines."""
        code = str(errors[0].get("pyflow_code") or "") if errors else ""
        if code == "workflow.not_found" and workflow is not None:
            return await self._unknown_workflow(workflow)
        return answer_error(status, errors, base_url=self.base_url, sends_token=self.sends_token,
                            workflow=workflow, instance_id=instance_id, retry_after=retry_after)

    async def _unknown_workflow(self, workflow: str) -> NotFoundError:
        try:
            defined = ", ".join(w.name for w in await self.list_workflows()) or "none"
        except PyflowError:
            defined = "unknown"
        return NotFoundError(f'Workflow "{workflow}" is not defined in {self.config_name} '
                             f"(defined: {defined}). Check the [[workflows]] name.")

    @staticmethod
    def _wf(workflow: str) -> str:
        return f"/workflows/{quote(workflow, safe='')}"

    def _instance(self, workflow: str, instance_id: str) -> str:
        return f"{self._wf(workflow)}/instances/{quote(instance_id, safe='')}"

    # -- workflows -----------------------------------------------------------------------------------
    async def list_workflows(self) -> list[WorkflowInfo]:
        body = await self._call("GET", "/workflows")
        return [WorkflowInfo(w["name"], w.get("class_name", ""), w.get("script_name", ""))
                for w in body["result"]]

    async def status_counts(self, workflow: str) -> dict[str, int]:
        body = await self._call("GET", self._wf(workflow), workflow=workflow)
        counts = dict.fromkeys(sorted(STATUS_NAMES), 0)
        counts.update({k: int(v) for k, v in body["result"]["instances"].items() if k in counts})
        return counts

    async def metrics(self, workflow: str, since: str | None = None,
                      bucket: str | None = None) -> WorkflowMetrics:
        query = {k: v for k, v in (("since", since), ("bucket", bucket)) if v}
        body = await self._call("GET", f"{self._wf(workflow)}/metrics", workflow=workflow,
                                params=query)
        result: WorkflowMetrics = body["result"]
        return result

    async def delete_workflow_instances(self, workflow: str) -> list[str]:
        """Delete every instance; returns the ids that existed just before."""
        ids = [r.id for r in await self._all_instances(workflow)]
        await self._call("DELETE", self._wf(workflow), workflow=workflow)
        return ids

    # -- instances -----------------------------------------------------------------------------------
    async def create(self, workflow: str, instance_id: str | None = None, params: Any = None,
                     trigger: TriggerSource = TriggerSource.API) -> str:
        payload: dict[str, Any] = {}
        if instance_id is not None:
            payload["id"] = instance_id
        if params is not None:
            payload["params"] = params
        headers = {TRIGGER_HEADER: trigger.name.lower()} if trigger is not TriggerSource.API else {}
        body = await self._call("POST", f"{self._wf(workflow)}/instances", workflow=workflow,
                                instance_id=instance_id, json=payload, headers=headers)
        return str(body["result"]["id"])

    async def latest(self, workflow: str) -> InstanceSummary:
        page = await self._page(workflow, page=1, per_page=1)
        if not page["result"]:
            raise NotFoundError(f'There are no instances in workflow "{workflow}"')
        return _listed(workflow, page["result"][0])

    async def resolve(self, workflow: str, instance_id: str) -> InstanceSummary:
        if instance_id == "latest":
            return await self.latest(workflow)
        details = await self._details(workflow, instance_id)
        return InstanceSummary(workflow, instance_id, InstanceStatus(details["status"]),
                               _ms(details.get("created_on") or details.get("queued")))

    async def _id(self, workflow: str, instance_id: str) -> str:
        if instance_id == "latest":
            return (await self.latest(workflow)).id
        return instance_id

    async def status(self, workflow: str, instance_id: str) -> StatusView:
        details = await self._details(workflow, instance_id)
        outputs: list[Any] = []
        for step in details["steps"]:
            if step["type"] == "step" and step.get("success"):
                outputs.append(step.get("output"))
            elif step["type"] == "waitForEvent" and step.get("output") is not None:
                outputs.append(step["output"].get("payload"))
        view: StatusView = {"status": details["status"], "__LOCAL_DEV_STEP_OUTPUTS": outputs,
                            "output": details.get("output") if details["status"] == "complete"
                            else None}
        error = details.get("error")
        if error is not None:
            view["error"] = error
        return view

    async def describe(self, workflow: str, instance_id: str) -> InstanceDetails:
        resolved = await self._id(workflow, instance_id)
        details = await self._details(workflow, resolved)
        return {"id": resolved, **details}

    async def _details(self, workflow: str, instance_id: str) -> InstanceDetails:
        body = await self._call("GET", self._instance(workflow, instance_id), workflow=workflow,
                                instance_id=instance_id)
        raw: dict[str, Any] = body["result"]
        raw.pop("actions", None)  # the explorer's; the table is at hand in this process
        trigger = raw.get("trigger")
        if isinstance(trigger, dict) and isinstance(trigger.get("source"), str):
            raw["trigger"] = {**trigger, "source": _TRIGGER_NUMBERS.get(trigger["source"], 0)}
        details: InstanceDetails = cast(InstanceDetails, raw)  # the API's JSON of one
        return details

    async def list_instances(self, workflow: str, *, status: str | None = None, page: int = 1,
                             per_page: int = 25, created_from_ms: float | None = None,
                             created_to_ms: float | None = None,
                             newest_first: bool = True, version: str | None = None
                             ) -> InstanceList:
        def fetch(number: int, size: int) -> Any:
            return self._page(workflow, page=number, per_page=size, status=status,
                              created_from_ms=created_from_ms, created_to_ms=created_to_ms,
                              version=version)

        if newest_first:
            body = await fetch(page, per_page)
            return InstanceList([_listed(workflow, item) for item in body["result"]],
                                int(body["result_info"]["total_count"]))
        # The API lists newest first; an oldest-first page is a window counted from the end.
        total = int((await fetch(1, 1))["result_info"]["total_count"])
        start = max(total - page * per_page, 0)
        end = max(total - (page - 1) * per_page, 0)
        items: list[dict[str, Any]] = []
        for number in range(start // per_page + 1, math.ceil(end / per_page) + 1 if end else 1):
            chunk = (await fetch(number, per_page))["result"]
            first = (number - 1) * per_page
            items += [item for i, item in enumerate(chunk, start=first) if start <= i < end]
        return InstanceList([_listed(workflow, item) for item in reversed(items)], total)

    async def _page(self, workflow: str, *, page: int, per_page: int, status: str | None = None,
                    created_from_ms: float | None = None, created_to_ms: float | None = None,
                    version: str | None = None) -> dict[str, Any]:
        params: dict[str, str] = {"page": str(page), "per_page": str(per_page)}
        if status is not None:
            params["status"] = status
        if version is not None:
            params["version"] = version
        if created_from_ms is not None:
            params["date_start"] = iso_ms(created_from_ms)
        if created_to_ms is not None:
            params["date_end"] = iso_ms(created_to_ms)
        body: dict[str, Any] = await self._call("GET", f"{self._wf(workflow)}/instances",
                                                workflow=workflow, params=params)
        return body

    async def _all_instances(self, workflow: str) -> list[InstanceSummary]:
        records: list[InstanceSummary] = []
        page = 1
        while True:
            body = await self._page(workflow, page=page, per_page=_MAX_PAGE)
            records += [_listed(workflow, item) for item in body["result"]]
            if len(body["result"]) < _MAX_PAGE:
                return records
            page += 1

    async def list_versions(self, count: bool = True) -> list[VersionRecord]:
        """(The dev server counts the instances of each version whatever ``count`` says.)"""
        body = await self._call("GET", "/local/versions")
        return [VersionRecord(v["id"], int(v["number"]), _ms(v.get("first_seen")),
                              int(v.get("instances", 0))) for v in body["result"]]

    async def count_finished_before(self, workflow: str, ended_before_ms: float,
                                    statuses: Sequence[str] = ()) -> int:
        return int((await self._purge(workflow, ended_before_ms, statuses, True))["matched"])

    async def delete_finished_before(self, workflow: str, ended_before_ms: float,
                                     statuses: Sequence[str] = ()) -> int:
        return int((await self._purge(workflow, ended_before_ms, statuses, False))["deleted"])

    async def _purge(self, workflow: str, ended_before_ms: float, statuses: Sequence[str],
                     dry_run: bool) -> dict[str, Any]:
        body = await self._call("POST", f"{self._wf(workflow)}/purge", workflow=workflow, json={
            "ended_before": iso_ms(ended_before_ms), "status": list(statuses),
            "dry_run": dry_run})
        result: dict[str, Any] = body["result"]
        return result

    async def read_log(self, workflow: str, instance_id: str, after_seq: int = 0) -> list[LogEvent]:
        """The instance's event-log rows after ``after_seq`` (pyflow's ``/log`` route)."""
        resolved = await self._id(workflow, instance_id)
        body = await self._call("GET", f"{self._instance(workflow, resolved)}/log", workflow=workflow,
                                instance_id=resolved, params={"after_seq": str(after_seq)})
        return [LogEvent(int(r["seq"]), float(r["timestamp_ms"]), EventType(int(r["event"])),
                         r.get("group_key"), r.get("target"), serde.attrify(r.get("metadata") or {}),
                         r.get("traceback"), r.get("version"),
                         Runner(**r["runner"]) if r.get("runner") else None)
                for r in body["result"]]

    @property
    def runs_engine_here(self) -> bool:
        return False  # the dev session's process runs it

    async def engines(self) -> list[EngineView]:
        found: list[EngineView] = (await self._call("GET", "/local/engines"))["result"]
        return found

    async def engine_attached(self) -> bool:
        """Whether the dev session answers (it always runs an engine)."""
        try:
            await self._call("GET", "/workflows")
        except PyflowError:
            return False
        return True

    # -- events and control ----------------------------------------------------------------------------
    async def send_event(self, workflow: str, instance_id: str, event_type: str,
                         payload: Any = None) -> None:
        resolved = await self._id(workflow, instance_id)
        content = b"" if payload is None else serde.encode_both(payload)[1].encode()
        await self._call("POST", f"{self._instance(workflow, resolved)}/events/{quote(event_type, safe='')}",
                         workflow=workflow, instance_id=resolved, content=content,
                         headers={"content-type": "application/json"})

    async def pause(self, workflow: str, instance_id: str) -> InstanceStatus:
        return await self._change(workflow, instance_id, {"status": "pause"})

    async def resume(self, workflow: str, instance_id: str) -> InstanceStatus:
        return await self._change(workflow, instance_id, {"status": "resume"})

    async def terminate(self, workflow: str, instance_id: str,
                        rollback: bool = False) -> InstanceStatus:
        body: dict[str, Any] = {"status": "terminate"}
        if rollback:
            body["rollback"] = True
        return await self._change(workflow, instance_id, body)

    async def restart(self, workflow: str, instance_id: str,
                      from_step: RestartFrom | None = None) -> InstanceStatus:
        body: dict[str, Any] = {"status": "restart"}
        if from_step is not None:
            body["from"] = {"name": from_step.name, "count": from_step.count,
                            "type": _RESTART_TYPES[from_step.type]}
        return await self._change(workflow, instance_id, body)

    async def delete(self, workflow: str, instance_id: str) -> None:
        resolved = await self._id(workflow, instance_id)
        await self._call("DELETE", self._instance(workflow, resolved), workflow=workflow,
                         instance_id=resolved)

    async def _change(self, workflow: str, instance_id: str, body: Mapping[str, Any]) -> InstanceStatus:
        resolved = await self._id(workflow, instance_id)
        result = await self._call("PATCH", f"{self._instance(workflow, resolved)}/status",
                                  workflow=workflow, instance_id=resolved, json=dict(body))
        return InstanceStatus(result["result"]["status"])


def _ms(text: str | None) -> float:
    if not text:
        return 0.0
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000.0


def _listed(workflow: str, item: Mapping[str, Any]) -> InstanceSummary:
    """An instance from a listing row."""
    return InstanceSummary(workflow, str(item["id"]), InstanceStatus(item.get("status", "queued")),
                           _ms(item.get("created_on")), item.get("versionId"))
