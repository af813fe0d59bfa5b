"""Three ``pyflow worker`` processes and a ``pyflow serve`` on one PostgreSQL database, through
everything a cluster goes through: one is SIGKILLed, one is SIGSTOPped past its lease and
SIGCONTed (its late writes are refused), every connection to the server is terminated once, one
runs with its machine clock 30 s ahead, and notifications are off for a phase (the engines
poll).

A few hundred instances run steps, a retried step, a sleep and a wait for an event. A third of
them are created through the server's local API, a third by its Worker's binding, the rest
straight in the database; the server's engine runs its share, and each is read back through the
way it came in. At the end every instance is complete; every stored step result is the token its
committed execution produced and no body started again after that execution finished (the only
re-runs are bodies caught between finishing and their commit); no sleep ended early; each
instance's log is numbered 1, 2, 3... without a gap; the workers stop on SIGTERM with exit code
0, handing back what they held.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2ekit import after_commit, committed_results, journal_by_step
from pgcluster import Server

from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.store import Store
from pyflow_cli.service import WorkflowInfo, WorkflowService
from pyflow_cli.storage.factory import open_store, store_clock
from pyflow_cli.storage.url import parse_store_url

INSTANCES = 240
STEPS = 6
LEASE_S = 2.0
NAP_S = 1.0
APP = "pyflow-chaos"
API = "/cdn-cgi/local/explorer/api/workflows/chaos/instances"

CONFIG = """\
name = "chaos"
main = "src/entry.py"
compatibility_date = "2025-10-01"

[[workflows]]
name = "chaos"
binding = "CHAOS"
class_name = "Chaos"
"""

ENTRY = f"""\
import asyncio
import json
import os
import random
import time
import uuid
from urllib.parse import parse_qs, urlparse

from workers import Response, WorkerEntrypoint, WorkflowEntrypoint

_journal = os.open(os.environ["CHAOS_JOURNAL"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def note(**entry):
    os.write(_journal, (json.dumps(entry) + "\\n").encode())


def body(instance, name, fails_first):
    async def run(ctx):
        note(kind="start", i=instance, s=name, attempt=ctx["attempt"], t=time.time(),
             pid=os.getpid())
        await asyncio.sleep(0.02 + random.random() * 0.08)
        if fails_first and ctx["attempt"] == 1:
            raise RuntimeError("the first attempt fails")
        token = uuid.uuid4().hex
        note(kind="done", i=instance, s=name, token=token, t=time.time(), pid=os.getpid())
        return token
    return run


class Chaos(WorkflowEntrypoint):
    async def run(self, event, step):
        tokens = []
        config = {{"retries": {{"limit": 20, "delay": "200 ms", "backoff": "constant"}}}}
        for k in range({STEPS}):
            name = f"s{{k}}"
            tokens.append(await step.do(name, body(event.instanceId, name, k == 1), config=config))
            if k == 2:
                await step.sleep("nap", "{int(NAP_S * 1000)} ms")
            if k == 4:
                await step.wait_for_event("go", "go", timeout="1 hour")
        return tokens


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        instance_id = parse_qs(urlparse(request.url).query)["id"][0]
        if request.method == "POST":
            created = await self.env.CHAOS.create(id=instance_id)
            return Response.json({{"id": created.id}})
        return Response.json(await (await self.env.CHAOS.get(instance_id)).status())
"""


class Cluster:
    """The worker processes of the test, each logging to a file of its own."""

    def __init__(self, root: Path, url: str, journal: Path) -> None:
        self.root, self.url, self.journal = root, url, journal
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, **env: str) -> subprocess.Popen[bytes]:
        with (self.root / f"{name}.log").open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "pyflow_cli", "--cwd", str(self.root / "project"),
                 "worker", "--store", self.url, "--lease", str(LEASE_S), "--concurrency", "80",
                 "--log-level", "info"],
                stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "CHAOS_JOURNAL": str(self.journal), **env})
        self.workers[name] = worker
        return worker

    def serve(self, port: int) -> subprocess.Popen[bytes]:
        """``pyflow serve`` on the same database: its Worker, its local API and its engine."""
        with (self.root / "serve.log").open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "pyflow_cli", "--cwd", str(self.root / "project"),
                 "serve", "--store", self.url, "--port", str(port), "--log-level", "info"],
                stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "CHAOS_JOURNAL": str(self.journal)})
        self.workers["serve"] = server
        return server

    def output(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text()

    def stop_all(self) -> None:
        for worker in self.workers.values():
            if worker.poll() is None:
                worker.send_signal(signal.SIGCONT)
                worker.kill()
                worker.wait()


class Http:
    """Requests to the ``pyflow serve`` of the test: its local API and its Worker."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def api(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.call(method, API + path, body)
        assert answer["success"], answer
        return answer["result"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def until(condition: Callable[[], bool], timeout_s: float,
          what: str | Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, \
            f"timed out waiting for {what() if callable(what) else what}"
        time.sleep(0.05)


def test_three_workers_finish_everything_through_kills_stalls_drops_and_a_wrong_clock(
        tmp_path: Path, postgres: Server) -> None:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "wrangler.toml").write_text(CONFIG)
    (project / "src" / "entry.py").write_text(ENTRY)
    schema = f"{postgres.prefix}chaos"
    workers_url = postgres.location(schema, application_name=APP)
    test_url = postgres.location(schema)
    journal = tmp_path / "journal.jsonl"
    cluster = Cluster(tmp_path, workers_url, journal)
    loop = asyncio.new_event_loop()
    store: Store = loop.run_until_complete(open_store(parse_store_url(test_url, tmp_path)))
    service = WorkflowService(store, {"chaos": WorkflowInfo("chaos", "Chaos", "chaos")},
                              store_clock(store), None)

    def run(coroutine: Any) -> Any:
        return loop.run_until_complete(coroutine)

    def complete() -> int:
        return int(run(store.status_counts("chaos")).get("complete", 0))

    try:
        first = cluster.start("w1")
        stalled = cluster.start("w2")
        skewed = cluster.start("w3", PYFLOW_TEST_CLOCK_SKEW_MS="30000")
        port = free_port()
        server = cluster.serve(port)
        http = Http(port)
        until(lambda: len(run(store.list_engines())) == 4, 60,
              lambda: "three registered workers and the server: " + cluster.output("serve"))
        until(lambda: "Ready on" in cluster.output("serve"), 60, "the server to listen")
        skewed_id = next(e.id for e in run(store.list_engines()) if e.pid == skewed.pid)
        server_id = next(e.id for e in run(store.list_engines()) if e.pid == server.pid)
        for n in range(INSTANCES):
            if n % 3 == 0:
                assert http.api("POST", "", {"id": f"c{n}"}) == {"id": f"c{n}"}
            elif n % 3 == 1:
                assert http.call("POST", f"/?id=c{n}") == {"id": f"c{n}"}
            else:
                run(service.create("chaos", f"c{n}"))
        for n in range(INSTANCES // 2):
            if n % 3 == 0:
                http.api("POST", f"/c{n}/events/go", {"n": n})
            else:
                run(service.send_event("chaos", f"c{n}", "go", {"n": n}))

        # Frozen while it is surely busy (later, every instance it held may be done or asleep
        # until an event, held by no one): past its lease, others take its instances over.
        stalled_id = next(e.id for e in run(store.list_engines()) if e.pid == stalled.pid)
        until(lambda: any(r.lease_owner == stalled_id for r in run(store.list_instances(
            "chaos", limit=INSTANCES)).records), 60, "the second worker to hold instances")
        stalled.send_signal(signal.SIGSTOP)
        time.sleep(LEASE_S * 2)
        stalled.send_signal(signal.SIGCONT)
        until(lambda: complete() >= 20, 120, "the first instances to complete")
        first.send_signal(signal.SIGKILL)
        first.wait()
        time.sleep(1.0)
        with postgres.connect() as conn:
            dropped = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                "application_name = %s AND pid <> pg_backend_pid()", (APP,)).fetchone()
        assert dropped is not None and dropped[0] >= 6  # each worker's writer and listener
        with postgres.connect() as conn:  # notifications off for a phase: engines poll
            original = conn.execute(f"SELECT pg_get_functiondef('\"{schema}\".notify'::regproc)"
                                    ).fetchone()[0]
            conn.execute(f'CREATE OR REPLACE FUNCTION "{schema}".notify(channel text, '
                         "notes text[]) RETURNS void LANGUAGE plpgsql AS $$ BEGIN END $$")
            for n in range(INSTANCES // 2, INSTANCES):
                run(service.send_event("chaos", f"c{n}", "go", {"n": n}))
            time.sleep(3.0)
            conn.execute(original)
        cluster.start("w4")  # a fresh worker, taking the SIGKILLed one's place
        until(lambda: "running chaos" in cluster.output("w4"), 60, "the fourth worker to start")
        until(lambda: complete() == INSTANCES, 240,
              lambda: "every instance to complete; not yet: " + ", ".join(
                  f"{r.id} {r.status.value} due {r.runnable_at} lease {r.lease_owner} signal "
                  f"{r.signal} inbox {run(store.load_inbox(r.iid))} log "
                  f"{[(e.event.name, e.runner) for e in run(store.read_log(r.iid))]}"
                  for r in run(store.list_instances("chaos", limit=INSTANCES)).records
                  if r.status.value != "complete"))
        results = run(committed_results(store, "chaos", limit=INSTANCES))
        for n in range(0, INSTANCES, 3):  # read back the way they came in
            through_api = http.api("GET", f"/c{n}")
            assert through_api["status"] == "complete", through_api
            assert through_api["output"] == [results[(f"c{n}", f"s{k}")] for k in range(STEPS)]
            through_worker = http.call("GET", f"/?id=c{n + 1}")
            assert through_worker["status"] == "complete", through_worker
            assert through_worker["output"] == [results[(f"c{n + 1}", f"s{k}")]
                                                for k in range(STEPS)]
        for name in ("w2", "w3", "w4", "serve"):
            cluster.workers[name].send_signal(signal.SIGTERM)
        for name in ("w2", "w3", "w4", "serve"):
            assert cluster.workers[name].wait(timeout=30) == 0, cluster.output(name)
        assert run(store.list_engines()) == []  # every lease and registration handed back

        _check_journal(journal, results)
        _check_logs(run, store)
        runners = run(_runners(store))
        assert runners[skewed_id] > 0, "the skewed worker ran nothing: it proved nothing"
        assert runners[server_id] > 0, "the server's engine ran nothing"
        stalled_said = cluster.output("w2")
        assert ("could not renew its leases" in stalled_said
                or "is no longer leased to this engine" in stalled_said), stalled_said
        assert "▶ running" in cluster.output("w3")  # a line per transition, as pyflow dev prints
    finally:
        cluster.stop_all()
        run(store.close())
        loop.close()


def _check_journal(journal: Path, results: dict[tuple[str, str], str]) -> None:
    by_step = journal_by_step(journal)
    assert len(results) == INSTANCES * STEPS
    for key, token in results.items():
        # A body that started before then may finish after (a stalled worker's, whose write
        # was refused); none may start.
        later = [e for e in after_commit(key, by_step[key], token) if e["kind"] == "start"]
        assert not later, f"{key}: a body started again after its result was committed: {by_step[key]}"
    for n in range(INSTANCES):  # the nap lasted: no engine's clock fired it early
        instance = f"c{n}"
        nap_start = next(e["t"] for e in by_step[(instance, "s2")]
                         if e["kind"] == "done" and e["token"] == results[(instance, "s2")])
        woke = min(e["t"] for e in by_step[(instance, "s3")] if e["kind"] == "start")
        assert woke - nap_start >= NAP_S - 0.05, f"{instance}: the nap ended early"


def _check_logs(run: Callable[[Any], Any], store: Store) -> None:
    page = run(store.list_instances("chaos", limit=INSTANCES))
    for record in page.records:
        log = run(store.read_log(record.iid))
        assert [row.seq for row in log] == list(range(1, len(log) + 1)), record.id


async def _runners(store: Store) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    page = await store.list_instances("chaos", limit=INSTANCES)
    for record in page.records:
        for row in await store.read_log(record.iid):
            if row.event is EventType.ATTEMPT_START and row.runner is not None:
                counts[row.runner.engine] += 1
    return counts
