"""State written by earlier pyflow versions must resume under this one without re-running a
completed step (tests/golden/make_golden.py wrote these files)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from golden_workflow import Golden, ran

from pyflow_cli.engine.clock import ManualClock
from pyflow_cli.engine.events import EventType
from pyflow_cli.testing import WorkflowTestEnv

GOLDEN_START_MS = 1_767_225_600_000.0  # the ManualClock start the files were written at


async def test_v1_state_resumes_without_rerunning_completed_steps(tmp_path: Path) -> None:
    shutil.copy(Path(__file__).with_name("v1-sleeping.sqlite"), tmp_path / "pyflow.sqlite")
    ran.clear()
    clock = ManualClock(GOLDEN_START_MS + 3_600_000)
    async with WorkflowTestEnv({"golden": Golden}, state_dir=tmp_path, clock=clock) as env:
        before = await env.service.describe("golden", "sleeping")
        assert [s["name"] for s in before["steps"]] == ["first-1", "nap-1"]
        await env.service.send_event("golden", "waiting", "go", 40)
        await env.service.send_event("golden", "sleeping", "go", 10)
        waiting = await env.run_until_done("golden", "waiting")
        sleeping = await env.run_until_done("golden", "sleeping")
        assert (waiting.output_json, sleeping.output_json) == ("42", "11")
        assert ran == ["second", "second"]  # "first" finished before the files were written
        log = await env.store.read_log(sleeping.iid)
        assert [r.event for r in log].count(EventType.STEP_START) == 2
