"""The running limit across processes: two ``pyflow dev`` on one store, each with
``--max-running 2``, never run more than two instances at once between them."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from serverkit import API, DevProcess, wait_until, write_project

CONFIG = """\
name = "limited"
main = "src/entry.py"
compatibility_date = "2025-10-01"

[[workflows]]
name = "slow"
binding = "SLOW"
class_name = "Slow"
"""

ENTRY = """\
import asyncio
import os
import time
from pathlib import Path

from workers import WorkflowEntrypoint

JOURNAL = Path(os.environ["JOURNAL"])


def note(*words):
    # One write with O_APPEND per line: the two processes' lines never mix.
    line = " ".join(str(w) for w in words) + "\\n"
    fd = os.open(JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


class Slow(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do("work")
        async def work():
            note("start", event.instanceId, os.getpid(), time.time())
            await asyncio.sleep(0.4)
            note("end", event.instanceId, os.getpid(), time.time())
            return "done"

        return await work()
"""


def _most_at_once(lines: list[str]) -> int:
    moments = sorted((float(parts[3]), 1 if parts[0] == "start" else -1)
                     for parts in (line.split() for line in lines))
    running = [0, *itertools.accumulate(change for _, change in moments)]
    return max(running)


def test_two_engine_processes_on_one_store_never_pass_the_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = tmp_path / "journal.txt"
    journal.touch()
    monkeypatch.setenv("JOURNAL", str(journal))  # the dev processes inherit it
    # Two projects (two sessions) on one store, as two workers would be.
    roots = [write_project(tmp_path / name, ENTRY, CONFIG, secrets="") for name in "ab"]
    servers = [DevProcess(root, "--max-running", "2", "--no-reload",
                          state=tmp_path / "shared-state") for root in roots]
    try:
        for server in servers:
            server.ready()
            assert "at most 2 instances running at once (--max-running)" in server.output
        clients = [server.client() for server in servers]
        ids = [f"i{n}" for n in range(10)]
        for n, instance_id in enumerate(ids):  # created through both servers, in turn
            answer = clients[n % 2].post(f"{API}/workflows/slow/instances", json={"id": instance_id})
            assert answer.status_code == 200, answer.text

        def all_complete() -> bool:
            counts = clients[0].get(f"{API}/workflows/slow").json()["result"]["instances"]
            return bool(counts["complete"] == len(ids))

        wait_until(all_complete, timeout=60)
        lines = journal.read_text().splitlines()
        assert len(lines) == 2 * len(ids)
        assert _most_at_once(lines) == 2
        pids = {line.split()[2] for line in lines}
        assert len(pids) == 2, "both engines should have run instances"
        for client in clients:
            client.close()
    finally:
        for server in servers:
            server.stop()
