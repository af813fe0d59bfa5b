"""The Local Explorer's pages for local data in the system's Chromium, against one real
``pyflow dev`` of a project with a KV namespace, an R2 bucket, a D1 database and crons.

The Worker writes through its bindings and the explorer finds what it wrote; what the explorer
changes, the Worker reads back. Hostile values show as text, and every page fails its test if it
logs an error or opens a dialog (see conftest). PYFLOW_SCREENSHOTS=docs/images refreshes the
screenshots in docs/dashboard.md.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from browserkit import API, EXPLORER, screenshot
from conftest import Console, open_page
from playwright.sync_api import expect
from serverkit import DevProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from pantry import write_pantry

from pyflow_cli.bindings import d1_migrations
from pyflow_cli.bindings.local import LocalBindings, d1_database
from pyflow_cli.project.config import load_project

HOSTILE = "<img src=x onerror=alert(1)>"
CONTROLS = {"button", "link", "textbox", "searchbox", "combobox", "checkbox", "switch", "menuitem"}


def _apply_first_migration(root: Path) -> None:
    """What `pyflow d1 migrations apply` does for the first file, before the server starts."""
    project = load_project(root)
    config = d1_database(project, "pantry-db")
    bindings = LocalBindings(root / "state", lambda: time.time() * 1000)
    first = root / "migrations" / "0001_create_items.sql"
    try:  # on a thread of its own: Playwright's loop runs on this one
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, d1_migrations.apply(bindings.d1(config), first,
                                                         config.migrations_table)).result()
    finally:
        bindings.close()


@pytest.fixture(scope="module")
def pantry(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[DevProcess]:
    root = write_pantry(tmp_path_factory.mktemp("pantry") / "app")
    _apply_first_migration(root)
    process = DevProcess(root, "--no-reload").ready()
    yield process
    process.stop()


@pytest.fixture
def worker(pantry: DevProcess) -> Iterator[httpx.Client]:
    """A client of the project's own Worker (its fetch handler uses the bindings)."""
    with httpx.Client(base_url=pantry.url, timeout=20) as client:
        yield client


def open_explorer(page: Any, pantry: DevProcess, path: str = "") -> None:
    page.goto(pantry.url + EXPLORER + path)
    expect(page.get_by_text("Live", exact=True)).to_be_visible()


def unnamed_controls(page: Any) -> list[str]:
    session = page.context.new_cdp_session(page)
    tree = session.send("Accessibility.getFullAXTree")["nodes"]
    session.detach()
    return [node.get("role", {}).get("value") for node in tree
            if not node.get("ignored") and node.get("role", {}).get("value") in CONTROLS
            and not (node.get("name", {}).get("value") or "").strip()]


def test_the_sidebar_lists_every_binding_and_the_engine(page: Any, pantry: DevProcess) -> None:
    open_explorer(page, pantry)
    sidebar = page.get_by_role("navigation", name="Local data")
    titles = sidebar.locator(".nav-title").all_inner_texts()
    assert [t.strip().lower() for t in titles] == [
        "d1 databases", "kv namespaces", "r2 buckets", "workflows", "cron triggers", "engines"]
    for name in ("pantry-db", "CONFIG", "pantry-files", "restock", "Configured crons"):
        expect(sidebar.get_by_role("link", name=re.compile(f"^{name}"))).to_be_visible()
    engine = sidebar.locator(".engine").first
    expect(engine).to_contain_text("(this server)")
    expect(engine).to_contain_text(re.compile(r"pid \d+"))
    expect(engine).to_contain_text(re.compile(r"code [0-9a-f]{8}"))
    expect(engine.locator("time")).to_have_text(re.compile("just now|\\ds ago"))
    sidebar.get_by_role("link", name=re.compile("^CONFIG")).click()
    expect(page.get_by_role("heading", name="CONFIG", exact=True)).to_be_visible()
    page.evaluate("window.__notReloaded = true")
    sidebar.get_by_role("link", name=re.compile("^pantry-files")).click()
    expect(page.get_by_role("heading", name="pantry-files")).to_be_visible()
    assert page.evaluate("window.__notReloaded === true")  # the sidebar navigates in place


def test_a_kv_key_the_worker_put_is_found_edited_and_read_back(page: Any, pantry: DevProcess,
                                                               worker: httpx.Client) -> None:
    worker.post("/kv/put", json={"key": "greeting", "value": f"hello {HOSTILE}",
                                 "metadata": {"by": "worker", "note": HOSTILE}})
    worker.post("/kv/put", json={"key": "settings", "value": '{"theme": "dark", "limits": [1, 2]}'})
    open_explorer(page, pantry, "kv/config-ns")
    rows = page.locator("tr[data-key]")
    expect(rows.filter(has_text="greeting")).to_have_count(1)
    rows.filter(has_text="settings").get_by_role("button").click()
    pretty = '{\n  "theme": "dark",\n  "limits": [\n    1,\n    2\n  ]\n}'
    expect(page.get_by_label("Value", exact=True)).to_have_text(pretty)
    page.get_by_role("button", name="greeting").click()
    value = page.get_by_label("Value", exact=True)
    expect(value).to_have_text(f"hello {HOSTILE}")
    expect(page.get_by_label("Metadata", exact=True)).to_contain_text(f'"note": "{HOSTILE}"')
    assert page.locator("main img").count() == 0
    screenshot(page, "explorer-kv.png")
    page.get_by_role("button", name="Hex").click()
    expect(value).to_contain_text("68 65 6c 6c 6f 20 3c 69")

    # A key the Worker writes while the page is open shows up by itself.
    worker.post("/kv/put", json={"key": "arrived-live", "value": "1"})
    expect(rows.filter(has_text="arrived-live")).to_have_count(1)

    page.get_by_role("button", name="Edit", exact=True).click()
    dialog = page.get_by_role("dialog", name="Edit a key")
    dialog.get_by_label("Value").fill("bonjour from the explorer")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(value).to_have_text("bonjour from the explorer")
    assert worker.get("/kv/get", params={"key": "greeting"}).json() == {"value": "bonjour from the explorer"}

    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("dialog", name="Delete this key?").get_by_role("button", name="Delete key").click()
    expect(rows.filter(has_text="greeting")).to_have_count(0)
    assert worker.get("/kv/get", params={"key": "greeting"}).json() == {"value": None}
    assert unnamed_controls(page) == []


def test_an_r2_object_the_worker_uploaded_is_found_downloaded_and_deleted(
        page: Any, pantry: DevProcess, worker: httpx.Client) -> None:
    worker.post("/r2/put", params={"key": "docs/note.txt"}, content="a note from the Worker")
    worker.post("/r2/put", params={"key": "docs/page.html", "type": "text/html"}, content=HOSTILE)
    open_explorer(page, pantry, "r2/pantry-files")
    page.locator('tr[data-folder="docs/"]').get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"prefix=docs%2F"))
    page.locator('tr[data-key="docs/page.html"]').get_by_role("button").click()
    expect(page.get_by_label("Content", exact=True)).to_have_text(HOSTILE)
    assert page.locator("main img").count() == 0
    page.locator('tr[data-key="docs/note.txt"]').get_by_role("button").click()
    details = page.get_by_role("complementary", name="Object docs/note.txt")
    expect(details).to_contain_text("22 B")
    expect(details.get_by_label("Custom metadata", exact=True)).to_contain_text('"by": "worker"')
    expect(details.get_by_label("Content", exact=True)).to_have_text("a note from the Worker")
    with page.expect_download() as downloading:
        details.get_by_role("link", name="Download").click()
    assert Path(downloading.value.path()).read_text() == "a note from the Worker"

    page.get_by_role("button", name="Upload").click()
    dialog = page.get_by_role("dialog", name="Upload an object")
    dialog.get_by_label("File").set_input_files({"name": "hello.txt", "mimeType": "text/plain",
                                                 "buffer": b"uploaded from the browser"})
    expect(dialog.get_by_label("Key")).to_have_value("docs/hello.txt")
    dialog.get_by_role("button", name="Upload").click()
    expect(page.locator('tr[data-key="docs/hello.txt"]')).to_have_count(1)
    assert worker.get("/r2/get", params={"key": "docs/hello.txt"}).json() == {
        "text": "uploaded from the browser"}
    screenshot(page, "explorer-r2.png")

    page.locator('tr[data-key="docs/note.txt"]').get_by_role("button").click()
    details.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog", name="Delete this object?").get_by_role("button", name="Delete object").click()
    expect(page.locator('tr[data-key="docs/note.txt"]')).to_have_count(0)
    assert worker.get("/r2/get", params={"key": "docs/note.txt"}).json() == {"text": None}
    assert unnamed_controls(page) == []


def test_a_d1_statement_the_worker_ran_is_found_in_tables_console_and_migrations(
        page: Any, pantry: DevProcess, worker: httpx.Client, console: Console) -> None:
    for name, qty in [("flour", 3), ("sugar", 0), (HOSTILE, 7)]:
        worker.post("/d1", json={"sql": "INSERT INTO items (name, qty) VALUES (?, ?)", "params": [name, qty]})
    open_explorer(page, pantry, "d1/pantry-db-id")
    tables = page.get_by_role("table", name="Tables")
    expect(tables.locator('tr[data-table="items"]')).to_contain_text("3")
    tables.get_by_role("link", name="items").click()
    rows = page.get_by_role("table", name="Rows of items")
    expect(rows.locator("tbody tr")).to_have_count(3)
    expect(rows).to_contain_text(HOSTILE)
    assert page.locator("main img").count() == 0
    page.get_by_text("Schema of items").click()
    expect(page.get_by_role("table", name="Columns of items")).to_contain_text("INTEGER")
    screenshot(page, "explorer-d1.png")

    # The Worker inserts a row while the table is open: it shows up by itself.
    worker.post("/d1", json={"sql": "INSERT INTO items (name, qty) VALUES ('salt', 1)"})
    expect(rows.locator("tbody tr")).to_have_count(4)

    page.get_by_role("link", name="SQL console").click()
    form = page.get_by_role("form", name="SQL console")
    sql = form.get_by_label("SQL")
    sql.fill("DELETE FROM items WHERE name = 'sugar'")
    form.get_by_role("button", name="Run").click()
    expect(form.get_by_role("alert")).to_contain_text("read-only")
    # The refusal is the API's 400, which Chromium reports on its console as a failed load.
    refused = "console: Failed to load resource: the server responded with a status of 400 (Bad Request)"
    assert console.errors == [refused]
    console.errors.clear()
    form.get_by_role("switch", name="Allow writes").check()
    form.get_by_role("button", name="Run").click()
    expect(form).to_contain_text("1 changed")
    sql.fill("SELECT name, qty FROM items ORDER BY id; SELECT COUNT(*) AS n FROM items")
    form.get_by_role("switch", name="Allow writes").uncheck()
    form.get_by_role("button", name="Run").click()
    expect(form.get_by_role("table", name="Result 2")).to_contain_text("3")
    expect(form.get_by_role("table", name="Result 1")).to_contain_text(HOSTILE)
    screenshot(page, "explorer-d1-console.png")
    assert worker.post("/d1", json={"sql": "SELECT COUNT(*) AS n FROM items"}).json() == [{"n": 3}]

    page.get_by_role("link", name="Migrations").click()
    expect(page.get_by_role("table", name="Applied migrations")).to_contain_text("0001_create_items.sql")
    expect(page.locator(".pending")).to_have_text("0002_add_suppliers.sql")
    assert unnamed_controls(page) == []


def test_running_a_cron_from_the_ui_starts_its_instance(page: Any, pantry: DevProcess) -> None:
    open_explorer(page, pantry, "crons")
    card = page.locator('[data-cron="30 4 * * *"]')
    expect(card.locator(".next-times li")).to_have_count(3)
    expect(card.locator(".next-times li").first).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d 04:30 UTC"))
    card.get_by_role("button", name="Run 30 4 * * * now").click()
    run = card.get_by_role("table", name="Runs of 30 4 * * *").locator("tbody tr").first
    expect(run).to_contain_text("Run now")
    expect(run).to_contain_text("OK")
    handler = page.locator('[data-cron="0 0 1 1 *"]')
    handler.get_by_role("button", name="Run 0 0 1 1 * now").click()
    expect(handler.locator("tbody tr")).to_have_count(1)
    screenshot(page, "explorer-crons.png")
    run.locator(".instance-link").click()
    expect(page.get_by_role("heading", name=re.compile("restock"))).to_be_visible()
    expect(page.locator(".summary")).to_contain_text("Cron")
    expect(page.locator(".summary .badge")).to_have_text("Complete")


def test_a_workflows_events_arrive_live_and_filter(page: Any, pantry: DevProcess) -> None:
    open_explorer(page, pantry, "workflows/restock/events")
    with httpx.Client(base_url=pantry.url + API, timeout=20) as api:
        for instance_id, params in [("steady", {}), ("bumpy", {"failures": 1})]:
            assert api.post("/workflows/restock/instances",
                            json={"id": instance_id, "params": params}).status_code == 200
    table = page.get_by_role("table", name="Events of restock")
    failure = table.locator("tr", has_text="ATTEMPT_FAILURE").filter(has_text="bumpy")
    expect(failure).to_have_count(1)  # live: the page was open before the instances ran
    expect(failure).to_contain_text("supplier busy on attempt 1")
    expect(table.locator("tr", has_text="WORKFLOW_SUCCESS").filter(has_text="bumpy")).to_have_count(1)
    expect(table.locator("tr", has_text="WORKFLOW_SUCCESS").filter(has_text="steady")).to_have_count(1)
    # Each row's details stay in that row (a page style once pinned them to the top).
    outside = table.evaluate("""t => [...t.querySelectorAll("tbody tr")].filter(row => {
        const cell = row.querySelector("td.details").getBoundingClientRect();
        const box = row.getBoundingClientRect();
        return cell.top < box.top - 1 || cell.bottom > box.bottom + 1; }).length""")
    assert outside == 0
    screenshot(page, "explorer-events.png")
    page.get_by_label("Event type").select_option("ATTEMPT_FAILURE")
    expect(page).to_have_url(re.compile("event=ATTEMPT_FAILURE"))
    expect(table.locator("tbody tr").first).to_contain_text("ATTEMPT_FAILURE")
    assert set(table.locator("tbody td:nth-child(4)").all_inner_texts()) == {"ATTEMPT_FAILURE"}
    page.get_by_label("Event type").select_option("")
    page.get_by_label("Step name", exact=True).fill("count")
    expect(table.locator("tbody tr").first).to_contain_text("count shelves")
    assert all("count shelves" in t for t in table.locator("tbody td:nth-child(5)").all_inner_texts())
    page.get_by_label("Step name", exact=True).fill("")
    page.get_by_label("Time window").select_option("15m")
    expect(table.locator("tr", has_text="bumpy").first).to_be_visible()
    assert unnamed_controls(page) == []


def test_the_pages_fit_a_narrow_screen_in_the_dark_theme(browser: Any, console: Console,
                                                         pantry: DevProcess, worker: httpx.Client) -> None:
    worker.post("/kv/put", json={"key": "a-rather-long-key-name:" + "x" * 60, "value": "v" * 300})
    phone = open_page(browser, console, viewport={"width": 375, "height": 740}, color_scheme="dark")
    try:
        for path in ("kv/config-ns", "r2/pantry-files", "d1/pantry-db-id?table=items",
                     "d1/pantry-db-id?view=console", "crons", "workflows/restock/events"):
            phone.goto(pantry.url + EXPLORER + path)
            expect(phone.locator("main h1")).to_be_visible()
            phone.wait_for_timeout(300)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"{path} is {width}px wide at 375px"
    finally:
        phone.context.close()
    assert console.errors == []
