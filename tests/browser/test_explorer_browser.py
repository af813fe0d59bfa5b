"""The Local Explorer in a real browser (the system's Chromium), against a real ``pyflow dev``.

Every test fails if its page logs an error or opens a dialog (see conftest). The screenshots in
docs/images come from here: set PYFLOW_SCREENSHOTS=docs/images to refresh them.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
from browserkit import EXPLORER, screenshot
from conftest import Console, open_page
from playwright.sync_api import expect
from serverkit import DevProcess

CONTROLS = {"button", "link", "textbox", "searchbox", "combobox", "checkbox", "menuitem", "spinbutton"}


def create(api: httpx.Client, instance_id: str, params: dict[str, Any] | None = None,
           workflow: str = "orders") -> str:
    response = api.post(f"/workflows/{workflow}/instances", json={"id": instance_id, "params": params or {}})
    assert response.status_code == 200, response.text
    return instance_id


def status_of(api: httpx.Client, instance_id: str, workflow: str = "orders") -> str:
    return str(api.get(f"/workflows/{workflow}/instances/{instance_id}").json()["result"]["status"])


def settle(api: httpx.Client, instance_id: str, *statuses: str) -> None:
    deadline = time.monotonic() + 15
    while status_of(api, instance_id) not in statuses:
        assert time.monotonic() < deadline, f"{instance_id} is {status_of(api, instance_id)}"
        time.sleep(0.05)


def mark_document(page: Any) -> None:
    """Tag the loaded document: if the page reloads, the tag is gone."""
    page.evaluate("window.__notReloaded = true")


def not_reloaded(page: Any) -> bool:
    return bool(page.evaluate("window.__notReloaded === true"))


def instance_row(page: Any, instance_id: str) -> Any:
    return page.locator(f'tr[data-id="{instance_id}"]')


def test_the_workflows_page_lists_workflows_with_live_counts(page: Any, shop: DevProcess,
                                                             api: httpx.Client) -> None:
    page.goto(shop.url + EXPLORER)
    card = page.locator(".workflow-card", has=page.get_by_role("link", name="reports", exact=True))
    expect(card).to_contain_text("class ReportWorkflow")
    expect(card).to_contain_text("script shop")
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    mark_document(page)
    before = int(card.locator('[data-status="complete"]').inner_text())
    create(api, "report-live", workflow="reports")
    expect(card.locator('[data-status="complete"]')).to_have_text(str(before + 1))
    assert not_reloaded(page)
    page.get_by_role("link", name="reports", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/cdn-cgi/local/explorer/workflows/reports$"))
    expect(page.get_by_role("heading", name="reports")).to_be_visible()


def test_create_an_instance_and_watch_it_fail_an_attempt_and_complete(page: Any, shop: DevProcess) -> None:
    page.goto(shop.url + EXPLORER + "workflows/orders")
    page.get_by_role("button", name="Create instance").click()
    dialog = page.get_by_role("dialog", name="Create an instance")
    dialog.get_by_label("Instance ID").fill("ui created")
    expect(dialog.get_by_text("Use letters, digits, - and _ only")).to_be_visible()
    dialog.get_by_label("Instance ID").fill("ui-created")
    params = dialog.get_by_label("Params")
    params.fill('{"failures": 1, "delay": "2 seconds",')
    expect(dialog.get_by_text(re.compile(r"Invalid JSON\. Line 1, column \d+"))).to_be_visible()
    expect(dialog.get_by_role("button", name="Create instance")).to_be_disabled()
    params.fill('{"failures": 1, "delay": "2 seconds", "nap": "1 second", "customer": "Ada"}')
    expect(dialog.get_by_text("Invalid JSON")).to_have_count(0)
    dialog.get_by_role("button", name="Create instance").click()
    expect(dialog).to_be_hidden()
    row = instance_row(page, "ui-created")
    expect(row).to_be_visible()
    mark_document(page)
    row.get_by_role("link", name="ui-created").click()
    expect(page.get_by_role("heading", name=re.compile("ui-created"))).to_be_visible()
    expect(page.locator(".json-block pre").first).to_contain_text('"customer": "Ada"')
    # Live, without a reload: running (or waiting out the retry delay), a failed attempt, complete.
    expect(page.locator(".summary .badge")).to_have_text(re.compile("Running|Waiting"))
    expect(page.locator(".tl-rows .tl-attempt-failed")).to_have_count(1)
    page.get_by_role("button", name=re.compile(r"^charge card")).first.click()
    expect(page.locator(".attempt-error")).to_contain_text("RuntimeError: card declined on attempt 1")
    expect(page.locator(".summary .badge")).to_have_text("Complete", timeout=15_000)
    expect(page.locator(".attempt-success")).to_have_count(1)
    expect(page.locator(".tl-rows .tl-retry")).to_have_count(1)
    expect(page.locator(".tl-rows .tl-now")).to_have_count(0)
    assert not_reloaded(page)
    screenshot(page, "explorer-instance.png")


def test_a_traceback_on_an_attempt_is_shown_as_text(page: Any, shop: DevProcess, api: httpx.Client) -> None:
    create(api, "traced", {"failures": 1})
    settle(api, "traced", "complete")
    page.goto(shop.url + EXPLORER + "workflows/orders/instances/traced")
    page.get_by_role("button", name=re.compile(r"^charge card")).first.click()
    # the failed attempt's own traceback: the user's frame that raised, then the error
    expect(page.locator(".traceback pre")).to_have_text(
        "src/entry.py:18 in charge\n"
        "    raise RuntimeError(f\"card declined on attempt {ctx['attempt']}\")\n"
        "RuntimeError: card declined on attempt 1")

    hostile = "src/entry.py:18 in charge\n<b>not bold</b>"

    def with_traceback(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        for step in body["result"]["steps"]:
            for attempt in step.get("attempts", []):
                if attempt.get("traceback"):
                    attempt["traceback"]["text"] = hostile
        route.fulfill(response=response, body=json.dumps(body))

    page.route(re.compile(r".*/api/workflows/orders/instances/traced$"), with_traceback)
    page.reload()
    page.get_by_role("button", name=re.compile(r"^charge card")).first.click()
    expect(page.locator(".traceback pre")).to_have_text(hostile)
    expect(page.locator(".traceback b")).to_have_count(0)


def test_pause_resume_send_event_terminate_and_restart_from_the_ui(page: Any, shop: DevProcess,
                                                                 api: httpx.Client) -> None:
    create(api, "approve-me", {"wait": True})
    settle(api, "approve-me", "waiting")
    page.goto(shop.url + EXPLORER + "workflows/orders/instances/approve-me")
    badge = page.locator(".summary .badge")
    expect(badge).to_have_text("Waiting")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(badge).to_have_text("Paused")
    page.get_by_role("button", name="Resume", exact=True).click()
    expect(badge).to_have_text(re.compile("Waiting|Running|Queued"))
    expect(badge).to_have_text("Waiting")
    form = page.get_by_role("form", name="Send an event to this instance")
    form.get_by_label("Event type").fill("approved")
    form.get_by_label("Payload").fill('{"by": "Grace"}')
    form.get_by_role("button", name="Send event").click()
    expect(badge).to_have_text("Complete")
    expect(page.locator(".json-block pre").nth(1)).to_contain_text('"by": "Grace"')

    # Restart from a step: the steps before it keep their results, that one runs again.
    page.get_by_role("button", name="Restart from step charge card").click()
    page.get_by_role("dialog", name="Restart from this step?").get_by_role(
        "button", name="Restart from here").click()
    expect(badge).to_have_text("Waiting")
    log = page.get_by_role("table", name="Event log")
    expect(log.locator("tr", has_text="STEP_START")).to_have_count(2)  # prepare, charge once
    expect(log.locator("tr", has_text="WAIT_START")).to_have_count(1)
    starts = [row.inner_text() for row in log.locator("tr", has_text="STEP_START").all()]
    assert sum("charge card" in text for text in starts) == 1

    # Terminate from the row's menu on the workflow page.
    page.goto(shop.url + EXPLORER + "workflows/orders")
    row = instance_row(page, "approve-me")
    row.get_by_role("button", name="Actions for instance approve-me").click()
    page.get_by_role("menuitem", name="Terminate", exact=True).click()
    expect(row.locator(".badge")).to_have_text("Terminated")
    assert status_of(api, "approve-me") == "terminated"


def test_filter_by_status_and_search_by_id_and_text(page: Any, shop: DevProcess, api: httpx.Client) -> None:
    for instance_id, params in [("alpha-1", {"customer": "Lovelace"}), ("alpha-2", {}), ("beta-1", {}),
                                ("gamma-1", {"failures": 9, "delay": "1 ms"})]:
        create(api, instance_id, params)
    for instance_id in ("alpha-1", "alpha-2", "beta-1"):
        settle(api, instance_id, "complete")
    settle(api, "gamma-1", "errored")
    page.goto(shop.url + EXPLORER + "workflows/orders")
    rows = page.locator("tbody tr[data-id]")
    expect(rows.first).to_be_visible()
    page.keyboard.press("/")
    search = page.get_by_role("searchbox", name="Search")
    expect(search).to_be_focused()
    search.fill("alpha")
    expect(rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"q=alpha"))
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.id)")) == ["alpha-1", "alpha-2"]
    page.get_by_label("Search in", exact=True).select_option("text")
    search.fill("lovelace")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-id", "alpha-1")
    page.get_by_role("button", name="Clear filters").click()
    create(api, "waiting-1", {"wait": True})
    create(api, "paused-1", {"wait": True})
    settle(api, "paused-1", "waiting")
    api.patch("/workflows/orders/instances/paused-1/status", json={"status": "pause"})
    expect(instance_row(page, "paused-1").locator(".badge")).to_have_text("Paused")
    expect(instance_row(page, "waiting-1").locator(".badge")).to_have_text("Waiting")
    screenshot(page, "explorer-workflow.png")
    page.get_by_label("Status", exact=True).select_option("errored")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-id", "gamma-1")
    strip = page.get_by_role("group", name=re.compile("Instances by status"))
    strip.get_by_role("button", name=re.compile("^Complete")).click()
    expect(page).to_have_url(re.compile(r"status=complete"))
    expect(page.locator("tbody .badge").first).to_have_text("Complete")
    assert set(page.locator("tbody .badge").all_inner_texts()) == {"Complete"}


def test_pages_and_bulk_actions(page: Any, shop: DevProcess, api: httpx.Client) -> None:
    for n in range(12):
        create(api, f"bulk-{n:02d}", {"wait": True})
    for n in range(12):
        settle(api, f"bulk-{n:02d}", "waiting")
    page.goto(shop.url + EXPLORER + "workflows/orders?q=bulk-&per_page=10")
    rows = page.locator("tbody tr[data-id]")
    expect(rows).to_have_count(10)
    expect(page.get_by_text("Showing 1–10 of 12")).to_be_visible()
    page.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(2)
    expect(page.get_by_text("Showing 11–12 of 12")).to_be_visible()
    page.get_by_role("button", name="Previous page").click()
    page.get_by_role("checkbox", name="Select every instance on this page").check()
    bar = page.get_by_role("region", name="Selected instances")
    expect(bar).to_contain_text("10 selected")
    bar.get_by_role("button", name="Terminate").click()
    expect(page.locator("tbody .badge", has_text="Terminated")).to_have_count(10)
    page.get_by_role("checkbox", name="Select instance bulk-11").check()
    page.get_by_role("checkbox", name="Select instance bulk-10").check()
    page.get_by_role("region", name="Selected instances").get_by_role("button", name="Delete").click()
    page.get_by_role("dialog", name="Delete 2 instances?").get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Showing 1–10 of 10")).to_be_visible()
    assert api.get("/workflows/orders/instances/bulk-11").status_code == 404


def test_the_metrics_page_draws_its_charts(page: Any, shop: DevProcess, api: httpx.Client) -> None:
    create(api, "metered", {"failures": 2, "delay": "1 ms"})
    settle(api, "metered", "complete")
    page.goto(shop.url + EXPLORER + "workflows/orders/metrics")
    started = page.locator('[data-metric="started"]')
    expect(started).not_to_have_text("0")
    for chart in ("instances", "wall-time-queued-to-end"):
        canvas = page.locator(f'[data-chart="{chart}"] canvas')
        expect(canvas).to_have_count(1)
        box = canvas.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100
        painted = canvas.evaluate("""c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""")
        assert painted > 500, f"{chart} chart is blank"
    steps = page.locator(".step-metrics tbody tr", has_text="charge card")
    expect(steps).to_have_count(1)
    assert int(steps.locator("td").nth(2).inner_text()) >= 2  # retries
    page.get_by_role("button", name="Last hour").click()
    expect(page.get_by_role("button", name="Last hour")).to_have_attribute("aria-pressed", "true")
    expect(started).not_to_have_text("0")
    screenshot(page, "explorer-metrics.png")


def test_hostile_text_is_shown_as_text(page: Any, shop: DevProcess, api: httpx.Client) -> None:
    hostile = '<img src=x onerror="alert(2)"><script>alert(3)</script>'
    create(api, "hostile", {"note": "<script>alert(1)</script>", "customer": hostile})
    settle(api, "hostile", "complete")
    page.goto(shop.url + EXPLORER + "workflows/orders/instances/hostile")
    page.get_by_role("button", name=re.compile(r"^prepare order")).first.click()
    output = page.locator('.step-panel pre[aria-label="Output"]')
    expect(output).to_contain_text('"note": "<script>alert(1)</script>"')
    expect(page.get_by_label("Params", exact=True)).to_contain_text('<img src=x onerror=\\"alert(2)\\">')
    expect(page.get_by_role("table", name="Event log")).to_contain_text("<script>alert(1)</script>")
    assert page.locator("main img, main script").count() == 0
    page.get_by_role("searchbox", name="Filter the event log").fill("<script>")
    page.wait_for_timeout(300)  # give an injected script every chance to run


def test_updates_arrive_without_polling(page: Any, shop: DevProcess, api: httpx.Client) -> None:
    page.goto(shop.url + EXPLORER + "workflows/orders")
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    expect(page.locator("tbody tr[data-id]").first).to_be_visible()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.wait_for_timeout(2500)
    assert requests == [], f"the idle page asked for {requests}"
    create(api, "pushed")
    expect(instance_row(page, "pushed")).to_be_visible()
    assert all("/api/" in url and "/stream" not in url for url in requests)


def test_keyboard_navigation(page: Any, shop: DevProcess, api: httpx.Client) -> None:
    create(api, "keyed")
    settle(api, "keyed", "complete")
    page.goto(shop.url + EXPLORER + "workflows/orders")
    first = page.locator("tbody tr[data-id]").first
    expect(first).to_be_visible()
    first.focus()
    page.keyboard.press("ArrowDown")
    second_id = page.locator("tbody tr[data-id]").nth(1).get_attribute("data-id")
    expect(page.locator(f'tbody tr[data-id="{second_id}"]')).to_be_focused()
    page.keyboard.press("x")
    expect(page.get_by_role("checkbox", name=f"Select instance {second_id}")).to_be_checked()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/instances/{second_id}$"))
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_every_control_has_an_accessible_name(page: Any, shop: DevProcess, api: httpx.Client) -> None:
    create(api, "named", {"wait": True})
    settle(api, "named", "waiting")
    for path in ("", "workflows/orders", "workflows/orders/instances/named", "workflows/orders/metrics"):
        page.goto(shop.url + EXPLORER + path)
        expect(page.locator("main h1")).to_be_visible()
        page.wait_for_timeout(300)
        session = page.context.new_cdp_session(page)
        tree = session.send("Accessibility.getFullAXTree")["nodes"]
        session.detach()
        unnamed = [node.get("role", {}).get("value") for node in tree
                   if not node.get("ignored") and node.get("role", {}).get("value") in CONTROLS
                   and not (node.get("name", {}).get("value") or "").strip()]
        assert unnamed == [], f"{path or 'home'}: controls without a name: {unnamed}"


SPELLCHECKED = """(root) => [...root.querySelectorAll("input[type=text], input[type=search], textarea")]
    .filter((field) => field.spellcheck || field.getAttribute("spellcheck") !== "false")
    .map((field) => field.id || field.outerHTML)"""
"""The text fields under ``root`` that a browser would spell-check. Preact sets ``spellcheck`` as
a DOM property, so the string "false" (truthy) turned it on: only ``${false}`` turns it off."""


def test_id_json_and_search_fields_are_not_spellchecked(page: Any, shop: DevProcess,
                                                        api: httpx.Client) -> None:
    create(api, "unspelled", {"wait": True})
    settle(api, "unspelled", "waiting")
    page.goto(shop.url + EXPLORER + "workflows/orders")
    expect(page.locator("input[data-search]")).to_be_visible()
    assert page.locator("main").evaluate(SPELLCHECKED) == []
    page.get_by_role("button", name="Create instance").click()
    dialog = page.get_by_role("dialog", name="Create an instance")
    expect(dialog.get_by_label("Params")).to_be_visible()
    assert dialog.evaluate(SPELLCHECKED) == []
    page.goto(shop.url + EXPLORER + "workflows/orders/instances/unspelled")
    form = page.get_by_role("form", name="Send an event to this instance")
    expect(form.get_by_label("Event type")).to_be_visible()
    assert form.evaluate(SPELLCHECKED) == []


def test_narrow_screens_and_the_dark_theme(browser: Any, console: Console, shop: DevProcess,
                                           api: httpx.Client) -> None:
    create(api, "narrow", {"wait": True})
    settle(api, "narrow", "waiting")
    phone = open_page(browser, console, viewport={"width": 375, "height": 740}, color_scheme="dark")
    try:
        for path in ("workflows/orders", "workflows/orders/instances/narrow", "workflows/orders/metrics"):
            phone.goto(shop.url + EXPLORER + path)
            expect(phone.locator("main h1")).to_be_visible()
            phone.wait_for_timeout(300)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"{path} is {width}px wide at 375px"
        background = phone.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(17, 19, 23)", background
        phone.get_by_role("button", name="Show navigation").click()
        sidebar = phone.get_by_role("navigation", name="Local data")
        sidebar.get_by_role("link", name=re.compile("^reports")).click()
        expect(phone.get_by_role("heading", name="reports")).to_be_visible()
        row_actions = phone.get_by_role("button", name=re.compile("^Actions for instance"))
        phone.goto(shop.url + EXPLORER + "workflows/orders")
        expect(row_actions.first).to_be_visible()
        phone.get_by_role("button", name=re.compile("^Theme: system")).click()
        assert phone.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(247, 247, 248)"
    finally:
        phone.context.close()
    assert console.errors == []
