"""The shape of the code, read from the code: small modules, control owned by the engine, one
control table, and an engine nobody rewires from outside."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pyflow_cli"
MAX_LINES = 400
# What only the engine may do to a lifetime: its writes, status and pause bookkeeping, its end.
LIFETIME_MUTATORS = frozenset({
    "write_soon", "write_soon_status", "set_status", "request_pause", "cancel_pause",
    "on_end_request", "step_started", "step_finished", "commit_end", "add_waiter",
    "remove_waiter", "take_event"})


def modules(under: Path = PACKAGE) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(under.rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), str(path))


def test_no_module_is_over_400_lines() -> None:
    long = {path.relative_to(ROOT).as_posix(): lines for path in sorted(PACKAGE.rglob("*.py"))
            if (lines := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_nothing_outside_the_engine_touches_a_lifetime() -> None:
    """Control goes through ``Engine.control``; the test harness reads lifetimes through
    ``modifiers.ObservedLifetime``."""
    offenders = []
    for name, tree in modules():
        if name.startswith("pyflow_cli/engine/"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "pyflow_cli.engine.lifetime":
                offenders += [f"{name}: imports Lifetime" for alias in node.names
                              if alias.name == "Lifetime"]
            elif isinstance(node, ast.Attribute) and node.attr in LIFETIME_MUTATORS:
                offenders.append(f"{name}:{node.lineno}: .{node.attr}")
    assert offenders == []


def _engine_like(node: ast.expr) -> bool:
    """An expression that names an engine: ``engine``, ``self.engine``, ``env.engine``..."""
    if isinstance(node, ast.Name):
        return node.id == "engine" or node.id.endswith("_engine")
    return isinstance(node, ast.Attribute) and (node.attr == "engine"
                                                 or node.attr.endswith("_engine"))


def test_no_attribute_of_an_engine_is_assigned_from_outside() -> None:
    """An engine gets what it needs at construction (``env_factory``, ``on_failure``,
    ``test_hooks``) or through its methods (``replace_workflows``)."""
    offenders = []
    for name, tree in [*modules(), *modules(ROOT / "tests"), *modules(ROOT / "benchmarks")]:
        if name == "pyflow_cli/engine/worker.py":
            continue
        for node in ast.walk(tree):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            offenders += [f"{name}:{node.lineno}" for target in targets
                          if isinstance(target, ast.Attribute) and _engine_like(target.value)]
    assert offenders == []


def test_the_control_rules_are_written_once() -> None:
    """The CLI, the API and the explorer take what each action does in each status from
    ``engine/status.py``: no other module lists the terminal statuses, and the explorer's page
    gets the allowed actions from the API."""
    terminal = re.compile(r"""["']complete["'],\s*["']errored["'],\s*["']terminated["']""")
    copies = [path.relative_to(ROOT).as_posix() for path in sorted(PACKAGE.rglob("*.py"))
              if path.name != "status.py" and terminal.search(path.read_text())]
    assert copies == []
    statuses = (PACKAGE / "server/explorer/static/lib/statuses.js").read_text()
    assert '"pause"' in statuses and "allowed.includes" in statuses
    assert 'status === "running"' not in statuses  # no copy of the pause rule
