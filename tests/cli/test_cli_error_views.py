"""What a failure looks like everywhere it is shown: for each kind of error, describe, logs,
``--json`` and the local API give the class name, the message and the user's frame
(``file:line``) that raised it. A golden text pins the describe view."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from clikit import Project, write_project

from pyflow_cli.project.config import load_project
from pyflow_cli.server.app import create_app
from pyflow_cli.server.logs import DevLog
from pyflow_cli.server.runtime import DevRuntime
from pyflow_cli.testing import WorkflowTestEnv

CONFIG = """\
name = "errors-app"
main = "src/entry.py"
compatibility_date = "2025-10-01"

[[workflows]]
name = "errs"
binding = "ERRS"
class_name = "Errs"
"""

ENTRY = '''\
from workers import WorkflowEntrypoint
from workers.workflows import NonRetryableError


class OrderRejected(Exception):
    pass


class Errs(WorkflowEntrypoint):
    async def run(self, event, step):
        kind = event.payload["kind"]
        if kind == "outside":
            raise NonRetryableError("cart is empty")

        @step.do("charge", config={"retries": {"limit": 0, "delay": 0}})
        async def charge():
            if kind == "AttributeError":
                return "2026-01-01".year
            if kind == "NameError":
                return undefined_total
            if kind == "ImportError":
                from json import no_such_helper
            if kind == "KeyError":
                return {}["card"]
            if kind == "OrderRejected":
                raise OrderRejected("order 7 is over the limit")
            raise NonRetryableError("card declined")

        return await charge()
'''

# kind -> (recorded name, message, the line that raises it)
FAILURES = {
    "AttributeError": ("AttributeError", "'str' object has no attribute 'year'",
                       'return "2026-01-01".year'),
    "NameError": ("NameError", "name 'undefined_total' is not defined", "return undefined_total"),
    "ImportError": ("ImportError", "cannot import name 'no_such_helper' from 'json'",
                    "from json import no_such_helper"),
    "KeyError": ("KeyError", "'card'", 'return {}["card"]'),
    "OrderRejected": ("OrderRejected", "order 7 is over the limit",
                      'raise OrderRejected("order 7 is over the limit")'),
    "NonRetryableError": ("WorkflowFatalError",
                          'Step threw a NonRetryableError with message "card declined"',
                          'raise NonRetryableError("card declined")'),
}


def line_of(text: str) -> int:
    return next(n for n, line in enumerate(ENTRY.splitlines(), 1) if line.strip() == text)


@pytest.fixture(scope="module")
def errors_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = Project(write_project(tmp_path_factory.mktemp("errors"), ENTRY, CONFIG))

    async def fail_each(env: WorkflowTestEnv) -> None:
        for kind in [*FAILURES, "outside"]:
            await env.service.create("errs", kind, {"kind": kind})
            await env.run_until_done("errs", kind)

    saved = list(sys.path), list(sys.meta_path)
    project.build(fail_each)
    sys.path[:], sys.meta_path[:] = saved
    yield project


def _versionless(text: str) -> str:
    """The text without what changes from run to run: the code version, the engine's id."""
    text = re.sub(r"(Engines?:\s+)\S+", r"\1<engine>", text)
    return re.sub(r"(Version Id:\s+)\S+", r"\1<version>", text)


GOLDEN_ATTRIBUTE_ERROR = """\
Workflow Name:  errs
Instance Id:    AttributeError
Version Id:     <version> (v1)
Status:         ❌ Errored
Trigger:        🌎 API
Queued:         1/1/2026, 12:00:00 AM
Success:        ❌ No
Start:          1/1/2026, 12:00:00 AM
End:            1/1/2026, 12:00:00 AM
Duration:       0 seconds
Error:          AttributeError: 'str' object has no attribute 'year'
Traceback (your code):
  src/entry.py:29 in run
      return await charge()
  src/entry.py:18 in charge
      return "2026-01-01".year
Steps:

  Name:      charge-1
  Type:      🎯 Step
  Start:     1/1/2026, 12:00:00 AM
  End:       1/1/2026, 12:00:00 AM
  Duration:  0 seconds
  Success:   ❌ No
  Engine:    <engine>
┌───────────────────────┬───────────────────────┬───────────┬──────────┬───────────────────────────┐
│ Start                 │ End                   │ Duration  │ State    │ Error                     │
├───────────────────────┼───────────────────────┼───────────┼──────────┼───────────────────────────┤
│ 1/1/2026, 12:00:00 AM │ 1/1/2026, 12:00:00 AM │ 0 seconds │ ❌ Error │ AttributeError: 'str'     │
│                       │                       │           │          │ object has no attribute   │
│                       │                       │           │          │ 'year'                    │
└───────────────────────┴───────────────────────┴───────────┴──────────┴───────────────────────────┘
  Traceback of attempt 1 (your code):
    src/entry.py:18 in charge
        return "2026-01-01".year
"""


def test_describe_golden_view_of_a_failed_step(errors_project: Project) -> None:
    result = errors_project.cli("workflows", "instances", "describe", "errs", "AttributeError")
    assert result.exit_code == 0, result.output
    assert _versionless(result.stdout) == GOLDEN_ATTRIBUTE_ERROR


@pytest.mark.parametrize("kind", list(FAILURES))
def test_describe_shows_name_message_and_the_raising_line(errors_project: Project,
                                                          kind: str) -> None:
    name, message, raising = FAILURES[kind]
    text = errors_project.cli("workflows", "instances", "describe", "errs", kind).stdout
    assert f"{name}: {message}"[:20] in text
    assert f"    src/entry.py:{line_of(raising)} in charge\n        {raising}\n" in text
    details = json.loads(errors_project.cli("workflows", "instances", "describe", "errs", kind,
                                            "--json").stdout)
    attempt = details["steps"][0]["attempts"][0]
    assert attempt["error"]["name"] == name
    assert attempt["error"]["message"].startswith(message)
    assert attempt["traceback"]["frames"][-1] == {
        "file": "src/entry.py", "line": line_of(raising), "function": "charge", "source": raising}
    assert details["traceback"]["frames"][-1]["line"] == line_of(raising)


@pytest.mark.parametrize("kind", list(FAILURES))
def test_logs_show_the_failure_and_its_frames(errors_project: Project, kind: str) -> None:
    name, message, raising = FAILURES[kind]
    lines = errors_project.cli("workflows", "instances", "logs", "errs", kind).stdout.splitlines()
    failure = next(i for i, line in enumerate(lines) if "ATTEMPT_FAILURE" in line)
    assert f'"name":"{name}"' in lines[failure]
    assert lines[failure + 1:failure + 3] == [f"    src/entry.py:{line_of(raising)} in charge",
                                              f"        {raising}"]
    events = [json.loads(line) for line in errors_project.cli(
        "workflows", "instances", "logs", "errs", kind, "--json").stdout.splitlines()]
    attempt = next(e for e in events if e["event"] == "ATTEMPT_FAILURE")
    assert attempt["metadata"]["error"]["name"] == name
    assert attempt["metadata"]["error"]["message"].startswith(message)
    assert attempt["traceback"]["frames"][-1]["line"] == line_of(raising)
    assert "traceback" not in attempt["metadata"]  # the reference's metadata shape is kept


def test_non_retryable_error_raised_by_run_keeps_its_message(errors_project: Project) -> None:
    text = errors_project.cli("workflows", "instances", "describe", "errs", "outside").stdout
    assert "Error:          NonRetryableError: cart is empty\n" in text
    raising = line_of('raise NonRetryableError("cart is empty")')
    assert f"  src/entry.py:{raising} in run\n" in text


async def test_the_local_api_adds_tracebacks_beside_the_reference_shape(
        errors_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    runtime = await DevRuntime.open(load_project(errors_project.root), log=DevLog("none"))
    try:
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8787") as http:
            for kind, (name, message, raising) in FAILURES.items():
                response = await http.get(
                    f"/cdn-cgi/local/explorer/api/workflows/errs/instances/{kind}")
                details: dict[str, Any] = response.json()["result"]
                attempt = details["steps"][0]["attempts"][0]
                # pyflow's additions beside the reference's keys: the traceback, the
                # version of the code the attempt ran on and the engine that ran it.
                assert set(attempt) == {"start", "end", "success", "error", "traceback",
                                        "versionId", "version", "engine"}
                assert attempt["engine"].startswith("engine-")
                assert set(attempt["error"]) == {"name", "message"}
                assert attempt["error"]["name"] == name
                assert attempt["error"]["message"].startswith(message)
                assert attempt["traceback"]["frames"][-1]["file"] == "src/entry.py"
                assert attempt["traceback"]["frames"][-1]["line"] == line_of(raising)
                # its text ends with the exception Python raised (the recorded error may be
                # the reference's WorkflowFatalError wrapper)
                assert details["traceback"]["text"].splitlines()[-1].startswith(f"{kind}: ")
            log = await http.get("/cdn-cgi/local/explorer/api/workflows/errs/instances/KeyError/log")
            traced = [row for row in log.json()["result"] if "traceback" in row]
            assert [row["event"] for row in traced] == [12, 3]  # ATTEMPT_FAILURE, WORKFLOW_FAILURE
    finally:
        await runtime.close(0)
    for module_name, module in list(sys.modules.items()):
        if Path(getattr(module, "__file__", None) or "/").is_relative_to(errors_project.root):
            del sys.modules[module_name]
