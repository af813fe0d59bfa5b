"""The one seam between the CLI and pyflow: ``connect`` chooses the ``WorkflowApi`` the
commands call, and they never know which it is.

With ``--url`` (``PYFLOW_URL``), it is that server's local API (a ``pyflow serve`` on another
machine, say). When a live ``pyflow dev`` or ``pyflow serve`` runs the project's store (found by
``read_session``: ``.pyflow/dev.json``, its pid checked), it is its local API over HTTP
(``DevClient``), so that its engine, which holds the instances, applies every change at once.
A server started with an API token is sent ``PYFLOW_API_TOKEN``. Otherwise it is
``WorkflowService`` over the project's store opened in this process (with an in-process engine
for ``trigger --wait``); changes it writes are picked up by whichever engine runs on that store
later.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyflow_cli.api import WorkflowApi
    from pyflow_cli.engine.admission import PlatformRules
    from pyflow_cli.engine.lifetime import EngineOptions
    from pyflow_cli.project.config import ProjectConfig
    from pyflow_cli.storage.url import StoreLocation


@contextlib.asynccontextmanager
async def connect(project: ProjectConfig, persist_to: Path | None = None, *, creates: bool = False,
                  engine_options: EngineOptions | None = None,
                  store: StoreLocation | None = None, rules: PlatformRules | None = None,
                  url: str | None = None, token: str | None = None) -> AsyncIterator[WorkflowApi]:
    """The API of ``project``'s workflows and its store (``store``, else the project's SQLite
    file); closed on exit.

    ``engine_options`` asks for an engine in this process (``trigger --wait``), loading the user's
    code first, so a broken module fails before anything is written; it and the instances
    created here obey ``rules`` (the platform's limits). Unless the command
    ``creates`` instances, a project without a SQLite state database yet is read as an empty one,
    without creating the file (a lookup never writes).
    """
    from pyflow_cli.server.session import read_session
    from pyflow_cli.storage.url import SqliteLocation
    from pyflow_cli.workspace import open_workspace, store_location

    if url is not None:
        from pyflow_cli.client import DevClient

        async with DevClient(url, config_name=project.config_path.name, token=token) as client:
            yield client
        return
    location = store_location(project, persist_to, store)
    session = read_session(project.root)
    if session is not None and session.serves(location, persist_to is not None or store is not None):
        # A live `pyflow dev` runs this store: go through its local API, so its engine (the one
        # that holds the instances) applies every change at once.
        from pyflow_cli.client import DevClient

        async with DevClient.from_session(session, config_name=project.config_path.name,
                                          token=token) as client:
            yield client
        return
    with_engine = engine_options is not None
    with contextlib.ExitStack() as stack:
        if isinstance(location, SqliteLocation) and not creates and not location.path.exists():
            empty = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pyflow-empty-")))
            location = SqliteLocation(empty / location.path.name)
        if engine_options is not None and rules is not None:
            engine_options = replace(engine_options, rules=rules)
        # An engine's failure ends the command (describe says it), not logged here.
        workspace = await open_workspace(project, persist_to=persist_to, location=location,
                                         with_engine=with_engine, options=engine_options,
                                         on_engine_failure=lambda message: None, rules=rules,
                                         kind="cli")
        try:
            yield workspace.service
        finally:
            await workspace.close()
