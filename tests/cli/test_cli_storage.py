"""``pyflow kv key``, ``pyflow r2 object``, ``pyflow d1 execute`` and ``pyflow d1 migrations``:
wrangler's command shapes and texts, on the files the Worker uses, with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clikit import Project, fixed_runtime, write_project
from typer.testing import CliRunner

from pyflow_cli.cli.main import app

CONFIG = """\
name = "shop"
main = "src/entry.py"

[[kv_namespaces]]
binding = "KV"
id = "abc123"

[[r2_buckets]]
binding = "BUCKET"
bucket_name = "my-bucket"

[[d1_databases]]
binding = "DB"
database_name = "my-db"
database_id = "1111-2222"
"""
D1_PATH = ".pyflow/state/d1/1111-2222.sqlite"


@pytest.fixture
def shop(tmp_path: Path) -> Project:
    return Project(write_project(tmp_path / "shop", entry="", config=CONFIG))


def test_kv_put_get_list_and_delete(shop: Project) -> None:
    put = shop.cli("kv", "key", "put", "greeting", "hello", "--binding", "KV", "--local")
    assert (put.exit_code, put.stdout) == (0, 'Writing the value "hello" to key "greeting" on namespace '
                                              'binding: "KV" (id: "abc123").\n')
    meta = shop.cli("kv", "key", "put", "other", "v", "--namespace-id", "abc123", "--ttl", "3600",
                    "--metadata", '{"a": 1}')
    assert meta.stdout == ('Writing the value "v" to key "other" on namespace id: "abc123" with '
                           'metadata "{"a":1}".\n')
    assert shop.cli("kv", "key", "get", "greeting", "--binding", "KV").stdout == "hello"
    assert shop.cli("kv", "key", "get", "greeting", "--binding", "KV", "--text").stdout == "hello\n"
    assert shop.cli("kv", "key", "get", "nope", "--binding", "KV").stdout == "Value not found\n"
    listed = json.loads(shop.cli("kv", "key", "list", "--binding", "KV").stdout)
    assert [k["name"] for k in listed] == ["greeting", "other"]
    assert listed[1]["metadata"] == {"a": 1} and listed[1]["expiration"] > 0
    assert json.loads(shop.cli("kv", "key", "list", "--binding", "KV", "--prefix", "gr").stdout) == [
        {"name": "greeting"}]
    deleted = shop.cli("kv", "key", "delete", "greeting", "--binding", "KV")
    assert deleted.stdout == 'Deleting the key "greeting" on namespace binding: "KV" (id: "abc123").\n'
    assert shop.cli("kv", "key", "get", "greeting", "--binding", "KV").stdout == "Value not found\n"
    assert (shop.root / ".pyflow" / "state" / "kv" / "abc123.sqlite").is_file()


def test_kv_put_reads_a_file_with_path(shop: Project) -> None:
    (shop.root / "value.bin").write_bytes(b"\x00\x01")
    put = shop.cli("kv", "key", "put", "blob", "--path", "value.bin", "--binding", "KV")
    assert put.stdout == ('Writing the contents of value.bin to the key "blob" on namespace binding: '
                          '"KV" (id: "abc123").\n')
    assert shop.cli("kv", "key", "get", "blob", "--binding", "KV").stdout_bytes == b"\x00\x01"


@pytest.mark.parametrize(("args", "message"), [
    (["put", "k", "v", "--binding", "KV", "--ttl", "10"],
     "KV PUT failed: 400 Invalid expiration_ttl of 10. Expiration TTL must be at least 60."),
    (["get", "k", "--binding", "NOPE"],
     'No KV namespace with binding "NOPE" was found in the "kv_namespaces" section of wrangler.toml '
     "(bindings: KV). Check the binding name, or use --namespace-id."),
    (["get", "k"], "Give exactly one of --binding NAME or --namespace-id ID."),
    (["put", "k", "--binding", "KV"], "Give exactly one of VALUE or --path FILE."),
    (["put", "k", "--binding", "KV", "--path", "missing.txt"],
     "Cannot read missing.txt: No such file or directory. Check the --path file."),
    (["put", "k", "v", "--binding", "KV", "--metadata", "{bad"],
     'Error while parsing metadata: "{bad" with SyntaxError: Expecting property name enclosed in '
     "double quotes: line 1 column 2 (char 1)' "),
])
def test_kv_errors_are_one_line(shop: Project, args: list[str], message: str) -> None:
    result = shop.cli("kv", "key", *args)
    assert result.exit_code == 1
    assert result.stderr == f"✘ [ERROR] {message}\n"


def test_r2_object_put_get_and_delete(shop: Project) -> None:
    (shop.root / "report.txt").write_text("quarterly")
    put = shop.cli("r2", "object", "put", "my-bucket/reports/q1.txt", "--file", "report.txt",
                   "--content-type", "text/plain", "--cache-control", "no-cache")
    assert put.stdout == 'Creating object "reports/q1.txt" in bucket "my-bucket".\nUpload complete.\n'
    assert shop.cli("r2", "object", "get", "my-bucket/reports/q1.txt", "--pipe").stdout == "quarterly"
    got = shop.cli("r2", "object", "get", "my-bucket/reports/q1.txt")
    assert got.stdout == 'Downloading "reports/q1.txt" from "my-bucket".\nDownload complete.\n'
    assert (shop.root / "q1.txt").read_text() == "quarterly"
    shop.cli("r2", "object", "get", "BUCKET/reports/q1.txt", "--file", "copy.txt")  # binding works too
    assert (shop.root / "copy.txt").read_text() == "quarterly"
    piped = CliRunner().invoke(app, ["--cwd", str(shop.root), "r2", "object", "put", "my-bucket/piped",
                                     "--pipe"], input=b"from stdin", obj=fixed_runtime())
    assert piped.exit_code == 0
    assert shop.cli("r2", "object", "get", "my-bucket/piped", "--pipe").stdout == "from stdin"
    deleted = shop.cli("r2", "object", "delete", "my-bucket/reports/q1.txt")
    assert deleted.stdout == 'Deleting object "reports/q1.txt" from bucket "my-bucket".\nDelete complete.\n'
    missing = shop.cli("r2", "object", "get", "my-bucket/reports/q1.txt", "--pipe")
    assert (missing.exit_code, missing.stderr) == (1, '✘ [ERROR] The specified key does not exist: no '
                                                      'object "reports/q1.txt" in bucket "my-bucket". '
                                                      "Check the key.\n")


@pytest.mark.parametrize(("args", "message"), [
    (["put", "nokey", "--file", "x"],
     "The object path must be in the form of {bucket}/{key}; you provided nokey."),
    (["get", "other-bucket/k"],
     'No R2 bucket "other-bucket" in the "r2_buckets" section of wrangler.toml (buckets: my-bucket). '
     "Your Worker only sees the buckets listed there: check the bucket name."),
    (["put", "my-bucket/k"], "Give one of --file FILE or --pipe (the object's content on stdin)."),
])
def test_r2_errors_are_one_line(shop: Project, args: list[str], message: str) -> None:
    result = shop.cli("r2", "object", *args)
    assert (result.exit_code, result.stderr) == (1, f"✘ [ERROR] {message}\n")


def test_d1_execute_prints_each_results_rows_as_a_table(shop: Project) -> None:
    result = shop.cli("d1", "execute", "my-db", "--local", "--command",
                      "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB); "
                      "INSERT INTO t (name, data) VALUES ('ada', x'0102'), ('grace', NULL); SELECT * FROM t")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"🌀 Executing on local database my-db (1111-2222) from {D1_PATH}:\n"
        "🚣 3 commands executed successfully.\n"
        "┌────┬───────┬───────┐\n"
        "│ id │ name  │ data  │\n"
        "├────┼───────┼───────┤\n"
        "│ 1  │ ada   │ [1,2] │\n"
        "├────┼───────┼───────┤\n"
        "│ 2  │ grace │ null  │\n"
        "└────┴───────┴───────┘\n")


def test_d1_execute_json_and_file(shop: Project) -> None:
    (shop.root / "seed.sql").write_text("CREATE TABLE t (x);\nINSERT INTO t VALUES (1);\n-- done\n")
    seeded = shop.cli("d1", "execute", "DB", "--file", "seed.sql", "--json")
    assert [r["results"] for r in json.loads(seeded.stdout)] == [[], []]
    result = json.loads(shop.cli("d1", "execute", "DB", "--command", "SELECT x FROM t", "--json").stdout)
    assert [(r["results"], r["success"], sorted(r["meta"])) for r in result] == [
        ([{"x": 1}], True, ["duration"])]
    failed = shop.cli("d1", "execute", "DB", "--command", "SELECT * FROM nope", "--json")
    assert failed.exit_code == 1
    assert json.loads(failed.stdout) == {"error": {"text": "no such table: nope: SQLITE_ERROR"}}


@pytest.mark.parametrize(("args", "message"), [
    (["execute", "DB", "--command", "SELEC 1"], 'near "SELEC": syntax error: SQLITE_ERROR'),
    (["execute", "nope", "--command", "SELECT 1"],
     "Couldn't find a D1 DB with the name or binding 'nope' in wrangler.toml (databases: my-db). "
     "Check the [[d1_databases]] section."),
    (["execute", "DB"], 'Give one of --command "<SQL>" or --file FILE.'),
])
def test_d1_errors_are_one_line(shop: Project, args: list[str], message: str) -> None:
    result = shop.cli("d1", *args)
    assert result.exit_code == 1
    assert result.stderr == f"✘ [ERROR] {message}\n"
    assert "Traceback" not in result.output


def test_d1_migrations_create_list_and_apply(shop: Project) -> None:
    none = shop.cli("d1", "migrations", "list", "DB")
    assert none.stderr == (f"✘ [ERROR] No migrations present at {shop.root.resolve() / 'migrations'}. "
                           'Create one with `pyflow d1 migrations create DB "<message>"`.\n')
    created = shop.cli("d1", "migrations", "create", "DB", "create users")
    path = shop.root.resolve() / "migrations" / "0001_create_users.sql"
    assert created.stdout == (f"✅ Successfully created Migration '0001_create_users.sql'!\n\n"
                              f"The migration is available for editing here\n{path}\n")
    assert path.read_text() == "-- Migration number: 0001 \t 2026-01-01T00:00:00.000Z\n"
    with path.open("a") as file:
        file.write("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n")
    shop.cli("d1", "migrations", "create", "DB", "seed")
    with (shop.root / "migrations" / "0002_seed.sql").open("a") as file:
        file.write("INSERT INTO users (name) VALUES ('ada');\n")
    listed = shop.cli("d1", "migrations", "list", "DB", "--local")
    assert listed.stdout.splitlines()[:4] == ["Migrations to be applied:", "┌───────────────────────┐",
                                              "│ Name                  │", "├───────────────────────┤"]
    applied = shop.cli("d1", "migrations", "apply", "DB", "--local")
    assert applied.exit_code == 0, applied.stderr
    assert applied.stdout.splitlines()[-7:] == [
        "┌───────────────────────┬────────┐", "│ name                  │ status │",
        "├───────────────────────┼────────┤", "│ 0001_create_users.sql │ ✅     │",
        "├───────────────────────┼────────┤", "│ 0002_seed.sql         │ ✅     │",
        "└───────────────────────┴────────┘"]
    assert shop.cli("d1", "migrations", "apply", "DB").stdout == "✅ No migrations to apply!\n"

    (shop.root / "migrations" / "0003_broken.sql").write_text("INSERT INTO users (name) VALUES ('x');\n"
                                                              "CREATE TABLE users (id);\n")
    broken = shop.cli("d1", "migrations", "apply", "DB")
    assert broken.exit_code == 1
    assert broken.stderr == ("✘ [ERROR] Migration 0003_broken.sql failed and was rolled back: table "
                             "users already exists: SQLITE_ERROR\n")
    rows = json.loads(shop.cli("d1", "execute", "DB", "--json", "--command",
                               "SELECT name FROM users; SELECT name FROM d1_migrations").stdout)
    assert [r["results"] for r in rows] == [[{"name": "ada"}], [{"name": "0001_create_users.sql"},
                                                                  {"name": "0002_seed.sql"}]]
