"""``trigger --wait`` with an in-process engine, and ``logs``: progressive plain lines when not on a
terminal, a live view on one."""

from __future__ import annotations

import json
import re

from clikit import Project, fixed_runtime, run_demo_to_completion

FAST = ["--time-scale", "2000"]  # the 1-minute nap takes 30 ms, the retry delays a few ms


def test_trigger_wait_runs_to_completion_with_progress_lines(project: Project) -> None:
    result = project.cli("workflows", "trigger", "demo", '{"skip_approval": true}', "--id", "w-1",
                         "--wait", *FAST)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == '🚀 Workflow instance "w-1" has been triggered successfully'
    progress = [line for line in lines if line.startswith("  ") and "·" in line]
    assert progress[0] == '  ✅ fetch-1 · {"files":["a.pdf","b.pdf"]}'
    assert any(line.startswith("  💤 nap-1 · ") for line in progress)
    assert progress[-1] == "  ✅ flaky-1 (attempt 3) · 3"
    assert "Status:                ✅ Completed" in result.stdout
    assert "Trigger:               🖥️ CLI" in result.stdout
    assert "│ RuntimeError: boom 2 │" in result.stdout
    assert lines[-1] == 'Output:  {"files":2,"attempts":3}'
    assert "\x1b[" not in result.output
    assert result.stderr == ""


def test_trigger_wait_exits_1_when_the_instance_errors(project: Project) -> None:
    result = project.cli("workflows", "trigger", "failing", "--wait", *FAST)
    assert result.exit_code == 1
    assert "  ❌ explode-1 · failed after 2 attempts: ValueError: no luck" in result.stdout
    assert "Error:          ValueError: no luck" in result.stdout
    assert "Output:" not in result.stdout


def test_trigger_wait_json_prints_only_the_final_details(project: Project) -> None:
    result = project.cli("workflows", "trigger", "demo", '{"skip_approval": true}', "--wait", "--json",
                         *FAST)
    assert result.exit_code == 0
    details = json.loads(result.stdout)
    assert details["status"] == "complete"
    assert details["output"] == {"files": 2, "attempts": 3}


def test_trigger_wait_on_a_terminal_draws_a_live_view(project: Project) -> None:
    result = project.cli("workflows", "trigger", "demo", '{"skip_approval": true}', "--wait", *FAST,
                         runtime=fixed_runtime(terminal=True))
    assert result.exit_code == 0
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result.stdout)
    assert "Last Successful Step:  flaky-1" in plain
    assert 'Output:  {"files":2,"attempts":3}' in plain


def test_logs_print_the_event_log(project: Project) -> None:
    project.build(run_demo_to_completion)
    result = project.cli("workflows", "instances", "logs", "demo", "golden-1")
    lines = result.stdout.splitlines()
    assert lines[0] == ('2026-01-01 00:00:00.000  WORKFLOW_QUEUED             -  params={"user":"ada"} '
                        'trigger=api')
    failure = lines.index('2026-01-01 00:01:00.000  ATTEMPT_FAILURE             flaky-1  attempt=1 '
                          'error={"name":"RuntimeError","message":"boom 1"} retryDelayMs=5000')
    # the failed attempt's traceback (the user's frames) follows its line
    assert lines[failure + 1:failure + 3] == ["    src/entry.py:19 in flaky",
                                              '        raise RuntimeError(f"boom {ctx.attempt}")']
    assert lines[-1].startswith("2026-01-01 00:01:15.000  WORKFLOW_SUCCESS")
    events = [json.loads(line) for line in
              project.cli("workflows", "instances", "logs", "demo", "latest", "--json").stdout.splitlines()]
    assert events[0]["event"] == "WORKFLOW_QUEUED" and events[0]["timestamp"] == "2026-01-01T00:00:00.000Z"
    assert len(events) == len([line for line in lines if not line.startswith(" ")])
    traced = [event for event in events if "traceback" in event]
    assert [event["metadata"]["attempt"] for event in traced] == [1, 2]
    assert traced[0]["traceback"]["frames"] == [{
        "file": "src/entry.py", "line": 19, "function": "flaky",
        "source": 'raise RuntimeError(f"boom {ctx.attempt}")'}]


def test_logs_follow_of_a_finished_instance_prints_all_and_returns(project: Project) -> None:
    project.build(run_demo_to_completion)
    followed = project.cli("workflows", "instances", "logs", "demo", "golden-1", "--follow")
    assert followed.exit_code == 0
    assert followed.stdout == project.cli("workflows", "instances", "logs", "demo", "golden-1").stdout
