"""A web page cannot fire crons or change state through ``pyflow dev``: browsers say where a request
comes from (``Sec-Fetch-Site``, ``Origin``), and every state-changing route refuses other sites
and other origins, even for requests that carry no Origin (an ``<img>``). Real HTTP to a real
server, with the headers a browser sends."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from serverkit import API, DevProcess, write_project

WF = f"{API}/workflows/steps"
CRON = "/cdn-cgi/handler/scheduled"
IMG = {"sec-fetch-mode": "no-cors", "sec-fetch-dest": "image"}  # what <img src=...> sends


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    process = DevProcess(write_project(tmp_path_factory.mktemp("fetch") / "app"),
                         "--no-reload").ready()
    yield process
    process.stop()


@pytest.fixture
def http(server: DevProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def count(http: httpx.Client, workflow: str) -> int:
    return int(http.get(f"{API}/workflows/{workflow}/instances").json()["result_info"]
               .get("total_count", 0))


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_an_image_on_another_site_cannot_fire_a_cron(http: httpx.Client, site: str) -> None:
    before = count(http, "nightly")
    response = http.get(CRON, params={"cron": "0 3 * * *"}, headers={**IMG, "sec-fetch-site": site})
    assert response.status_code == 403
    assert f"Sec-Fetch-Site: {site}" in response.text
    assert count(http, "nightly") == before


@pytest.mark.parametrize("site", ["same-origin", "none"])
def test_the_cron_endpoint_still_answers_this_origin_and_the_address_bar(
        http: httpx.Client, site: str) -> None:
    before = count(http, "nightly")
    response = http.get(CRON, params={"cron": "0 3 * * *"}, headers={"sec-fetch-site": site})
    assert (response.status_code, response.text) == (200, "ok")
    assert count(http, "nightly") == before + 1


def test_command_line_clients_send_no_fetch_metadata_and_pass(http: httpx.Client) -> None:
    response = http.post(f"{WF}/instances", json={"id": "from-cli"})
    assert response.status_code == 200


@pytest.mark.parametrize(("headers", "why"), [
    ({"sec-fetch-site": "cross-site"}, "Sec-Fetch-Site: cross-site"),
    ({"sec-fetch-site": "same-site", "origin": "http://localhost:5173"},
     "Sec-Fetch-Site: same-site"),
    ({"origin": "http://localhost:5173"}, 'Origin "http://localhost:5173" is not this server'),
])
@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", f"{WF}/instances", {"id": "web"}),
    ("PATCH", f"{WF}/instances/from-cli/status", {"status": "pause"}),
    ("POST", f"{WF}/instances/from-cli/events/go", {}),
    ("DELETE", f"{WF}/instances/from-cli", None),
    ("POST", f"{WF}/instances/batch/delete", {"instances": ["from-cli"]}),
    ("DELETE", WF, None),
])
def test_a_page_on_another_origin_cannot_change_state(
        http: httpx.Client, headers: dict[str, str], why: str, method: str, path: str,
        body: object) -> None:
    http.post(f"{WF}/instances", json={"id": "from-cli"})
    before = http.get(f"{WF}/instances").json()
    response = http.request(method, path, json=body, headers=headers)
    assert response.status_code == 403, response.text
    envelope = response.json()
    assert envelope["success"] is False and why in envelope["errors"][0]["message"]
    assert http.get(f"{WF}/instances").json() == before


def test_a_page_of_this_origin_may_change_state(http: httpx.Client, server: DevProcess) -> None:
    response = http.post(f"{WF}/instances", json={"id": "same-origin"},
                         headers={"sec-fetch-site": "same-origin", "origin": server.url})
    assert response.status_code == 200, response.text


def test_reads_from_a_local_page_on_another_port_still_work(http: httpx.Client) -> None:
    response = http.get(f"{API}/workflows", headers={"sec-fetch-site": "same-site",
                                                    "origin": "http://localhost:5173"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"


def test_reads_from_another_site_are_refused(http: httpx.Client) -> None:
    response = http.get(f"{API}/workflows", headers={**IMG, "sec-fetch-site": "cross-site"})
    assert response.status_code == 403


def test_the_worker_itself_answers_every_site(http: httpx.Client) -> None:
    response = http.post("/", headers={"sec-fetch-site": "cross-site",
                                       "origin": "https://example.com"})
    assert response.status_code == 200
