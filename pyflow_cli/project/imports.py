"""How the user's code is imported: the ``workers`` alias, ``sys.path``, and always-fresh sources.

Project sources are the ``.py`` files under the project root (and under main's directory, if
main lives outside the root), skipping hidden directories, ``__pycache__``, ``node_modules`` and
virtual environments so that a project-local ``.venv`` is neither hashed nor reloaded.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
from collections.abc import Iterable, Sequence
from pathlib import Path

_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "dist-packages"})
_COMPAT_MODULES = {
    "workers": "pyflow_cli.compat.workers",
    "workers.workflows": "pyflow_cli.compat.workflows",
    "js": "pyflow_cli.compat.js",
    "pyodide": "pyflow_cli.compat.pyodide",
    "pyodide.ffi": "pyflow_cli.compat.pyodide_ffi",
    "pyodide.http": "pyflow_cli.compat.pyodide_http",
}


def source_dirs(root: Path, main: Path) -> tuple[Path, ...]:
    """The directory trees holding project sources: the root, and main's directory if outside."""
    return (root,) if main.parent.is_relative_to(root) else (root, main.parent)


def version_id(dirs: Sequence[Path]) -> str:
    """A UUID-shaped sha256 of every project source's path and content: any edit changes it."""
    digest = hashlib.sha256()
    for index, directory in enumerate(dirs):
        for path in _source_files(directory):
            digest.update(f"{index}:{path.relative_to(directory).as_posix()}\0".encode())
            digest.update(path.read_bytes())
            digest.update(b"\0")
    h = digest.hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def install_workers_alias() -> None:
    """Make ``import workers`` / ``workers.workflows``, ``js`` and ``pyodide`` (``.ffi``,
    ``.http``) resolve to pyflow's compat modules.

    The alias stays installed after loading: user code may import them lazily inside a function
    that runs much later. It replaces any real ``workers`` or ``pyodide`` package for this
    process; those only work inside Cloudflare's runtime (Pyodide), and one process cannot hold
    both, so in a process running pyflow the compat modules win. Nothing on disk is touched.
    """
    for alias, target in _COMPAT_MODULES.items():
        sys.modules[alias] = importlib.import_module(target)
    for alias in _COMPAT_MODULES:
        parent, _, child = alias.rpartition(".")
        if parent:
            # `import a.b` finds both in sys.modules and then reads the attribute b of a.
            setattr(sys.modules[parent], child, sys.modules[alias])


def prepare_imports(dirs: Sequence[Path], main: Path) -> None:
    """Put main's directory and the project root first on ``sys.path``, forget previously
    imported project modules, and make project modules load from source from now on.

    ``sys.path`` entries stay after loading, for the same reason as the ``workers`` alias.
    """
    for entry in reversed((str(main.parent), *(str(d) for d in dirs))):
        while entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
    _FINDER.dirs.update(dirs)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    # Forget the modules of every project loaded so far, not only this one: a sibling module of
    # another project with the same name (two projects' `helpers.py`) must not be reused.
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        ours = name == "pyflow_cli" or name.startswith("pyflow_cli.")
        if file and not ours and is_project_file(Path(file), _FINDER.dirs):
            del sys.modules[name]
    importlib.invalidate_caches()  # so a module file created since the last load is found


def is_project_file(path: Path, dirs: Iterable[Path]) -> bool:
    """Whether ``path`` is a project source (under one of ``dirs``, not in a skipped dir)."""
    for directory in dirs:
        if path.is_relative_to(directory):
            # The last of `parents` is "." (the directory itself), which is never skipped.
            parents = list(path.relative_to(directory).parents)[:-1]
            return not any(_skipped(directory / parent) for parent in parents)
    return False


class FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles from source every time, never from ``__pycache__``.

    The bytecode cache is validated by whole-second mtime and size, so an edit saved within a
    second of the last load that keeps the file size would otherwise run stale code on reload.
    """

    def get_code(self, fullname: str) -> types.CodeType:
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)


class _ProjectFinder(importlib.abc.MetaPathFinder):
    """Gives project modules a FreshSourceLoader; leaves every other import alone."""

    def __init__(self) -> None:
        self.dirs: set[Path] = set()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if (
            spec is None
            or spec.origin is None
            or not isinstance(spec.loader, importlib.machinery.SourceFileLoader)
            or not is_project_file(Path(spec.origin), self.dirs)
        ):
            return None
        spec.loader = FreshSourceLoader(fullname, spec.origin)
        return spec


_FINDER = _ProjectFinder()


def _source_files(directory: Path) -> list[Path]:
    files: list[Path] = []
    for current, subdirs, names in os.walk(directory):
        subdirs[:] = [d for d in subdirs if not _skipped(Path(current, d))]
        files.extend(Path(current, n) for n in names if n.endswith(".py"))
    return sorted(files)


def _skipped(directory: Path) -> bool:
    name = directory.name
    return name.startswith(".") or name in _SKIPPED_DIRS or (directory / "pyvenv.cfg").is_file()
