"""docs/deploy.md's walk-through, run as it is written: every ``sh`` block between its
``<!-- walk-through`` markers goes, in order, to one bash (pyflow on PATH, PYFLOW_STORE on a
real PostgreSQL, the server's port a free one), so the doc cannot drift from what pyflow does.

Then what the doc claims is checked in the database: two workers and a server shared the
instances; after the SIGKILL every instance the killed worker held completed on another engine,
each step committed before the kill ran only once, and the last of them completed within the
lease plus a second of the kill (the walk-through's sleep is no longer than its lease, so every
instance is awake by then). The delay is printed, so a slow run shows how slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pgcluster import Server

from pyflow_cli.engine.events import EventType, LogEvent
from pyflow_cli.storage.factory import open_store
from pyflow_cli.storage.url import parse_store_url

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
DOC_PORT = "8787"
SLACK_S = 1.0  # the claim: within the lease plus a second


def walkthrough_blocks() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("<!-- walk-through", 1)[1].split("<!-- /walk-through -->", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)


def number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} is not in the walk-through"
    return float(found.group(1))


class Shell:
    """One bash, fed blocks one at a time; each block's output and exit status."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(["bash"], cwd=cwd, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.count = 0

    def run(self, block: str, timeout_s: float = 120) -> tuple[int, str]:
        self.count += 1
        mark = f"__block_{self.count}_done__"
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{block}\necho {mark} $?\n".encode())
        self.process.stdin.flush()
        out = b""
        deadline = time.monotonic() + timeout_s
        while mark.encode() not in out:
            left = deadline - time.monotonic()
            assert left > 0, f"the block did not finish in {timeout_s} s:\n{block}\n{out.decode()}"
            ready, _, _ = select.select([self.process.stdout], [], [], left)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 65536)
                assert chunk, f"bash ended during the block:\n{block}\n{out.decode()}"
                out += chunk
        text, _, status = out.decode().partition(mark)
        return int(status.split()[0]), text

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> Iterator[int]:
    """The processes ``pid`` started, and theirs (Linux /proc)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2:].split()[1]) == pid:
                yield int(entry.name)
                yield from children(int(entry.name))


def test_the_deploy_walkthrough_runs_as_written_and_keeps_its_promise(
        tmp_path: Path, postgres: Server) -> None:
    blocks = walkthrough_blocks()
    script = "\n".join(blocks)
    lease_s = number(r"pyflow worker --lease (\d+)", script)
    nap_s = number(r'step\.sleep\("[^"]+", "(\d+) seconds"\)', script)
    assert nap_s <= lease_s, "a sleep longer than the lease would hide the takeover behind it"
    url = postgres.location()
    port = str(free_port())
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PYFLOW_") and key not in ("NO_COLOR", "COLUMNS")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               PYFLOW_STORE=url, TZ="UTC", COLUMNS="200")
    shell = Shell(tmp_path, env)
    outputs: list[str] = []
    killed_at = 0.0
    first_pid = 0
    try:
        for block in blocks:
            block = block.replace(DOC_PORT, port)
            if block.startswith("kill -9 $FIRST"):
                status, said = shell.run("echo $FIRST")
                first_pid = int(said.split()[-1])
                killed_at = time.time()
            status, said = shell.run(block)
            outputs.append(said)
            assert status == 0, f"exit {status}:\n{block}\n{said}"
        assert first_pid and killed_at, "the walk-through kills no worker"
        said = "\n".join(outputs)
        assert "Showing 3 engines" in said and "(gone)" in said, said
        assert "Showing 25 instances" in said and "Completed" in said, said
        assert url.split("@")[0].split(":")[-1] not in said  # no password shown
        records = asyncio.run(_history(url))
    finally:
        for pid in children(shell.process.pid):  # nothing the walk-through started outlives it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        shell.close()

    killed = f"-{first_pid}-"
    taken_over: dict[str, float] = {}
    runners: dict[str, set[str]] = {}
    for instance_id, log in records.items():
        done = [row.timestamp_ms / 1000 for row in log if row.event is EventType.WORKFLOW_SUCCESS]
        assert done, f"{instance_id} did not complete: {[row.event.name for row in log]}"
        starts = [row for row in log if row.event is EventType.ATTEMPT_START]
        runners[instance_id] = {row.runner.engine for row in starts if row.runner}
        assert len([row for row in starts if row.target == "prepare-1"]) == 1, \
            f"{instance_id}: prepare ran again after it committed"
        if any(killed in engine for engine in runners[instance_id]) and done[0] > killed_at:
            later = [row for row in starts if row.timestamp_ms / 1000 > killed_at]
            assert later and all(killed not in row.runner.engine for row in later if row.runner)
            assert done[0] <= killed_at + lease_s + SLACK_S, (
                f"{instance_id} completed {done[0] - killed_at:.2f} s after the kill "
                f"(lease {lease_s:g} s)")
            taken_over[instance_id] = done[0] - killed_at
    assert taken_over, "the killed worker held no unfinished instance: the test proved nothing"
    engines = set().union(*runners.values())
    assert len(engines) == 3 and sum(e.startswith("engine-") for e in engines) == 1, engines
    print(f"\n{len(taken_over)} instances taken over; kill to the last completion: "
          f"{max(taken_over.values()):.2f} s (lease {lease_s:g} s)")


async def _history(url: str) -> dict[str, list[LogEvent]]:
    store = await open_store(parse_store_url(url, Path.cwd()))
    try:
        page = await store.list_instances("workflows-starter", limit=100)
        return {record.id: await store.read_log(record.iid) for record in page.records}
    finally:
        await store.close()
