"""The dev session file, ``<project>/.pyflow/dev.json``: how other pyflow processes find a running
``pyflow dev`` or ``pyflow serve`` (its pid, address, state directory and store; never its
token).

Written when the server is listening, removed when it exits. A file whose process is gone (the
server was killed) is stale: readers ignore it and the next ``pyflow dev`` replaces it. Standard
library only, so the CLI can import it without pulling in the server.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from pyflow_cli.engine.processes import process_alive
from pyflow_cli.storage.url import DB_NAME, SqliteLocation, StoreLocation

SESSION_FILE = Path(".pyflow") / "dev.json"


@dataclass(frozen=True)
class DevSession:
    """A running ``pyflow dev``, as its session file describes it."""

    pid: int
    port: int
    host: str
    started_at: str
    state_dir: str = ""
    hostname: str = ""
    store: str = ""  # the store it runs on, as shown (a path, or a URL without its password)
    # Set in the file of a project served with another (``pyflow dev -c a -c b``): the config
    # of the project whose store holds its instances, and whose server answers for it.
    served_by: str = ""
    command: str = "dev"  # "dev" or "serve"

    def serves(self, location: StoreLocation, chosen: bool = True) -> bool:
        """Whether this session's engine runs on the store at ``location`` — or runs this project
        with another one, its instances in that one's store, when no store was ``chosen``
        (``--persist-to``, ``--store``) for the command."""
        if self.served_by and not chosen:
            return True
        if self.store:
            return self.store == location.shown
        # A file of an earlier pyflow names only its state directory (and SQLite was all).
        return isinstance(location, SqliteLocation) and (
            not self.state_dir or (Path(self.state_dir) / DB_NAME).resolve() == location.path)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:8787``: where to reach the server from this machine."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


def session_path(project_root: Path) -> Path:
    return project_root / SESSION_FILE


def read_session(project_root: Path) -> DevSession | None:
    """The live session of this project, or None (no file, unreadable, or its process is gone)."""
    path = session_path(project_root)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        session = DevSession(**{k: data[k] for k in DevSession.__dataclass_fields__ if k in data})
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(session.pid, int) or not isinstance(session.port, int):
        return None
    return session if is_alive(session) else None


def write_session(project_root: Path, session: DevSession) -> Path:
    """Write the session file atomically (readers never see half a file)."""
    path = session_path(project_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".dev.json.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(session), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path


def remove_session(project_root: Path, pid: int | None = None) -> None:
    """Remove the session file if it is ours (``pid``), leaving another process's file alone."""
    path = session_path(project_root)
    if pid is not None:
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("pid") != pid:
                return
        except (OSError, ValueError, AttributeError):
            return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def is_alive(session: DevSession) -> bool:
    """Whether the session's process still runs (only checkable on the same machine)."""
    return process_alive(session.pid, session.hostname)
