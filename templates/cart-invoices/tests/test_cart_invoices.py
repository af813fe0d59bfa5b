"""Tests of CartInvoicesWorkflow. pyflow's pytest plugin (installed with pyflow, nothing to
configure) runs the project on a virtual clock (``workflow_env``): the 10-second sleep and the
2-minute polls of the cart take no wall time. ``introspect`` makes the payment provider fail, or
skips the waits. Each test runs a copy of the project (the ``pyflow_project`` fixture below), so
the payments and invoices it writes to .data/ are its own; its D1 cart database is the env's."""

import shutil
from pathlib import Path

import pytest

from pyflow_cli import Request

PROJECT = Path(__file__).resolve().parents[1]
WORKFLOW = "cart-invoices-workflow"


@pytest.fixture
def pyflow_project(tmp_path):
    """The project workflow_env runs: a copy, in this test's own folder."""
    target = tmp_path / "project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns(".data", ".pyflow", "__pycache__"))
    return target


async def add_cart(workflow_env, cart_id, checked_out=False):
    """Create the cart table (the project's migrations) and a cart of 250."""
    await workflow_env.apply_d1_migrations()
    await workflow_env.env().DB.prepare(
        "INSERT INTO cart (id, checked_out, amount, email) VALUES (?, ?, 250, 'ada@example.com')"
    ).bind(cart_id, int(checked_out)).run()


async def attempts(workflow_env, instance_id, step):
    details = await workflow_env.service.describe(WORKFLOW, instance_id)
    return next(s for s in details["steps"] if s["name"] == step)["attempts"]


async def test_the_invoice_is_sent_once_the_cart_is_checked_out(workflow_env, pyflow_project):
    await add_cart(workflow_env, "123", checked_out=True)
    instance_id = await workflow_env.service.create(WORKFLOW, params={"cartId": "123"})
    record = await workflow_env.run_until_done(WORKFLOW, instance_id)

    assert record.status == "complete"
    output = (await workflow_env.service.describe(WORKFLOW, instance_id))["output"]
    assert output["paymentId"].startswith("pay_")
    [invoice] = (pyflow_project / ".data" / "outbox").glob("*.eml")
    assert invoice.name == output["invoice"]
    assert "Your invoice for 250 has been paid" in invoice.read_text()


async def test_a_flaky_payment_provider_is_retried(workflow_env, introspect):
    await add_cart(workflow_env, "123", checked_out=True)
    instance = introspect(workflow_env.env().CART_WORKFLOW, "order")
    await instance.modify(
        lambda m: m.mock_step_error("payment", ConnectionError("payment provider down"), times=2)
    )
    await workflow_env.env().CART_WORKFLOW.create(id="order", params={"cartId": "123"})

    await instance.wait_for_status("complete")
    tried = await attempts(workflow_env, "order", "payment-1")
    assert [a["success"] for a in tried] == [False, False, True]
    assert tried[0]["error"] == {"name": "ConnectionError", "message": "payment provider down"}


async def test_the_workflow_gives_up_after_ten_retries_of_an_open_cart(workflow_env, pyflow_project):
    await add_cart(workflow_env, "abandoned")
    instance_id = await workflow_env.service.create(WORKFLOW, params={"cartId": "abandoned"})
    start = workflow_env.clock.now_ms()
    record = await workflow_env.run_until_done(WORKFLOW, instance_id)

    assert record.status == "errored"
    assert len(await attempts(workflow_env, instance_id, "retrieve cart-1")) == 11
    assert workflow_env.clock.now_ms() - start == 10_000 + 10 * 120_000  # the sleep, 10 polls
    assert not (pyflow_project / ".data" / "outbox").exists()


async def test_the_sleep_and_the_polls_can_be_skipped(workflow_env, introspect):
    await add_cart(workflow_env, "abandoned")
    instance = introspect(workflow_env.env().CART_WORKFLOW, "quick")

    async def hurry(m):
        await m.disable_sleeps()
        await m.disable_retry_delays([{"name": "retrieve cart"}])

    await instance.modify(hurry)
    start = workflow_env.clock.now_ms()
    await workflow_env.env().CART_WORKFLOW.create(id="quick", params={"cartId": "abandoned"})
    await instance.wait_for_status("errored")
    assert workflow_env.clock.now_ms() == start


async def test_a_cart_that_does_not_exist_fails_at_once(workflow_env, introspect):
    await workflow_env.apply_d1_migrations()
    instance = introspect(workflow_env.env().CART_WORKFLOW, "nope")
    await workflow_env.env().CART_WORKFLOW.create(id="nope", params={"cartId": "nope"})

    await instance.wait_for_status("errored")
    tried = await attempts(workflow_env, "nope", "retrieve cart-1")
    assert len(tried) == 1  # a NonRetryableError is not retried
    assert "cart nope does not exist" in tried[0]["error"]["message"]


async def test_the_shop_creates_a_cart_and_checks_it_out(workflow_env, introspect):
    await workflow_env.apply_d1_migrations()
    carts = introspect("CART_WORKFLOW")  # every instance created from now on
    worker = workflow_env.worker()
    await worker.fetch(Request("http://localhost:8787/new?cartId=7&amount=40"))
    [instance] = await carts.get()
    await worker.fetch(Request("http://localhost:8787/carts/7/checkout", method="POST"))

    await instance.wait_for_status("complete")
    assert (await instance.get_output())["cartId"] == "7"
