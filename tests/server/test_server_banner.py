"""The ``pyflow dev`` banner lists KV namespaces, D1 databases and R2 buckets as wrangler does."""

from __future__ import annotations

import textwrap
from pathlib import Path

from pyflow_cli.project.config import load_project
from pyflow_cli.server.banner import banner_lines


def test_banner_lists_storage_bindings_in_local_mode(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "entry.py").write_text("")
    (tmp_path / "wrangler.toml").write_text(textwrap.dedent("""\
        name = "app"
        main = "src/entry.py"
        [[r2_buckets]]
        binding = "BUCKET"
        bucket_name = "my-bucket"
        [[kv_namespaces]]
        binding = "KV"
        id = "abc123"
        [[d1_databases]]
        binding = "DB"
        database_name = "my-db"
        database_id = "1111"
        """))
    lines = banner_lines(load_project(tmp_path), tmp_path / ".pyflow" / "state")
    assert lines[2:] == [
        "Your Worker has access to the following bindings:",
        "- KV Namespaces:", "  - KV: abc123 (local)",
        "- D1 Databases:", "  - DB: my-db (local)",
        "- R2 Buckets:", "  - BUCKET: my-bucket (local)",
        "Instances are stored in .pyflow/state",
        "KV, R2 and D1 data are stored in .pyflow/state (kv/, r2/, d1/)",
    ]
