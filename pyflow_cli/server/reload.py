"""Hot reload: watch the project's Python sources, its config and its dotenv files, and reload the
running dev session when one changes (within a fraction of a second of the save).

A file that fails to load is reported in one line and the last good version keeps serving;
saving a fixed file reloads as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from watchfiles import Change, awatch

from pyflow_cli.engine.errors import PyflowError
from pyflow_cli.engine.supervisor import Supervised
from pyflow_cli.project.config import ProjectConfig
from pyflow_cli.project.imports import is_project_file, source_dirs
from pyflow_cli.server.logs import DevLog, sentence
from pyflow_cli.server.runtime import DevRuntime

DEBOUNCE_MS = 300
STEP_MS = 50
IDLE_WAKE_MS = 200  # the watcher reports in this often, so we know when it is watching


def watched(project: ProjectConfig) -> Callable[[Change, str], bool]:
    """The watch filter: project ``.py`` sources, the config file, ``.dev.vars`` / ``.env``."""
    dirs = source_dirs(project.root, project.main)
    config = project.config_path.resolve()

    def accept(change: Change, path_text: str) -> bool:
        path = Path(path_text)
        if path.suffix == ".py":
            return is_project_file(path, dirs)
        if path.parent.resolve() == project.root.resolve() and (
                path.name.startswith(".dev.vars") or path.name == ".env"
                or path.name.startswith(".env.")):
            return True
        return path.resolve() == config

    return accept


async def changes(project: ProjectConfig | Sequence[ProjectConfig], stop: asyncio.Event,
                  watching: asyncio.Event | None = None) -> AsyncIterator[set[tuple[Change, str]]]:
    """Batches of relevant file changes (of every project given) until ``stop`` is set;
    ``watching`` is set once the watches are in place (a save before that would go unnoticed)."""
    projects = [project] if isinstance(project, ProjectConfig) else list(project)
    dirs = {d for p in projects for d in (p.root, *source_dirs(p.root, p.main))}
    filters = [watched(p) for p in projects]

    def accept(change: Change, path: str) -> bool:
        return any(wanted(change, path) for wanted in filters)

    async for batch in awatch(*dirs, watch_filter=accept, debounce=DEBOUNCE_MS,
                              step=STEP_MS, stop_event=stop, rust_timeout=IDLE_WAKE_MS,
                              yield_on_timeout=True):
        if watching is not None:
            watching.set()
        if batch:
            yield batch


class Reloader:
    """Reloads ``runtime`` on every change until stopped. The watcher is supervised: if it
    fails it is started again; one that keeps failing is given up on with a warning."""

    def __init__(self, runtime: DevRuntime, log: DevLog) -> None:
        self.runtime = runtime
        self.log = log
        self._stop = asyncio.Event()
        self._watching = asyncio.Event()
        self._loop = Supervised("hot reload watcher", self._run,
                                lambda message: log.warn(sentence(message)), self._gave_up)

    async def start(self, timeout_s: float = 5.0) -> None:
        """Start watching; returns once the watcher is live (or after ``timeout_s``)."""
        self._loop.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._watching.wait(), timeout_s)

    async def stop(self) -> None:
        self._stop.set()
        await self._loop.stop()

    async def _run(self) -> None:
        while not self._stop.is_set():
            projects = self.runtime.projects
            async for batch in changes(projects, self._stop, self._watching):
                self.apply(batch)
                if [p.main for p in self.runtime.projects] != [p.main for p in projects]:
                    break  # watch the new set of files

    def _gave_up(self, what: str) -> None:
        self.log.warn(f"Hot reload stopped: {what}. Restart pyflow dev to pick up changes.")

    def apply(self, batch: set[tuple[Change, str]]) -> bool:
        """Reload once for a batch of changes; True if the new version is now serving."""
        names = sorted({_shown(path, self.runtime.project.root) for _, path in batch})
        self.log.log(f"⎔ Reloading local server... ({', '.join(names)} changed)")
        previous = self.runtime.version_id
        try:
            result = self.runtime.reload()
        except PyflowError as exc:
            self.log.error(f"{exc.message}\nStill serving the last good version ({previous[:8]}). "
                           "Fix the error and save again.")
            return False
        except Exception as exc:  # a bug while swapping must not stop the server
            self.log.error(f"Reload failed: {type(exc).__name__}: {exc}")
            return False
        self.log.log(f"⎔ Local server updated and ready (version {result.version_id[:8]})")
        return True


def _shown(path: str, root: Path) -> str:
    candidate = Path(path)
    return candidate.relative_to(root).as_posix() if candidate.is_relative_to(root) else path
