"""docs/bindings.md documents every method of every binding object user code can reach."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from pyflow_cli.bindings.d1 import D1Database, D1DatabaseSession, D1PreparedStatement
from pyflow_cli.bindings.kv import KVNamespace
from pyflow_cli.bindings.r2 import R2Bucket, R2MultipartUpload
from pyflow_cli.bindings.r2_objects import R2Checksums, R2Object, R2ObjectBody

DOC = Path(__file__).resolve().parents[2] / "docs" / "bindings.md"
CLASSES = (KVNamespace, R2Bucket, R2MultipartUpload, R2Object, R2ObjectBody, R2Checksums, D1Database,
           D1DatabaseSession, D1PreparedStatement)


def public_methods(cls: type) -> set[str]:
    """Methods and properties user code reaches, by their Cloudflare (camelCase) names: a
    snake_case alias is documented by its camelCase name."""
    members = {name: member for name, member in vars(cls).items()
               if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property))}
    aliases = {name for name, member in members.items()
               if "_" in name and any(other is member for key, other in members.items() if key != name)}
    return {_camel(name) for name in members if name not in aliases}


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def test_every_binding_method_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [f"{cls.__name__}.{name}" for cls in CLASSES for name in sorted(public_methods(cls))
               if not re.search(rf"\b{name}\b", text)]
    assert not missing, "undocumented in docs/bindings.md: " + ", ".join(missing)
