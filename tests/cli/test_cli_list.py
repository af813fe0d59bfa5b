"""``instances list``: paging, filters, order, the reference's empty-page warnings, bad input."""

from __future__ import annotations

import json

import pytest
from clikit import Project

from pyflow_cli.testing import WorkflowTestEnv

HOUR_MS = 3_600_000


async def _five_sleepers(env: WorkflowTestEnv) -> None:
    """s-0 ... s-4 created an hour apart from 00:00; s-1 terminated; f-1 errored at 05:00."""
    for n in range(5):
        await env.service.create("sleeper", f"s-{n}")
        await env.settle()
        env.clock.advance(HOUR_MS)
    await env.service.terminate("sleeper", "s-1")
    await env.service.create("failing", "f-1")
    await env.run_until_done("failing", "f-1")


@pytest.fixture
def listed(project: Project) -> Project:
    project.build(_five_sleepers)
    return project


def ids(output: str) -> list[str]:
    return [line.split("│")[1].strip() for line in output.splitlines()
            if line.startswith("│") and "Instance ID" not in line]


def test_list_shows_newest_first_in_the_reference_table(listed: Project) -> None:
    result = listed.cli("workflows", "instances", "list", "sleeper")
    assert result.exit_code == 0
    assert result.stdout == """\
Showing 5 instances from page 1:
┌─────────────┬───────────────────────┬───────────────┐
│ Instance ID │ Created               │ Status        │
├─────────────┼───────────────────────┼───────────────┤
│ s-4         │ 1/1/2026, 4:00:00 AM  │ ⏰ Waiting    │
├─────────────┼───────────────────────┼───────────────┤
│ s-3         │ 1/1/2026, 3:00:00 AM  │ ⏰ Waiting    │
├─────────────┼───────────────────────┼───────────────┤
│ s-2         │ 1/1/2026, 2:00:00 AM  │ ⏰ Waiting    │
├─────────────┼───────────────────────┼───────────────┤
│ s-1         │ 1/1/2026, 1:00:00 AM  │ 🚫 Terminated │
├─────────────┼───────────────────────┼───────────────┤
│ s-0         │ 1/1/2026, 12:00:00 AM │ ⏰ Waiting    │
└─────────────┴───────────────────────┴───────────────┘
"""


def test_pages_and_reverse(listed: Project) -> None:
    page2 = listed.cli("workflows", "instances", "list", "sleeper", "--per-page", "2", "--page", "2")
    assert page2.stdout.startswith("Showing 2 instances from page 2:")
    assert ids(page2.stdout) == ["s-2", "s-1"]
    assert "Page 2 of 3 (5 instances): the next with --page 3." in page2.stderr
    oldest = listed.cli("workflows", "instances", "list", "sleeper", "--reverse", "--per-page", "2")
    assert ids(oldest.stdout) == ["s-0", "s-1"]
    last = listed.cli("workflows", "instances", "list", "sleeper", "--per-page", "2", "--page", "3")
    assert last.stdout.startswith("Showing 1 instance from page 3:")


def test_status_and_date_filters(listed: Project) -> None:
    terminated = listed.cli("workflows", "instances", "list", "sleeper", "--status", "terminated")
    assert ids(terminated.stdout) == ["s-1"]
    window = listed.cli("workflows", "instances", "list", "sleeper", "--date-start",
                        "2026-01-01T02:00:00Z", "--date-end", "2026-01-01T03:00:00Z")
    assert ids(window.stdout) == ["s-3", "s-2"]
    whole_day = listed.cli("workflows", "instances", "list", "sleeper", "--date-end", "2026-01-01")
    assert len(ids(whole_day.stdout)) == 5


def test_empty_pages_warn_as_the_reference_does(listed: Project) -> None:
    none = listed.cli("workflows", "instances", "list", "demo")
    assert none.exit_code == 0
    assert none.stderr == ('▲ [WARNING] There are no instances in workflow "demo". You can trigger it '
                           'with "pyflow workflows trigger demo"\n')
    filtered = listed.cli("workflows", "instances", "list", "sleeper", "--date-start", "2026-01-02")
    assert filtered.stderr == ('▲ [WARNING] No instances in workflow "sleeper" matched the provided '
                               "filters.\n")
    beyond = listed.cli("workflows", "instances", "list", "sleeper", "--page", "9")
    assert beyond.stderr == "▲ [WARNING] No instances found on page 9. Please try a smaller page number.\n"


def test_list_json(listed: Project) -> None:
    result = listed.cli("workflows", "instances", "list", "failing", "--json")
    [row] = json.loads(result.stdout)
    # The local API's row, and pyflow's addition: the version of the code it records.
    assert row == {"id": "f-1", "status": "errored", "created_on": "2026-01-01T05:00:00.000Z",
                   "versionId": row["versionId"], "version": "v1"}


@pytest.mark.parametrize(("args", "message"), [
    (["--status", "bogus"], 'Looks like you have provided a invalid status "bogus". Valid statuses '
                            "are: queued, running, paused, errored, terminated, complete, waiting, "
                            "waitingForPause"),
    (["--per-page", "101"], "--per-page must be between 1 and 100 (got 101)."),
    (["--page", "0"], "--page must be 1 or more (got 0)."),
    (["--date-start", "soon"], '--date-start "soon" is not an ISO 8601 date.'),
    (["--date-start", "2026-02-01", "--date-end", "2026-01-01"],
     "--date-start (2026-02-01T00:00:00.000Z) must not be after --date-end (2026-01-01T23:59:59.999Z)."),
])
def test_bad_list_options_are_one_clear_line(listed: Project, args: list[str], message: str) -> None:
    before = listed.dump()
    result = listed.cli("workflows", "instances", "list", "sleeper", *args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"✘ [ERROR] {message}")
    assert result.stderr.count("\n") == 1
    assert listed.dump() == before


def test_unknown_workflow_lists_the_defined_ones(listed: Project) -> None:
    result = listed.cli("workflows", "instances", "list", "billing")
    assert result.exit_code == 1
    assert result.stderr == ('✘ [ERROR] Workflow "billing" is not defined in wrangler.toml (defined: '
                             "demo, failing, sleeper). Check the [[workflows]] name.\n")


def test_listing_a_project_without_state_creates_no_database(project: Project) -> None:
    result = project.cli("workflows", "instances", "list", "demo")
    assert "There are no instances" in result.stderr
    assert not project.db.exists()
