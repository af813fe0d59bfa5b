"""``workflows metrics``: the figures of a workflow over a window, as text and as JSON."""

from __future__ import annotations

import asyncio
import json
import re
import time

from clikit import Project, fixed_runtime

from pyflow_cli.cli.charts import duration_text, sparkline
from pyflow_cli.engine.clock import ManualClock
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.testing import WorkflowTestEnv


def build_recent(project: Project) -> float:
    """Two runs of ``demo`` (one skipping the approval) and one of ``failing``, an hour ago."""
    started = (time.time() - 3600) * 1000

    async def main() -> None:
        env = WorkflowTestEnv.from_project(
            project.root, state_dir=project.root / ".pyflow" / "state", clock=ManualClock(started),
            options=EngineOptions(poll_interval_s=0.02))
        async with env:
            for instance_id in ("m-1", "m-2"):
                await env.service.create("demo", instance_id, {"skip_approval": True})
                await env.run_until_done("demo", instance_id)
            await env.service.create("failing", "m-3")
            await env.run_until_done("failing", "m-3")

    asyncio.run(main())
    return started


def test_metrics_as_json(project: Project) -> None:
    build_recent(project)
    result = project.cli("workflows", "metrics", "demo", "--since", "2h", "--json")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(result.stdout)
    totals = metrics["totals"]
    assert (totals["started"], totals["succeeded"], totals["failed"], totals["terminated"]) == (2, 2, 0, 0)
    assert totals["wall_time_ms"]["runs"] == 2
    # A one-minute sleep and retry delays of 5 and 10 seconds: at least 75 s from queued to end.
    assert totals["wall_time_ms"]["p50"] >= 75_000
    assert metrics["bucket_ms"] == 5 * 60_000
    assert {s["name"]: (s["started"], s["retries"], s["failed_attempts"]) for s in metrics["steps"]} == {
        "fetch": (2, 0, 0), "flaky": (2, 4, 4)}


def test_metrics_as_text(project: Project) -> None:
    build_recent(project)
    result = project.cli("workflows", "metrics", "failing", "--since", "24h", "--bucket", "1h",
                         runtime=fixed_runtime(width=100))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r'Metrics of "failing" from .+ to .+, per 1h:', lines[0])
    assert re.fullmatch(r"Started:     1 +[▁▂▃▄▅▆▇█ ]{25}", lines[1])
    assert lines[3].startswith("Failed:      1 ")
    assert re.fullmatch(r"Wall time:   p50 \d.*\(1 runs\)", lines[5])
    assert lines[6] == "Steps:"
    assert "│ explode │ 1       │ 1       │ 2               │ 1      │" in result.stdout


def test_metrics_refuses_a_bad_window(project: Project) -> None:
    result = project.cli("workflows", "metrics", "demo", "--since", "3 parsecs")
    assert result.exit_code == 1
    assert result.stderr == '✘ [ERROR] since "3 parsecs" is not a duration; use e.g. 15m, 24h or 7d.\n'
    assert project.cli("workflows", "metrics", "nope").exit_code == 1


def test_sparklines_and_durations() -> None:
    assert sparkline([0, 1, 2, 4, None]) == "▁▃▅█ "
    assert sparkline([1] * 120, width=60) == "█" * 60
    assert sparkline([]) == ""
    assert [duration_text(v) for v in (None, 850, 3200, 125_000, 120_000, 3_780_000, 7_200_000)] == [
        "–", "850ms", "3.2s", "2m 5s", "2m", "1h 3m", "2h"]
