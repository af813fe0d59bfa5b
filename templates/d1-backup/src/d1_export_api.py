"""A LOCAL STAND-IN for D1's export REST API, so the project runs offline.

The Cloudflare example calls the API with ``fetch`` and an API token:

    POST https://api.cloudflare.com/client/v4/accounts/<account_id>/d1/database/<database_id>/export

Cloudflare runs the export on its side and answers with a bookmark, then (once the dump is ready)
with a signed URL to download it from. This module answers with the same JSON shapes: it dumps the
bound D1 database (``self.env.DB``, a real local D1 database) with SQL queries through the binding,
keeps the export jobs and their dumps in ``.data/exports/``, and hands out a ``file://`` URL as the
signed URL. Like the real API, an export is not ready at once: the first status check finds it
still running. Everything else in the project (the database, the bucket) is a real binding.
"""

import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname


class LocalD1ExportApi:
    def __init__(self, db, database_id, data):
        self.db = db
        self.database_id = database_id
        self.exports = Path(data) / "exports"

    async def export(self, account_id, database_id, payload):
        """The API's ``export`` call with ``payload``: ``{"output_format": "polling"}`` starts an
        export, ``{"current_bookmark": bookmark}`` checks on it."""
        if database_id != self.database_id:
            return {"success": False, "errors": [{"message": f"Unknown database {database_id}"}]}
        self.exports.mkdir(parents=True, exist_ok=True)
        bookmark = payload.get("current_bookmark")
        if bookmark is None:
            bookmark = uuid.uuid4().hex
            self._save(bookmark, {"checks": 0})
            return {"success": True, "result": {"at_bookmark": bookmark, "status": "active"}}
        job = self._load(bookmark)
        if job is None:
            return {"success": False, "errors": [{"message": f"Unknown bookmark {bookmark}"}]}
        if job["checks"] == 0:
            self._save(bookmark, {"checks": 1})
            return {"success": True, "result": {"at_bookmark": bookmark, "status": "active"}}
        dump = self.exports / f"{bookmark}.sql"
        if not dump.exists():
            dump.write_text(await self.dump(), encoding="utf-8")
        filename = f"{database_id}-{bookmark[:8]}.sql"
        return {"success": True,
                "result": {"status": "complete", "signed_url": dump.as_uri(), "filename": filename}}

    async def download(self, signed_url):
        """The bytes at ``signed_url``, or None if there is nothing there (a 404)."""
        path = Path(url2pathname(urlsplit(signed_url).path))
        return path.read_bytes() if path.is_file() else None

    async def dump(self):
        """The database as SQL statements that recreate it, read through the D1 binding."""
        lines = ["PRAGMA defer_foreign_keys=TRUE;"]
        tables = await self.db.prepare(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql IS NOT NULL "
            "AND substr(name, 1, 7) != 'sqlite_' ORDER BY rowid").all()
        for table in tables["results"]:
            lines.append(f"{table['sql']};")
            quoted = '"' + table["name"].replace('"', '""') + '"'
            for row in await self.db.prepare(f"SELECT * FROM {quoted}").raw():
                lines.append(f"INSERT INTO {quoted} VALUES({','.join(literal(v) for v in row)});")
        others = await self.db.prepare(
            "SELECT sql FROM sqlite_schema WHERE type IN ('index', 'trigger', 'view') "
            "AND sql IS NOT NULL").all()
        lines += [f"{item['sql']};" for item in others["results"]]
        return "\n".join(lines) + "\n"

    def _save(self, bookmark, job):
        (self.exports / f"{bookmark}.json").write_text(json.dumps(job), encoding="utf-8")

    def _load(self, bookmark):
        path = self.exports / f"{bookmark}.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def literal(value):
    """A value as SQL: D1 hands a BLOB over as a list of byte values."""
    if value is None:
        return "NULL"
    if isinstance(value, list):
        return "X'" + bytes(value).hex() + "'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)
