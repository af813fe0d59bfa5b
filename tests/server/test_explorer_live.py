"""Live updates: the hub fed by the store's commit path, and the SSE stream of a real ``pyflow dev``
(what arrives, that it arrives without polling, and that a stopping server ends its streams)."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serverkit import API, DevProcess, write_project

from pyflow_cli.engine.changes import Change, InstanceUpdate, NewInstance, NewLogEvent
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.server.explorer import live
from pyflow_cli.server.explorer.live import LiveHub


def parse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """SSE text -> [(event, data)], comments and retry lines left out."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines()
                      if ": " in line and not line.startswith(":"))
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


async def counts(workflow: str) -> dict[str, int]:
    return {"running": 1}


async def test_the_hub_sends_one_note_per_instance_per_burst_to_matching_streams() -> None:
    hub = LiveHub(resolve=lambda iid: ("wf", f"id{iid}") if iid == 9 else None)
    everything = hub.stream(None, None, counts)
    only_a = hub.stream("wf", "a", counts)
    assert parse(await anext(everything)) == [("hello", {"server": hub.boot_id})]
    assert parse(await anext(only_a))[0][0] == "hello"
    hub.created(NewInstance("wf", "a", "{}", 0.0, 0, None), 1)
    hub.changed(Change(1, log=[NewLogEvent(EventType.WORKFLOW_RUNNING, 1.0)],
                       instance=InstanceUpdate(status=InstanceStatus.RUNNING)))
    hub.changed(Change(1, log=[NewLogEvent(EventType.STEP_START, 2.0, "k", "s-1")]))
    hub.changed(Change(9, log=[NewLogEvent(EventType.WORKFLOW_PAUSED, 3.0)],
                       instance=InstanceUpdate(status=InstanceStatus.PAUSED)))  # found by resolve
    hub.changed(Change(7, log=[NewLogEvent(EventType.STEP_START, 4.0)]))  # unknown: dropped
    assert parse(await anext(everything)) == [
        ("instance", {"workflow": "wf", "id": "a", "status": "running",
                      "events": ["STEP_START", "WORKFLOW_QUEUED", "WORKFLOW_RUNNING"]}),
        ("instance", {"workflow": "wf", "id": "id9", "status": "paused", "events": ["WORKFLOW_PAUSED"]}),
        ("counts", {"workflow": "wf", "counts": {"running": 1}})]
    assert [e for e, _ in parse(await anext(only_a))] == ["instance", "counts"]
    hub.deleted("wf", ["a"])
    assert parse(await anext(only_a))[0] == ("instance", {"workflow": "wf", "id": "a", "deleted": True})
    hub.close()
    for stream in (everything, only_a):
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
    assert hub.streams == 0


async def test_session_notes_reach_every_stream_and_engines_arrive_by_themselves(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "ENGINES_S", 0.05)
    hub = LiveHub()
    beats = iter(range(1, 100))

    async def engines() -> list[dict[str, Any]]:
        return [{"id": "e", "heartbeat": next(beats)}]

    hub.engines = engines
    session_only = hub.stream(None, None, counts, instances=False)
    one_instance = hub.stream("wf", "a", counts)
    first = parse(await anext(session_only))
    assert first == [("hello", {"server": hub.boot_id}),
                     ("engines", {"engines": [{"id": "e", "heartbeat": 1}]})]
    await anext(one_instance)
    # Nothing written: the engines come again, with their new heartbeat.
    assert parse(await anext(session_only)) == [("engines", {"engines": [{"id": "e", "heartbeat": 3}]})]
    hub.created(NewInstance("wf", "a", "{}", 0.0, 0, None), 1)
    hub.binding_changed("kv", "ns")
    hub.binding_changed("kv", "ns")  # the same note twice in a burst is sent once
    hub.notify("cron", {"cron": "* * * * *"})
    notes = [n for n in parse(await anext(session_only)) if n[0] != "engines"]
    assert notes == [("binding", {"kind": "kv", "name": "ns"}), ("cron", {"cron": "* * * * *"})]
    # A stream that watches one instance gets its notes and the session's too.
    assert {n[0] for n in parse(await anext(one_instance))} >= {"instance", "binding", "cron"}
    hub.close()


async def test_a_hub_without_streams_does_no_work_per_write() -> None:
    calls: list[int] = []
    hub = LiveHub(resolve=lambda iid: calls.append(iid) or None)
    hub.changed(Change(5, log=[NewLogEvent(EventType.STEP_START, 1.0)]))
    assert calls == []


class Stream:
    """An SSE stream read on a thread: (arrival time, event, data) tuples."""

    def __init__(self, url: str) -> None:
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self._thread.start()

    def _read(self, url: str) -> None:
        try:
            with httpx.stream("GET", url, timeout=httpx.Timeout(5.0, read=None)) as response:
                buffer = ""
                for chunk in response.iter_text():
                    buffer += chunk
                    while "\n\n" in buffer:
                        block, buffer = buffer.split("\n\n", 1)
                        for event, data in parse(block + "\n\n"):
                            self.events.append((time.monotonic(), event, data))
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> tuple[float, str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in list(self.events):
                if predicate(item[1], item[2]):
                    return item
            time.sleep(0.01)
        raise AssertionError(f"no matching event in {self.events}")


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevProcess]:
    process = DevProcess(write_project(tmp_path / "app"), "--no-reload").ready()
    yield process
    process.stop()


def test_a_stream_follows_the_instances_of_a_real_server(dev: DevProcess) -> None:
    dev.wait_for(rf"Local Explorer: http://127\.0\.0\.1:{dev.port}/cdn-cgi/local/explorer/")
    assert "[b] open" not in dev.output  # keys only when standard input is a terminal
    stream = Stream(f"{dev.url}{API}/stream?workflow=steps")
    stream.wait_for(lambda event, data: event == "hello")
    with dev.client() as client:
        sent = time.monotonic()
        created = client.post(f"{API}/workflows/steps/instances",
                              json={"id": "live-1", "params": {"nap": 300}})
        assert created.status_code == 200
        queued_at, _, _ = stream.wait_for(lambda e, d: e == "instance" and d.get("id") == "live-1")
        stream.wait_for(lambda e, d: e == "instance" and d.get("status") == "waiting")
        done_at, _, _ = stream.wait_for(lambda e, d: e == "instance" and d.get("status") == "complete")
        counted = stream.wait_for(lambda e, d: e == "counts" and d["counts"]["complete"] == 1)
        assert counted[2]["workflow"] == "steps"
        assert queued_at - sent < 5  # a bound that only a stuck stream misses, not a target
        # Another workflow's changes are not on this stream.
        client.post(f"{API}/workflows/nightly/instances", json={"id": "elsewhere"})
        time.sleep(0.5)
        assert not [d for _, _, d in stream.events if d.get("id") == "elsewhere"]
    assert done_at >= queued_at


def test_a_stopping_server_ends_its_streams_at_once(dev: DevProcess) -> None:
    streams = [Stream(f"{dev.url}{API}/stream") for _ in range(3)]
    for stream in streams:
        stream.wait_for(lambda event, data: event == "hello")
    started = time.monotonic()
    assert dev.stop(signal.SIGTERM) == 0
    # Well under the 5 s grace uvicorn would otherwise wait for open responses.
    assert time.monotonic() - started < 4
    for stream in streams:
        assert stream.ended.wait(2)


async def test_stream_answers_with_event_stream_headers(dev: DevProcess) -> None:
    async with httpx.AsyncClient(base_url=dev.url) as client, \
            client.stream("GET", f"{API}/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        first = await asyncio.wait_for(anext(response.aiter_text()), 5)
        assert first.startswith("retry: 1000\nevent: hello\n")
