"""``pyflow worker`` applies the platform's limits as ``pyflow dev`` and ``pyflow serve`` do:
``--max-running`` counts across every engine on the store, so every process sharing it must
claim under the same limit."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from serverkit import API, HOLDING, DevProcess, hold_one_and_queue_two, wait_until, write_project


def test_a_worker_under_max_running_claims_no_queued_instance_beyond_it(tmp_path: Path) -> None:
    root = write_project(tmp_path / "app", entry=HOLDING)
    served = DevProcess(root, "--max-running", "1", command="serve",
                        env={"PYFLOW_API_TOKEN": None}).ready()
    worker = None
    try:
        with served.client() as http:
            creates = hold_one_and_queue_two(http)
            worker = subprocess.Popen(
                [sys.executable, "-m", "pyflow_cli", "--persist-to", str(root / "state"),
                 "worker", "--max-running", "1"],
                cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True)
            wait_until(lambda: any(e["kind"] == "worker"
                                   for e in http.get(f"{API}/local/engines").json()["result"]))
            time.sleep(2.0)  # a worker without the limit claims both queued ones at once
            statuses = sorted(row["status"] for row in http.get(creates).json()["result"])
        assert statuses == ["queued", "queued", "running"]
    finally:
        if worker is not None:
            worker.terminate()
            output, _ = worker.communicate(timeout=20)
            assert worker.returncode == 0, output
        served.kill()
