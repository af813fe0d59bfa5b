"""``instances describe``: golden text of SPEC §4.6 (+ A9/A11) from real state, on a fixed console."""

from __future__ import annotations

import json
import re

from clikit import START_MS, Project, fixed_runtime, run_demo_to_completion

from pyflow_cli.testing import WorkflowTestEnv

GOLDEN_COMPLETE = """\
Latest instance is "golden-1"
Workflow Name:         demo
Instance Id:           golden-1
Version Id:            <version> (v1)
Status:                ✅ Completed
Trigger:               🌎 API
Queued:                1/1/2026, 12:00:00 AM
Success:               ✅ Yes
Start:                 1/1/2026, 12:00:00 AM
End:                   1/1/2026, 12:01:15 AM
Duration:              1 minute
Last Successful Step:  flaky-1
Steps:

  Name:      fetch-1
  Type:      🎯 Step
  Start:     1/1/2026, 12:00:00 AM
  End:       1/1/2026, 12:00:00 AM
  Duration:  0 seconds
  Success:   ✅ Yes
  Engine:    <engine>
  Output:    {"files":["a.pdf","b.pdf"]}
┌───────────────────────┬───────────────────────┬───────────┬────────────┐
│ Start                 │ End                   │ Duration  │ State      │
├───────────────────────┼───────────────────────┼───────────┼────────────┤
│ 1/1/2026, 12:00:00 AM │ 1/1/2026, 12:00:00 AM │ 0 seconds │ ✅ Success │
└───────────────────────┴───────────────────────┴───────────┴────────────┘

  Name:      nap-1
  Type:      💤 Sleeping
  Start:     1/1/2026, 12:00:00 AM
  End:       1/1/2026, 12:01:00 AM
  Duration:  1 minute

  Name:      flaky-1
  Type:      🎯 Step
  Start:     1/1/2026, 12:01:00 AM
  End:       1/1/2026, 12:01:15 AM
  Duration:  15 seconds
  Success:   ✅ Yes
  Engine:    <engine>
  Output:    3
┌───────────────────────┬───────────────────────┬───────────┬────────────┬──────────────────────┐
│ Start                 │ End                   │ Duration  │ State      │ Error                │
├───────────────────────┼───────────────────────┼───────────┼────────────┼──────────────────────┤
│ 1/1/2026, 12:01:00 AM │ 1/1/2026, 12:01:00 AM │ 0 seconds │ ❌ Error   │ RuntimeError: boom 1 │
├───────────────────────┼───────────────────────┼───────────┼────────────┼──────────────────────┤
│ 1/1/2026, 12:01:05 AM │ 1/1/2026, 12:01:05 AM │ 0 seconds │ ❌ Error   │ RuntimeError: boom 2 │
├───────────────────────┼───────────────────────┼───────────┼────────────┼──────────────────────┤
│ 1/1/2026, 12:01:15 AM │ 1/1/2026, 12:01:15 AM │ 0 seconds │ ✅ Success │                      │
└───────────────────────┴───────────────────────┴───────────┴────────────┴──────────────────────┘
  Traceback of attempts 1–2 (your code):
    src/entry.py:19 in flaky
        raise RuntimeError(f"boom {ctx.attempt}")

  Name:      approval-1
  Type:      👀 Waiting for event
  Start:     1/1/2026, 12:01:15 AM
  End:       1/1/2026, 12:01:15 AM
  Duration:  0 seconds
  Output:    {"type":"approve","payload":{"ok":true},"timestamp":"2026-01-01T00:01:15.000Z"}
"""


def _versionless(text: str) -> str:
    """The text without what changes from run to run: the code version, the engine's id."""
    text = re.sub(r"(Engines?:\s+)\S+", r"\1<engine>", text)
    return re.sub(r"(Version Id:\s+)\S+", r"\1<version>", text)


def test_describe_latest_shows_every_step_attempt_and_output(project: Project) -> None:
    project.build(run_demo_to_completion)
    result = project.cli("workflows", "instances", "describe", "demo", "latest")
    assert result.exit_code == 0, result.output
    assert _versionless(result.stdout) == GOLDEN_COMPLETE
    assert result.stderr == ""


def test_describe_defaults_to_latest(project: Project) -> None:
    project.build(run_demo_to_completion)
    result = project.cli("workflows", "instances", "describe", "demo")
    assert result.stdout.startswith('Latest instance is "golden-1"\n')


def test_describe_by_id_has_no_latest_line(project: Project) -> None:
    project.build(run_demo_to_completion)
    result = project.cli("workflows", "instances", "describe", "demo", "golden-1")
    assert _versionless(result.stdout) == GOLDEN_COMPLETE.split("\n", 1)[1]


async def _retrying(env: WorkflowTestEnv) -> None:
    await env.service.create("demo", "retrying-1", {"skip_approval": True})
    await env.run_until("demo", "retrying-1", lambda r: r.status.value == "waiting"
                        and env.clock.now_ms() >= START_MS + 65_000)


def test_retries_at_uses_the_real_backoff(project: Project) -> None:
    # Attempt 2 failed at 00:01:05; exponential backoff from 5 s makes the next at 00:01:15
    # (wrangler would add the raw 5 s and say 00:01:10).
    project.build(_retrying)
    result = project.cli("workflows", "instances", "describe", "demo", "retrying-1",
                         runtime=fixed_runtime(START_MS + 67_000))
    expected_step = """\
  Name:        flaky-1
  Type:        🎯 Step
  Start:       1/1/2026, 12:01:00 AM
  Duration:    7 seconds
  Success:     ▶ Running
  Retries At:  1/1/2026, 12:01:15 AM (in 8 seconds from now)
"""
    assert expected_step in result.stdout
    assert "Status:                ⏰ Waiting\n" in result.stdout
    assert "Last Successful Step:  nap-1\n" in result.stdout
    assert "End:  " not in result.stdout.split("Trigger:")[1].split("Steps:")[0]


async def _failing(env: WorkflowTestEnv) -> None:
    await env.service.create("failing", "failing-1")
    await env.run_until_done("failing", "failing-1")


def test_errored_instance_shows_its_error(project: Project) -> None:
    project.build(_failing)
    result = project.cli("workflows", "instances", "describe", "failing", "failing-1")
    header = result.stdout.split("Steps:")[0]
    assert _versionless(header) == """\
Workflow Name:  failing
Instance Id:    failing-1
Version Id:     <version> (v1)
Status:         ❌ Errored
Trigger:        🌎 API
Queued:         1/1/2026, 12:00:00 AM
Success:        ❌ No
Start:          1/1/2026, 12:00:00 AM
End:            1/1/2026, 12:00:01 AM
Duration:       1 second
Error:          ValueError: no luck
Traceback (your code):
  src/entry.py:35 in run
      await explode()
  src/entry.py:33 in explode
      raise ValueError("no luck")
"""
    assert "  Success:   ❌ No\n" in result.stdout
    assert result.stdout.endswith("""\
  Traceback of attempts 1–2 (your code):
    src/entry.py:33 in explode
        raise ValueError("no luck")
""")


def test_step_output_can_be_hidden_or_truncated(project: Project) -> None:
    project.build(run_demo_to_completion)
    hidden = project.cli("workflows", "instances", "describe", "demo", "golden-1", "--no-step-output")
    assert "Output:" not in hidden.stdout
    cut = project.cli("workflows", "instances", "describe", "demo", "golden-1",
                      "--truncate-output-limit", "5")
    assert '  Output:    {"fil[...output truncated]\n' in cut.stdout
    assert "  Output:    3\n" in cut.stdout


def test_describe_json_is_the_details_shape_with_id(project: Project) -> None:
    project.build(run_demo_to_completion)
    result = project.cli("workflows", "instances", "describe", "demo", "latest", "--json")
    details = json.loads(result.stdout)
    assert details["id"] == "golden-1"
    assert details["status"] == "complete"
    assert details["trigger"] == {"source": 0}
    assert [s["name"] for s in details["steps"]] == ["fetch-1", "nap-1", "flaky-1", "approval-1"]
    assert details["output"] == {"files": 2, "attempts": 3, "ok": True}


def test_narrow_terminal_wraps_tables_to_fit(project: Project) -> None:
    from pyflow_cli.cli.doc import cell_width

    project.build(run_demo_to_completion)
    result = project.cli("workflows", "instances", "describe", "demo", "golden-1",
                         runtime=fixed_runtime(width=60))
    table_lines = [line for line in result.stdout.splitlines() if line[:1] in "┌│├└"]
    assert table_lines and max(cell_width(line) for line in table_lines) <= 60
    assert "RuntimeEr" in result.stdout and "Success" in result.stdout


def test_plain_output_has_no_ansi_codes_even_with_colour_on_a_terminal_disabled(project: Project) -> None:
    project.build(_failing)
    runtime = fixed_runtime(terminal=True)
    coloured = project.cli("workflows", "instances", "describe", "failing", "latest", runtime=runtime)
    assert "\x1b[" in coloured.stdout  # a terminal gets colour...
    no_color = project.cli("workflows", "instances", "describe", "failing", "latest",
                           runtime=type(runtime)(**{**runtime.__dict__, "environ": {"NO_COLOR": "1"}}))
    assert "\x1b[" not in no_color.stdout  # ...unless NO_COLOR is set
    piped = project.cli("workflows", "instances", "describe", "failing", "latest")
    assert "\x1b[" not in piped.stdout and "\x1b[" not in piped.stderr
