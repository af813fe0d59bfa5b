"""Pay cart and send invoice, in Python: once a cart is created, poll the cart database until it
is checked out, charge it with the payment processor, then email the invoice.

Each service call is a step with its own retry policy, so the workflow can wait for hours on a
customer and ride out a flaky payment provider without any retry code of its own.
"""

from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import shop
from workers import NonRetryableError, Response, WorkerEntrypoint, WorkflowEntrypoint

# Local stand-ins (src/shop.py) for the example's payment processor and email sender, keeping
# their data in .data/ in the project. The carts are in the D1 database bound as self.env.DB.
DATA = Path(__file__).resolve().parent.parent / ".data"
PAYMENTS = shop.PaymentProcessor(DATA / "payments.sqlite3")
MAILER = shop.Mailer(DATA / "outbox")

MERCHANT_EMAIL = "merchant@example.com"


def gen_email(email, amount):
    message = EmailMessage()
    message["From"] = f"Pet shop <{MERCHANT_EMAIL}>"
    message["To"] = email
    message["Subject"] = "Your invoice"
    message.set_content(
        f"Your invoice for {amount} has been paid. Your products will be shipped shortly."
    )
    return message


class CartInvoicesWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        cart_id = event.payload["cartId"]

        await step.sleep("sleep for a while", "10 seconds")

        # Retrieve the cart from the database: if it hasn't been checked out yet, retry every
        # 2 minutes, 10 times, otherwise give up.
        @step.do(
            "retrieve cart",
            config={
                "retries": {"limit": 10, "delay": "2 minutes", "backoff": "constant"},
                "timeout": "30 seconds",
            },
        )
        async def retrieve_cart():
            cart = await self.env.DB.prepare("SELECT * FROM cart WHERE id = ?").bind(cart_id).first()
            if cart is None:
                raise NonRetryableError(f"cart {cart_id} does not exist")
            if not cart["checked_out"]:
                raise Exception("cart hasn't been checked out yet")
            return {"id": cart["id"], "amount": cart["amount"], "account": {"email": cart["email"]}}

        cart = await retrieve_cart()

        # Proceed to payment, retry 10 times every minute or give up.
        @step.do(
            "payment",
            config={
                "retries": {"limit": 10, "delay": "1 minute", "backoff": "constant"},
                "timeout": "30 seconds",
            },
        )
        async def payment():
            response = await PAYMENTS.charge(cart["id"], cart["amount"])
            if not response["ok"]:
                raise Exception("payment has failed")
            return {"success": True, "amount": cart["amount"], "paymentId": response["paymentId"]}

        paid = await payment()

        # Send the invoice to the customer, retry 10 times every 5 minutes or give up.
        @step.do(
            "send invoice",
            config={
                "retries": {"limit": 10, "delay": "5 minutes", "backoff": "constant"},
                "timeout": "30 seconds",
            },
        )
        async def send_invoice():
            message = gen_email(cart["account"]["email"], paid["amount"])
            try:
                return await MAILER.send(message)
            except OSError as error:
                raise Exception("failed to send invoice") from error

        invoice = await send_invoice()
        return {"cartId": cart_id, "paymentId": paid["paymentId"], "invoice": invoice}


# Default page for admin, and the shop's pretend front end. Remove in production.
class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlsplit(request.url)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        parts = [part for part in url.path.split("/") if part]

        # Get the status of an existing instance, if provided
        if "instanceId" in query:
            instance = await self.env.CART_WORKFLOW.get(query["instanceId"])
            return Response.json({"status": await instance.status()})

        # A shopper creates a cart: store it, and start its workflow
        if parts == ["new"]:
            cart_id = query.get("cartId", "123")
            amount = query.get("amount", "250")
            email = query.get("email", "customer@example.com")
            if not amount.isdigit():
                return Response.json({"error": f"amount must be a whole number, got {amount}"}, status=400)
            await self.env.DB.prepare(
                "INSERT OR REPLACE INTO cart (id, checked_out, amount, email) VALUES (?, 0, ?, ?)"
            ).bind(cart_id, int(amount), email).run()
            instance = await self.env.CART_WORKFLOW.create(params={"cartId": cart_id})
            return Response.json(
                {"id": instance.id, "cartId": cart_id, "details": await instance.status()}
            )

        # The shopper checks the cart out
        if len(parts) == 3 and parts[0] == "carts" and parts[2] == "checkout":
            cart = await self.env.DB.prepare("SELECT id FROM cart WHERE id = ?").bind(parts[1]).first()
            if cart is None:
                return Response.json({"error": f"cart {parts[1]} does not exist"}, status=404)
            await self.env.DB.prepare("UPDATE cart SET checked_out = 1 WHERE id = ?").bind(parts[1]).run()
            return Response.json({"cartId": parts[1], "checkedOut": True})

        # The invoices sent so far
        if parts == ["outbox"]:
            return Response.json([path.name for path in MAILER.sent()])

        return Response(
            "new cart and instance: /new?cartId=123, check it out: POST /carts/123/checkout, "
            "invoices: /outbox, status: ?instanceId=...\n",
            headers={"content-type": "text/plain;charset=UTF-8"},
        )
