"""Runs CartInvoicesWorkflow on a virtual clock: the 10-second sleep and the 2-minute polls of
the cart take no wall time. Each test works on a copy of the project, so its .data/ is its own,
and ``WorkflowTestEnv.from_project`` gives it its own D1 cart database."""

import asyncio
import shutil
from pathlib import Path

from pyflow_cli.testing import WorkflowTestEnv

PROJECT = Path(__file__).resolve().parents[1]
WORKFLOW = "cart-invoices-workflow"


def copy_project(tmp_path):
    target = tmp_path / "project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns(".data", ".pyflow", "__pycache__"))
    return target


async def add_cart(env, cart_id, amount=250, email="ada@example.com"):
    """Create the cart table (the project's migrations) and a cart in the env's D1 database."""
    await env.apply_d1_migrations()
    db = env.env().DB
    await db.prepare("INSERT INTO cart (id, amount, email) VALUES (?, ?, ?)").bind(
        cart_id, amount, email
    ).run()
    return db


def steps(details, name):
    return next(step for step in details["steps"] if step["name"] == name)


def test_the_invoice_is_sent_once_the_cart_is_checked_out(tmp_path):
    project = copy_project(tmp_path)

    async def scenario():
        async with WorkflowTestEnv.from_project(project) as env:
            db = await add_cart(env, "123")
            instance_id = await env.service.create(WORKFLOW, params={"cartId": "123"})
            # Let the workflow find the cart still open three times...
            while True:
                await env.advance()
                details = await env.service.describe(WORKFLOW, instance_id)
                retrieve = [s for s in details["steps"] if s["name"] == "retrieve cart-1"]
                if retrieve and len(retrieve[0]["attempts"]) >= 3:
                    break
            # ...then the customer checks out.
            await db.prepare("UPDATE cart SET checked_out = 1 WHERE id = ?").bind("123").run()
            record = await env.run_until_done(WORKFLOW, instance_id)
            return record, await env.service.describe(WORKFLOW, instance_id)

    record, details = asyncio.run(scenario())
    assert record.status == "complete", details["error"]
    attempts = steps(details, "retrieve cart-1")["attempts"]
    assert [a["success"] for a in attempts] == [False, False, False, True]
    assert [a.get("retryDelayMs") for a in attempts[:3]] == [120_000] * 3  # constant backoff
    assert details["output"]["paymentId"].startswith("pay_")
    invoices = list((project / ".data" / "outbox").glob("*.eml"))
    assert [p.name for p in invoices] == [details["output"]["invoice"]]
    assert "Your invoice for 250 has been paid" in invoices[0].read_text()


def test_a_cart_that_does_not_exist_fails_at_once(tmp_path):
    project = copy_project(tmp_path)

    async def scenario():
        async with WorkflowTestEnv.from_project(project) as env:
            await env.apply_d1_migrations()
            instance_id = await env.service.create(WORKFLOW, params={"cartId": "nope"})
            record = await env.run_until_done(WORKFLOW, instance_id)
            return record, await env.service.describe(WORKFLOW, instance_id)

    record, details = asyncio.run(scenario())
    assert record.status == "errored"
    attempts = steps(details, "retrieve cart-1")["attempts"]
    assert len(attempts) == 1  # a NonRetryableError is not retried
    assert "cart nope does not exist" in attempts[0]["error"]["message"]


def test_the_workflow_gives_up_after_ten_retries_of_an_open_cart(tmp_path):
    project = copy_project(tmp_path)

    async def scenario():
        async with WorkflowTestEnv.from_project(project) as env:
            await add_cart(env, "abandoned")
            instance_id = await env.service.create(WORKFLOW, params={"cartId": "abandoned"})
            record = await env.run_until_done(WORKFLOW, instance_id)
            return record, await env.service.describe(WORKFLOW, instance_id)

    record, details = asyncio.run(scenario())
    assert record.status == "errored"
    assert len(steps(details, "retrieve cart-1")["attempts"]) == 11
    assert not (project / ".data" / "outbox").exists()
