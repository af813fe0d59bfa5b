"""Bindings pyflow does not emulate: recognised in the config, stand-ins on ``env`` that explain
themselves, listed in the dev banner."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pyflow_cli.compat.missing import NotAvailableLocally
from pyflow_cli.engine.errors import ConfigError
from pyflow_cli.project.config import load_project
from pyflow_cli.server.banner import banner_lines

CONFIG = """
name = "app"
main = "src/entry.py"

[ai]
binding = "AI"

[[queues.producers]]
binding = "JOBS"
queue = "jobs"

[[queues.consumers]]
queue = "jobs"

[[durable_objects.bindings]]
name = "ROOMS"
class_name = "Room"

[[vectorize]]
binding = "VECTORS"
index_name = "docs"

[[hyperdrive]]
binding = "DB"
id = "abc"

[[services]]
binding = "AUTH"
service = "auth-worker"

[[kv_namespaces]]
binding = "CACHE"
id = "kv1"

[assets]
directory = "./public"

[env.staging.ai]
binding = "STAGING_AI"
"""


def write(root: Path, text: str) -> Path:
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "entry.py").write_text("")
    (root / "wrangler.toml").write_text(textwrap.dedent(text))
    return root


def test_sections_pyflow_cannot_serve_become_unemulated_bindings(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, CONFIG))
    assert [(b.name, b.kind, b.section) for b in project.unemulated] == [
        ("AI", "Workers AI", "ai"),
        ("ROOMS", "Durable Object namespace", "durable_objects.bindings"),
        ("JOBS", "Queue producer", "queues.producers"),
        ("VECTORS", "Vectorize index", "vectorize"),
        ("DB", "Hyperdrive", "hyperdrive"),
        ("AUTH", "service", "services"),
    ]  # KV is emulated (not listed); [assets] without a binding reaches no env name
    staging = load_project(tmp_path, env="staging")
    assert [(b.name, b.section) for b in staging.unemulated] == [("STAGING_AI", "env.staging.ai")]


def test_touching_a_stand_in_is_one_clear_line(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, CONFIG))
    ai = project.unemulated[0].stand_in()
    with pytest.raises(NotAvailableLocally) as caught:
        ai.run("@cf/meta/llama", {"prompt": "hi"})
    assert str(caught.value) == (
        "env.AI is a Workers AI binding (ai in wrangler.toml), which pyflow does not emulate "
        "locally. Use it only in code that runs on Cloudflare (wrangler deploy, or wrangler dev "
        "--remote), or give your code a local stand-in.")
    assert repr(ai) == "<env.AI: not available locally>"
    for use in (lambda: ai(), lambda: ai["x"], lambda: list(ai)):
        with pytest.raises(NotAvailableLocally):
            use()


def test_the_banner_lists_them_under_not_available_locally(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, CONFIG))
    lines = banner_lines(project, tmp_path / ".pyflow" / "state")
    start = lines.index("Not available locally (pyflow does not emulate these; using one raises "
                        "an error):")
    assert lines[start + 1:start + 7] == [
        "  - AI: Workers AI (ai)", "  - ROOMS: Durable Object namespace (durable_objects.bindings)",
        "  - JOBS: Queue producer (queues.producers)", "  - VECTORS: Vectorize index (vectorize)",
        "  - DB: Hyperdrive (hyperdrive)", "  - AUTH: service (services)"]


@pytest.mark.parametrize(("text", "message"), [
    ('[[vectorize]]\nbinding = 3\nindex_name = "x"\n',
     'wrangler.toml: vectorize[0].binding: expected a binding name such as "MY_BINDING", got 3.'),
    ("vectorize = 1\n", "wrangler.toml: vectorize: expected a list of tables, got int."),
    ('[ai]\nbinding = "not valid"\n',
     "wrangler.toml: ai.binding: expected a binding name such as \"MY_BINDING\", got 'not valid'."),
])
def test_malformed_sections_are_located_config_errors(tmp_path: Path, text: str,
                                                      message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_project(write(tmp_path, 'name = "app"\nmain = "src/entry.py"\n' + text))
    assert caught.value.message == message
