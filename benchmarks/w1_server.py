"""W1 through the server: N instances x S trivial steps, created by the Worker's binding over
HTTP, completion read through the local API — against the in-process W1 in the same run.

Server path: a project whose Worker's ``fetch`` calls ``env.W1.create()`` is served by a real
``pyflow serve`` (or ``pyflow dev --no-reload``, ``--command dev``) subprocess on a free port.
Timed from the first HTTP request to the Worker until the local API
(``GET /cdn-cgi/local/explorer/api/workflows/w1``) reports N instances complete; N requests are
sent by ``--clients`` concurrent keep-alive connections from this process, and the count is
polled every ``--poll-ms``. In-process: ``WorkflowService.create_batch`` and the commit of each
``complete`` observed in the same process (as ``w1_throughput.py`` does). The two alternate,
repetition by repetition, so machine load hits both alike; the headline is the ratio of medians.

    .venv/bin/python benchmarks/w1_server.py                 # 1000 x 10, 3 repetitions each
    .venv/bin/python benchmarks/w1_server.py --profile DIR   # py-spy / cProfile of the server
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from common import parser, print_metrics, summary, w1_wrangler_toml, workdir, write_result
from w1_throughput import pyflow_once

API = "/cdn-cgi/local/explorer/api"

ENTRY = """\
from workers import Response, WorkerEntrypoint, WorkflowEntrypoint

STEPS = {steps}


class Steps(WorkflowEntrypoint):
    async def run(self, event, step):
        for i in range(STEPS):
            await step.do(f"s{{i}}", lambda: 1)
        return 1


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        instance = await self.env.W1.create()
        return Response.json({{"id": instance.id}})
"""


def make_project(root: Path, steps: int) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "wrangler.toml").write_text(w1_wrangler_toml("w1-server"))
    (root / "src" / "entry.py").write_text(textwrap.dedent(ENTRY.format(steps=steps)))
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """A ``pyflow serve`` / ``pyflow dev`` subprocess on a fresh state directory."""

    def __init__(self, project: Path, state: Path, command: str,
                 profile: str | None = None, profile_out: Path | None = None,
                 pythonpath: str | None = None, log_args: tuple[str, ...] = ("--log-level", "warn"),
                 ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [command, "--port", str(self.port), "--persist-to", str(state), *log_args]
        if command == "dev":
            args.append("--no-reload")
        python = [sys.executable]
        if profile == "cprofile" and profile_out is not None:
            python += ["-m", "cProfile", "-o", str(profile_out)]
            cmd = [*python, "-m", "pyflow_cli", *args]
        elif profile == "py-spy" and profile_out is not None:
            cmd = ["py-spy", "record", "--threads", "--gil", "-r", "1000", "-f", "raw", "-o",
                   str(profile_out), "--", sys.executable, "-m", "pyflow_cli", *args]
        else:
            cmd = [*python, "-m", "pyflow_cli", *args]
        env = {**os.environ, **({"PYTHONPATH": pythonpath} if pythonpath else {})}
        self.proc = subprocess.Popen(cmd, cwd=project, stdout=subprocess.DEVNULL,
                                     start_new_session=True, env=env)

    async def ready(self, client: Any) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}")
            try:
                if (await client.get(self.base + API + "/workflows")).status_code == 200:
                    return
            except Exception:
                pass
            await asyncio.sleep(0.05)
        raise SystemExit("the server did not start within 60 s")

    def cpu_s(self) -> float:
        """CPU seconds the server process has used so far (user + system)."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class Connection:
    """One keep-alive HTTP/1.1 connection, as little client as a load generator can be (httpx
    spends about as much CPU per request as the server, and on 2 cores that is the server's)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, f"127.0.0.1:{port}")

    async def request(self, method: str, path: str) -> tuple[int, bytes]:
        self.writer.write(f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                          "Content-Length: 0\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def server_once(project: Path, state: Path, args: Any, profile_out: Path | None = None,
                      command: str | None = None, pythonpath: str | None = None
                      ) -> dict[str, Any]:
    import json

    import httpx

    log_args = ("--log-level", args.log_level) + (
        ("--log-format", args.log_format) if (command or args.command) == "serve" else ())
    server = Server(project, state, command or args.command, args.profile, profile_out,
                    pythonpath, log_args)
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            await server.ready(client)
        connections = [await Connection.open(server.port) for _ in range(args.clients + 1)]
        poller = connections.pop()
        cpu0, client0 = server.cpu_s(), time.process_time()
        sent = 0
        errors = 0

        async def sender(connection: Connection) -> None:
            nonlocal sent, errors
            while sent < args.n:
                sent += 1
                status, _ = await connection.request("POST", "/")
                if status != 200:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(sender(c) for c in connections))
        t_created = time.perf_counter()
        while True:
            _, body = await poller.request("GET", f"{API}/workflows/w1")
            done = json.loads(body)["result"]["instances"].get("complete", 0)
            if done >= args.n - errors:
                break
            await asyncio.sleep(args.poll_ms / 1000)
        t_end = time.perf_counter()
        cpu, client_cpu = server.cpu_s() - cpu0, time.process_time() - client0
        for connection in [*connections, poller]:
            connection.close()
    finally:
        server.stop()
    if errors:
        raise SystemExit(f"{errors} of {args.n} create requests failed")
    return {"seconds": t_end - t0, "create_s": t_created - t0, "server_cpu_s": cpu,
            "client_cpu_s": client_cpu}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=1000, help="instances N")
    p.add_argument("--steps", type=int, default=10, help="steps per instance S")
    p.add_argument("--clients", type=int, default=128,
                   help="concurrent HTTP connections (the in-process W1 creates all N at once; "
                        "with few connections the server waits on round trips, not on work)")
    p.add_argument("--poll-ms", type=float, default=20, help="completion poll interval")
    p.add_argument("--command", choices=("serve", "dev"), default="serve")
    p.add_argument("--baseline", metavar="PYTHONPATH", default=None,
                   help="also run a server whose pyflow comes from PYTHONPATH (say, an export of "
                        "an earlier commit), alternating with this one")
    p.add_argument("--baseline-command", choices=("serve", "dev"), default="dev")
    p.add_argument("--log-level", default="warn",
                   help="the server's (default warn: no line per instance or request)")
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="pyflow serve's log format (its output goes to /dev/null)")
    p.add_argument("--profile", choices=("py-spy", "cprofile"), default=None,
                   help="profile the server process (one server run, no in-process run)")
    args = p.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    base = workdir(args, "w1-server")
    project = make_project(base / "project", args.steps)
    if args.profile:
        suffix = "collapsed.txt" if args.profile == "py-spy" else "prof"
        out = RESULTS_DIR / f"profile-w1-server.{suffix}"
        run = asyncio.run(server_once(project, base / "state-profile", args, out))
        print(f"  server path: {args.n * args.steps / run['seconds']:,.0f} steps/s "
              f"(server CPU {run['server_cpu_s']:.2f} s) -> {out}")
        return
    rates: dict[str, list[float]] = {"in_process": [], "server": [], "baseline": []}
    cpu: dict[str, list[float]] = {"in_process": [], "server": [], "baseline": []}
    create: list[float] = []
    steps = args.n * args.steps
    for rep in range(reps):
        cpu_before = time.process_time()
        local = asyncio.run(pyflow_once(base / f"local-{rep}", args.durability, args.n,
                                        args.steps, probe=False))
        cpu["in_process"].append((time.process_time() - cpu_before) * 1e6 / steps)
        rates["in_process"].append(steps / local["seconds"])
        runs = [("server", args.command, None)]
        if args.baseline:
            runs.append(("baseline", args.baseline_command, args.baseline))
        for name, command, pythonpath in runs[::1 if rep % 2 == 0 else -1]:
            run = asyncio.run(server_once(project, base / f"state-{name}-{rep}", args,
                                          command=command, pythonpath=pythonpath))
            rates[name].append(steps / run["seconds"])
            cpu[name].append(run["server_cpu_s"] * 1e6 / steps)
            if name == "server":
                create.append(run["create_s"])
        print(f"  rep {rep}: " + "; ".join(
            f"{name} {rates[name][-1]:,.0f} steps/s, {cpu[name][-1]:.0f} us CPU/step"
            for name in rates if rates[name]), flush=True)
    metrics = {
        "server_steps_per_s": summary(rates["server"], "steps/s"),
        "in_process_steps_per_s": summary(rates["in_process"], "steps/s"),
        "server_over_in_process": summary(
            [statistics.median(rates["server"]) / statistics.median(rates["in_process"])], "x",
            note="median / median, same run"),
        "server_cpu_us_per_step": summary(cpu["server"], "us", "lower",
                                          note="the server process's CPU over the timed span"),
        "in_process_cpu_us_per_step": summary(cpu["in_process"], "us", "lower",
                                              note="the process's CPU, setup and teardown too"),
        "server_create_s": summary(create, "s", "lower", note="until every create answered"),
    }
    if args.baseline:
        metrics["baseline_steps_per_s"] = summary(rates["baseline"], "steps/s")
        metrics["baseline_over_in_process"] = summary(
            [statistics.median(rates["baseline"]) / statistics.median(rates["in_process"])], "x",
            note="median / median, same run")
        metrics["baseline_cpu_us_per_step"] = summary(cpu["baseline"], "us", "lower")
    print_metrics(f"W1 through pyflow {args.command} ({args.n} x {args.steps}, "
                  f"{args.clients} connections)", metrics)
    write_result(args, "w1-server", metrics,
                 {"n": args.n, "steps": args.steps, "reps": reps, "clients": args.clients,
                  "poll_ms": args.poll_ms, "command": args.command, "baseline": args.baseline})


RESULTS_DIR = Path(__file__).resolve().parent / "results"

if __name__ == "__main__":
    main()
