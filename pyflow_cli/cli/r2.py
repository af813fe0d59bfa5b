"""``pyflow r2 object put|get|delete BUCKET/KEY``: an R2 bucket's objects, as wrangler's
``r2 object`` commands handle them, on the local data the Worker sees."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pyflow_cli.cli.invocation import Invocation, begin, run
from pyflow_cli.cli.kv import write_bytes
from pyflow_cli.cli.storage import LocalOption, PersistTo, local_bindings
from pyflow_cli.engine.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from pyflow_cli.bindings.local import LocalBindings
    from pyflow_cli.bindings.r2 import R2Bucket

app = typer.Typer(no_args_is_help=True, help="Read and write R2 buckets (local data).")
object_app = typer.Typer(no_args_is_help=True, help="Put, get and delete the objects of an R2 bucket.")
app.add_typer(object_app, name="object")

ObjectPath = Annotated[str, typer.Argument(
    metavar="BUCKET/KEY", help="The bucket's name (its bucket_name) and the object's key.",
    show_default=False)]
Pipe = Annotated[bool, typer.Option(
    "-p", "--pipe", help="Use stdin (put) or stdout (get) instead of a file.")]


def _bucket(inv: Invocation, bindings: LocalBindings, object_path: str) -> tuple[R2Bucket, str, str]:
    """The bucket ``BUCKET/KEY`` names (by bucket name or binding), its name and the key."""
    from pyflow_cli.bindings.local import r2_bucket
    from pyflow_cli.bindings.r2 import R2Bucket

    name, key = _split(object_path)
    config = r2_bucket(inv.project, name)
    return R2Bucket(bindings.r2(config), config.binding, bindings.now_ms), config.bucket_name, key


def _split(object_path: str) -> tuple[str, str]:
    name, slash, key = object_path.partition("/")
    if not slash or not name or not key:
        raise InvalidInputError(f"The object path must be in the form of {{bucket}}/{{key}}; you "
                                f"provided {object_path}.")
    return name, key


@object_app.command("put")
def put(
    ctx: typer.Context,
    object_path: ObjectPath,
    file: Annotated[Path | None, typer.Option(
        "-f", "--file", metavar="FILE", help="The file to upload.", show_default=False)] = None,
    pipe: Pipe = False,
    content_type: Annotated[str | None, typer.Option(
        "--content-type", "--ct", metavar="TYPE", help="The object's Content-Type.",
        show_default=False)] = None,
    content_disposition: Annotated[str | None, typer.Option(
        "--content-disposition", "--cd", metavar="VALUE", help="The object's Content-Disposition.",
        show_default=False)] = None,
    content_encoding: Annotated[str | None, typer.Option(
        "--content-encoding", "--ce", metavar="VALUE", help="The object's Content-Encoding.",
        show_default=False)] = None,
    content_language: Annotated[str | None, typer.Option(
        "--content-language", "--cl", metavar="VALUE", help="The object's Content-Language.",
        show_default=False)] = None,
    cache_control: Annotated[str | None, typer.Option(
        "--cache-control", "--cc", metavar="VALUE", help="The object's Cache-Control.",
        show_default=False)] = None,
    expires: Annotated[str | None, typer.Option(
        "--expires", metavar="DATE", help="When the object stops being cacheable (its Expires; an "
                                          "ISO 8601 or HTTP date).", show_default=False)] = None,
    local: LocalOption = True,
    persist_to: PersistTo = None,
) -> None:
    """Create an object from a file (--file) or stdin (--pipe)."""
    if (file is None) == (not pipe):
        raise InvalidInputError("Give one of --file FILE or --pipe (the object's content on stdin).")
    inv = begin(ctx)
    from pyflow_cli.bindings.local import r2_bucket

    r2_bucket(inv.project, _split(object_path)[0])  # a bad path or bucket fails before any reading
    if file is not None:
        try:
            data = (inv.state.options.cwd / file).read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"Cannot read {file}: {exc.strerror}. Check the --file path.") from None
    else:
        data = sys.stdin.buffer.read()
    http: dict[str, Any] = {"contentType": content_type, "contentDisposition": content_disposition,
                            "contentEncoding": content_encoding, "contentLanguage": content_language,
                            "cacheControl": cache_control, "cacheExpiry": expires}
    with local_bindings(inv, persist_to) as bindings:
        bucket, bucket_name, key = _bucket(inv, bindings, object_path)
        inv.ui.success(f'Creating object "{key}" in bucket "{bucket_name}".')
        run(bucket.put(key, data, {"httpMetadata": {k: v for k, v in http.items() if v is not None}}))
    inv.ui.success("Upload complete.")


@object_app.command("get")
def get(
    ctx: typer.Context,
    object_path: ObjectPath,
    file: Annotated[Path | None, typer.Option(
        "-f", "--file", metavar="FILE", help="Where to save the object (default: a file named after "
                                             "the key, in the current directory).",
        show_default=False)] = None,
    pipe: Pipe = False,
    local: LocalOption = True,
    persist_to: PersistTo = None,
) -> None:
    """Download an object to a file, or to stdout with --pipe."""
    inv = begin(ctx)
    with local_bindings(inv, persist_to) as bindings:
        bucket, bucket_name, key = _bucket(inv, bindings, object_path)

        async def read() -> bytes | None:
            found = await bucket.get(key)
            return None if found is None else await found.bytes()  # type: ignore[attr-defined]

        if not pipe:
            inv.ui.success(f'Downloading "{key}" from "{bucket_name}".')
        data = run(read())
    if data is None:
        raise NotFoundError(f'The specified key does not exist: no object "{key}" in bucket '
                            f'"{bucket_name}". Check the key.')
    if pipe:
        write_bytes(data)
        return
    target = inv.state.options.cwd / (file if file is not None else Path(key).name)
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise InvalidInputError(f"Cannot write {target}: {exc.strerror}. Check the --file path.") from None
    inv.ui.success("Download complete.")


@object_app.command("delete")
def delete(
    ctx: typer.Context,
    object_path: ObjectPath,
    local: LocalOption = True,
    persist_to: PersistTo = None,
) -> None:
    """Delete an object (a missing one is not an error)."""
    inv = begin(ctx)
    with local_bindings(inv, persist_to) as bindings:
        bucket, bucket_name, key = _bucket(inv, bindings, object_path)
        inv.ui.success(f'Deleting object "{key}" from bucket "{bucket_name}".')
        run(bucket.delete(key))
    inv.ui.success("Delete complete.")
