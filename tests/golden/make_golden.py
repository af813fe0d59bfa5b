"""Writes v1-sleeping.sqlite: one instance hibernated in its sleep, one waiting for an event.

Run once per state format change: python tests/golden/make_golden.py
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from golden_workflow import Golden

from pyflow_cli.testing import WorkflowTestEnv


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with WorkflowTestEnv({"golden": Golden}, state_dir=Path(tmp), durability="full") as env:
            await env.service.create("golden", "waiting", {"n": 2})
            await env.run_until_status("golden", "waiting", "waiting")
            await env.settle()
            env.clock.advance(3_600_000)  # its sleep ends; now it waits for an event
            await env.settle()
            await env.service.create("golden", "sleeping", {"n": 1})
            await env.run_until_status("golden", "sleeping", "waiting")
            await env.settle()
        target = Path(__file__).with_name("v1-sleeping.sqlite")
        shutil.copy(Path(tmp) / "pyflow.sqlite", target)
        print("wrote", target)


asyncio.run(main())
