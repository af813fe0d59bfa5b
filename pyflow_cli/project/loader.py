"""Loads the user's entry module (``main``) and finds the classes the config names in it.

Every failure is a one-line UserCodeError pointing at the user's own file and line (never at
pyflow's frames), with the original exception kept as ``__cause__`` for ``--debug``.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import traceback
import types
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyflow_cli.engine.errors import UserCodeError
from pyflow_cli.engine.escapes import contain
from pyflow_cli.project.config import ProjectConfig
from pyflow_cli.project.imports import (
    FreshSourceLoader,
    install_workers_alias,
    is_project_file,
    prepare_imports,
    source_dirs,
    version_id,
)


@dataclass(frozen=True)
class LoadedModule:
    """A freshly executed entry module and the version id of the sources it was loaded from."""

    module: types.ModuleType
    version_id: str
    main_path: str
    """``main`` relative to the project root (``src/entry.py``), as messages show it."""


def load_user_module(project: ProjectConfig) -> LoadedModule:
    """Import ``project.main`` afresh, with ``workers`` resolving to pyflow's compat modules.

    Project modules imported before (the entry module and its siblings) are forgotten first, so
    calling this again after an edit runs the new code everywhere.
    """
    main = project.main
    shown = _relative(main, project.root)
    if not main.is_file():
        raise UserCodeError(
            f"Entry module {shown} (main in {project.config_path.name}) does not exist. "
            "Create it or fix main."
        )
    dirs = source_dirs(project.root, main)
    install_workers_alias()
    prepare_imports(dirs, main)
    version = version_id(dirs)
    # A name of its own per source version, so nothing can mistake it for a user module.
    name = "pyflow_user_" + version.replace("-", "")[:16]
    loader = FreshSourceLoader(name, str(main))
    spec = importlib.machinery.ModuleSpec(name, loader, origin=str(main))
    spec.has_location = True
    module = importlib.util.module_from_spec(spec)
    # Registered before running, as `import` does: dataclasses and typing look modules up here.
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except BaseException as exc:  # sys.exit() at import time is the module's error too
        del sys.modules[name]
        if contain(exc) is exc and not isinstance(exc, Exception):
            raise  # this process's own Ctrl-C or SIGTERM, arriving during the import
        raise UserCodeError(_describe(exc, dirs, project.root, shown)) from exc
    return LoadedModule(module=module, version_id=version, main_path=shown)


def resolve_class(
    loaded: LoadedModule,
    class_name: str,
    base: type,
    config_file: str,
    workflow: str | None = None,
) -> type:
    """The class ``class_name`` in the loaded module, checked to subclass ``base``.

    ``config_file`` and ``workflow`` say where the name came from, for the error message.
    """
    namespace = vars(loaded.module)
    if class_name not in namespace:
        source = (
            f'class_name of workflow "{workflow}" in {config_file}'
            if workflow is not None
            else f"named in {config_file}"
        )
        found = [
            name
            for name, value in namespace.items()
            if isinstance(value, type)
            and (value.__module__ == loaded.module.__name__ or _strict_subclass(value, base))
        ]
        raise UserCodeError(
            f'Class "{class_name}" ({source}) is not defined in {loaded.main_path} '
            f"(found: {', '.join(found) or 'no classes'}). Define it there or fix the name."
        )
    value = namespace[class_name]
    if not isinstance(value, type) or not issubclass(value, base):
        what = "" if isinstance(value, type) else f" (it is a {type(value).__name__})"
        raise UserCodeError(
            f"{class_name} in {loaded.main_path} is not a {base.__name__} subclass{what}. "
            f"Declare it as `class {class_name}({base.__name__}):` with "
            f"`from workers import {base.__name__}`."
        )
    return value


def _strict_subclass(value: type, base: type) -> bool:
    return value is not base and issubclass(value, base)


def _describe(exc: BaseException, dirs: Sequence[Path], root: Path, main: str) -> str:
    """``<file>:<line>: <Type>: <message>`` at the innermost point inside the project."""
    kind = type(exc).__name__
    if isinstance(exc, SyntaxError) and exc.filename and is_project_file(Path(exc.filename), dirs):
        # A syntax error has no frame of its own in the file that failed to compile.
        return f"{_relative(Path(exc.filename), root)}:{exc.lineno}: {kind}: {exc.msg}"
    text = str(exc).strip().splitlines()
    detail = f"{kind}: {text[0]}" if text else kind
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if is_project_file(Path(frame.filename), dirs):
            return f"{_relative(Path(frame.filename), root)}:{frame.lineno}: {detail}"
    return f"{main}: {detail}"


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
