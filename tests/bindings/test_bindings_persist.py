"""KV, R2 and D1 data is durable and shared: what the Worker wrote is there after SIGKILL and a
restart of ``pyflow dev``, the ``pyflow kv|r2|d1`` commands see and change the same data while
``pyflow dev`` runs and after it stops, and the D1 database is a SQLite file ``sqlite3`` opens."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from bindingkit import Dev, copy_app, pyflow, pyflow_json

D1_FILE = "d1/7b0c7d6e-1a2b-4c3d-8e9f-0a1b2c3d4e5f.sqlite"


def test_data_survives_sigkill_and_is_shared_with_the_cli(tmp_path: Path) -> None:
    root = copy_app(tmp_path / "app")
    dev = Dev(root)
    try:
        dev.get("/d1", sql="CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        dev.get("/d1", sql="INSERT INTO notes (body) VALUES ('from the worker')")
        stored = dev.http.post("/r2/put", params={"key": "docs/a.txt"}, content=b"worker bytes")
        assert stored.status_code == 200
        dev.get("/kv/put", key="greeting", value="from the worker")
        dev.kill()  # the writes above returned: nothing may be lost

        dev = Dev(root)
        assert dev.get("/kv", key="greeting") == {"value": "from the worker"}
        assert dev.http.get("/r2", params={"key": "docs/a.txt"}).content == b"worker bytes"
        assert dev.get("/d1", sql="SELECT body FROM notes") == [{"body": "from the worker"}]

        # The CLI, while pyflow dev runs: it reads what the Worker wrote...
        got = pyflow(root, "kv", "key", "get", "greeting", "--binding", "KV", "--local")
        assert (got.returncode, got.stdout) == (0, b"from the worker")
        got = pyflow(root, "r2", "object", "get", "test-bucket/docs/a.txt", "--pipe")
        assert (got.returncode, got.stdout) == (0, b"worker bytes")
        rows = pyflow_json(root, "d1", "execute", "test-db", "--command", "SELECT body FROM notes", "--json")
        assert rows[0]["results"] == [{"body": "from the worker"}]
        # ...and the Worker reads what the CLI writes.
        assert pyflow(root, "kv", "key", "put", "greeting", "from the cli", "--binding", "KV").returncode == 0
        assert pyflow(root, "r2", "object", "put", "test-bucket/docs/b.txt", "--pipe",
                      stdin=b"cli bytes").returncode == 0
        assert pyflow(root, "d1", "execute", "DB", "--command",
                      "INSERT INTO notes (body) VALUES ('from the cli')").returncode == 0
        assert dev.get("/kv", key="greeting") == {"value": "from the cli"}
        assert dev.http.get("/r2", params={"key": "docs/b.txt"}).content == b"cli bytes"
        assert dev.get("/d1", sql="SELECT body FROM notes ORDER BY id") == [
            {"body": "from the worker"}, {"body": "from the cli"}]
    finally:
        dev.stop()

    # After pyflow dev stops, the CLI still sees everything, and sqlite3 opens the D1 database.
    listed = pyflow_json(root, "kv", "key", "list", "--binding", "KV")
    assert listed == [{"name": "greeting"}]
    assert pyflow(root, "r2", "object", "get", "test-bucket/docs/b.txt", "--pipe").stdout == b"cli bytes"
    with closing(sqlite3.connect(root / "state" / D1_FILE)) as conn:
        assert conn.execute("SELECT body FROM notes ORDER BY id").fetchall() == [
            ("from the worker",), ("from the cli",)]
