"""The live view of ``trigger --wait`` (and ``describe --watch``): each step on one line that fits
the terminal, the time it moves on first and the error after it; wake and retry times as the
engine will act on them (after a pause, and under ``--time-scale``), from the details' ``wakeAt``
and ``retryAt``. Goldens at 80 and 200 columns."""

from __future__ import annotations

import asyncio
from datetime import UTC
from pathlib import Path
from typing import Any

from clikit import START_MS, write_project

from pyflow_cli.cli.doc import cell_width, plain
from pyflow_cli.cli.live_lines import live_summary
from pyflow_cli.engine.clock import ManualClock, iso_ms
from pyflow_cli.engine.lifetime import EngineOptions
from pyflow_cli.testing import WorkflowTestEnv

NOW = START_MS + 67_000  # 00:01:07


def at(seconds: float) -> str:
    return iso_ms(START_MS + seconds * 1000)


ERROR = ("ConnectionError: the payment service at https://payments.internal.example.com/v2/charge "
         "answered 503 Service Unavailable after 30 s; its status page says a database "
         "failover is under way")
DETAILS: dict[str, Any] = {
    "id": "order-2026-01-01-000042", "status": "waiting", "start": at(0), "end": None,
    "steps": [
        {"name": "fetch customer record and open invoices-1", "type": "step", "start": at(0),
         "end": at(1), "success": True, "output": {"customer": "c-1", "invoices": list(range(40))},
         "attempts": [{"start": at(0), "end": at(1), "success": True, "error": None}]},
        {"name": "charge card-1", "type": "step", "start": at(60), "end": None, "success": None,
         "config": {"retries": {"limit": 5, "delay": "5 seconds", "backoff": "exponential"}},
         "retryAt": at(75),
         "attempts": [
             {"start": at(60), "end": at(60), "success": False,
              "error": {"name": "RuntimeError", "message": "first"}, "retryDelayMs": 5000},
             {"start": at(65), "end": at(65), "success": False,
              "error": {"name": "Error", "message": ERROR}, "retryDelayMs": 10000}]},
        {"name": "wait for the warehouse to confirm the shipment of every item-1",
         "type": "sleep", "start": at(61), "end": None, "finished": False, "error": None,
         "durationMs": 86_400_000, "wakeAt": at(3661)},
    ],
}


def render(width: int) -> list[str]:
    return plain(live_summary("orders", DETAILS, NOW, UTC, width=width)).splitlines()


def test_live_view_at_80_columns() -> None:
    assert render(80) == [
        "⏰ Waiting · orders · order-2026-01-01-000042 · 1 minute",
        '  ✅ fetch customer record and open invoices-1 · {"customer":"c-1","invoices":[…',
        "  🔄 charge card-1 · attempt 2 failed · retries at 12:01:15 AM (in 8s): Error: …",
        "  💤 wait for the warehouse to confirm… · sleeping until 1:01:01 AM (in 59m 54s)",
    ]


def test_live_view_at_200_columns() -> None:
    assert render(200) == [
        "⏰ Waiting · orders · order-2026-01-01-000042 · 1 minute",
        '  ✅ fetch customer record and open invoices-1 · {"customer":"c-1","invoices":[0,1,2,3,4,'
        '5,6,7,8,9,10,11,12,1…',
        "  🔄 charge card-1 · attempt 2 failed · retries at 12:01:15 AM (in 8s): Error: "
        "ConnectionError: the payment service at https://payments.internal.example.com/v2/charge "
        "answered 503 Service Unavailable…",
        "  💤 wait for the warehouse to confirm the shipment of every item-1 · sleeping until "
        "1:01:01 AM (in 59m 54s)",
    ]


def test_every_line_fits_the_width() -> None:
    for width in (40, 60, 80, 120, 200):
        assert all(cell_width(line) <= width for line in render(width)), width


def test_a_paused_sleep_says_so() -> None:
    paused = {**DETAILS, "status": "paused"}
    lines = plain(live_summary("orders", paused, NOW, UTC, width=200)).splitlines()
    assert lines[-1] == ("  💤 wait for the warehouse to confirm the shipment of every item-1 · "
                         "sleep paused")


# -- the times come from the engine's timers ------------------------------------------------------
def _env(root: Path, time_scale: float = 1.0) -> WorkflowTestEnv:
    return WorkflowTestEnv.from_project(root, state_dir=root / "state", clock=ManualClock(START_MS),
                                        options=EngineOptions(poll_interval_s=0.02,
                                                              time_scale=time_scale))


def _nap(details: dict[str, Any]) -> dict[str, Any]:
    return next(step for step in details["steps"] if step["type"] == "sleep")


def test_after_pause_and_resume_the_sleep_wakes_later(tmp_path: Path) -> None:
    root = write_project(tmp_path / "app")

    async def main() -> tuple[dict[str, Any], dict[str, Any], float]:
        async with _env(root) as env:
            await env.service.create("demo", "napper", {"skip_approval": True})
            await env.run_until_status("demo", "napper", "waiting")
            before = await env.service.describe("demo", "napper")
            await env.service.pause("demo", "napper")
            env.clock.advance(600_000)  # paused for ten minutes
            await env.service.resume("demo", "napper")
            await env.settle()
            return before, await env.service.describe("demo", "napper"), env.clock.now_ms()

    before, after, now = asyncio.run(main())
    assert _nap(before)["wakeAt"] == at(60)
    assert _nap(after)["wakeAt"] == at(660)
    line = plain(live_summary("demo", after, now, UTC, width=200)).splitlines()[2]
    assert line == "  💤 nap-1 · sleeping until 12:11:00 AM (in 1m)"


def test_under_a_time_scale_a_viewer_shows_the_real_times(tmp_path: Path) -> None:
    root = write_project(tmp_path / "app")

    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        async with _env(root, time_scale=60) as env:  # as `pyflow dev --time-scale 60` runs it
            await env.service.create("demo", "fast", {"skip_approval": True})
            await env.run_until_status("demo", "fast", "waiting")
            napping = await env.service.describe("demo", "fast")
            await env.run_until("demo", "fast", lambda r: r.status.value == "waiting"
                                and env.clock.now_ms() > START_MS + 1000)
            return napping, await env.service.describe("demo", "fast")

    napping, retrying = asyncio.run(main())
    assert _nap(napping)["wakeAt"] == at(1)  # the 1-minute nap takes a second
    # A viewer that knows nothing of the scale (time_scale=1) still shows the real wake time.
    line = plain(live_summary("demo", napping, START_MS, UTC, width=200)).splitlines()[2]
    assert line == "  💤 nap-1 · sleeping until 12:00:01 AM (in 1s)"
    flaky = retrying["steps"][-1]
    last = flaky["attempts"][-1]
    assert flaky["name"] == "flaky-1" and last["success"] is False
    assert abs(_ms(flaky["retryAt"]) - (_ms(last["end"]) + last["retryDelayMs"] / 60)) <= 1


def _ms(iso: str) -> float:
    from pyflow_cli.cli.formats import iso_to_ms

    return iso_to_ms(iso)
