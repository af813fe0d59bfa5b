"""The start banner of ``pyflow dev`` and ``pyflow serve``: version, bindings (secrets by name
only), crons, state."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from pyflow_cli.engine.admission import NO_RULES, PlatformRules
from pyflow_cli.project import unemulated
from pyflow_cli.project.config import ProjectConfig
from pyflow_cli.project.scripts import is_external
from pyflow_cli.storage.url import DB_NAME, PostgresLocation, SqliteLocation, StoreLocation

_MAX_VALUE = 60


def pyflow_version() -> str:
    try:
        return metadata.version("pyflow-cli")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def banner_lines(project: ProjectConfig, state: Path, time_scale: float = 1.0,
                 store: StoreLocation | None = None, rules: PlatformRules = NO_RULES,
                 command: str = "dev") -> list[str]:
    """The lines printed before the server starts; ``store`` if instances are not stored in the
    state directory (``--store``); the platform's limits, if ``rules`` set any; ``command``, the
    one that started it (``dev``, ``serve``)."""
    title = f" ⛅️ pyflow {pyflow_version()} ({command})"
    lines = [title, "─" * (len(title) + 1)]
    if project.secrets:
        source = next((name for name in (".dev.vars", ".env")
                       if any((project.root / f).is_file() for f in _variants(name, project))),
                      ".dev.vars")
        lines.append(f"Using secrets defined in {source}")
    bindings: list[str] = []
    if project.workflows:
        bindings.append("- Workflows:")
        bindings += [f"  - {w.binding}: {w.class_name} ({w.name}"
                     + (f", defined in {w.script_name})" if is_external(project, w) else ")")
                     for w in project.workflows]
    bindings += storage_binding_lines(project)
    if project.vars:
        bindings.append("- Vars:")
        bindings += [f"  - {name}: {_shown(value)}" for name, value in project.vars.items()]
    if project.secrets:
        bindings.append("- Secrets:")
        bindings += [f"  - {name}" for name in project.secrets]
    if bindings:
        lines.append("Your Worker has access to the following bindings:")
        lines += bindings
    else:
        lines.append("No bindings found.")
    lines += unemulated.banner_lines(project.unemulated)
    crons = [f'  - "{c}": scheduled handler' for c in project.crons]
    crons += [f'  - "{c}": workflow {w.name}' for w in project.workflows for c in w.schedules]
    if crons:
        lines.append("Cron triggers (UTC):")
        lines += crons
    lines.append(f"Instances are stored in {_store(store, state, project.root)}")
    if project.kv_namespaces or project.r2_buckets or project.d1_databases:
        lines.append(f"KV, R2 and D1 data are stored in {_relative(state, project.root)} "
                     "(kv/, r2/, d1/)")
    limits = rules.describe()
    if limits:
        lines.append("Platform limits:")
        lines += [f"  - {limit}" for limit in limits]
    if time_scale != 1.0:
        lines.append(f"Time runs {time_scale:g}x faster for sleeps, retry delays and event timeouts "
                     "(--time-scale).")
    return lines


def storage_binding_lines(project: ProjectConfig) -> list[str]:
    """KV namespaces, D1 databases and R2 buckets, in wrangler's order, each in ``local`` mode."""
    lines: list[str] = []
    for title, entries in (
        ("KV Namespaces", [(n.binding, n.id) for n in project.kv_namespaces]),
        ("D1 Databases", [(d.binding, d.database_name) for d in project.d1_databases]),
        ("R2 Buckets", [(b.binding, b.bucket_name) for b in project.r2_buckets]),
    ):
        if entries:
            lines.append(f"- {title}:")
            lines += [f"  - {binding}: {resource} (local)" for binding, resource in entries]
    return lines


def _variants(name: str, project: ProjectConfig) -> tuple[str, ...]:
    return (f"{name}.{project.env_name}", name) if project.env_name else (name,)


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE - 3] + "..."


def _store(store: StoreLocation | None, state: Path, root: Path) -> str:
    if isinstance(store, PostgresLocation):
        return f"PostgreSQL, {store.shown} (schema {store.schema})"  # never with its password
    if isinstance(store, SqliteLocation) and store.path != state / DB_NAME:
        return _relative(store.path, root)
    return _relative(state, root)


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def companion_lines(project: ProjectConfig, companions: Sequence[ProjectConfig]) -> list[str]:
    """The other Workers served with this one (``pyflow dev -c a -c b``) and their workflows."""
    if not companions:
        return []
    lines = [f'Also serving (workflows only; HTTP goes to "{project.name}"):']
    for companion in companions:
        defined = [w.name for w in companion.workflows if not is_external(companion, w)]
        shown = os.path.relpath(companion.config_path, project.root)
        lines.append(f'  - Worker "{companion.name}" ({shown}): '
                     f"{', '.join(defined) or 'no workflows'}")
    return lines
