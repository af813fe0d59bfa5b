"""pyflow's pytest plugin, registered through the ``pytest11`` entry point: installing pyflow is
all a project needs.

    async def test_the_invoice_is_sent(workflow_env, introspect):
        env = workflow_env.env()
        instance = introspect(env.MY_WORKFLOW, "order-1")
        await instance.modify(lambda m: m.disable_sleeps())
        await env.MY_WORKFLOW.create(id="order-1")
        await instance.wait_for_status("complete")

* ``workflow_env`` — a ``WorkflowTestEnv`` running the project (the ``pyflow_project``
  fixture: the nearest directory with a wrangler config at or above the test file, else the
  current directory; or the path of a ``pyflow_project`` marker, relative to the rootdir) with
  its bindings, on a throwaway state directory. ``async def`` tests that use it need no asyncio
  plugin or configuration: this plugin runs them, on the env's event loop.
* ``introspect`` — ``introspect(binding_or_name)`` / ``introspect(binding_or_name, instance_id)``
  gives ``introspect_workflow`` / ``introspect_workflow_instance``, disposed of after the test.
* ``@pytest.mark.pyflow(time="real", hibernate=True)`` — real time instead of the virtual clock;
  hibernate every instance at every wait. ``pytest --pyflow-hibernate`` does the latter for
  every test.

After each test the replay-safety check runs: if a workflow's ``run()`` made different step calls
when it was replayed, the test fails with the step and the line.

Nothing heavy is imported until a test uses a fixture, so the plugin costs nothing elsewhere.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import asyncio

    from pyflow_cli.testing import WorkflowTestEnv

CONFIG_FILES = ("wrangler.toml", "wrangler.json", "wrangler.jsonc")
_RUNNER = pytest.StashKey["asyncio.Runner"]()
_ENV = pytest.StashKey["WorkflowTestEnv"]()
_CHECKED = pytest.StashKey[bool]()
_OURS = pytest.StashKey[bool]()  # the test runs on this plugin's loop, not pytest-asyncio's
_OPTIONS = {"time", "hibernate"}
# pytest-asyncio warns at startup when this option is unset; the tests this plugin runs do not use
# pytest-asyncio's loops, so a project that has pytest-asyncio installed only by chance should not
# have to configure it.
_ASYNCIO_SCOPE_OPTION = "asyncio_default_fixture_loop_scope"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pyflow")
    group.addoption("--pyflow-hibernate", action="store_true", default=False,
                    help="hibernate every workflow instance at every wait, so that every test "
                         "also proves its workflows replay safely")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "pyflow(time='skip', hibernate=False): options of the workflow_env fixture: "
                   "time='real' runs on the system clock; hibernate=True hibernates every "
                   "instance at every wait")
    config.addinivalue_line(
        "markers", "pyflow_project(path): the project the workflow_env fixture runs (relative "
                   "to the rootdir)")
    if config.pluginmanager.hasplugin("asyncio") and not config.getini(_ASYNCIO_SCOPE_OPTION):
        warnings.filterwarnings("ignore", message=f'.*"{_ASYNCIO_SCOPE_OPTION}" is unset',
                                category=pytest.PytestDeprecationWarning)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test that uses ``workflow_env`` on the env's event loop."""
    runner = pyfuncitem.stash.get(_RUNNER, None)
    if not pyfuncitem.stash.get(_OURS, False) or runner is None or \
            not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None  # not ours (pytest-asyncio runs it, or it uses no pyflow fixture)
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    runner.run(pyfuncitem.obj(**arguments))
    pyfuncitem.stash[_CHECKED] = True
    pyfuncitem.stash[_ENV].check_replay()
    return True


@pytest.fixture
def pyflow_project(request: pytest.FixtureRequest) -> Path:
    """The directory of the project ``workflow_env`` runs: a ``pyflow_project`` marker's path,
    else the nearest directory with a wrangler config at or above the test file, else the
    current directory. Override it (in a conftest.py or a test module) to run another one, such
    as a copy of the project in ``tmp_path``."""
    return _project_root(request)


@pytest.fixture
def workflow_env(request: pytest.FixtureRequest, pyflow_project: Path
                 ) -> Iterator[WorkflowTestEnv]:
    """The project under test in a ``WorkflowTestEnv`` (see the module docstring)."""
    from pyflow_cli.engine.errors import PyflowError
    from pyflow_cli.engine.lifetime import EngineOptions
    from pyflow_cli.testing import WorkflowTestEnv

    time, hibernate = _options(request)
    runner = _runner(request)
    try:
        env = WorkflowTestEnv.from_project(
            pyflow_project, time=time,
            options=EngineOptions(force_hibernate=hibernate, poll_interval_s=0.05))
    except PyflowError as error:
        pytest.fail(f"pyflow: {error.message}", pytrace=False)
    runner.run(env.__aenter__())
    request.node.stash[_ENV] = env
    try:
        yield env
        if not request.node.stash.get(_CHECKED, False):
            env.check_replay()
    finally:
        runner.run(env.__aexit__(None, None, None))


@pytest.fixture
def introspect(workflow_env: WorkflowTestEnv, request: pytest.FixtureRequest
               ) -> Iterator[Callable[..., Any]]:
    """``introspect(workflow)`` or ``introspect(workflow, instance_id)``: ``workflow`` is a
    binding (``env.MY_WORKFLOW``), its binding name or the workflow's name."""
    from pyflow_cli.testing import introspect_workflow, introspect_workflow_instance

    opened: list[Any] = []

    def introspect(workflow: Any, instance_id: str | None = None) -> Any:
        binding = _binding(workflow_env, workflow) if isinstance(workflow, str) else workflow
        introspector = (introspect_workflow(binding) if instance_id is None
                        else introspect_workflow_instance(binding, instance_id))
        opened.append(introspector)
        return introspector

    yield introspect
    runner = request.node.stash[_RUNNER]
    for introspector in reversed(opened):
        runner.run(introspector.dispose())


def _binding(workflow_env: WorkflowTestEnv, name: str) -> Any:
    env = workflow_env.env()
    if name in env:
        return env[name]
    for definition in workflow_env.definitions.values():
        if name in (definition.name, definition.binding) and definition.binding in env:
            return env[definition.binding]
    known = ", ".join(sorted(d.binding or d.name for d in workflow_env.definitions.values()))
    raise LookupError(f"No workflow binding or workflow named {name!r} (the project has: {known})")


def _options(request: pytest.FixtureRequest) -> tuple[Any, bool]:
    marker = request.node.get_closest_marker("pyflow")
    options = dict(marker.kwargs) if marker is not None else {}
    unknown = sorted(set(options) - _OPTIONS) + (["a positional argument"]
                                                  if marker is not None and marker.args else [])
    if unknown:
        pytest.fail(f"pyflow marker: unknown option {', '.join(map(str, unknown))}; use "
                    "@pytest.mark.pyflow(time='skip' or 'real', hibernate=True or False)",
                    pytrace=False)
    time = options.get("time", "skip")
    if time not in ("skip", "real"):
        pytest.fail(f"pyflow marker: time must be 'skip' or 'real', got {time!r}", pytrace=False)
    hibernate = bool(options.get("hibernate", False)) or request.config.getoption(
        "--pyflow-hibernate")
    return time, hibernate


def _project_root(request: pytest.FixtureRequest) -> Path:
    marker = request.node.get_closest_marker("pyflow_project")
    if marker is not None:
        if len(marker.args) != 1:
            pytest.fail("pyflow_project marker: give the project's path, "
                        '@pytest.mark.pyflow_project("path/to/project")', pytrace=False)
        root = Path(request.config.rootpath, marker.args[0])
        if not any((root / name).is_file() for name in CONFIG_FILES):
            pytest.fail(f"pyflow_project marker: {root} has no {', '.join(CONFIG_FILES)} (the "
                        "path is relative to the rootdir)", pytrace=False)
        return root
    start = Path(request.node.path).parent
    for directory in (start, *start.parents):
        if any((directory / name).is_file() for name in CONFIG_FILES):
            return directory
    return Path.cwd()


def _runner(request: pytest.FixtureRequest) -> asyncio.Runner:
    """The event loop the test runs on: pytest-asyncio's when it runs the test (its auto mode,
    or a test marked ``asyncio``), else one of this plugin's own."""
    import asyncio

    if request.node.get_closest_marker("asyncio") is not None and \
            request.config.pluginmanager.hasplugin("asyncio"):
        marker = request.node.get_closest_marker("asyncio")
        scope = (marker.kwargs.get("loop_scope") if marker is not None else None) or \
            request.config.getini("asyncio_default_test_loop_scope") or "function"
        try:
            runner: asyncio.Runner = request.getfixturevalue(f"_{scope}_scoped_runner")
        except pytest.FixtureLookupError:
            pytest.fail("pyflow: this test runs under pytest-asyncio, whose event loop pyflow "
                        "could not find; set asyncio_mode = strict (pytest-asyncio's default) so "
                        "that pyflow runs it", pytrace=False)
        request.node.stash[_RUNNER] = runner
        return runner
    own = asyncio.Runner()
    request.addfinalizer(own.close)
    request.node.stash[_RUNNER] = own
    request.node.stash[_OURS] = True
    return own
