"""The local explorer API in-process (ASGI): every route, the envelope, codes and messages (SPEC §5)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from serverkit import API, stable_code

WF = f"{API}/workflows/steps"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def error(response: httpx.Response, status: int, code: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"success": False, "errors": [{
        "code": code, "message": message, "pyflow_code": stable_code(status, message)}],
        "messages": [], "result": None}


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["errors"] == [] and body["messages"] == []
    return body["result"]


async def create(http: httpx.AsyncClient, instance_id: str | None = None, params: Any = None,
                 **kwargs: Any) -> str:
    body: dict[str, Any] = {}
    if instance_id is not None:
        body["id"] = instance_id
    if params is not None:
        body["params"] = params
    return str(ok(await http.post(f"{WF}/instances", json=body, **kwargs))["id"])


async def test_openapi_document_is_served_at_the_api_root(http: httpx.AsyncClient) -> None:
    document = (await http.get(API)).json()
    assert document["openapi"] == "3.0.3"
    assert document["servers"] == [{"description": "Local Explorer", "url": API}]
    assert set(document["paths"]) == {
        "/workflows", "/workflows/{workflow_name}", "/workflows/{workflow_name}/instances",
        "/workflows/{workflow_name}/metrics",
        "/workflows/{workflow_name}/instances/batch/delete",
        "/workflows/{workflow_name}/instances/{instance_id}",
        "/workflows/{workflow_name}/instances/{instance_id}/status",
        "/workflows/{workflow_name}/instances/{instance_id}/log",
        "/workflows/{workflow_name}/instances/{instance_id}/events/{event_type}",
        "/workflows/{workflow_name}/events", "/local/crons", "/local/scheduled", "/local/engines",
        "/local/versions", "/workflows/{workflow_name}/purge",
        "/storage/kv/namespaces", "/storage/kv/namespaces/{namespace_id}/keys",
        "/storage/kv/namespaces/{namespace_id}/values/{key_name}",
        "/storage/kv/namespaces/{namespace_id}/bulk", "/storage/kv/namespaces/{namespace_id}/bulk/delete",
        "/r2/buckets", "/r2/buckets/{bucket_name}", "/r2/buckets/{bucket_name}/objects",
        "/r2/buckets/{bucket_name}/objects/{object_key}", "/d1/database",
        "/d1/database/{database_id}/raw", "/d1/database/{database_id}/tables",
        "/d1/database/{database_id}/rows", "/d1/database/{database_id}/migrations"}


async def test_lists_workflows_with_count(http: httpx.AsyncClient) -> None:
    body = (await http.get(f"{API}/workflows")).json()
    assert body == {"success": True, "errors": [], "messages": [], "result": [
        {"name": "steps", "class_name": "StepsWorkflow", "script_name": "server-test"},
        {"name": "nightly", "class_name": "NightlyWorkflow", "script_name": "server-test"}],
        "result_info": {"count": 2}}


async def test_unknown_workflow_is_404_on_every_route(http: httpx.AsyncClient) -> None:
    base = f"{API}/workflows/nope"
    for method, path, body in [("GET", base, None), ("DELETE", base, None),
                               ("GET", f"{base}/instances", None),
                               ("POST", f"{base}/instances", {}),
                               ("POST", f"{base}/instances/batch/delete", {"instances": ["a"]}),
                               ("GET", f"{base}/instances/a", None),
                               ("DELETE", f"{base}/instances/a", None),
                               ("PATCH", f"{base}/instances/a/status", {"status": "pause"}),
                               ("POST", f"{base}/instances/a/events/go", {})]:
        response = await http.request(method, path, json=body)
        error(response, 404, 10501, "Workflow 'nope' not found.")


async def test_workflow_details_count_every_status(http: httpx.AsyncClient, wait_status: Any) -> None:
    await wait_status(http, "steps", await create(http, "one"))
    result = ok(await http.get(WF))
    assert result == {"name": "steps", "class_name": "StepsWorkflow", "script_name": "server-test",
                      "instances": {"complete": 1, "errored": 0, "paused": 0, "queued": 0,
                                    "running": 0, "terminated": 0, "waiting": 0,
                                    "waitingForPause": 0}}
    assert list(result["instances"]) == sorted(result["instances"])


async def test_create_returns_the_id_and_records_params_and_trigger(
        http: httpx.AsyncClient, wait_status: Any) -> None:
    assert await create(http, "api-1", {"steps": 2}) == "api-1"
    details = await wait_status(http, "steps", "api-1")
    assert details["params"] == {"steps": 2}
    assert details["output"] == {"version": "v1", "results": [0, 10]}
    assert details["trigger"] == {"source": "api"}
    assert re.fullmatch(r"[0-9a-f-]{36}", details["versionId"])
    assert ISO.match(details["queued"]) and ISO.match(details["end"])
    assert [s["name"] for s in details["steps"]] == ["s0-1", "s1-1"]
    cli = await create(http, "cli-1", headers={"x-pyflow-trigger": "cli"})
    assert (await wait_status(http, "steps", cli))["trigger"] == {"source": "cli"}


async def test_create_with_an_empty_body_generates_a_uuid(http: httpx.AsyncClient) -> None:
    result = ok(await http.post(f"{WF}/instances"))
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", result["id"])


async def test_create_errors_use_the_reference_messages(http: httpx.AsyncClient) -> None:
    await create(http, "dup")
    error(await http.post(f"{WF}/instances", json={"id": "dup"}), 409, 10001,
          'WorkflowError: (instance.already_exists) Workflow instance with id "dup" already exists')
    error(await http.post(f"{WF}/instances", json={"id": "bad id"}), 400, 10001,
          "WorkflowError: Workflow instance has invalid id")
    error(await http.post(f"{WF}/instances", content=b"{nope",
                          headers={"content-type": "application/json"}),
          400, 10001, "Invalid JSON request body")


async def test_listing_with_no_instances_has_zero_pages(http: httpx.AsyncClient) -> None:
    body = (await http.get(f"{WF}/instances")).json()
    assert body["result"] == []
    assert body["result_info"] == {"page": 1, "per_page": 25, "total_count": 0, "total_pages": 0}


async def test_listing_pages_newest_first_with_status_counts(
        http: httpx.AsyncClient, wait_status: Any) -> None:
    for name in ("a", "b", "c"):
        await wait_status(http, "steps", await create(http, name))
        await asyncio.sleep(0.002)
    body = (await http.get(f"{WF}/instances", params={"per_page": 2, "page": 2})).json()
    assert [i["id"] for i in body["result"]] == ["a"]
    assert body["result"][0]["status"] == "complete" and ISO.match(body["result"][0]["created_on"])
    assert body["result_info"] == {"page": 2, "per_page": 2, "total_count": 3, "total_pages": 2,
                                   "status_counts": {"complete": 3}}
    first = (await http.get(f"{WF}/instances")).json()
    assert [i["id"] for i in first["result"]] == ["c", "b", "a"]
    filtered = (await http.get(f"{WF}/instances", params={"status": "errored"})).json()
    assert filtered["result"] == [] and filtered["result_info"]["total_count"] == 0
    assert filtered["result_info"]["total_pages"] == 1
    created_b = first["result"][1]["created_on"]
    window = (await http.get(f"{WF}/instances",
                             params={"date_start": created_b, "date_end": created_b})).json()
    assert [i["id"] for i in window["result"]] == ["b"]


async def test_listing_query_validation_messages(http: httpx.AsyncClient) -> None:
    async def issues(**params: Any) -> list[str]:
        response = await http.get(f"{WF}/instances", params=params)
        assert response.status_code == 400, response.text
        return [e["message"] for e in response.json()["errors"]]

    assert await issues(per_page=101) == ["per_page: Too big: expected number to be <=100"]
    assert await issues(page=0, per_page=0) == ["page: Too small: expected number to be >=1",
                                                "per_page: Too small: expected number to be >=1"]
    assert await issues(page="abc") == ['page: Expected query param to be number but received "abc"']
    assert await issues(status="done") == [
        'status: Invalid option: expected one of "queued"|"running"|"paused"|"errored"|"terminated"'
        '|"complete"|"waitingForPause"|"waiting"']
    assert await issues(date_start="2026-01-01") == ["date_start: Invalid ISO datetime"]
    response = await http.get(f"{WF}/instances", params={"date_start": "2026-02-01T00:00:00Z",
                                                         "date_end": "2026-01-01T00:00:00Z"})
    error(response, 400, 10502, "'date_start' must not be after 'date_end'. Update 'date_start' or "
                                "'date_end' so 'date_start' is before or equal to 'date_end'.")


async def test_terminate_with_rollback_runs_the_rollbacks_of_the_steps_that_ran(
        http: httpx.AsyncClient, wait_status: Any, project_root: Any) -> None:
    await create(http, "r", {"wait": True, "undo": True, "steps": 2})
    await wait_status(http, "steps", "r", ("waiting",))
    result = ok(await http.patch(f"{WF}/instances/r/status",
                                 json={"status": "terminate", "rollback": True}))
    assert result["status"] == "terminated"
    journal = (project_root / "journal.txt").read_text().splitlines()
    assert journal[-2:] == ["undo s1-1 10 Instance terminated during rollback",
                            "undo s0-1 0 Instance terminated during rollback"]


async def test_details_of_a_missing_instance_is_404(http: httpx.AsyncClient) -> None:
    error(await http.get(f"{WF}/instances/missing"), 404, 10501,
          "Workflow instance 'missing' not found.")


async def test_status_changes_answer_the_new_status_and_a_timestamp(
        http: httpx.AsyncClient, wait_status: Any) -> None:
    await create(http, "w", {"wait": True})
    await wait_status(http, "steps", "w", ("waiting",))
    result = ok(await http.patch(f"{WF}/instances/w/status", json={"status": "pause"}))
    assert result["status"] == "paused" and ISO.match(result["timestamp"])
    result = ok(await http.patch(f"{WF}/instances/w/status", json={"status": "resume"}))
    assert result["status"] in ("queued", "running", "waiting")
    await wait_status(http, "steps", "w", ("waiting",))
    result = ok(await http.patch(f"{WF}/instances/w/status", json={"status": "terminate"}))
    assert result["status"] == "terminated"
    error(await http.patch(f"{WF}/instances/w/status", json={"status": "terminate"}), 409, 10001,
          "WorkflowError: (instance.cannot_terminate) Cannot terminate instance since its on a "
          "finite state")
    error(await http.patch(f"{WF}/instances/w/status",
                           json={"status": "restart", "from": {"name": "nope"}}), 409, 10001,
          'WorkflowError: (instance.cannot_restart) Step "nope" not found in execution history')
    result = ok(await http.patch(f"{WF}/instances/w/status",
                                 json={"status": "restart", "from": {"name": "s0", "type": "do"}}))
    assert result["status"] in ("queued", "running", "waiting")
    await wait_status(http, "steps", "w", ("waiting",))


async def test_status_body_validation_messages(http: httpx.AsyncClient) -> None:
    await create(http, "v")
    url = f"{WF}/instances/v/status"
    error(await http.patch(url, json={"status": "pause", "rollback": True}), 400, 10001,
          "'rollback' is only valid when terminating.")
    error(await http.patch(url, json={}), 400, 10001, "Invalid input")
    error(await http.patch(url, json={"status": "stop"}), 400, 10001, "Invalid input")
    error(await http.patch(url, json={"status": "restart", "from": {"name": ""}}), 400, 10001,
          "from.name: Too small: expected string to have >=1 characters")
    error(await http.patch(url, json={"status": "restart", "from": {"name": "s0", "count": 0}}),
          400, 10001, "from.count: Too small: expected number to be >0")
    error(await http.patch(url, content=b"{", headers={"content-type": "application/json"}),
          400, 10001, "Invalid JSON request body")
    error(await http.patch(f"{WF}/instances/ghost/status", json={"status": "pause"}), 404, 10501,
          "Workflow instance 'ghost' not found.")


async def test_events_reach_a_waiting_instance(http: httpx.AsyncClient, wait_status: Any) -> None:
    await create(http, "e", {"wait": True})
    await wait_status(http, "steps", "e", ("waiting",))
    assert ok(await http.post(f"{WF}/instances/e/events/go", json={"ok": 1})) == {"success": True}
    details = await wait_status(http, "steps", "e")
    assert details["output"]["results"] == [0, {"ok": 1}]
    assert details["steps"][-1]["output"]["type"] == "go"
    error(await http.post(f"{WF}/instances/ghost/events/go", json={}), 404, 10501,
          "Workflow instance 'ghost' not found.")


async def test_delete_one_instance(http: httpx.AsyncClient) -> None:
    await create(http, "gone")
    assert ok(await http.delete(f"{WF}/instances/gone")) == {"success": True}
    error(await http.delete(f"{WF}/instances/gone"), 404, 10501,
          "Workflow instance 'gone' not found.")


async def test_batch_delete_reports_each_position(http: httpx.AsyncClient) -> None:
    await create(http, "x1")
    result = ok(await http.post(f"{WF}/instances/batch/delete",
                                json={"instances": ["x1", "missing", "x1"]}))
    assert result == {"deleted": [{"id": "x1"}, {"id": "x1"}], "errors": [
        {"id": "missing", "code": 10400, "message": "workflows.api.error.instance.not_found"}]}

    async def issues(body: Any) -> list[str]:
        response = await http.post(f"{WF}/instances/batch/delete", json=body)
        assert response.status_code == 400
        return [e["message"] for e in response.json()["errors"]]

    assert await issues({}) == ["instances: Invalid input: expected array, received undefined"]
    assert await issues({"instances": []}) == ["instances: Too small: expected array to have >=1 items"]
    assert await issues({"instances": ["ok", "no!"]}) == [
        r"instances.1: Invalid string: must match pattern /^[a-zA-Z0-9, *\/#_-]+$/"]
    assert await issues({"instances": ["a"] * 101}) == [
        "instances: Too big: expected array to have <=100 items"]


async def test_delete_workflow_removes_every_instance(http: httpx.AsyncClient) -> None:
    await create(http, "d1")
    await create(http, "d2")
    assert ok(await http.delete(WF)) == {"status": "ok", "success": True}
    assert (await http.get(f"{WF}/instances")).json()["result"] == []


async def test_options_answers_cors_preflight(http: httpx.AsyncClient) -> None:
    response = await http.options(f"{WF}/instances", headers={"origin": "http://localhost:5173"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "PATCH" in response.headers["access-control-allow-methods"]


async def test_unknown_api_route_is_an_envelope_404(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{API}/workers/durable_objects/namespaces")
    assert response.status_code == 404 and response.json()["success"] is False


async def test_event_log_rows_after_a_sequence_number(http: httpx.AsyncClient, wait_status: Any) -> None:
    await wait_status(http, "steps", await create(http, "logged"))
    rows = ok(await http.get(f"{WF}/instances/logged/log"))
    assert rows[0]["event"] == 0 and rows[0]["metadata"]["params"] == {}
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    later = ok(await http.get(f"{WF}/instances/logged/log", params={"after_seq": rows[1]["seq"]}))
    assert later == rows[2:]
    error(await http.get(f"{WF}/instances/logged/log", params={"after_seq": "-1"}), 400, 10001,
          'after_seq: expected a whole number from 0 to 9223372036854775807, got "-1"')
    error(await http.get(f"{WF}/instances/nope/log"), 404, 10501, "Workflow instance 'nope' not found.")


async def test_rows_and_details_say_which_control_actions_apply(
        http: httpx.AsyncClient, wait_status: Any) -> None:
    """The explorer's buttons come from the engine's table, through these fields."""
    await wait_status(http, "steps", await create(http, "done"))
    await wait_status(http, "steps", await create(http, "w", {"wait": True}), ("waiting",))
    rows = {row["id"]: row["actions"] for row in ok(await http.get(f"{WF}/instances"))}
    assert rows == {"done": ["restart", "delete"],
                    "w": ["pause", "terminate", "restart", "delete"]}
    assert ok(await http.get(f"{WF}/instances/w"))["actions"] == rows["w"]
    ok(await http.patch(f"{WF}/instances/w/status", json={"status": "pause"}))
    assert ok(await http.get(f"{WF}/instances/w"))["actions"] == [
        "resume", "terminate", "restart", "delete"]
