"""Fixtures for the browser tests: one Chromium and one ``pyflow dev`` per module, a fresh page
per test that fails the test if the page logs an error (a CSP violation is one)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browserkit import API, CHROMIUM_ARGS, chromium, start_shop
from serverkit import DevProcess


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                              headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[DevProcess]:
    process = start_shop(tmp_path_factory.mktemp("shop") / "app")
    yield process
    process.stop()


@pytest.fixture
def api(shop: DevProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shop.url + API, timeout=20) as client:
        yield client


class Console:
    """Errors a page reported: console errors, uncaught exceptions, dialogs it opened."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []


@pytest.fixture
def console() -> Console:
    return Console()


def open_page(browser: Any, console: Console, **options: Any) -> Any:
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("console", lambda message: console.errors.append(f"console: {message.text}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: console.errors.append(f"page error: {error}"))

    def dialog(opened: Any) -> None:
        console.dialogs.append(opened.message)
        opened.dismiss()

    page.on("dialog", dialog)
    return page


@pytest.fixture
def page(browser: Any, console: Console) -> Iterator[Any]:
    opened = open_page(browser, console)
    yield opened
    opened.context.close()
    assert console.errors == [], "the page logged errors"
    assert console.dialogs == [], "the page opened dialogs"
