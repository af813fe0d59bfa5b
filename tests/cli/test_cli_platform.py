"""The CLI of the platform's rules: deleting finished instances by age, listing by version,
the versions of the code, the version each attempt ran on, and the limits' 429 in one line."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from pathlib import Path

import pytest
from clikit import START_MS, Project, fixed_runtime

from pyflow_cli.cli.options import Runtime
from pyflow_cli.engine.clock import ManualClock
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.testing import WorkflowTestEnv

DAY_MS = 86_400_000


async def _finished_over_days(env: WorkflowTestEnv) -> None:
    """failing f-0 ... f-2 errored on days 0, 1, 2; sleeper s-0 waiting; demo d-0 terminated on
    day 2. Now is day 10."""
    for n in range(3):
        await env.service.create("failing", f"f-{n}")
        await env.run_until_done("failing", f"f-{n}")
        env.clock.advance(DAY_MS)
    await env.service.create("sleeper", "s-0")
    await env.service.create("demo", "d-0")
    await env.settle()
    await env.service.terminate("demo", "d-0")


def _at_day(day: int, can_ask: bool = False) -> Runtime:
    return dataclasses.replace(fixed_runtime(START_MS + day * DAY_MS), input_terminal=can_ask)


@pytest.fixture
def aged(project: Project) -> Project:
    project.build(_finished_over_days)
    return project


def _ids(project: Project, workflow: str) -> list[str]:
    result = project.cli("workflows", "instances", "list", workflow, "--json")
    return sorted(row["id"] for row in json.loads(result.stdout or "[]"))


def test_delete_older_than_removes_finished_instances_that_ended_before(aged: Project) -> None:
    # Day 2.5: f-0 and f-1 ended more than a day ago; f-2 and the others did not, or run.
    result = aged.cli("workflows", "instances", "delete", "failing", "--older-than", "1d",
                      "--yes", runtime=dataclasses.replace(
                          fixed_runtime(START_MS + 2.5 * DAY_MS)))
    assert result.exit_code == 0, result.output
    assert result.stdout == ('🗑️  Deleted 2 instances: finished instances of workflow "failing" '
                             "that ended more than 1 day ago.\n")
    assert _ids(aged, "failing") == ["f-2"]
    assert _ids(aged, "sleeper") == ["s-0"]


def test_delete_older_than_keeps_to_the_statuses_asked_for(aged: Project) -> None:
    result = aged.cli("workflows", "instances", "delete", "demo", "--older-than", "1s",
                      "--status", "errored", "--yes", "--json", runtime=_at_day(10))
    assert json.loads(result.stdout) == {"deleted": 0}
    assert _ids(aged, "demo") == ["d-0"]
    result = aged.cli("workflows", "instances", "delete", "demo", "--older-than", "1s",
                      "--status", "terminated", "--yes", runtime=_at_day(10))
    assert "Deleted 1 instance: terminated instances" in result.stdout
    assert _ids(aged, "demo") == []


def test_delete_older_than_asks_on_a_terminal_and_refuses_without_one(aged: Project) -> None:
    before = aged.dump()
    no_terminal = aged.cli("workflows", "instances", "delete", "failing", "--older-than", "12h",
                           runtime=_at_day(10))
    assert no_terminal.exit_code == 1
    assert "pass --yes to delete them" in no_terminal.stderr
    declined = aged.cli("workflows", "instances", "delete", "failing", "--older-than", "12h",
                        runtime=_at_day(10, can_ask=True), input="n\n")
    assert declined.exit_code == 1 and "Nothing was deleted." in declined.stderr
    assert "Delete 3 instances (finished instances" in declined.stdout
    assert aged.dump() == before
    confirmed = aged.cli("workflows", "instances", "delete", "failing", "--older-than", "12h",
                         runtime=_at_day(10, can_ask=True), input="y\n")
    assert confirmed.exit_code == 0 and "Deleted 3 instances" in confirmed.stdout
    assert _ids(aged, "failing") == []


@pytest.mark.parametrize(("args", "message"), [
    (["--older-than", "soon"], '--older-than must be a duration such as 7d, 12h, 30m or 1s '
                               '(got "soon").'),
    (["--older-than", "1d", "--status", "running"], '--status must be one of complete, errored, '
                                                     'terminated when deleting by age'),
    (["f-0", "--older-than", "1d"], "Give instance IDs (or --filename), or --older-than, not both."),
    (["f-0", "--status", "errored"], "--status goes with --older-than"),
])
def test_delete_older_than_mistakes_are_one_line(aged: Project, args: list[str],
                                                 message: str) -> None:
    before = aged.dump()
    result = aged.cli("workflows", "instances", "delete", "failing", *args, "--yes")
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) <= 2
    assert aged.dump() == before


async def _two_versions(root: Path) -> None:
    """demo d-1 runs into its flaky step on the project's code (v1); then, on a second version
    of the code (v2), d-2 is created and d-1 restarted from its flaky step."""
    state = root / ".pyflow" / "state"
    first = WorkflowTestEnv.from_project(root, state_dir=state, clock=ManualClock(START_MS),
                                         options=EngineOptions(poll_interval_s=0.02))
    async with first as env:
        await env.service.create("demo", "d-1")
        await env.run_until_status("demo", "d-1", "waiting")
        await env.advance("2 minutes")  # past its nap, into its flaky step's retries
    # Ten minutes on: before its approval wait times out.
    second = WorkflowTestEnv.from_project(root, state_dir=state,
                                          clock=ManualClock(START_MS + 600_000),
                                          options=EngineOptions(poll_interval_s=0.02))
    second.definitions = {name: dataclasses.replace(d, version_id="second-version")
                          for name, d in second.definitions.items()}
    second.engine.replace_workflows(second.definitions, "second-version")
    for info in list(second.service.workflows):
        second.service.workflows[info] = dataclasses.replace(
            second.service.workflows[info], version_id="second-version")
    async with second as env:
        await env.service.create("demo", "d-2", {"skip_approval": True})
        from pyflow_cli.service import RestartFrom

        await env.service.restart("demo", "d-1", RestartFrom("flaky"))
        await env.run_until_status("demo", "d-1", "waiting")


def test_versions_list_and_list_by_version(project: Project) -> None:
    asyncio.run(_two_versions(project.root))
    versions = project.cli("versions", "list")
    assert versions.exit_code == 0, versions.output
    assert versions.stdout.splitlines()[0] == "Showing 2 versions:"
    assert "│ v2      │ second-version" in versions.stdout
    listed = json.loads(project.cli("versions", "list", "--json").stdout)
    assert [(v["label"], v["instances"]) for v in listed] == [("v1", 0), ("v2", 2)]
    by_version = project.cli("workflows", "instances", "list", "demo", "--version", "v2", "--json")
    assert sorted(row["id"] for row in json.loads(by_version.stdout)) == ["d-1", "d-2"]
    none = project.cli("workflows", "instances", "list", "demo", "--version", "v1")
    assert "No instances in workflow \"demo\" matched the provided filters." in none.stderr
    unknown = project.cli("workflows", "instances", "list", "demo", "--version", "v9")
    assert unknown.exit_code == 1
    assert '"v9" is not a version this store has seen (known: v1, v2)' in unknown.stderr


def test_describe_shows_the_version_each_attempt_ran_on(project: Project) -> None:
    asyncio.run(_two_versions(project.root))
    described = project.cli("workflows", "instances", "describe", "demo", "d-1")
    assert "Version Id:            second-version (v2)" in described.stdout
    # fetch ran on v1 before the restart; flaky ran again on v2 after it.
    fetch, flaky = re.split(r"Name:\s+flaky-1", described.stdout.split("fetch-1")[1])
    assert "│ State      │ Version │" in fetch and "│ ✅ Success │ v1      │" in fetch
    assert "│ v2      │" in flaky and "v1" not in flaky
    details = json.loads(project.cli("workflows", "instances", "describe", "demo", "d-1",
                                     "--json").stdout)
    attempts = {s["name"]: [a["version"] for a in s["attempts"]] for s in details["steps"]
                if s["type"] == "step"}
    assert attempts == {"fetch-1": ["v1"], "flaky-1": ["v2"]}  # its first attempt, so far
    assert details["version"] == "v2"


def test_a_create_over_the_queued_limit_is_one_line_and_creates_nothing(project: Project) -> None:
    # PYFLOW_MAX_QUEUED applies to every process that creates instances, the CLI's too.
    limited = dataclasses.replace(fixed_runtime(), environ={"PYFLOW_MAX_QUEUED": "1"})
    first = project.cli("workflows", "trigger", "sleeper", "--id", "one", runtime=limited)
    assert first.exit_code == 0, first.output
    second = project.cli("workflows", "trigger", "sleeper", "--id", "two", runtime=limited)
    assert second.exit_code == 1
    assert second.stderr.splitlines()[0] == (
        "✘ [ERROR] Too many queued instances: at most 1 may wait to start (PYFLOW_MAX_QUEUED) "
        "and 1 are queued. Try again once some have started.")
    assert _ids(project, "sleeper") == ["one"]
    bad = project.cli("workflows", "trigger", "sleeper", runtime=dataclasses.replace(
        fixed_runtime(), environ={"PYFLOW_MAX_QUEUED": "lots"}))
    assert bad.exit_code == 1
    assert 'PYFLOW_MAX_QUEUED must be a whole number of 1 or more (got "lots").' in bad.stderr
