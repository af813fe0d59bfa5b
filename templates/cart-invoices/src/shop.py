"""Local stand-ins for the services the Cloudflare example uses, so the project runs offline:

- ``LocalD1``: the D1 cart database (``prepare(sql).bind(...).all()``), on an SQLite file;
- ``PaymentProcessor``: the external payment endpoint, recording charges in the same file;
- ``Mailer``: the Email Workers ``send_email`` binding, writing each message to an outbox folder.

On Cloudflare you would use ``self.env.DB``, a ``fetch`` to your payment provider and
``self.env.SEND_EMAIL`` instead; the workflow's steps would not change shape.
"""

import hashlib
import sqlite3
import uuid
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS cart (
    id TEXT PRIMARY KEY,
    checked_out INTEGER NOT NULL DEFAULT 0,
    amount INTEGER NOT NULL,
    email TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS payment (
    cart_id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    amount INTEGER NOT NULL
);
"""


def connect(path):
    """A connection to the shop database, created with its tables on first use."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=10)
    connection.row_factory = sqlite3.Row
    connection.executescript(SCHEMA)
    return connection


class LocalD1:
    """The slice of D1's API the example uses: ``await db.prepare(sql).bind(*values).all()``."""

    def __init__(self, path):
        self.path = Path(path)

    def prepare(self, sql):
        return Statement(self.path, sql, ())


class Statement:
    def __init__(self, path, sql, values):
        self.path, self.sql, self.values = path, sql, values

    def bind(self, *values):
        return Statement(self.path, self.sql, values)

    async def all(self):
        connection = connect(self.path)
        try:
            rows = connection.execute(self.sql, self.values).fetchall()
            connection.commit()
        finally:
            connection.close()
        return {"results": [dict(row) for row in rows], "success": True}

    async def first(self):
        results = (await self.all())["results"]
        return results[0] if results else None

    async def run(self):
        return await self.all()


class PaymentProcessor:
    """Charges a cart once: a retried charge for the same cart returns the first payment
    (an idempotency key, as real payment APIs offer)."""

    def __init__(self, path):
        self.path = Path(path)

    async def charge(self, cart_id, amount):
        if not isinstance(amount, int) or amount <= 0:
            return {"ok": False, "error": f"invalid amount {amount!r}"}
        connection = connect(self.path)
        try:
            connection.execute(
                "INSERT OR IGNORE INTO payment (cart_id, payment_id, amount) VALUES (?, ?, ?)",
                (cart_id, "pay_" + uuid.uuid4().hex[:12], amount),
            )
            connection.commit()
            row = connection.execute(
                "SELECT payment_id, amount FROM payment WHERE cart_id = ?", (cart_id,)
            ).fetchone()
        finally:
            connection.close()
        return {"ok": True, "paymentId": row["payment_id"], "amount": row["amount"]}


class Mailer:
    """Sends an email by writing it to ``outbox/``; the same message sent twice is one file."""

    def __init__(self, outbox):
        self.outbox = Path(outbox)

    async def send(self, message):
        raw = message.as_bytes()
        self.outbox.mkdir(parents=True, exist_ok=True)
        name = f"{message['To']}-{hashlib.sha256(raw).hexdigest()[:8]}.eml"
        (self.outbox / name).write_bytes(raw)
        return name

    def sent(self):
        """The messages in the outbox, oldest first."""
        if not self.outbox.is_dir():
            return []
        return sorted(self.outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime)
