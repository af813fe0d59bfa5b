"""Local stand-ins for the services the Cloudflare example uses, so the project runs offline:

- ``LocalD1Api``: D1's export REST API (``POST .../d1/database/<id>/export``), answering with the
  same JSON shapes, over SQLite databases in ``.data/databases/``. Like the real API, an export
  is not ready at once: the first status check finds it still running, the next one gets a
  ``signed_url`` to download the SQL dump from.
- ``LocalBucket``: the R2 bucket the dump is stored in, a folder (``.data/backups/``).
"""

import json
import sqlite3
import uuid
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

SAMPLE = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL);
INSERT INTO customers (name, email) VALUES
    ('Ada Lovelace', 'ada@example.com'),
    ('Grace Hopper', 'grace@example.com'),
    ('Katherine Johnson', 'katherine@example.com');
"""


class LocalD1Api:
    def __init__(self, data):
        self.databases = Path(data) / "databases"
        self.exports = Path(data) / "exports"

    def database(self, database_id):
        """The database's file; a small sample database is created the first time."""
        path = self.databases / f"{database_id}.sqlite3"
        if not path.exists():
            self.databases.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path)
            try:
                connection.executescript(SAMPLE)
            finally:
                connection.close()
        return path

    async def export(self, account_id, database_id, payload):
        """``POST /accounts/<account_id>/d1/database/<database_id>/export`` with ``payload``:
        ``{"output_format": "polling"}`` starts an export, ``{"current_bookmark": b}`` checks it."""
        self.exports.mkdir(parents=True, exist_ok=True)
        bookmark = payload.get("current_bookmark")
        if bookmark is None:
            self.database(database_id)
            bookmark = uuid.uuid4().hex
            self._save(bookmark, {"database": database_id, "checks": 0})
            return {"success": True, "result": {"at_bookmark": bookmark, "status": "active"}}
        job = self._load(bookmark)
        if job is None or job["database"] != database_id:
            return {"success": False, "errors": [{"message": f"Unknown bookmark {bookmark}"}]}
        if job["checks"] == 0:
            job["checks"] = 1
            self._save(bookmark, job)
            return {"success": True, "result": {"at_bookmark": bookmark, "status": "active"}}
        dump = self.exports / f"{bookmark}.sql"
        if not dump.exists():
            dump.write_text(self._dump(database_id), encoding="utf-8")
        filename = f"{database_id}-{bookmark[:8]}.sql"
        return {
            "success": True,
            "result": {"status": "complete", "signed_url": dump.as_uri(), "filename": filename},
        }

    async def download(self, signed_url):
        """The bytes at ``signed_url``, or None if there is nothing there (a 404)."""
        path = Path(url2pathname(urlsplit(signed_url).path))
        return path.read_bytes() if path.is_file() else None

    def _dump(self, database_id):
        connection = sqlite3.connect(self.database(database_id))
        try:
            return "\n".join(connection.iterdump()) + "\n"
        finally:
            connection.close()

    def _save(self, bookmark, job):
        (self.exports / f"{bookmark}.json").write_text(json.dumps(job), encoding="utf-8")

    def _load(self, bookmark):
        path = self.exports / f"{bookmark}.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


class LocalBucket:
    """The slice of an R2 bucket the example uses: ``await bucket.put(key, data)``."""

    def __init__(self, folder):
        self.folder = Path(folder)

    async def put(self, key, data):
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / key).write_bytes(data)

    def keys(self):
        return sorted(p.name for p in self.folder.glob("*")) if self.folder.is_dir() else []
