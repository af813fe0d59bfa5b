"""The local API only answers this machine: Host and Origin checks, body limits, malformed JSON."""

from __future__ import annotations

import httpx
import pytest
from serverkit import API

from pyflow_cli.server.security import API_BODY_LIMIT, LocalOnly, is_loopback_bind

WF = f"{API}/workflows/steps"


@pytest.mark.parametrize("host", ["localhost:8787", "127.0.0.1:8787", "[::1]:8787", "localhost",
                                  "app.localhost:8787", "127.0.0.2"])
def test_local_hosts_are_allowed(host: str) -> None:
    assert LocalOnly().host_allowed(host)


@pytest.mark.parametrize("host", ["evil.example:8787", "192.168.1.5:8787", "", None,
                                  "localhost.evil.example"])
def test_other_hosts_are_refused(host: str | None) -> None:
    assert not LocalOnly().host_allowed(host)


def test_the_chosen_address_is_allowed_but_a_wildcard_bind_opens_nothing() -> None:
    assert LocalOnly(bound_ip="192.168.1.5").host_allowed("192.168.1.5:8787")
    assert not LocalOnly(bound_ip="192.168.1.5").host_allowed("192.168.1.6:8787")
    assert not LocalOnly(bound_ip="0.0.0.0").host_allowed("10.0.0.7:8787")
    assert not LocalOnly(bound_ip="0.0.0.0").host_allowed("rebound.evil.example:8787")
    assert LocalOnly(bound_ip="0.0.0.0").host_allowed("localhost:8787")


def test_origins() -> None:
    policy = LocalOnly()
    assert policy.origin_allowed(None)
    assert policy.origin_allowed("http://localhost:5173")
    assert policy.origin_allowed("http://127.0.0.1:8787")
    assert not policy.origin_allowed("https://evil.example")
    assert not policy.origin_allowed("null")
    assert not policy.origin_allowed("file://")


def test_loopback_binds_need_no_warning() -> None:
    assert is_loopback_bind("127.0.0.1") and is_loopback_bind("localhost") and is_loopback_bind("::1")
    assert not is_loopback_bind("0.0.0.0") and not is_loopback_bind("192.168.1.5")


async def test_api_refuses_a_foreign_host(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{API}/workflows", headers={"host": "evil.example:8787"})
    assert response.status_code == 403
    body = response.json()
    assert body["success"] is False and body["result"] is None
    assert 'Host "evil.example:8787" is not this machine' in body["errors"][0]["message"]


async def test_api_refuses_a_cross_site_origin(http: httpx.AsyncClient) -> None:
    response = await http.post(f"{WF}/instances", json={}, headers={"origin": "https://evil.example"})
    assert response.status_code == 403
    assert "refuses cross-site requests" in response.json()["errors"][0]["message"]
    assert (await http.get(f"{WF}/instances")).json()["result"] == []  # nothing was created


async def test_api_accepts_a_local_origin_and_echoes_it(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{API}/workflows", headers={"origin": "http://localhost:5173"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"


async def test_scheduled_handler_is_protected_too(http: httpx.AsyncClient) -> None:
    response = await http.get("/cdn-cgi/handler/scheduled", params={"cron": "0 0 1 1 *"},
                              headers={"origin": "https://evil.example"})
    assert response.status_code == 403


async def test_the_worker_itself_serves_any_host(http: httpx.AsyncClient) -> None:
    response = await http.get("/", headers={"host": "my-app.example"})
    assert response.status_code == 200 and response.text == "hello from v1"


async def test_oversized_api_body_is_413_with_the_envelope(http: httpx.AsyncClient) -> None:
    big = b'{"params": "' + b"x" * API_BODY_LIMIT + b'"}'
    response = await http.post(f"{WF}/instances", content=big,
                               headers={"content-type": "application/json"})
    assert response.status_code == 413
    body = response.json()
    assert body["success"] is False and body["errors"][0]["code"] == 10001
    assert "over the 1.1 MiB" in body["errors"][0]["message"]

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"y" * 65536

    streamed = await http.post(f"{WF}/instances/x/events/go", content=chunks())
    assert streamed.status_code == 413


async def test_malformed_json_is_400_on_every_body_route(http: httpx.AsyncClient) -> None:
    await http.post(f"{WF}/instances", json={"id": "m"})
    for method, path in [("POST", f"{WF}/instances"), ("PATCH", f"{WF}/instances/m/status"),
                         ("POST", f"{WF}/instances/batch/delete"),
                         ("POST", f"{WF}/instances/m/events/go")]:
        response = await http.request(method, path, content=b'{"a":',
                                      headers={"content-type": "application/json"})
        assert response.status_code == 400, (method, path, response.text)
        assert response.json()["errors"] == [{"code": 10001, "message": "Invalid JSON request body",
                                              "pyflow_code": "pyflow.invalid_input"}]


def test_a_token_guarded_policy_takes_any_host_but_only_its_own_or_local_origins() -> None:
    policy = LocalOnly(bound_ip="0.0.0.0", token_guarded=True)
    assert policy.host_allowed("flows.example.com") and not policy.host_allowed("")
    assert policy.origin_allowed("https://flows.example.com", "flows.example.com")
    assert policy.origin_allowed("http://localhost:8787", "flows.example.com")
    assert not policy.origin_allowed("https://evil.example", "flows.example.com")
    assert not LocalOnly(bound_ip="0.0.0.0").origin_allowed("https://flows.example.com",
                                                           "flows.example.com")
