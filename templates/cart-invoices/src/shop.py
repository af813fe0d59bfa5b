"""Local stand-ins for the two outside services the Cloudflare example uses, so the project runs
offline (the cart database is a real D1 binding, ``self.env.DB``):

- ``PaymentProcessor``: the external payment endpoint, recording charges in ``.data/payments.sqlite3``;
- ``Mailer``: the Email Workers ``send_email`` binding, writing each message to an outbox folder.

On Cloudflare you would use a ``fetch`` to your payment provider and ``self.env.SEND_EMAIL``
instead; the workflow's steps would not change shape.
"""

import hashlib
import sqlite3
import uuid
from pathlib import Path


class PaymentProcessor:
    """Charges a cart once: a retried charge for the same cart returns the first payment
    (an idempotency key, as real payment APIs offer)."""

    def __init__(self, path):
        self.path = Path(path)

    def _connect(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute("CREATE TABLE IF NOT EXISTS payment (cart_id TEXT PRIMARY KEY, "
                           "payment_id TEXT NOT NULL, amount INTEGER NOT NULL)")
        return connection

    async def charge(self, cart_id, amount):
        if not isinstance(amount, int) or amount <= 0:
            return {"ok": False, "error": f"invalid amount {amount!r}"}
        connection = self._connect()
        try:
            connection.execute(
                "INSERT OR IGNORE INTO payment (cart_id, payment_id, amount) VALUES (?, ?, ?)",
                (cart_id, "pay_" + uuid.uuid4().hex[:12], amount),
            )
            connection.commit()
            payment_id, charged = connection.execute(
                "SELECT payment_id, amount FROM payment WHERE cart_id = ?", (cart_id,)
            ).fetchone()
        finally:
            connection.close()
        return {"ok": True, "paymentId": payment_id, "amount": charged}


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
