"""The Local Explorer at scale: first render of a workflow with 100,000 instances, and how soon a
change shows in an open page (the SSE path), in the system's Chromium.

    .venv/bin/python benchmarks/explorer_render.py [-n 100000] [--loads 5] [--changes 20]

Seeds N finished instances straight into a fresh state store (spread over the last day, with
mixed statuses), starts ``pyflow dev`` on it, then:

- first render: a fresh browser profile opens the workflow page (cold cache), then opens it
  again (warm cache: the explorer's files are kept, the data is not); the figure is the time
  from navigation start to the ``pyflow:instances-rendered`` mark (set once the first page of
  rows is painted). Median, min and max over ``--loads`` profiles.
- live latency: with the page open, the page itself creates an instance through the API and
  times, in its own clock, until the new row is in the table. Median and max over ``--changes``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "server"))
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

from browserkit import CHROMIUM_ARGS, EXPLORER, chromium, write_shop  # noqa: E402
from serverkit import DevProcess  # noqa: E402

from pyflow_cli.engine.store import NewInstance  # noqa: E402
from pyflow_cli.storage.sqlite import SqliteStore  # noqa: E402


async def seed(state: Path, count: int) -> None:
    store = SqliteStore(state, durability="normal")
    await store.open()
    now = time.time() * 1000
    chooser = random.Random(100)
    for start in range(0, count, 5000):
        await store.create_instances([
            NewInstance("orders", f"order-{i:07d}", json.dumps({"customer": f"c{i}"}),
                        now - 86_400_000 + i * 86_400_000 / count, 0, "seeded")
            for i in range(start, min(count, start + 5000))])
    await store.close()
    import sqlite3

    with sqlite3.connect(state / "pyflow.sqlite") as conn:  # finished: no engine picks them up
        statuses = ["complete"] * 7 + ["errored"] * 2 + ["terminated"]
        conn.executemany("UPDATE instances SET status = ?, runnable_at = NULL WHERE iid = ?",
                         [(chooser.choice(statuses), iid) for iid in range(1, count + 1)])


RENDERED = "() => performance.getEntriesByName('pyflow:instances-rendered').length > 0"
LATENCY_JS = """async ([api, id]) => {
  const started = performance.now();
  const seen = new Promise((resolve) => {
    const look = () => document.querySelector(`tr[data-id="${id}"]`) && resolve(performance.now());
    new MutationObserver(look).observe(document.body, { childList: true, subtree: true });
    look();
  });
  await fetch(`${api}/workflows/orders/instances`, { method: "POST",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify({ id }) });
  return (await seen) - started;
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="pyflow-explorer-") as folder:
        root = write_shop(Path(folder) / "app")
        started = time.perf_counter()
        asyncio.run(seed(root / "state", args.n))
        print(f"seeded {args.n:,} instances in {time.perf_counter() - started:.1f}s")
        dev = DevProcess(root, "--no-reload").ready(60)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
                cold, warm = [], []
                for _ in range(args.loads):
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    for times in (cold, warm):  # a new browser profile, then a visit again
                        page = context.new_page()
                        page.goto(dev.url + EXPLORER + "workflows/orders")
                        page.wait_for_function(RENDERED)
                        times.append(page.evaluate(
                            "performance.getEntriesByName('pyflow:instances-rendered')[0].startTime"))
                        shown = page.locator(".pager-info").inner_text()
                        page.close()
                    context.close()
                for label, times in (("cold cache", cold), ("warm cache", warm)):
                    print(f"first render, {label} ({shown}): median {statistics.median(times):.0f} ms, "
                          f"min {min(times):.0f}, max {max(times):.0f} over {len(times)} loads")
                context = browser.new_context()
                page = context.new_page()
                page.goto(dev.url + EXPLORER + "workflows/orders")
                page.get_by_text("Live", exact=True).wait_for()
                page.wait_for_selector("tbody tr[data-id]")
                latencies = [page.evaluate(LATENCY_JS, ["/cdn-cgi/local/explorer/api", f"live-{k}"])
                             for k in range(args.changes)]
                print(f"create -> row shown in the open page: median {statistics.median(latencies):.0f} ms, "
                      f"max {max(latencies):.0f} over {len(latencies)}")
                browser.close()
        finally:
            dev.stop()


if __name__ == "__main__":
    main()
