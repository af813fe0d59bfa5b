"""Storage bindings in the config: ``[[kv_namespaces]]``, ``[[r2_buckets]]``, ``[[d1_databases]]``.

Each entry becomes a frozen dataclass; keys and checks follow wrangler's (unknown keys are refused,
R2 bucket names follow R2's naming rule), with pyflow's one addition that a binding must be a
Python identifier, since user code reads it as ``self.env.<BINDING>``. Like ``[[workflows]]`` and
``[vars]``, these sections are not inherited by ``[env.<name>]``.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass

from pyflow_cli.project.fields import Fields, show

BUCKET_NAME_RULE = (
    "Bucket names must begin and end with an alphanumeric character, only contain lowercase "
    "letters, numbers, and hyphens, and be between 3 and 63 characters long."
)
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_KV_KEYS = frozenset({"binding", "id", "preview_id", "remote"})
_R2_KEYS = frozenset({"binding", "bucket_name", "preview_bucket_name", "jurisdiction", "remote"})
_D1_KEYS = frozenset({"binding", "database_name", "database_id", "preview_database_id",
                      "migrations_dir", "migrations_table", "remote"})
DEFAULT_MIGRATIONS_DIR = "migrations"
DEFAULT_MIGRATIONS_TABLE = "d1_migrations"


@dataclass(frozen=True)
class KvNamespaceConfig:
    """One ``[[kv_namespaces]]`` entry; ``id`` names its local storage (the binding when unset)."""

    binding: str
    id: str
    preview_id: str | None = None


@dataclass(frozen=True)
class R2BucketConfig:
    """One ``[[r2_buckets]]`` entry; ``bucket_name`` names its local storage."""

    binding: str
    bucket_name: str


@dataclass(frozen=True)
class D1DatabaseConfig:
    """One ``[[d1_databases]]`` entry; ``id`` (``database_id``, else the name, else the binding)
    names its local SQLite file."""

    binding: str
    database_name: str
    database_id: str | None
    migrations_dir: str = DEFAULT_MIGRATIONS_DIR
    migrations_table: str = DEFAULT_MIGRATIONS_TABLE

    @property
    def id(self) -> str:
        return self.database_id or self.database_name


def kv_namespaces(fields: Fields, value: object, path: str) -> tuple[KvNamespaceConfig, ...]:
    result = []
    for i, entry in enumerate(fields.tables(value, path)):
        where = f"{path}[{i}]"
        fields.known_keys(entry, _KV_KEYS, where)
        binding = binding_name(fields, entry, where, "KV")
        namespace_id = _optional_text(fields, entry, "id", where)
        result.append(KvNamespaceConfig(binding, namespace_id or binding,
                                        _optional_text(fields, entry, "preview_id", where)))
    return tuple(result)


def r2_buckets(fields: Fields, value: object, path: str) -> tuple[R2BucketConfig, ...]:
    result = []
    for i, entry in enumerate(fields.tables(value, path)):
        where = f"{path}[{i}]"
        fields.known_keys(entry, _R2_KEYS, where)
        binding = binding_name(fields, entry, where, "BUCKET")
        if "bucket_name" not in entry:
            raise fields.error(f"{where}.bucket_name",
                               'required key is missing. Set it to the bucket\'s name, e.g. "my-bucket".')
        name = fields.string(entry["bucket_name"], f"{where}.bucket_name")
        if not _BUCKET_NAME.fullmatch(name):
            raise fields.error(f"{where}.bucket_name", f"{show(name)} is invalid. {BUCKET_NAME_RULE}")
        for key in ("preview_bucket_name", "jurisdiction"):
            _optional_text(fields, entry, key, where)
        result.append(R2BucketConfig(binding, name))
    return tuple(result)


def d1_databases(fields: Fields, value: object, path: str) -> tuple[D1DatabaseConfig, ...]:
    result = []
    for i, entry in enumerate(fields.tables(value, path)):
        where = f"{path}[{i}]"
        fields.known_keys(entry, _D1_KEYS, where)
        binding = binding_name(fields, entry, where, "DB")
        name = _optional_text(fields, entry, "database_name", where)
        database_id = _optional_text(fields, entry, "database_id", where)
        _optional_text(fields, entry, "preview_database_id", where)
        result.append(D1DatabaseConfig(
            binding, name or binding, database_id,
            _optional_text(fields, entry, "migrations_dir", where) or DEFAULT_MIGRATIONS_DIR,
            _optional_text(fields, entry, "migrations_table", where) or DEFAULT_MIGRATIONS_TABLE))
    return tuple(result)


def binding_name(fields: Fields, entry: Mapping[str, object], where: str, example: str) -> str:
    """The entry's ``binding``: required, and a Python identifier (user code reads
    ``self.env.<binding>``)."""
    if "binding" not in entry:
        raise fields.error(f"{where}.binding",
                           f'required key is missing. Set it to the env.<BINDING> name user code uses, '
                           f'e.g. "{example}".')
    text = fields.string(entry["binding"], f"{where}.binding")
    if not text.isidentifier() or keyword.iskeyword(text):
        raise fields.error(
            f"{where}.binding",
            f"{show(text)} is not a valid Python identifier. Use letters, digits and "
            f'underscores, not starting with a digit, e.g. "{example}".',
        )
    return text


def _optional_text(fields: Fields, entry: Mapping[str, object], key: str, where: str) -> str | None:
    if key not in entry:
        return None
    text = fields.string(entry[key], f"{where}.{key}")
    if not text:
        raise fields.error(f"{where}.{key}", "expected a non-empty string, got \"\".")
    return text
