"""The ``step`` object user code receives: Cloudflare Python Workflows' step API.

``step.do`` has two decorator modes, chosen per project like Cloudflare chooses them
(``implicit_step_dependencies`` in the project config):

* legacy — ``@step.do(name, depends=[other_step], concurrent=False, config=None)``: the decorated
  function's non-``ctx`` parameters receive the results of ``depends``, in order;
* implicit — ``@step.do(name=None, *, concurrent=False, config=None)``: a parameter named like an
  earlier decorated step receives that step's result (running it first if needed).

In both, a parameter named ``ctx`` receives the step context, and calling the decorated function
runs the step. pyflow also takes the direct form ``await step.do("name", fn, config=...)``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pyflow_cli.engine import attempts, waits
from pyflow_cli.engine.entrypoint import IMPLICIT_DEPENDENCIES_DATE, IMPLICIT_DEPENDENCIES_FLAG
from pyflow_cli.engine.errors import WorkflowFatalError
from pyflow_cli.engine.lifetime import Lifetime, RollbackSpec
from pyflow_cli.engine.retry import CONFIG_DOCS, InvalidStepConfig, validate_config
from pyflow_cli.engine.serde import JsonDict

StepFunction = Callable[..., Any]


class DecoratedStep:
    """What ``@step.do(...)`` returns: awaiting a call runs the step and gives its result."""

    def __init__(self, step: WorkflowStep, name: str, func: StepFunction,
                 depends: Sequence[Any] | None, concurrent: bool,
                 config: Mapping[str, Any] | None, rollback: dict[str, Any]) -> None:
        self._step = step
        self._step_name = name
        self._func = func
        self._depends = depends
        self._concurrent = concurrent
        self._config = config
        self._rollback = rollback
        self.__name__ = getattr(func, "__name__", name)
        self.__doc__ = getattr(func, "__doc__", None)

    async def __call__(self) -> Any:
        plan = self._step._dependency_plan(self._func, self._depends)
        resolvers = [self._step._resolve(dep) for dep in plan if dep is not _CTX]
        if self._concurrent:
            values = list(await asyncio.gather(*resolvers))
        else:
            values = [await resolver for resolver in resolvers]
        rollback = parse_rollback(self._step_name, **self._rollback)
        return await self._step._run_named(self._step_name, self._func, plan, values, self._config,
                                           rollback)

    def __repr__(self) -> str:
        return f"<step {self._step_name!r}>"


_CTX = object()  # marks the position of the ctx parameter in a dependency plan
LEGACY_NEEDS_NAME = (
    "@step.do needs a step name here: this project runs step.do in legacy mode, where the name "
    'comes first (@step.do("my step", depends=[...])). Name the step, or turn on implicit '
    f'dependencies: set compatibility_date = "{IMPLICIT_DEPENDENCIES_DATE}" or later, or add '
    f'"{IMPLICIT_DEPENDENCIES_FLAG}" to compatibility_flags.')


class WorkflowStep:
    """The ``step`` argument of ``run(event, step)``."""

    def __init__(self, lifetime: Lifetime) -> None:
        self._life = lifetime
        self._implicit = lifetime.definition.implicit_dependencies
        self._closures: dict[str, DecoratedStep] = {}
        self._memo: dict[str, Any] = {}
        self._in_flight: dict[str, asyncio.Future[Any]] = {}

    # -- step.do ------------------------------------------------------------------------------------
    def do(self, *args: Any, **kwargs: Any) -> Any:
        """Decorator (``@step.do(...)``) or direct call (``await step.do("name", fn)``)."""
        if len(args) >= 2 and callable(args[1]) and not isinstance(args[1], DecoratedStep):
            name, fn = args[0], args[1]
            return self._direct(name, fn, kwargs.get("config"), args[2:3], kwargs)
        if len(args) >= 3 and isinstance(args[1], Mapping) and callable(args[2]):
            return self._direct(args[0], args[2], args[1], args[3:4], kwargs)  # JavaScript order
        if self._implicit:
            return self._do_implicit(*args, **kwargs)
        return self._do_legacy(*args, **kwargs)

    def _do_legacy(self, name: str | None = None, depends: Sequence[Any] | None = None,
                   concurrent: bool = False, config: Mapping[str, Any] | None = None,
                   **rollback: Any) -> Callable[[StepFunction], DecoratedStep]:
        if name is None or callable(name):
            raise TypeError(LEGACY_NEEDS_NAME)
        return self._decorator(name, depends, concurrent, config, rollback)

    def _do_implicit(self, name: str | StepFunction | None = None, *, concurrent: bool = False,
                     config: Mapping[str, Any] | None = None, **rollback: Any) -> Any:
        if callable(name):  # bare @step.do
            return self._decorator(None, None, concurrent, config, rollback)(name)
        return self._decorator(name, None, concurrent, config, rollback)

    def _decorator(self, name: str | None, depends: Sequence[Any] | None, concurrent: bool,
                   config: Mapping[str, Any] | None,
                   rollback: dict[str, Any]) -> Callable[[StepFunction], DecoratedStep]:
        def decorate(func: StepFunction) -> DecoratedStep:
            step_name = func.__name__ if name is None else name
            decorated = DecoratedStep(self, step_name, func, depends, concurrent, config, rollback)
            # Cloudflare matches parameters to step names; matching the function name as well
            # lets a step with a descriptive name still be depended on by its function's name.
            self._closures[step_name] = decorated
            self._closures.setdefault(func.__name__, decorated)
            return decorated

        return decorate

    def _dependency_plan(self, func: StepFunction, depends: Sequence[Any] | None) -> list[Any]:
        params = _parameter_names(func)
        if self._implicit:
            plan: list[Any] = []
            for param in params:
                if param in self._closures:
                    plan.append(self._closures[param])
                elif param == "ctx":
                    plan.append(_CTX)
                else:
                    raise TypeError(f"Received unexpected parameter {param}")
            return plan
        others = [p for p in params if p != "ctx"]
        if depends is None and others:
            raise TypeError(
                f"Step has {len(others)} non-ctx parameter(s) but no 'depends' list provided")
        if depends is not None and len(depends) != len(others):
            raise TypeError(f"Step declares {len(others)} non-ctx parameter(s) but 'depends' has "
                            f"{len(depends)} item(s)")
        remaining = iter(depends or ())
        return [_CTX if p == "ctx" else next(remaining) for p in params]

    async def _resolve(self, dependency: Any) -> Any:
        if not isinstance(dependency, DecoratedStep):
            raise TypeError(f"depends items must be functions decorated with @step.do, "
                            f"got {dependency!r}")
        name = dependency._step_name
        if name in self._memo:
            return self._memo[name]
        if name in self._in_flight:
            return await self._in_flight[name]
        return await dependency()

    async def _run_named(self, name: str, func: StepFunction, plan: list[Any], values: list[Any],
                         config: Mapping[str, Any] | None, rollback: RollbackSpec | None) -> Any:
        def body(ctx: JsonDict | None) -> Any:
            supplied = iter(values)
            return func(*[ctx if dep is _CTX else next(supplied) for dep in plan])

        # Others that depend on this step while it runs wait on this future instead of running it.
        running: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._in_flight[name] = running
        try:
            result = await attempts.do_step(self._life, name, body, config, _CTX in plan,
                                              rollback)
        except BaseException as error:
            running.set_exception(error)
            running.exception()  # nobody may be waiting: don't report it as never retrieved
            raise
        finally:
            self._in_flight.pop(name, None)
        running.set_result(result)
        self._memo[name] = result
        return result

    def _direct(self, name: str, fn: Callable[..., Any], config: Mapping[str, Any] | None,
                options: tuple[Any, ...], keywords: Mapping[str, Any]) -> Awaitable[Any]:
        rollback = None
        if options or "rollback" in keywords or "rollback_config" in keywords:
            try:
                rollback = parse_rollback(name, *options, rollback=keywords.get("rollback"),
                                          rollback_config=keywords.get("rollback_config"))
            except WorkflowFatalError as error:
                return _raise(error)  # raised where the call is awaited, like other checks
        wants_ctx = _accepts_ctx(fn)
        return attempts.do_step(self._life, name, (lambda ctx: fn(ctx)) if wants_ctx
                                  else (lambda ctx: fn()), config, wants_ctx, rollback)

    # -- sleeps and events ------------------------------------------------------------------------
    async def sleep(self, name: str, duration: Any) -> None:
        """Pause the workflow for ``duration`` (ms, or a string like ``"1 hour"``)."""
        await waits.sleep(self._life, name, duration)

    async def sleep_until(self, name: str, timestamp: Any) -> None:
        """Pause until ``timestamp``: a ``datetime``, epoch milliseconds or an ISO string."""
        await waits.sleep_until(self._life, name, timestamp)

    async def wait_for_event(self, name: str, event_type: str, /,
                             timeout: Any = "24 hours") -> Any:
        """Wait for an event of ``event_type``; returns ``{payload, type, timestamp}``."""
        return await waits.wait_for_event(self._life, name, event_type, timeout)

    # JavaScript spellings, for code ported line by line.
    sleepUntil = sleep_until

    async def waitForEvent(self, name: str, options: Mapping[str, Any]) -> Any:
        return await self.wait_for_event(name, options["type"],
                                         timeout=options.get("timeout", "24 hours"))


_NO_OPTIONS: Any = object()


def parse_rollback(name: str, options: Any = _NO_OPTIONS, *, rollback: Any = None,
                   rollback_config: Any = None) -> RollbackSpec | None:
    """A step's rollback: ``rollback=fn, rollback_config=...`` keywords, or the JavaScript-style
    options dict ``{"rollback": fn, "rollbackConfig": ...}`` after the function (SPEC §2.12)."""
    if options is not _NO_OPTIONS:
        if not isinstance(options, Mapping):
            raise WorkflowFatalError(f'Rollback options for "{name}" must be an object')
        rollback = options.get("rollback")
        rollback_config = options.get("rollbackConfig", options.get("rollback_config"))
    elif rollback is None and rollback_config is None:
        return None
    if not callable(rollback):
        raise WorkflowFatalError(f'Rollback for "{name}" must be a function')
    if rollback_config is not None:
        try:
            validate_config(rollback_config)
        except InvalidStepConfig:
            raise WorkflowFatalError(f'Rollback config for "{name}" is in a invalid format. '
                                     f"See {CONFIG_DOCS}") from None
    return RollbackSpec(rollback, rollback_config)


async def _raise(error: BaseException) -> Any:
    raise error


def _parameter_names(func: StepFunction) -> tuple[str, ...]:
    """The parameter names of a step function, looked up once per function body."""
    code = getattr(func, "__code__", None)
    names = _PARAMETERS.get(code) if code is not None else None
    if names is None:
        names = tuple(inspect.signature(func).parameters)
        if code is not None:
            _PARAMETERS[code] = names
    return names


_PARAMETERS: dict[Any, tuple[str, ...]] = {}


def _accepts_ctx(fn: Callable[..., Any]) -> bool:
    code = getattr(fn, "__code__", None)
    if code is None:
        return _inspect_accepts_ctx(fn)
    known = _ACCEPTS_CTX.get(code)
    if known is None:
        known = _ACCEPTS_CTX[code] = _inspect_accepts_ctx(fn)
    return known


_ACCEPTS_CTX: dict[Any, bool] = {}  # by code object: a lambda made per call shares its code


def _inspect_accepts_ctx(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return bool(positional) or any(p.kind == p.VAR_POSITIONAL for p in params)
