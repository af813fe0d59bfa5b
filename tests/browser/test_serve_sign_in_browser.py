"""The explorer of a ``pyflow serve`` with an API token, in a real browser: the sign-in page, then
the explorer working on its cookie alone — its reads, its live stream and its actions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browserkit import API, EXPLORER, write_shop
from playwright.sync_api import expect
from serverkit import DevProcess

TOKEN = "browser-token-0123456789abcdef"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[DevProcess]:
    process = DevProcess(write_shop(tmp_path_factory.mktemp("served") / "app"), command="serve",
                         env={"PYFLOW_API_TOKEN": TOKEN}).ready()
    yield process
    process.stop()


def test_sign_in_then_watch_and_pause_an_instance(page: Any, served: DevProcess) -> None:
    with httpx.Client(base_url=served.url + API, timeout=20,
                      headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        created = api.post("/workflows/orders/instances",
                           json={"id": "signed-in", "params": {"wait": True}})
        assert created.status_code == 200, created.text
        page.goto(served.url + EXPLORER + "workflows/orders/instances/signed-in")
        expect(page).to_have_url(re.compile(r"/cdn-cgi/local/explorer/login\?next="))
        page.get_by_label("API token").fill("not-the-token-at-all")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_have_text("That is not this server's API token.")
        page.get_by_label("API token").fill(TOKEN)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"/workflows/orders/instances/signed-in$"))
        badge = page.locator(".summary .badge")
        expect(badge).to_have_text("Waiting")  # read through the API, kept live by the stream
        page.get_by_role("button", name="Pause", exact=True).click()  # a POST from the page
        expect(badge).to_have_text("Paused")
        assert api.get("/workflows/orders/instances/signed-in").json()["result"]["status"] == \
            "paused"
