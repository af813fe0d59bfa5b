"""The local API against its own OpenAPI document, fuzzed by schemathesis over real HTTP: no
answer is a 5xx, every answer is one the document describes, and a method a route does not take
is a 405. Path parameters are drawn mostly from the project's workflows and instances in every
status, so the requests reach the handlers rather than stopping at a 404."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from serverkit import API, CONFIG, DevProcess, wait_until, write_project

BINDINGS = """
[[kv_namespaces]]
binding = "CONFIG"
id = "config-ns"

[[r2_buckets]]
binding = "FILES"
bucket_name = "fuzz-files"

[[d1_databases]]
binding = "DB"
database_name = "fuzz-db"
"""
"""Local data for the explorer's routes to reach (the sections go after the workflows')."""
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_headers_conformance,response_schema_conformance,unsupported_method")
EXAMPLES_PER_OPERATION = 50


def _instances(server: DevProcess) -> list[str]:
    """One instance in each status the API can show (and the ids to aim requests at)."""
    wf = f"{API}/workflows/steps/instances"
    made = {"done": {}, "failed": {"fail": True}, "napping": {"nap": "1 hour"},
            "waiting": {"wait": True}, "paused": {"nap": "1 hour"}, "ended": {"nap": "1 hour"}}
    with server.client() as http:
        for instance_id, params in made.items():
            assert http.post(wf, json={"id": instance_id, "params": params}).status_code == 200

        def settled() -> bool:
            statuses = {i: http.get(f"{wf}/{i}").json()["result"]["status"] for i in made}
            return statuses["done"] == "complete" and statuses["failed"] == "errored" and all(
                statuses[i] == "waiting" for i in ("napping", "waiting", "paused", "ended"))

        wait_until(settled)
        assert http.patch(f"{wf}/paused/status", json={"status": "pause"}).status_code == 200
        assert http.patch(f"{wf}/ended/status", json={"status": "terminate"}).status_code == 200
    return list(made)


def _local_data(server: DevProcess) -> None:
    """A few keys, objects and a table, for reads and writes to find."""
    with server.client() as http:
        assert http.put(f"{API}/storage/kv/namespaces/config-ns/bulk",
                        json=[{"key": "a", "value": "1"}, {"key": "b/c", "value": "2"}]).status_code == 200
        for key in ("a.txt", "docs/b.txt"):
            assert http.put(f"{API}/r2/buckets/fuzz-files/objects/{key}", content=b"x").status_code == 200
        assert http.post(f"{API}/d1/database/fuzz-db/raw", json={
            "sql": "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT); "
                   "INSERT INTO items (name) VALUES ('x')"}).status_code == 200


def test_the_api_keeps_to_its_openapi_document(tmp_path: Path) -> None:
    server = DevProcess(write_project(tmp_path / "app", config=CONFIG + BINDINGS), "--no-reload").ready()
    try:
        ids = _instances(server)
        _local_data(server)
        config = tmp_path / "schemathesis.toml"
        config.write_text(
            "[dictionaries.workflows]\nvalues = [\"steps\", \"nightly\"]\n"
            f"[dictionaries.instances]\nvalues = {json.dumps(ids)}\n"
            '[dictionaries.namespaces]\nvalues = ["config-ns"]\n'
            '[dictionaries.buckets]\nvalues = ["fuzz-files"]\n'
            '[dictionaries.databases]\nvalues = ["fuzz-db"]\n'
            '[dictionaries.keys]\nvalues = ["a", "b/c", "a.txt", "docs/b.txt"]\n'
            '[dictionaries.tables]\nvalues = ["items"]\n'
            "[parameters]\n"
            'workflow_name = { dictionary = "workflows", probability = 0.9 }\n'
            'instance_id = { dictionary = "instances", probability = 0.8 }\n'
            'namespace_id = { dictionary = "namespaces", probability = 0.9 }\n'
            'bucket_name = { dictionary = "buckets", probability = 0.9 }\n'
            'database_id = { dictionary = "databases", probability = 0.9 }\n'
            'key_name = { dictionary = "keys", probability = 0.7 }\n'
            'object_key = { dictionary = "keys", probability = 0.7 }\n'
            'table = { dictionary = "tables", probability = 0.8 }\n')
        # Deleting every instance of a workflow goes last, so the other operations find some.
        wipe = "workflows-delete-workflow"
        for selection in (["--exclude-operation-id", wipe], ["--include-operation-id", wipe]):
            run = subprocess.run(
                [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
                 f"{server.url}{API}", *selection, "--checks", CHECKS, "--max-examples",
                 str(EXAMPLES_PER_OPERATION), "--seed", "20261124", "--workers", "1",
                 "--phases", "examples,coverage,fuzzing", "--generation-database", "none",
                 "--no-color", "--request-timeout", "20"],
                cwd=tmp_path, capture_output=True, text=True, timeout=240)
            assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5000:]
            assert "Tested: " in run.stdout
    finally:
        server.stop()
    assert "Local API:" not in server.output  # the server logged no failed request
