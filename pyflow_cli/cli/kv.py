"""``pyflow kv key put|get|list|delete``: a KV namespace's keys, as wrangler's ``kv key`` commands
show them, on the local data the Worker sees."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pyflow_cli.cli.invocation import Invocation, begin, parse_json, run
from pyflow_cli.cli.storage import LocalOption, PersistTo, local_bindings
from pyflow_cli.engine.errors import InvalidInputError

if TYPE_CHECKING:
    from pyflow_cli.bindings.kv import KVNamespace
    from pyflow_cli.bindings.local import LocalBindings

app = typer.Typer(no_args_is_help=True, help="Read and write KV namespaces (local data).")
key_app = typer.Typer(no_args_is_help=True, help="Put, get, list and delete the keys of a KV namespace.")
app.add_typer(key_app, name="key")

Key = Annotated[str, typer.Argument(metavar="KEY", help="The key.", show_default=False)]
Binding = Annotated[str | None, typer.Option(
    "--binding", metavar="NAME", help="The namespace's binding in the config ([[kv_namespaces]]).",
    show_default=False)]
NamespaceId = Annotated[str | None, typer.Option(
    "--namespace-id", metavar="ID", help="The namespace's id (instead of --binding).",
    show_default=False)]


def _namespace(inv: Invocation, bindings: LocalBindings, binding: str | None,
               namespace_id: str | None) -> tuple[KVNamespace, str]:
    """The namespace chosen by ``--binding`` or ``--namespace-id``, and how to name it."""
    from pyflow_cli.bindings.kv import KVNamespace
    from pyflow_cli.bindings.local import kv_namespace
    from pyflow_cli.project.resources import KvNamespaceConfig

    if (binding is None) == (namespace_id is None):
        raise InvalidInputError("Give exactly one of --binding NAME or --namespace-id ID.")
    if namespace_id is not None:
        config, shown = KvNamespaceConfig(namespace_id, namespace_id), f'id: "{namespace_id}"'
    else:
        assert binding is not None
        config = kv_namespace(inv.project, binding)
        shown = f'binding: "{binding}" (id: "{config.id}")'
    return KVNamespace(bindings.kv(config), config.binding, bindings.now_ms), shown


@key_app.command("put")
def put(
    ctx: typer.Context,
    key: Key,
    value: Annotated[str | None, typer.Argument(metavar="[VALUE]", help="The value to write.",
                                                show_default=False)] = None,
    binding: Binding = None,
    namespace_id: NamespaceId = None,
    path: Annotated[Path | None, typer.Option(
        "--path", metavar="FILE", help="Read the value from this file (instead of VALUE).",
        show_default=False)] = None,
    ttl: Annotated[int | None, typer.Option(
        "--ttl", metavar="SECONDS", help="Seconds until the key expires (at least 60).",
        show_default=False)] = None,
    expiration: Annotated[int | None, typer.Option(
        "--expiration", metavar="EPOCH", help="When the key expires, in seconds since the epoch.",
        show_default=False)] = None,
    metadata: Annotated[str | None, typer.Option(
        "--metadata", metavar="JSON", help="JSON metadata to store with the key.",
        show_default=False)] = None,
    local: LocalOption = True,
    persist_to: PersistTo = None,
) -> None:
    """Write a single key/value pair to a namespace."""
    if (value is None) == (path is None):
        raise InvalidInputError("Give exactly one of VALUE or --path FILE.")
    inv = begin(ctx)
    data: str | bytes = value if value is not None else _read(inv, path)
    meta = parse_json(metadata, "metadata") if metadata is not None else None
    options: dict[str, Any] = {"expirationTtl": ttl, "expiration": expiration, "metadata": meta}

    with local_bindings(inv, persist_to) as bindings:
        namespace, shown = _namespace(inv, bindings, binding, namespace_id)
        meta_note = f' with metadata "{json.dumps(meta, separators=(",", ":"))}"' if metadata else ""
        source = f"the contents of {path}" if path is not None else f'the value "{value}"'
        to = "to the key" if path is not None else "to key"
        inv.ui.success(f'Writing {source} {to} "{key}" on namespace {shown}{meta_note}.')
        run(namespace.put(key, data, {k: v for k, v in options.items() if v is not None}))


@key_app.command("get")
def get(
    ctx: typer.Context,
    key: Key,
    binding: Binding = None,
    namespace_id: NamespaceId = None,
    text: Annotated[bool, typer.Option("--text", help="Decode the value as UTF-8 text.")] = False,
    local: LocalOption = True,
    persist_to: PersistTo = None,
) -> None:
    """Print a key's value (as raw bytes, or text with --text)."""
    inv = begin(ctx)
    with local_bindings(inv, persist_to) as bindings:
        namespace, _ = _namespace(inv, bindings, binding, namespace_id)
        found = run(namespace.get(key, "arrayBuffer"))
    if found is None:
        inv.ui.print("Value not found")
    elif text:
        inv.ui.print(bytes(found).decode("utf-8", errors="replace"))
    else:
        write_bytes(bytes(found))


@key_app.command("list")
def list_keys(
    ctx: typer.Context,
    binding: Binding = None,
    namespace_id: NamespaceId = None,
    prefix: Annotated[str | None, typer.Option(
        "--prefix", metavar="PREFIX", help="Only keys starting with PREFIX.", show_default=False)] = None,
    local: LocalOption = True,
    persist_to: PersistTo = None,
) -> None:
    """List a namespace's keys (with expiration and metadata), as JSON, in key order."""
    inv = begin(ctx)

    async def every_key(namespace: KVNamespace) -> list[Any]:
        keys: list[Any] = []
        cursor = None
        while True:
            page = await namespace.list(prefix=prefix, cursor=cursor)
            keys += page["keys"]
            if page["list_complete"]:
                return keys
            cursor = page["cursor"]

    with local_bindings(inv, persist_to) as bindings:
        namespace, _ = _namespace(inv, bindings, binding, namespace_id)
        inv.ui.json(run(every_key(namespace)))


@key_app.command("delete")
def delete(
    ctx: typer.Context,
    key: Key,
    binding: Binding = None,
    namespace_id: NamespaceId = None,
    local: LocalOption = True,
    persist_to: PersistTo = None,
) -> None:
    """Delete a key (a missing key is not an error)."""
    inv = begin(ctx)
    with local_bindings(inv, persist_to) as bindings:
        namespace, shown = _namespace(inv, bindings, binding, namespace_id)
        inv.ui.success(f'Deleting the key "{key}" on namespace {shown}.')
        run(namespace.delete(key))


def write_bytes(data: bytes) -> None:
    """Raw bytes on stdout, as wrangler prints a value (no newline added)."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _read(inv: Invocation, path: Path | None) -> bytes:
    assert path is not None
    file = inv.state.options.cwd / path
    try:
        return file.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"Cannot read {path}: {exc.strerror}. Check the --path file.") from None
