"""The user's part of a traceback, kept with every failed attempt and every failed instance.

Only frames of the user's code are kept — never pyflow's, the standard library's or installed
packages' — and only so much of them (the innermost ``MAX_FRAMES`` frames, source lines and the
message cut to a bound), so a failure costs a few hundred bytes of storage. The stored shape is
plain JSON a UI can render: ``{"frames": [{"file", "line", "function", "source"}], "omitted",
"text"}``; ``text`` is the compact form terminals show::

    src/entry.py:31 in run
        total = await charge()
    src/entry.py:12 in charge
        return order.amount
    AttributeError: 'dict' object has no attribute 'amount'

Source lines are read as Python's own tracebacks read them (``linecache``), when the failure is
recorded, so an edit made later does not change what was recorded.
"""

from __future__ import annotations

import linecache
import os
import sysconfig
import traceback
from collections.abc import Sequence
from typing import Any

from pyflow_cli.engine.errors import error_name

MAX_FRAMES = 20
MAX_SOURCE = 200
MAX_MESSAGE = 1000
MAX_NAME = 300

_PYFLOW_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARY_DIRS = tuple(dict.fromkeys(
    os.path.abspath(path) for key in ("stdlib", "platstdlib", "purelib", "platlib")
    if (path := sysconfig.get_paths().get(key))))
_PACKAGE_DIR_NAMES = frozenset({"site-packages", "dist-packages"})


def capture(error: BaseException, roots: Sequence[str] = ()) -> dict[str, Any] | None:
    """The user frames of ``error``'s traceback, or None when it has none (an error the engine
    made itself, such as a timeout). ``roots`` are the project's source directories: given, only
    frames under them count, and files are shown relative to them."""
    summary = traceback.StackSummary.extract(traceback.walk_tb(error.__traceback__),
                                             lookup_lines=False)
    frames = [frame for frame in summary if is_user_file(frame.filename, roots)]
    if not frames:
        return None
    kept = frames[-MAX_FRAMES:]
    shown = [{"file": shown_path(frame.filename, roots), "line": frame.lineno or 0,
              "function": _cut(frame.name, MAX_NAME), "source": _source(frame)}
             for frame in kept]
    return {"frames": shown, "omitted": len(frames) - len(kept),
            "text": text_of(shown, len(frames) - len(kept), _headline(error))}


def text_of(frames: Sequence[dict[str, Any]], omitted: int = 0, headline: str = "") -> str:
    """The compact text form of ``frames`` (and the error's ``headline``, if given)."""
    lines = [f"... {omitted} earlier frame{'s' * (omitted != 1)} not shown"] if omitted else []
    for frame in frames:
        lines.append(f"{frame['file']}:{frame['line']} in {frame['function']}")
        if frame.get("source"):
            lines.append(f"    {frame['source']}")
    if headline:
        lines.append(headline)
    return "\n".join(lines)


def is_user_file(filename: str, roots: Sequence[str] = ()) -> bool:
    """Whether a frame in ``filename`` is the user's code."""
    if not filename or filename.startswith("<"):
        return False
    path = os.path.abspath(filename)
    if _under(path, _PYFLOW_DIR) or any(_under(path, d) for d in _LIBRARY_DIRS):
        return False
    if _PACKAGE_DIR_NAMES.intersection(path.split(os.sep)):
        return False
    return not roots or any(_under(path, os.path.abspath(root)) for root in roots)


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def shown_path(filename: str, roots: Sequence[str]) -> str:
    """``filename`` relative to the source root it is under, else in full."""
    path = os.path.abspath(filename)
    for root in roots:
        if _under(path, os.path.abspath(root)):
            return _cut(os.path.relpath(path, os.path.abspath(root)).replace(os.sep, "/"), MAX_NAME)
    return _cut(path, MAX_NAME)


def _source(frame: traceback.FrameSummary) -> str:
    linecache.checkcache(frame.filename)  # the file may have been edited since it was cached
    line = linecache.getline(frame.filename, frame.lineno or 0)
    return _cut(line.strip(), MAX_SOURCE)


def _headline(error: BaseException) -> str:
    message = str(error)
    name = error_name(error)
    return _cut(f"{name}: {message}" if message else name, MAX_MESSAGE)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
