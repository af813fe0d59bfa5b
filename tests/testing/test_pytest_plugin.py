"""The pytest plugin, as a user's project sees it: a real ``pytest`` in a subprocess, in a project
with no pytest or asyncio configuration, with pytest-asyncio installed (strict mode, its
default), without it, and in its auto mode."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

WRANGLER = """\
name = "{name}"
main = "src/entry.py"
compatibility_date = "2025-10-01"

[[workflows]]
name = "orders"
binding = "ORDERS"
class_name = "Orders"

[[workflows]]
name = "lottery"
binding = "LOTTERY"
class_name = "Lottery"
"""

ENTRY = '''\
import random

from workers import Response, WorkerEntrypoint, WorkflowEntrypoint


class Orders(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do("charge card", config={"retries": {"limit": 3, "delay": "1 minute"}})
        async def charge():
            return {"charged": event.payload.get("amount", 0)}

        payment = await charge()
        await step.sleep("cool off", "7 days")
        approval = await step.wait_for_event("approval", "approved", timeout="1 hour")
        return {**payment, "by": approval.payload["by"]}


class Lottery(WorkflowEntrypoint):
    async def run(self, event, step):
        ticket = await step.do(f"draw {random.random()}", lambda: "ticket")
        await step.sleep("wait for the draw", "10 seconds")
        return ticket


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        instance = await self.env.ORDERS.create(params={"amount": 30})
        return Response.json({"id": instance.id})
'''

TESTS = '''\
import pytest

from pyflow_cli.compat.http import Request
from pyflow_cli.engine.clock import SystemClock


async def test_a_failing_charge_recovers(workflow_env, introspect):
    env = workflow_env.env()
    instance = introspect(env.ORDERS, "order-1")

    async def setup(m):
        await m.mock_step_error("charge card", ConnectionError("card API down"), times=2)
        await m.mock_event(type="approved", payload={"by": "ada"})

    await instance.modify(setup)
    await env.ORDERS.create(id="order-1", params={"amount": 12})
    await instance.wait_for_status("complete")
    assert await instance.get_output() == {"charged": 12, "by": "ada"}


async def test_orders_made_by_the_worker_are_introspected(workflow_env, introspect):
    orders = introspect("orders")
    await orders.modify_all(lambda m: m.mock_event(type="approved", payload={"by": "bob"}))
    response = await workflow_env.worker().fetch(Request("http://shop/"))
    [instance] = await orders.get()
    assert instance.id == (await response.json())["id"]
    await instance.wait_for_status("complete")
    assert (await instance.get_output())["by"] == "bob"


@pytest.mark.pyflow(hibernate=True)
async def test_orders_replay_safely(workflow_env, introspect):
    instance = introspect("ORDERS", "steady")
    await instance.modify(lambda m: m.mock_event(type="approved", payload={"by": "cy"}))
    await workflow_env.env().ORDERS.create(id="steady")
    await instance.wait_for_status("complete")
    assert len(workflow_env.registry.state("orders", "steady").lifetimes) >= 2  # it hibernated


@pytest.mark.pyflow(time="real")
async def test_real_time(workflow_env):
    assert isinstance(workflow_env.clock, SystemClock)


async def test_the_lottery(workflow_env):
    instance_id = await workflow_env.service.create("lottery")
    await workflow_env.run_until_done("lottery", instance_id)
'''

EXPECTED_FAILURES = '''\
import pytest


@pytest.mark.pyflow(hibernate=True)
async def test_the_lottery_under_hibernation(workflow_env):
    instance_id = await workflow_env.service.create("lottery", "draw")
    await workflow_env.run_until_done("lottery", instance_id)


@pytest.mark.pyflow(speed="fast")
async def test_a_misspelt_option(workflow_env):
    pass


@pytest.mark.pyflow_project("other")
async def test_another_project(workflow_env):
    assert workflow_env.project.name == "other"
    assert workflow_env.project.root.name == "other"


@pytest.mark.pyflow_project("missing")
async def test_a_missing_project(workflow_env):
    pass
'''


OVERRIDE = '''\
from pathlib import Path

import pytest


@pytest.fixture
def pyflow_project():
    return Path(__file__).resolve().parents[1] / "other"


async def test_an_overridden_project(workflow_env):
    assert workflow_env.project.name == "other"
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plugin") / "shop"
    for where, name in ((root, "shop"), (root / "other", "other")):
        (where / "src").mkdir(parents=True)
        (where / "wrangler.toml").write_text(WRANGLER.format(name=name))
        (where / "src" / "entry.py").write_text(ENTRY)
    (root / "tests").mkdir()
    (root / "tests" / "test_shop.py").write_text(TESTS)
    (root / "checks").mkdir()
    (root / "checks" / "test_checks.py").write_text(EXPECTED_FAILURES)
    (root / "checks" / "test_override.py").write_text(OVERRIDE)
    return root


def run_pytest(project: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """pytest in ``project``; returns the process and each test's outcome (with its message), by
    name (``folder/name`` for the tests outside ``tests/``)."""
    report = project / "report.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           f"--junitxml={report}", *args], cwd=project, capture_output=True,
                          text=True, timeout=120, check=False)
    outcomes: dict[str, str] = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        folder = case.get("classname", "").split(".")[0]
        name = case.get("name", "") if folder == "tests" else f"{folder}/{case.get('name')}"
        outcomes[name] = "passed" if failure is None else f"{failure.tag}: {failure.get('message')}"
    return done, outcomes


@pytest.fixture(scope="module")
def default_run(project: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Every test of the project, with pytest-asyncio installed and left in its strict mode."""
    return run_pytest(project, "tests", "checks")


def test_a_project_with_no_configuration_runs_its_workflow_tests_without_warnings(
        default_run: tuple[subprocess.CompletedProcess[str], dict[str, str]]) -> None:
    done, outcomes = default_run
    ours = {name: outcome for name, outcome in outcomes.items() if "/" not in name}
    assert set(ours.values()) == {"passed"} and len(ours) == 5, done.stdout + done.stderr
    assert "warning" not in (done.stdout + done.stderr).lower()


def test_the_plugin_reports_replay_problems_and_its_own_misuse(
        default_run: tuple[subprocess.CompletedProcess[str], dict[str, str]], project: Path) -> None:
    done, outcomes = default_run
    assert done.returncode == 1
    lottery = outcomes["checks/test_the_lottery_under_hibernation"]
    assert lottery.startswith("failure: pyflow_cli.testing.replay.NonDeterminismError: run() of "
                              'lottery/draw is not deterministic: replayed after hibernation, it '
                              'did not call step.do("draw 0.')
    assert "(src/entry.py:20) again" in lottery and "(src/entry.py:20) instead" in lottery
    assert outcomes["checks/test_a_misspelt_option"] == (
        'error: failed on setup with "Failed: pyflow marker: unknown option speed; use '
        "@pytest.mark.pyflow(time='skip' or 'real', hibernate=True or False)\"")
    assert outcomes["checks/test_another_project"] == "passed"
    assert outcomes["checks/test_an_overridden_project"] == "passed"
    assert outcomes["checks/test_a_missing_project"] == (
        f'error: failed on setup with "Failed: pyflow_project marker: {project / "missing"} has no '
        'wrangler.toml, wrangler.json, wrangler.jsonc (the path is relative to the rootdir)"')


def test_without_pytest_asyncio_and_with_forced_hibernation_everywhere(project: Path) -> None:
    done, outcomes = run_pytest(project, "-p", "no:asyncio", "--pyflow-hibernate", "tests")
    assert "warning" not in (done.stdout + done.stderr).lower()
    assert outcomes.pop("test_the_lottery").startswith(
        "failure: pyflow_cli.testing.replay.NonDeterminismError: run() of lottery/")
    assert set(outcomes.values()) == {"passed"}


def test_pytest_asyncio_auto_mode_runs_them_on_its_own_loop(project: Path, tmp_path: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\nasyncio_mode = "auto"\n'
                                            'asyncio_default_fixture_loop_scope = "function"\n')
    try:
        done, outcomes = run_pytest(project, "tests", "-k", "not lottery")
    finally:
        (project / "pyproject.toml").unlink()
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(outcomes.values()) == {"passed"} and len(outcomes) == 4


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    code = textwrap.dedent("""
        import sys, pyflow_cli.pytest_plugin
        heavy = ('aiosqlite', 'sqlite3', 'rich', 'httpx', 'starlette', 'uvicorn', 'typer',
                 'watchfiles', 'pyflow_cli.storage', 'pyflow_cli.testing', 'pyflow_cli.service')
        print([name for name in heavy if name in sys.modules])
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
