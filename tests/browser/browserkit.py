"""Helpers for the browser tests: the system's Chromium driven by Playwright, a project whose
workflows the tests steer through params, and a real ``pyflow dev`` serving it."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from serverkit import DevProcess

EXPLORER = "/cdn-cgi/local/explorer/"
API = "/cdn-cgi/local/explorer/api"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REQUIRE = "PYFLOW_REQUIRE_BROWSER"
SCREENSHOTS = "PYFLOW_SCREENSHOTS"
"""A directory to write the documentation's screenshots to (docs/images to refresh them)."""

CONFIG = """\
name = "shop"
main = "src/entry.py"
compatibility_date = "2025-10-01"

[[workflows]]
name = "orders"
binding = "ORDERS"
class_name = "OrderWorkflow"

[[workflows]]
name = "reports"
binding = "REPORTS"
class_name = "ReportWorkflow"
"""

ENTRY = """\
from workers import Response, WorkerEntrypoint, WorkflowEntrypoint


class OrderWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        params = event.payload or {}

        @step.do("prepare order")
        async def prepare():
            return {"note": params.get("note", "<script>alert(1)</script>"), "items": 3}

        await prepare()

        @step.do("charge card", config={"retries": {"limit": 3, "delay": params.get("delay", "50 ms"),
                                                    "backoff": "constant"}})
        async def charge(ctx):
            if ctx["attempt"] <= params.get("failures", 0):
                raise RuntimeError(f"card declined on attempt {ctx['attempt']}")
            return {"charged": True}

        await charge()
        if params.get("nap"):
            await step.sleep("cool down", params["nap"])
        if params.get("wait"):
            approval = await step.wait_for_event("approval", "approved", timeout="1 hour")
            return {"approved": approval["payload"]}
        return {"done": True}


class ReportWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do("build")
        async def build():
            return 1

        return await build()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("shop")
"""


def write_shop(root: Path) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "wrangler.toml").write_text(CONFIG)
    (root / "src" / "entry.py").write_text(ENTRY)
    return root


def chromium(default: Path = Path("/usr/bin/chromium")) -> str:
    """The system's Chromium (``$PYFLOW_CHROMIUM``, ``chromium`` on the PATH, or ``default``);
    skips the test (fails it under PYFLOW_REQUIRE_BROWSER=1) if there is none, or if Playwright
    is not installed."""
    candidates = [os.environ.get("PYFLOW_CHROMIUM"), shutil.which("chromium"), str(default)]
    found = next((c for c in candidates if c and Path(c).is_file()), None)
    problem = None
    if found is None:
        problem = "no Chromium is installed (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "Playwright for Python is not installed (pip install -e '.[test]')"
    if problem is not None:
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"The browser tests cannot run: {problem}, and {REQUIRE}=1.")
        pytest.skip(f"Browser tests skipped: {problem}.")
    assert found is not None
    return found


def screenshot(page: Any, name: str) -> None:
    """Save the page for the docs when PYFLOW_SCREENSHOTS names a folder (notices gone first)."""
    folder = os.environ.get(SCREENSHOTS)
    if folder:
        from playwright.sync_api import expect

        expect(page.locator(".notice")).to_have_count(0, timeout=10_000)
        page.evaluate("scrollTo(0, 0)")
        page.wait_for_timeout(300)  # rows that just arrived are painted, not half-painted
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def start_shop(root: Path, port: int | None = None) -> DevProcess:
    return DevProcess(write_shop(root), "--no-reload", port=port).ready()
