"""Client mistakes get a 4xx with the envelope, never a 500 (the reference's code where it has one
that is not a 500; docs/dev.md lists where pyflow differs)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from serverkit import API, stable_code

WF = f"{API}/workflows/steps"


def refused(response: httpx.Response, status: int, message: str, code: int = 10001) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"success": False, "errors": [{
        "code": code, "message": message, "pyflow_code": stable_code(status, message)}],
        "messages": [], "result": None}


async def done(http: httpx.AsyncClient, wait_status: Any, instance_id: str) -> None:
    response = await http.post(f"{WF}/instances", json={"id": instance_id})
    assert response.status_code == 200, response.text
    await wait_status(http, "steps", instance_id)


@pytest.mark.parametrize("page", ["9.2e18", "1e300", "9223372036854775807"])
async def test_a_page_far_past_the_end_is_an_empty_page(http: httpx.AsyncClient, wait_status: Any,
                                                        page: str) -> None:
    await done(http, wait_status, "only")
    response = await http.get(f"{WF}/instances", params={"page": page})
    assert response.status_code == 200, response.text  # as the reference answers
    body = response.json()
    assert body["result"] == [] and body["result_info"]["total_count"] == 1
    assert body["result_info"]["page"] == float(page)


@pytest.mark.parametrize("after", ["99999999999999999999", "²", "1.5", "", " 1"])
async def test_a_log_cursor_that_is_not_a_row_number_is_a_400(
        http: httpx.AsyncClient, wait_status: Any, after: str) -> None:
    await done(http, wait_status, "logged")
    response = await http.get(f"{WF}/instances/logged/log", params={"after_seq": after})
    refused(response, 400, f'after_seq: expected a whole number from 0 to 9223372036854775807, '
                           f'got "{after}"')


async def test_create_with_an_invalid_id_is_a_400_with_the_reference_message(
        http: httpx.AsyncClient) -> None:
    for bad in ["bad id", "", "-x", "a" * 101, 5, ["x"]]:
        refused(await http.post(f"{WF}/instances", json={"id": bad}), 400,
                "WorkflowError: Workflow instance has invalid id")


async def test_create_with_a_taken_id_is_a_409(http: httpx.AsyncClient, wait_status: Any) -> None:
    await done(http, wait_status, "dup")
    refused(await http.post(f"{WF}/instances", json={"id": "dup"}), 409,
            'WorkflowError: (instance.already_exists) Workflow instance with id "dup" already exists')


@pytest.mark.parametrize("body", [b"[]", b"[1, 2]", b'"text"', b"3", b"null", b"true"])
async def test_a_create_body_that_is_not_an_object_is_a_400_and_creates_nothing(
        http: httpx.AsyncClient, body: bytes) -> None:
    response = await http.post(f"{WF}/instances", content=body,
                               headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["message"].startswith("Invalid input: expected object")
    assert (await http.get(f"{WF}/instances")).json()["result"] == []


async def test_params_over_the_limit_are_a_400(http: httpx.AsyncClient) -> None:
    response = await http.post(f"{WF}/instances",
                               json={"id": "big", "params": {"blob": "x" * (1024 * 1024)}})
    assert response.status_code == 400, response.text
    assert "over the 1 MiB limit" in response.json()["errors"][0]["message"]


async def test_terminating_a_finished_instance_is_a_409(http: httpx.AsyncClient,
                                                       wait_status: Any) -> None:
    await done(http, wait_status, "finished")
    refused(await http.patch(f"{WF}/instances/finished/status", json={"status": "terminate"}), 409,
            "WorkflowError: (instance.cannot_terminate) Cannot terminate instance since its on "
            "a finite state")


@pytest.mark.parametrize("path", [f"{WF}/instances", f"{WF}/instances/x/events/go",
                                  f"{WF}/instances/x/status", f"{WF}/instances/batch/delete"])
@pytest.mark.parametrize("depth", [5000, 256])  # arrays inside the body's object
async def test_json_nested_too_deep_is_a_400(http: httpx.AsyncClient, wait_status: Any,
                                             path: str, depth: int) -> None:
    await done(http, wait_status, "x")
    body = '{"params": ' + "[" * depth + "]" * depth + "}"
    method = "PATCH" if path.endswith("/status") else "POST"
    response = await http.request(method, path, content=body.encode(),
                                  headers={"content-type": "application/json"})
    refused(response, 400, "Invalid JSON request body: nested deeper than 256 levels")


async def test_json_nested_within_the_limit_is_stored(http: httpx.AsyncClient,
                                                      wait_status: Any) -> None:
    body = '{"id": "deep", "params": ' + "[" * 255 + "]" * 255 + "}"
    response = await http.post(f"{WF}/instances", content=body.encode(),
                               headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", f"{API}/workflows", "GET, HEAD"),
    ("POST", WF, "GET, HEAD, DELETE"),
    ("PUT", f"{WF}/instances", "GET, HEAD, POST"),
    ("GET", f"{WF}/instances/batch/delete", "POST"),
    ("PUT", f"{WF}/instances/x", "GET, HEAD, DELETE"),
    ("POST", f"{WF}/instances/x/status", "PATCH"),
    ("DELETE", f"{WF}/instances/x/log", "GET, HEAD"),
    ("GET", f"{WF}/instances/x/events/go", "POST"),
    ("TRACE", API, "GET, HEAD"),
])
async def test_a_method_a_route_does_not_have_is_a_405(http: httpx.AsyncClient, method: str,
                                                       path: str, allowed: str) -> None:
    response = await http.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allowed
    body = response.json()
    assert body["success"] is False and body["result"] is None
    assert body["errors"][0]["message"] == (
        f"Method {method} is not allowed on {path}; it accepts {allowed}.")


async def test_a_head_request_answers_like_get_without_a_body(http: httpx.AsyncClient) -> None:
    response = await http.head(f"{API}/workflows")
    assert response.status_code == 200


async def test_a_path_with_a_newline_still_gets_the_envelope(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{API}/workflows/a%0Ab/instances/c%0A/log")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["code"] == 10501
