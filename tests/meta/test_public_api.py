"""The public surface and the import rules that keep the engine pure and `pyflow --help` fast."""

from __future__ import annotations

import subprocess
import sys

import pyflow_cli

PUBLIC = {
    "ExecutionContext", "Headers", "NonRetryableError", "PyflowError", "QueueFullError",
    "RateLimitedError", "Request", "Response", "TooManyRequestsError", "WorkerEntrypoint",
    "WorkflowEntrypoint", "WorkflowError", "WorkflowEvent", "WorkflowFatalError",
    "WorkflowStep", "WorkflowTimeoutError", "__version__",
}


TESTING = {
    "InstanceIntrospector", "InstanceModifier", "IntrospectionError", "NonDeterminismError",
    "Selector", "StepFailedError", "WorkflowIntrospector", "WorkflowTestEnv", "introspectWorkflow",
    "introspectWorkflowInstance", "introspect_workflow", "introspect_workflow_instance",
}


def test_public_api_is_pinned() -> None:
    assert set(pyflow_cli.__all__) == PUBLIC
    for name in pyflow_cli.__all__:
        assert hasattr(pyflow_cli, name)


def test_the_testing_kit_is_pinned() -> None:
    import pyflow_cli.testing as testing

    assert set(testing.__all__) == TESTING
    for name in testing.__all__:
        assert hasattr(testing, name)


def test_engine_imports_nothing_but_the_standard_library() -> None:
    code = ("import sys, pyflow_cli.engine.worker, pyflow_cli.engine.replay; "
            "bad = [m for m in ('aiosqlite', 'sqlite3', 'rich', 'httpx', 'starlette', 'uvicorn', "
            "'typer', 'watchfiles', 'pyflow_cli.storage', 'pyflow_cli.cli') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_compat_modules_expose_the_cloudflare_names() -> None:
    from pyflow_cli.compat import workers, workflows

    assert workers.WorkflowEntrypoint is pyflow_cli.WorkflowEntrypoint
    assert workers.NonRetryableError is workflows.NonRetryableError
    assert workers.Response is pyflow_cli.Response
