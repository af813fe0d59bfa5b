import importlib
import re
import signal
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyflow_cli.engine.errors import NonRetryableError, UserCodeError
from pyflow_cli.project.config import ProjectConfig, load_project
from pyflow_cli.project.loader import LoadedModule, load_user_module, resolve_class

CONFIG = 'name = "app"\nmain = "src/entry.py"\n'


@pytest.fixture(autouse=True)
def compat(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[types.ModuleType]:
    """pyflow's compat ``workers`` module (a stand-in while it is not written yet), with the
    import system restored after the test."""
    try:
        workers = importlib.import_module("pyflow_cli.compat.workers")
        importlib.import_module("pyflow_cli.compat.workflows")
    except ImportError:
        workers = types.ModuleType("pyflow_cli.compat.workers")
        workflows = types.ModuleType("pyflow_cli.compat.workflows")
        for name in ("WorkflowEntrypoint", "WorkerEntrypoint"):
            setattr(workers, name, type(name, (), {"__module__": workers.__name__}))
        workflows.NonRetryableError = NonRetryableError  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, workers.__name__, workers)
        monkeypatch.setitem(sys.modules, workflows.__name__, workflows)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    saved = {name: sys.modules.get(name) for name in ("workers", "workers.workflows")}
    yield workers
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).is_relative_to(tmp_path.resolve()):
            del sys.modules[name]


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def project(root: Path, entry: str, **files: str) -> ProjectConfig:
    write(root, {"wrangler.toml": CONFIG, "src/entry.py": entry, **files})
    return load_project(root)


def load(root: Path, entry: str, **files: str) -> LoadedModule:
    return load_user_module(project(root, entry, **files))


def load_error(root: Path, entry: str, **files: str) -> UserCodeError:
    with pytest.raises(UserCodeError) as info:
        load(root, entry, **files)
    return info.value


# --- loading -----------------------------------------------------------------------------------


def test_workers_imports_resolve_to_pyflow_compat_modules(tmp_path: Path, compat: types.ModuleType) -> None:
    loaded = load(
        tmp_path,
        """
        import workers.workflows
        from workers import WorkflowEntrypoint
        from workers.workflows import NonRetryableError

        ENTRYPOINT = WorkflowEntrypoint
        ERROR = NonRetryableError
        SUBMODULE = workers.workflows
        """,
    )
    assert loaded.module.ENTRYPOINT is compat.WorkflowEntrypoint
    assert loaded.module.ERROR is sys.modules["pyflow_cli.compat.workflows"].NonRetryableError
    assert loaded.module.SUBMODULE is sys.modules["pyflow_cli.compat.workflows"]
    assert loaded.main_path == "src/entry.py"


def test_workers_alias_stays_for_imports_made_later_inside_functions(
    tmp_path: Path, compat: types.ModuleType
) -> None:
    loaded = load(tmp_path, "def later():\n    import workers\n    return workers\n")
    assert loaded.module.later() is compat


def test_sibling_modules_and_packages_in_main_directory_are_importable(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        "from helpers import X\nfrom pkg.mod import Y\nfrom shared import Z\n",
        **{
            "src/helpers.py": "X = 1\n",
            "src/pkg/__init__.py": "",
            "src/pkg/mod.py": "Y = 2\n",
            "shared.py": "Z = 3\n",  # at the project root
        },
    )
    assert (loaded.module.X, loaded.module.Y, loaded.module.Z) == (1, 2, 3)


def test_dataclasses_with_postponed_annotations_work_in_user_code(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        """
        from __future__ import annotations
        from dataclasses import dataclass

        @dataclass
        class Order:
            id: int
        """,
    )
    assert loaded.module.Order(3).id == 3


def test_reload_after_edit_runs_new_code_in_entry_and_siblings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # users' default; CI may set -B
    config = project(tmp_path, "from helpers import X\nVALUE = 1\n", **{"src/helpers.py": "X = 1\n"})
    first = load_user_module(config)
    # Same sizes, within the same second: a bytecode cache check would not see the change.
    write(tmp_path, {"src/entry.py": "from helpers import X\nVALUE = 2\n", "src/helpers.py": "X = 2\n"})
    second = load_user_module(config)
    assert (first.module.VALUE, first.module.X) == (1, 1)
    assert (second.module.VALUE, second.module.X) == (2, 2)
    assert first.version_id != second.version_id


def test_version_id_is_uuid_shaped_and_stable_for_unchanged_sources(tmp_path: Path) -> None:
    config = project(tmp_path, "A = 1\n")
    first, second = load_user_module(config), load_user_module(config)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", first.version_id)
    assert first.version_id == second.version_id


def test_version_id_changes_when_any_project_py_file_changes(tmp_path: Path) -> None:
    config = project(tmp_path, "A = 1\n", **{"src/helpers.py": "X = 1\n"})
    ids = [load_user_module(config).version_id]
    for files in ({"src/helpers.py": "X = 2\n"}, {"lib/new.py": ""}, {"tool.py": "# hi\n"}):
        write(tmp_path, files)
        ids.append(load_user_module(config).version_id)
    assert len(set(ids)) == len(ids)


def test_version_id_ignores_environments_caches_and_hidden_directories(tmp_path: Path) -> None:
    config = project(tmp_path, "A = 1\n")
    before = load_user_module(config).version_id
    write(
        tmp_path,
        {
            ".venv/lib/site.py": "",
            "env/pyvenv.cfg": "",
            "env/lib/thing.py": "",
            "node_modules/x.py": "",
            "src/__pycache__/entry.py": "",
            "src/notes.txt": "not python",
        },
    )
    assert load_user_module(config).version_id == before


# --- load errors -------------------------------------------------------------------------------


def test_syntax_error_names_user_file_and_line(tmp_path: Path) -> None:
    error = load_error(tmp_path, "import os\n\nx = = 1\n")
    assert error.message == "src/entry.py:3: SyntaxError: invalid syntax"
    assert isinstance(error.__cause__, SyntaxError)


def test_syntax_error_in_a_sibling_module_names_that_module(tmp_path: Path) -> None:
    error = load_error(tmp_path, "import helpers\n", **{"src/helpers.py": "def f(:\n    pass\n"})
    assert error.message == "src/helpers.py:1: SyntaxError: invalid syntax"


def test_import_error_names_the_innermost_project_frame(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        "import helpers\n",
        **{"src/helpers.py": "import os\nimport requests_not_installed_for_pyflow\n"},
    )
    assert error.message == (
        "src/helpers.py:2: ModuleNotFoundError: No module named 'requests_not_installed_for_pyflow'"
    )
    assert isinstance(error.__cause__, ModuleNotFoundError)


def test_error_raised_in_library_code_points_at_the_user_line_that_called_it(
    tmp_path: Path,
) -> None:
    error = load_error(tmp_path, "import json\njson.loads('{')\n")
    assert error.message == (
        "src/entry.py:2: JSONDecodeError: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )


def test_multi_line_exception_message_is_cut_to_one_line(tmp_path: Path) -> None:
    error = load_error(tmp_path, 'raise ValueError("first\\nsecond")\n')
    assert error.message == "src/entry.py:1: ValueError: first"


@pytest.mark.parametrize(("entry", "message"), [
    ("import sys\nsys.exit(3)\n", "src/entry.py:2: SystemExit: 3"),
    ("import sys\n\nsys.exit()\n", "src/entry.py:3: SystemExit"),
    ("import helpers\n", "src/helpers.py:1: SystemExit: bye"),
    ("raise KeyboardInterrupt\n", "src/entry.py:1: KeyboardInterrupt"),
])
def test_exiting_at_import_is_reported_like_any_load_error(tmp_path: Path, entry: str,
                                                          message: str) -> None:
    # SIGINT handled in Python, as in pyflow's processes: a user's KeyboardInterrupt is then
    # told apart from a Ctrl-C.
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        error = load_error(tmp_path, entry, **{"src/helpers.py": "raise SystemExit('bye')\n"})
    finally:
        signal.signal(signal.SIGINT, previous)
    assert error.message == message


def test_failed_load_leaves_no_half_loaded_user_module(tmp_path: Path) -> None:
    before = {name for name in sys.modules if name.startswith("pyflow_user_")}
    load_error(tmp_path, "raise RuntimeError\n")
    assert {name for name in sys.modules if name.startswith("pyflow_user_")} == before


def test_missing_entry_module_is_a_clear_error(tmp_path: Path) -> None:
    config = project(tmp_path, "")
    (tmp_path / "src" / "entry.py").unlink()
    with pytest.raises(UserCodeError) as info:
        load_user_module(config)
    assert info.value.message == (
        "Entry module src/entry.py (main in wrangler.toml) does not exist. Create it or fix main."
    )


# --- resolving classes -------------------------------------------------------------------------

CLASSES = """
from workers import WorkerEntrypoint, WorkflowEntrypoint
from flows import Imported

class A(WorkflowEntrypoint):
    pass

class B:
    pass

def helper():
    pass
"""
FLOWS = {"src/flows.py": "from workers import WorkflowEntrypoint\nclass Imported(WorkflowEntrypoint): pass\n"}


def test_resolve_class_returns_the_named_subclass(tmp_path: Path, compat: types.ModuleType) -> None:
    loaded = load(tmp_path, CLASSES, **FLOWS)
    assert resolve_class(loaded, "A", compat.WorkflowEntrypoint, "wrangler.toml", "x") is loaded.module.A
    imported = resolve_class(loaded, "Imported", compat.WorkflowEntrypoint, "wrangler.toml")
    assert imported.__name__ == "Imported"


def test_missing_class_lists_the_classes_found(tmp_path: Path, compat: types.ModuleType) -> None:
    loaded = load(tmp_path, CLASSES, **FLOWS)
    with pytest.raises(UserCodeError) as info:
        resolve_class(loaded, "MyWorkflow", compat.WorkflowEntrypoint, "wrangler.toml", "x")
    assert info.value.message == (
        'Class "MyWorkflow" (class_name of workflow "x" in wrangler.toml) is not defined in '
        "src/entry.py (found: Imported, A, B). Define it there or fix the name."
    )


def test_missing_class_outside_a_workflow_names_the_config_file(
    tmp_path: Path, compat: types.ModuleType
) -> None:
    loaded = load(tmp_path, "X = 1\n")
    with pytest.raises(UserCodeError) as info:
        resolve_class(loaded, "Default", compat.WorkerEntrypoint, "wrangler.jsonc")
    assert info.value.message == (
        'Class "Default" (named in wrangler.jsonc) is not defined in src/entry.py '
        "(found: no classes). Define it there or fix the name."
    )


def test_class_of_the_wrong_base_is_an_error(tmp_path: Path, compat: types.ModuleType) -> None:
    loaded = load(tmp_path, CLASSES, **FLOWS)
    with pytest.raises(UserCodeError) as info:
        resolve_class(loaded, "B", compat.WorkflowEntrypoint, "wrangler.toml", "x")
    assert info.value.message == (
        "B in src/entry.py is not a WorkflowEntrypoint subclass. Declare it as "
        "`class B(WorkflowEntrypoint):` with `from workers import WorkflowEntrypoint`."
    )


def test_name_that_is_not_a_class_says_what_it_is(tmp_path: Path, compat: types.ModuleType) -> None:
    loaded = load(tmp_path, CLASSES, **FLOWS)
    with pytest.raises(UserCodeError) as info:
        resolve_class(loaded, "helper", compat.WorkflowEntrypoint, "wrangler.toml", "x")
    assert info.value.message.startswith(
        "helper in src/entry.py is not a WorkflowEntrypoint subclass (it is a function). "
    )


def test_two_projects_with_same_named_sibling_modules_each_get_their_own(tmp_path: Path) -> None:
    first = load(tmp_path / "one", "from helpers import X\n", **{"src/helpers.py": "X = 'one'\n"})
    second = load(tmp_path / "two", "from helpers import X\n", **{"src/helpers.py": "X = 'two'\n"})
    assert (first.module.X, second.module.X) == ("one", "two")
