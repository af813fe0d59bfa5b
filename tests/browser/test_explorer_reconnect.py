"""The explorer outlives its server: after ``pyflow dev`` crashes and starts again, the open page
reconnects by itself and shows what happened meanwhile, without a reload."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from browserkit import API, EXPLORER, start_shop
from conftest import Console, open_page
from playwright.sync_api import expect


def test_the_page_reconnects_and_catches_up_after_a_crash(browser: Any, console: Console,
                                                         tmp_path: Path) -> None:
    root = tmp_path / "app"
    first = start_shop(root)
    port = first.port
    page = open_page(browser, console)
    try:
        page.goto(first.url + EXPLORER + "workflows/orders")
        expect(page.get_by_text("Live", exact=True)).to_be_visible()
        page.evaluate("window.__notReloaded = true")
        first.kill()
        expect(page.get_by_text("Reconnecting…", exact=True)).to_be_visible()
        # While the server is away, an instance is created by the next server before the page
        # is back: the page must catch up on it, not only on what happens later.
        second = start_shop(root, port=port)
        try:
            with httpx.Client(base_url=second.url + API) as api:
                assert api.post("/workflows/orders/instances", json={"id": "after-crash"}).status_code == 200
            expect(page.get_by_text("Live", exact=True)).to_be_visible(timeout=15_000)
            expect(page.locator('tr[data-id="after-crash"]')).to_be_visible()
            expect(page.locator('tr[data-id="after-crash"] .badge')).to_have_text("Complete")
            assert page.evaluate("window.__notReloaded === true")
        finally:
            second.stop()
    finally:
        page.context.close()
    # Failed requests while the server was down are the browser's own reports, not the page's.
    assert [e for e in console.errors if not re.search(r"Failed to load resource: net::ERR_", e)] == []
