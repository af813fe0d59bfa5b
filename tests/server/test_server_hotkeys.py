"""Keys in the ``pyflow dev`` terminal: ``b`` opens the Local Explorer in the browser, ``x`` stops
the server; the terminal is left as it was found."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
from serverkit import dev_command, free_port, write_project

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="terminals are POSIX here")


def test_b_opens_the_explorer_and_x_stops_the_server(tmp_path: Path) -> None:
    root = write_project(tmp_path / "app")
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    port = free_port()
    primary, secondary = pty.openpty()
    before = termios.tcgetattr(secondary)
    env = {**os.environ, "BROWSER": str(browser), "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([*dev_command(), "--port", str(port), "--persist-to", str(root / "state"),
                                "--no-reload"], cwd=root, stdin=secondary, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
        reader.start()
        deadline = time.monotonic() + 20
        while not any("[b] open the Local Explorer in a browser" in line for line in lines):
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.05)
        os.write(primary, b"b")
        deadline = time.monotonic() + 10
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert opened.read_text().split() == [f"http://127.0.0.1:{port}/cdn-cgi/local/explorer/"]
        os.write(primary, b"x")
        assert process.wait(15) == 0
        assert termios.tcgetattr(secondary) == before  # cbreak mode undone
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        os.close(primary)
        os.close(secondary)
