"""The project config: wrangler.toml / wrangler.json / wrangler.jsonc, vars and local secrets.

Read once, at the edge, into frozen dataclasses that the rest of pyflow is handed; nothing else
reads the config file, the dotenv files or the working directory. Validation follows wrangler's
rules (plus a few pyflow needs, such as bindings being Python identifiers), and every error
names the file, the key path and the bad value.
"""

from __future__ import annotations

import json
import keyword
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from pyflow_cli.engine.entrypoint import IMPLICIT_DEPENDENCIES_DATE, IMPLICIT_DEPENDENCIES_FLAG
from pyflow_cli.engine.errors import ConfigError, NotFoundError
from pyflow_cli.project import dotenv, jsonc, resources
from pyflow_cli.project.fields import ENV_KEYS, TOP_LEVEL_KEYS, Fields, join, show
from pyflow_cli.project.resources import D1DatabaseConfig, KvNamespaceConfig, R2BucketConfig
from pyflow_cli.project.unemulated import UnemulatedBinding, unemulated_bindings

CONFIG_FILE_NAMES = ("wrangler.json", "wrangler.jsonc", "wrangler.toml")
"""Config file names, in the order they are looked for (wrangler's order)."""

DEFAULT_STEP_LIMIT = 10_000
MAX_STEP_LIMIT = 25_000

WORKFLOW_NAME_RULE = (
    "Workflow names must be 1-64 characters long, start with a letter, number, or underscore, "
    "and may only contain letters, numbers, underscores, or hyphens."
)
_WORKFLOW_NAME = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9_-]{0,63}")
_WORKFLOW_KEYS = frozenset({"name", "binding", "class_name", "script_name", "limits", "schedules"})
_REQUIRED_WORKFLOW_KEYS = {
    "name": "the name CLI commands use",
    "binding": "the env.<BINDING> name user code uses",
    "class_name": "the WorkflowEntrypoint subclass in main",
}


@dataclass(frozen=True)
class WorkflowConfig:
    """One ``[[workflows]]`` entry."""

    name: str
    binding: str
    class_name: str
    script_name: str | None = None
    step_limit: int = DEFAULT_STEP_LIMIT
    schedules: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProjectConfig:
    """Everything pyflow needs from a project's config, with the selected environment applied."""

    config_path: Path
    root: Path
    name: str
    main: Path
    compatibility_date: str | None
    compatibility_flags: tuple[str, ...]
    workflows: tuple[WorkflowConfig, ...]
    vars: Mapping[str, object]
    secrets: Mapping[str, str]
    crons: tuple[str, ...]
    env_name: str | None
    kv_namespaces: tuple[KvNamespaceConfig, ...] = ()
    r2_buckets: tuple[R2BucketConfig, ...] = ()
    d1_databases: tuple[D1DatabaseConfig, ...] = ()
    unemulated: tuple[UnemulatedBinding, ...] = ()  # bindings pyflow cannot serve (AI, Queues...)

    def workflow(self, name: str) -> WorkflowConfig:
        """The workflow called ``name``; NotFoundError listing the defined ones otherwise."""
        for workflow in self.workflows:
            if workflow.name == name:
                return workflow
        where = "[[workflows]]" if self.config_path.suffix == ".toml" else '"workflows"'
        raise NotFoundError(
            f'Workflow "{name}" is not defined in {self.config_path.name} '
            f"(defined: {join(w.name for w in self.workflows)}). Check the {where} name."
        )


def find_config(start: Path) -> Path:
    """The config file in ``start`` or its nearest parent that has one, as wrangler finds it."""
    start = start.resolve()
    for directory in (start, *start.parents):
        for file_name in CONFIG_FILE_NAMES:
            candidate = directory / file_name
            if candidate.is_file():
                return candidate
    raise ConfigError(
        f"No wrangler.toml, wrangler.json or wrangler.jsonc found in {start} or its parents. "
        "Run `pyflow init` to create a project, or pass -c PATH."
    )


def load_project(cwd: Path, config_path: Path | None = None, env: str | None = None) -> ProjectConfig:
    """Read and validate the project config found from ``cwd`` (or at ``config_path``).

    With ``env``, keys of ``[env.<env>]`` override the top level as in wrangler: ``name``
    defaults to ``<name>-<env>``; ``vars`` and ``workflows`` are not inherited (empty unless the
    section sets them); ``main``, compatibility settings and ``triggers`` are inherited.
    """
    path = _config_path(cwd, config_path)
    raw = _read_config(path)
    fields = Fields(path.name)
    fields.known_keys(raw, TOP_LEVEL_KEYS, "top-level")
    layers = _Layers(raw, _env_section(fields, raw, env), env)
    root = path.parent

    if "name" not in raw:
        raise fields.error("name", 'required key is missing. Set it to the Worker name, e.g. "my-app".')
    name = fields.string(raw["name"], "name")
    if env is not None:
        own = layers.get("name", inherited=False)
        name = fields.string(*own) if own else f"{name}-{env}"

    date = layers.get("compatibility_date")
    flags = layers.get("compatibility_flags")
    workflows_value = layers.get("workflows", inherited=False)
    vars_value = layers.get("vars", inherited=False)
    triggers = layers.get("triggers")
    workflows = _workflows(fields, *workflows_value) if workflows_value else ()
    variables = fields.table(*vars_value) if vars_value else {}
    vars_path = vars_value[1] if vars_value else "vars"
    for workflow in workflows:
        if workflow.binding in variables:
            raise fields.error(
                f"{vars_path}.{workflow.binding}",
                f'the name is already the binding of workflow "{workflow.name}". '
                "Rename the variable or the binding.",
            )
    storage = _storage_bindings(fields, layers)
    _check_unique_bindings(fields, workflows, storage, variables, vars_path)
    return ProjectConfig(
        config_path=path,
        root=root,
        name=name,
        main=_main(fields, layers, root),
        compatibility_date=fields.date(*date) if date else None,
        compatibility_flags=fields.strings(*flags) if flags else (),
        workflows=workflows,
        vars=MappingProxyType(dict(variables)),
        secrets=MappingProxyType(_secrets(root, env)),
        crons=_crons(fields, *triggers) if triggers else (),
        env_name=env,
        kv_namespaces=storage.kv,
        r2_buckets=storage.r2,
        d1_databases=storage.d1,
        unemulated=unemulated_bindings(lambda key: layers.get(key, inherited=False), path.name),
    )


def implicit_step_dependencies(compatibility_date: str | None, flags: Sequence[str]) -> bool:
    """Whether Python ``step.do`` runs in implicit-dependency mode rather than legacy ``depends=``.

    Cloudflare switches the default by compatibility date; either flag pins the mode.
    """
    if IMPLICIT_DEPENDENCIES_FLAG in flags:
        return True
    if "no_python_workflows_implicit_dependencies" in flags or compatibility_date is None:
        return False
    return compatibility_date >= IMPLICIT_DEPENDENCIES_DATE


class _Layers:
    """Looks a key up in the selected ``[env.<name>]`` section, then (if inherited) the top level,
    returning the value with the key path to name in errors."""

    def __init__(
        self, top: Mapping[str, object], section: Mapping[str, object] | None, env: str | None
    ) -> None:
        self.top = top
        self.section = section
        self.prefix = f"env.{env}." if env is not None else ""

    def get(self, key: str, inherited: bool = True) -> tuple[object, str] | None:
        if self.section is not None:
            if key in self.section:
                return self.section[key], self.prefix + key
            if not inherited:
                return None
        if key in self.top:
            return self.top[key], key
        return None


def _config_path(cwd: Path, config_path: Path | None) -> Path:
    if config_path is None:
        return find_config(cwd)
    path = (cwd / config_path).resolve()
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist. Check the -c/--config path.")
    if path.suffix not in (".toml", ".json", ".jsonc"):
        raise ConfigError(
            f'Config file {path} has an unsupported extension "{path.suffix}". '
            "Use a .toml, .json or .jsonc file."
        )
    return path


def _read_config(path: Path) -> dict[str, object]:
    text = _read_text(path)
    data: object
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix == ".jsonc":
            data = jsonc.loads(text)
        else:
            data = json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: invalid TOML: {exc}. Fix the syntax.") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path.name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}. Fix the syntax."
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: expected an object at the top level, got {show(data)}.")
    return data


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}. Check the file.") from exc


def _env_section(fields: Fields, raw: Mapping[str, object], env: str | None) -> dict[str, object] | None:
    if env is None:
        return None
    envs = fields.table(raw.get("env", {}), "env")
    if env not in envs:
        raise ConfigError(
            f'{fields.label}: environment "{env}" is not defined (defined: {join(envs)}). '
            f"Add an [env.{env}] section or choose another -e/--env."
        )
    section = fields.table(envs[env], f"env.{env}")
    fields.known_keys(section, ENV_KEYS, f"env.{env}")
    return section


def _main(fields: Fields, layers: _Layers, root: Path) -> Path:
    found = layers.get("main")
    if found is None:
        raise fields.error(
            "main", 'required key is missing. Set it to the entry module, e.g. "src/entry.py".'
        )
    text = fields.string(*found)
    main = (root / text).resolve()
    if not main.is_file():
        raise fields.error(
            found[1], f"{show(text)} does not exist (looked for {main}). Create it or fix main."
        )
    return main


@dataclass(frozen=True)
class _Storage:
    kv: tuple[KvNamespaceConfig, ...]
    r2: tuple[R2BucketConfig, ...]
    d1: tuple[D1DatabaseConfig, ...]
    where: tuple[tuple[str, str], ...]  # (binding, key path of its entry), in config order


def _storage_bindings(fields: Fields, layers: _Layers) -> _Storage:
    """The KV, R2 and D1 sections (not inherited by an environment, as in wrangler)."""
    kv = layers.get("kv_namespaces", inherited=False)
    r2 = layers.get("r2_buckets", inherited=False)
    d1 = layers.get("d1_databases", inherited=False)
    storage = _Storage(resources.kv_namespaces(fields, *kv) if kv else (),
                       resources.r2_buckets(fields, *r2) if r2 else (),
                       resources.d1_databases(fields, *d1) if d1 else (), ())
    where: list[tuple[str, str]] = []
    for found, bindings in ((kv, [e.binding for e in storage.kv]), (r2, [e.binding for e in storage.r2]),
                            (d1, [e.binding for e in storage.d1])):
        where += [(binding, f"{found[1]}[{i}]") for i, binding in enumerate(bindings) if found]
    return _Storage(storage.kv, storage.r2, storage.d1, tuple(where))


def _check_unique_bindings(fields: Fields, workflows: Sequence[WorkflowConfig], storage: _Storage,
                           variables: Mapping[str, object], vars_path: str) -> None:
    """Every ``env.<NAME>`` is one thing: a workflow, a storage binding or a variable."""
    owners = {w.binding: f'workflow "{w.name}"' for w in workflows}
    for binding, where in storage.where:
        if binding in owners:
            raise fields.error(f"{where}.binding",
                               f"{show(binding)} is already the binding of {owners[binding]}. "
                               "Each binding needs its own name.")
        owners[binding] = where
    for name in variables:
        if name in owners and not any(w.binding == name for w in workflows):
            raise fields.error(f"{vars_path}.{name}",
                               f"the name is already the binding of {owners[name]}. "
                               "Rename the variable or the binding.")


def _crons(fields: Fields, value: object, path: str) -> tuple[str, ...]:
    triggers = fields.table(value, path)
    fields.known_keys(triggers, frozenset({"crons"}), path)
    return fields.crons(triggers["crons"], f"{path}.crons") if "crons" in triggers else ()


def _workflows(fields: Fields, value: object, path: str) -> tuple[WorkflowConfig, ...]:
    workflows: list[WorkflowConfig] = []
    for i, entry in enumerate(fields.tables(value, path)):
        where = f"{path}[{i}]"
        workflow = _workflow(fields, entry, where)
        for j, other in enumerate(workflows):
            for key in ("name", "binding"):
                if getattr(other, key) == getattr(workflow, key):
                    raise fields.error(
                        f"{where}.{key}",
                        f"{show(getattr(workflow, key))} is already the {key} of "
                        f"{path}[{j}]. Each workflow needs its own {key}.",
                    )
        workflows.append(workflow)
    return tuple(workflows)


def _workflow(fields: Fields, entry: Mapping[str, object], where: str) -> WorkflowConfig:
    fields.known_keys(entry, _WORKFLOW_KEYS, where)
    for key, meaning in _REQUIRED_WORKFLOW_KEYS.items():
        if key not in entry:
            raise fields.error(f"{where}.{key}", f"required key is missing. Set it to {meaning}.")
    name = fields.string(entry["name"], f"{where}.name")
    if not _WORKFLOW_NAME.fullmatch(name):
        raise fields.error(
            f"{where}.name", f"{show(name)} is not a valid workflow name. {WORKFLOW_NAME_RULE}"
        )
    binding = _identifier(fields, entry["binding"], f"{where}.binding", "MY_WORKFLOW")
    class_name = _identifier(fields, entry["class_name"], f"{where}.class_name", "MyWorkflow")
    script = entry.get("script_name")
    return WorkflowConfig(
        name=name,
        binding=binding,
        class_name=class_name,
        script_name=None if script is None else fields.string(script, f"{where}.script_name"),
        step_limit=_step_limit(fields, entry["limits"], f"{where}.limits")
        if "limits" in entry
        else DEFAULT_STEP_LIMIT,
        schedules=fields.crons(entry["schedules"], f"{where}.schedules") if "schedules" in entry else (),
    )


def _identifier(fields: Fields, value: object, path: str, example: str) -> str:
    """Bindings and class names are Python attribute names in pyflow, so must be identifiers."""
    text = fields.string(value, path)
    if not text.isidentifier() or keyword.iskeyword(text):
        raise fields.error(
            path,
            f"{show(text)} is not a valid Python identifier. Use letters, digits and "
            f'underscores, not starting with a digit, e.g. "{example}".',
        )
    return text


def _step_limit(fields: Fields, value: object, path: str) -> int:
    limits = fields.table(value, path)
    fields.known_keys(limits, frozenset({"steps"}), path)
    if "steps" not in limits:
        return DEFAULT_STEP_LIMIT
    steps = limits["steps"]
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise fields.error(f"{path}.steps", f"expected a positive integer, got {show(steps)}.")
    if steps > MAX_STEP_LIMIT:
        raise fields.error(
            f"{path}.steps",
            f"{steps} is above the maximum of {MAX_STEP_LIMIT}. Use at most {MAX_STEP_LIMIT}.",
        )
    return steps


def _secrets(root: Path, env: str | None) -> dict[str, str]:
    """Local secrets from the first dotenv file found; like wrangler, files are not merged."""
    for base in (".dev.vars", ".env"):
        for file_name in (f"{base}.{env}", base) if env is not None else (base,):
            path = root / file_name
            if path.is_file():
                return dotenv.parse(_read_text(path), file_name)
    return {}
