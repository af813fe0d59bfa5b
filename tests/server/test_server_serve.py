"""``pyflow serve`` as a real process on a free port: the API token guards the local API, the
explorer, its event stream and the rest of ``/cdn-cgi/`` (not the Worker); the explorer's sign-in
page; the refusal to listen beyond loopback without a token; JSON log lines; the CLI sending
``PYFLOW_API_TOKEN``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serverkit import (
    API,
    ENTRY,
    HOLDING,
    DevProcess,
    free_port,
    hold_one_and_queue_two,
    wait_until,
    write_project,
)

TOKEN = "s3rve-token-0123456789abcdef"
EXPLORER = "/cdn-cgi/local/explorer/"
LOGIN = EXPLORER + "login"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
PRINTING = 'print("entry imported")\n' + ENTRY.replace('        if path == "env":', """\
        if path == "print":
            print("printed by fetch", flush=True)
            print("no newline yet", end="")
            return Response("printed")
        if path == "env":""")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    root = write_project(tmp_path_factory.mktemp("serve") / "app", entry=PRINTING)
    process = DevProcess(root, "--ip", "0.0.0.0", "--log-format", "json", command="serve",
                         env={"PYFLOW_API_TOKEN": TOKEN}).ready()
    yield process
    if process.process.poll() is None:
        process.kill()


def client(served: DevProcess, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=served.url, timeout=20.0, headers=headers)


def test_the_api_needs_the_token(served: DevProcess) -> None:
    with client(served) as http:
        missing = http.get(f"{API}/workflows")
        wrong = http.get(f"{API}/workflows", headers={"Authorization": "Bearer " + "x" * 28})
        right = http.get(f"{API}/workflows", headers=BEARER)
        lower_scheme = http.get(f"{API}/workflows", headers={"Authorization": f"bearer {TOKEN}"})
    for refused in (missing, wrong):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer realm="pyflow"'
        error = refused.json()["errors"][0]
        assert error["pyflow_code"] == "pyflow.unauthorized" and error["code"] == 10000
    assert right.status_code == 200 and lower_scheme.status_code == 200
    assert [w["name"] for w in right.json()["result"]] == ["steps", "nightly"]


def test_a_token_guarded_server_answers_any_host_name(served: DevProcess) -> None:
    """Behind a reverse proxy the Host is the public name; the token, not the name, guards it."""
    with client(served, host="flows.example.com") as http:
        assert http.get(f"{API}/workflows").status_code == 401
        assert http.get(f"{API}/workflows", headers=BEARER).status_code == 200
        created = http.post(f"{API}/workflows/steps/instances", json={},
                            headers={**BEARER, "origin": "https://flows.example.com"})
        cross_site = http.post(f"{API}/workflows/steps/instances", json={},
                               headers={**BEARER, "origin": "https://evil.example"})
    assert created.status_code == 200
    assert cross_site.status_code == 403


def test_the_explorer_its_files_its_stream_and_crons_are_guarded(served: DevProcess) -> None:
    with client(served) as http:
        page = http.get(EXPLORER, headers={"accept": "text/html"})
        assert page.status_code == 303
        assert page.headers["location"] == f"{LOGIN}?next={EXPLORER}"
        assert http.get(EXPLORER + "static/app.js").status_code == 401
        assert http.get(f"{API}/stream").status_code == 401
        assert http.get("/cdn-cgi/handler/scheduled?cron=0+0+1+1+*").status_code == 401
        assert http.get("/cdn-cgi/anything").status_code == 401
        assert http.get(EXPLORER, headers=BEARER).status_code == 200
        with http.stream("GET", f"{API}/stream", headers=BEARER) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")


def test_the_worker_stays_public(served: DevProcess) -> None:
    with client(served) as http:
        answer = http.get("/")
    assert answer.status_code == 200 and answer.text == "hello from v1"


def test_signing_in_sets_a_strict_http_only_cookie_that_opens_the_explorer(
        served: DevProcess) -> None:
    with client(served) as http:
        form = http.get(LOGIN)
        assert form.status_code == 200 and 'name="token"' in form.text
        assert "form-action 'self'" in form.headers["content-security-policy"]
        wrong = http.post(LOGIN, data={"token": "not-it-" * 4})
        assert wrong.status_code == 200 and "That is not this server" in wrong.text
        assert "set-cookie" not in wrong.headers
        foreign = http.post(LOGIN, data={"token": TOKEN},
                            headers={"origin": "https://evil.example"})
        assert foreign.status_code == 403 and "set-cookie" not in foreign.headers
        signed_in = http.post(LOGIN, data={"token": TOKEN, "next": EXPLORER + "crons"})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == EXPLORER + "crons"
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/cdn-cgi/" in cookie
        assert TOKEN not in cookie
        assert http.get(f"{API}/workflows").status_code == 200  # the client keeps the cookie
        assert http.get(EXPLORER).status_code == 200
        elsewhere = http.post(LOGIN, data={"token": TOKEN, "next": "https://evil.example/"})
        assert elsewhere.headers["location"] == EXPLORER


def test_log_lines_are_json_objects_user_prints_included(served: DevProcess) -> None:
    with client(served) as http:
        assert http.get("/").status_code == 200
        assert http.get("/print").text == "printed"
    wait_until(lambda: any('"GET /print 200 OK' in line for line in served.lines))
    records = [json.loads(line) for line in list(served.lines)]
    assert any(r["level"] == "log" and r["message"] == "entry imported" for r in records)
    assert any(r["level"] == "log" and r["message"] == "printed by fetch" for r in records)
    assert all(set(record) == {"time", "level", "message"} for record in records)
    assert any(r["level"] == "info" and r["message"].startswith("Ready on http://0.0.0.0:")
               for r in records)
    assert all(r["time"].endswith("Z") for r in records)


def test_commands_send_the_token_from_the_environment(served: DevProcess) -> None:
    base = {k: v for k, v in os.environ.items() if k not in ("PYFLOW_API_TOKEN", "PYFLOW_URL")}

    def pyflow(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pyflow_cli", "--persist-to",
                               str(served.root / "state"), *args], cwd=served.root,
                              env={**base, "NO_COLOR": "1", **env}, capture_output=True,
                              text=True, timeout=60)

    without = pyflow("workflows", "trigger", "steps")
    assert without.returncode == 1 and "Traceback" not in without.stderr
    assert without.stderr.strip().splitlines()[0].endswith(
        "needs its API token (HTTP 401). Set PYFLOW_API_TOKEN to the token it was started with.")
    wrong = pyflow("workflows", "trigger", "steps", PYFLOW_API_TOKEN="y" * 20)
    assert wrong.returncode == 1 and "refused the API token in PYFLOW_API_TOKEN" in wrong.stderr
    triggered = pyflow("workflows", "trigger", "steps", PYFLOW_API_TOKEN=TOKEN)
    assert triggered.returncode == 0, triggered.stderr
    listed = pyflow("--url", served.url, "workflows", "instances", "list", "steps", "--json",
                    PYFLOW_API_TOKEN=TOKEN)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)
    waited = pyflow("--url", served.url, "workflows", "trigger", "steps", "--wait",
                    PYFLOW_API_TOKEN=TOKEN)
    assert waited.returncode == 0, waited.stderr
    assert "A pyflow server (pyflow dev or pyflow serve) runs this project and runs the " \
           "instance." in waited.stdout + waited.stderr


def test_listening_beyond_loopback_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    root = write_project(tmp_path / "app")
    env = {k: v for k, v in os.environ.items() if k != "PYFLOW_API_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "pyflow_cli", "serve", "--ip", "0.0.0.0",
                           "--port", str(free_port()), "--persist-to", str(root / "state")],
                          cwd=root, env={**env, "NO_COLOR": "1"}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == (
        "✘ [ERROR] pyflow serve would listen on 0.0.0.0, beyond this machine, without an API "
        "token. Set PYFLOW_API_TOKEN (or pass --api-token) to a secret of 16 characters or more, "
        "or listen on 127.0.0.1.")
    assert not (root / "state").exists()


def test_a_short_token_is_refused(tmp_path: Path) -> None:
    root = write_project(tmp_path / "app")
    done = subprocess.run([sys.executable, "-m", "pyflow_cli", "serve", "--port",
                           str(free_port()), "--api-token", "too-short"],
                          cwd=root, env={**os.environ, "NO_COLOR": "1"}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("✘ [ERROR] The API token has 9 characters; use at "
                                          "least 16")


def test_serve_on_loopback_needs_no_token_and_has_no_reload(tmp_path: Path) -> None:
    root = write_project(tmp_path / "app")
    process = DevProcess(root, command="serve", env={"PYFLOW_API_TOKEN": None}).ready()
    try:
        with process.client() as http:
            assert http.get(f"{API}/workflows").status_code == 200
            # pyflow workers list tells a served engine from a pyflow dev one.
            [engine] = http.get(f"{API}/local/engines").json()["result"]
            assert engine["kind"] == "serve"
            before = len(process.lines)
            entry = root / "src" / "entry.py"
            entry.write_text(entry.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
            # pyflow dev would reload within a second; serve keeps the code it started with.
            with pytest.raises(AssertionError):
                process.wait_for("[Rr]eload", timeout=2.5, after=before)
            assert http.get("/").text == "hello from v1"
        assert "(serve)" in process.output and "[b] open" not in process.output
    finally:
        assert process.stop() == 0


def test_serve_applies_the_platforms_limits(tmp_path: Path) -> None:
    """The options pyflow dev takes for the platform's rules reach pyflow serve's engine and
    creates: with one instance running under --max-running 1, the next two wait in queued and
    a third is refused by --max-queued 2."""
    root = write_project(tmp_path / "app", entry=HOLDING)
    served = DevProcess(root, "--max-running", "1", "--max-queued", "2", command="serve",
                        env={"PYFLOW_API_TOKEN": None}).ready()
    try:
        assert "at most 1 instance running at once (--max-running)" in served.output
        with served.client() as http:
            creates = hold_one_and_queue_two(http)
            refused = http.post(creates, json={})
            statuses = sorted(row["status"] for row in http.get(creates).json()["result"])
        assert refused.status_code == 429
        assert "(instance.queue_full)" in refused.json()["errors"][0]["message"]
        assert "(--max-queued)" in refused.json()["errors"][0]["message"]
        assert statuses == ["queued", "queued", "running"]
    finally:
        served.kill()
