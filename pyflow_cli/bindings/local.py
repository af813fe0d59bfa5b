"""A project's storage bindings on this machine: where each one's data lives, opened once.

    <state>/kv/<namespace id>.sqlite     one per [[kv_namespaces]] id
    <state>/r2/<bucket name>.sqlite      one per [[r2_buckets]] bucket_name
    <state>/d1/<database id>.sqlite      one per [[d1_databases]] database_id (else database_name)

``<state>`` is the state directory (``.pyflow/state``, or ``--persist-to``). ``LocalBindings`` keeps
one store per file for the life of a process, so every ``self.env`` built by ``pyflow dev`` (one per
request and per instance) shares it, the explorer reads and writes through it too, and the CLI's
``kv``/``r2``/``d1`` commands open the very same files. A hot reload that adds a binding opens its
file on first use. ``on_change(kind, name)`` hears of every committed write of this process
(``"kv"`` and the namespace id, ``"r2"`` and the bucket name, ``"d1"`` and the database id).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from pyflow_cli.bindings.d1 import D1Database, D1Store
from pyflow_cli.bindings.kv import KVNamespace
from pyflow_cli.bindings.kv_store import KvStore
from pyflow_cli.bindings.r2 import R2Bucket
from pyflow_cli.bindings.r2_store import R2Store
from pyflow_cli.engine.errors import NotFoundError
from pyflow_cli.project.config import ProjectConfig
from pyflow_cli.project.fields import join
from pyflow_cli.project.resources import D1DatabaseConfig, KvNamespaceConfig, R2BucketConfig

S = TypeVar("S", KvStore, R2Store, D1Store)


def file_name(identifier: str) -> str:
    """A file name for an id or name, kept readable; anything unsafe in a path is escaped."""
    return quote(identifier, safe="-_.") + ".sqlite"


class LocalBindings:
    """The open stores of a project's KV namespaces, R2 buckets and D1 databases."""

    def __init__(self, state_dir: Path, now_ms: Callable[[], float]) -> None:
        self.state_dir = state_dir
        self.now_ms = now_ms
        self._stores: dict[Path, KvStore | R2Store | D1Store] = {}
        self.on_change: Callable[[str, str], None] | None = None

    def kv_path(self, namespace: KvNamespaceConfig) -> Path:
        return self.state_dir / "kv" / file_name(namespace.id)

    def r2_path(self, bucket: R2BucketConfig) -> Path:
        return self.state_dir / "r2" / file_name(bucket.bucket_name)

    def d1_path(self, database: D1DatabaseConfig) -> Path:
        return self.state_dir / "d1" / file_name(database.id)

    def kv(self, namespace: KvNamespaceConfig) -> KvStore:
        return self._store(self.kv_path(namespace), KvStore, lambda p: KvStore(p, self.now_ms),
                           ("kv", namespace.id))

    def r2(self, bucket: R2BucketConfig) -> R2Store:
        return self._store(self.r2_path(bucket), R2Store, R2Store, ("r2", bucket.bucket_name))

    def d1(self, database: D1DatabaseConfig) -> D1Store:
        return self._store(self.d1_path(database), D1Store, D1Store, ("d1", database.id))

    def _store(self, path: Path, kind: type[S], make: Callable[[Path], S],
               name: tuple[str, str]) -> S:
        store = self._stores.get(path)
        if not isinstance(store, kind):
            store = make(path)
            store.file.on_change = lambda: self._changed(*name)
            self._stores[path] = store
        return store

    def _changed(self, kind: str, name: str) -> None:
        if self.on_change is not None:
            self.on_change(kind, name)

    def env_values(self, project: ProjectConfig) -> dict[str, Any]:
        """``self.env.<BINDING>`` for each storage binding of ``project``."""
        values: dict[str, Any] = {}
        for namespace in project.kv_namespaces:
            values[namespace.binding] = KVNamespace(self.kv(namespace), namespace.binding, self.now_ms)
        for bucket in project.r2_buckets:
            values[bucket.binding] = R2Bucket(self.r2(bucket), bucket.binding, self.now_ms)
        for database in project.d1_databases:
            values[database.binding] = D1Database(self.d1(database), database.binding)
        return values

    def close(self) -> None:
        """Close every open file (waiting for what is queued)."""
        stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.close()


def kv_namespace(project: ProjectConfig, binding: str) -> KvNamespaceConfig:
    """The ``[[kv_namespaces]]`` entry bound as ``binding``."""
    for namespace in project.kv_namespaces:
        if namespace.binding == binding:
            return namespace
    raise NotFoundError(
        f'No KV namespace with binding "{binding}" was found in the "kv_namespaces" section of '
        f"{project.config_path.name} (bindings: {join(n.binding for n in project.kv_namespaces)}). "
        "Check the binding name, or use --namespace-id.")


def r2_bucket(project: ProjectConfig, name: str) -> R2BucketConfig:
    """The ``[[r2_buckets]]`` entry whose ``bucket_name`` (or binding) is ``name``."""
    for bucket in project.r2_buckets:
        if name in (bucket.bucket_name, bucket.binding):
            return bucket
    raise NotFoundError(
        f'No R2 bucket "{name}" in the "r2_buckets" section of {project.config_path.name} '
        f"(buckets: {join(b.bucket_name for b in project.r2_buckets)}). Your Worker only sees "
        "the buckets listed there: check the bucket name.")


def d1_database(project: ProjectConfig, name: str) -> D1DatabaseConfig:
    """The ``[[d1_databases]]`` entry whose ``database_name`` or binding is ``name``."""
    for database in project.d1_databases:
        if name in (database.database_name, database.binding):
            return database
    raise NotFoundError(
        f"Couldn't find a D1 DB with the name or binding '{name}' in {project.config_path.name} "
        f"(databases: {join(d.database_name for d in project.d1_databases)}). Check the "
        "[[d1_databases]] section.")
