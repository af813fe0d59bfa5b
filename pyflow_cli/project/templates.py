"""Project templates: where they are, what each one is, and how a project is made from one.

A template is a folder under ``templates/`` holding a complete project (``wrangler.toml``,
``src/entry.py``, ``README.md``, ``tests/``) plus a ``template.toml`` that only ``pyflow init``
reads (the commands it suggests next). The first line of the README is the template's one-line
description.

Templates are found inside the installed package (``pyflow_cli/templates``, where the wheel puts
the checkout's ``templates/``) or, in an editable install, in the checkout itself.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyflow_cli.engine.errors import ConfigError, ConflictError, InvalidInputError, NotFoundError

DEFAULT_TEMPLATE = "workflows-starter"
"""What ``pyflow init`` uses when it cannot ask (not a terminal) and no template was named."""

TEMPLATE_FILE = "template.toml"
"""Read by ``pyflow init`` only; not copied into the project."""

_PACKAGE_DIR = Path(__file__).resolve().parents[1]
# Never copied: state, caches and local secrets left behind by running a template in place.
_IGNORED_NAMES = frozenset({"__pycache__", ".pyflow", ".data", ".pytest_cache", ".mypy_cache",
                            ".ruff_cache", ".venv", ".dev.vars", ".env"})
_IGNORED_SUFFIXES = (".pyc", ".pyo")
_NAME_MAX = 64
_NAME_INVALID = re.compile(r"[^a-z0-9_-]+")
_NAME_LINE = re.compile(r'^name\s*=\s*(".*?"|\'.*?\')\s*(#.*)?$')
FALLBACK_PROJECT_NAME = "pyflow-app"


@dataclass(frozen=True)
class Template:
    """One template: its name (the folder name), where it is, and what ``init`` says about it."""

    name: str
    path: Path
    description: str
    next_commands: tuple[str, ...]
    """Commands to run once ``pyflow dev`` is up, in another terminal (from ``template.toml``)."""


def template_dirs(package_dir: Path = _PACKAGE_DIR) -> tuple[Path, ...]:
    """Where templates may be, in order: inside the installed package, then (editable installs)
    the checkout's ``templates/`` next to the package."""
    return (package_dir / "templates", package_dir.parent / "templates")


def templates_root(package_dir: Path = _PACKAGE_DIR) -> Path:
    """The first existing templates folder; NotFoundError naming the places looked in."""
    candidates = template_dirs(package_dir)
    for candidate in candidates:
        if candidate.is_dir() and any(_template_folders(candidate)):
            return candidate
    looked = " and ".join(str(c) for c in candidates)
    raise NotFoundError(f"No project templates found (looked in {looked}). Reinstall pyflow-cli.")


def list_templates(root: Path | None = None) -> list[Template]:
    """Every template, the default first, then by name."""
    root = root if root is not None else templates_root()
    found = [load_template(folder) for folder in _template_folders(root)]
    return sorted(found, key=lambda t: (t.name != DEFAULT_TEMPLATE, t.name))


def get_template(name: str, root: Path | None = None) -> Template:
    """The template called ``name``; NotFoundError listing the available ones otherwise."""
    templates = list_templates(root)
    for template in templates:
        if template.name == name:
            return template
    names = ", ".join(t.name for t in templates)
    raise NotFoundError(
        f'Template "{name}" does not exist (available: {names}). '
        "Run `pyflow init --list` to see what each one is."
    )


def load_template(folder: Path) -> Template:
    """Read a template folder's description (README's first line) and ``template.toml``."""
    readme = folder / "README.md"
    description = ""
    if readme.is_file():
        first = readme.read_text(encoding="utf-8").split("\n", 1)[0]
        description = first.lstrip("#").strip()
    commands: tuple[str, ...] = ()
    meta = folder / TEMPLATE_FILE
    if meta.is_file():
        try:
            data = tomllib.loads(meta.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{meta}: invalid TOML: {exc}. Fix the template.") from exc
        value = data.get("next", [])
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise ConfigError(f"{meta}: next must be a list of command strings, got {value!r}.")
        commands = tuple(value)
    return Template(folder.name, folder, description, commands)


def project_name(directory: Path) -> str:
    """The Worker name for a project in ``directory``: its folder name, lower-cased, with anything
    but letters, digits, ``_`` and ``-`` turned into ``-`` (so it is a valid workflow name too)."""
    text = _NAME_INVALID.sub("-", directory.resolve().name.lower()).strip("-")
    text = text[:_NAME_MAX].rstrip("-")
    return text or FALLBACK_PROJECT_NAME


def existing_entries(directory: Path) -> list[str]:
    """Names in ``directory`` (empty when it does not exist); InvalidInputError if it is a file."""
    if directory.exists() and not directory.is_dir():
        raise InvalidInputError(f"{directory} exists and is not a directory. Choose another directory.")
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def create_project(template: Template, directory: Path, *, force: bool = False,
                   name: str | None = None) -> list[Path]:
    """Copy ``template`` into ``directory`` and name the project; the files written, relative.

    A non-empty ``directory`` is refused (ConflictError) unless ``force``, which writes the
    template's files over whatever is there and leaves other files alone.
    """
    entries = existing_entries(directory)
    if entries and not force:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise ConflictError(
            f"Directory {directory} is not empty ({shown}). Choose a new directory, or pass "
            "--force to write the template into it."
        )
    name = name or project_name(directory)
    written: list[Path] = []
    try:
        for source, relative in template_files(template.path):
            target = directory / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if relative == Path("wrangler.toml"):
                target.write_text(rename_project(source.read_text(encoding="utf-8"), name),
                                  encoding="utf-8")
            else:
                shutil.copyfile(source, target)
            written.append(relative)
    except OSError as exc:
        raise InvalidInputError(
            f"Cannot write the project into {directory}: {exc.strerror or exc}. "
            "Check the permissions or choose another directory."
        ) from exc
    return written


def template_files(folder: Path) -> Iterator[tuple[Path, Path]]:
    """``(source, path relative to the template)`` for every file a project gets, sorted."""
    for source in sorted(folder.rglob("*")):
        relative = source.relative_to(folder)
        if not source.is_file() or _ignored(relative.parts):
            continue
        if relative == Path(TEMPLATE_FILE):
            continue
        yield source, relative


def rename_project(config: str, name: str) -> str:
    """``config`` (a wrangler.toml) with its top-level ``name`` set to ``name``."""
    lines = config.split("\n")
    quoted = json.dumps(name)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("["):
            break  # past the top-level keys
        match = _NAME_LINE.match(stripped)
        if match:
            comment = f"  {match.group(2)}" if match.group(2) else ""
            lines[i] = f"name = {quoted}{comment}"
            return "\n".join(lines)
    return f"name = {quoted}\n" + config


def _template_folders(root: Path) -> Iterator[Path]:
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and not _ignored((folder.name,)) and (folder / "wrangler.toml").is_file():
            yield folder


def _ignored(parts: Sequence[str]) -> bool:
    return any(part in _IGNORED_NAMES for part in parts) or parts[-1].endswith(_IGNORED_SUFFIXES)
