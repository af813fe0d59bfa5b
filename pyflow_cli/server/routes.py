"""The local API's route table: which path shapes exist and which methods each one takes.

Matching is on the decoded path segments after ``/cdn-cgi/local/explorer/api``; a segment in
braces matches any one segment and is handed to the handler by name, a last one ending in
``...`` (``{key...}``) every remaining segment (a KV key or R2 object key may hold slashes).
A path that matches a route but not its method is a 405 naming the methods it takes (with
``HEAD`` wherever ``GET`` is); a path that matches no route is a 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ROUTES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("GET",)),
    ("workflows", ("GET",)),
    ("workflows/{workflow}", ("GET", "DELETE")),
    ("workflows/{workflow}/instances", ("GET", "POST")),
    ("workflows/{workflow}/instances/batch/delete", ("POST",)),
    ("workflows/{workflow}/instances/{instance_id}", ("GET", "DELETE")),
    ("workflows/{workflow}/instances/{instance_id}/log", ("GET",)),
    ("workflows/{workflow}/instances/{instance_id}/status", ("PATCH",)),
    ("workflows/{workflow}/instances/{instance_id}/events/{event_type}", ("POST",)),
    # Served by the explorer's routes (server/explorer/); listed for their 405s.
    ("workflows/{workflow}/metrics", ("GET",)),
    ("workflows/{workflow}/events", ("GET",)),
    ("workflows/{workflow}/purge", ("POST",)),
    ("stream", ("GET",)),
    ("storage/kv/namespaces", ("GET",)),
    ("storage/kv/namespaces/{namespace_id}/keys", ("GET",)),
    ("storage/kv/namespaces/{namespace_id}/values/{key_name...}", ("GET", "PUT", "DELETE")),
    ("storage/kv/namespaces/{namespace_id}/bulk", ("PUT",)),
    ("storage/kv/namespaces/{namespace_id}/bulk/delete", ("POST",)),
    ("r2/buckets", ("GET",)),
    ("r2/buckets/{bucket_name}", ("GET",)),
    ("r2/buckets/{bucket_name}/objects", ("GET", "POST", "DELETE")),
    ("r2/buckets/{bucket_name}/objects/{object_key...}", ("GET", "PUT", "DELETE")),
    ("d1/database", ("GET",)),
    ("d1/database/{database_id}/raw", ("POST",)),
    ("d1/database/{database_id}/tables", ("GET",)),
    ("d1/database/{database_id}/rows", ("GET",)),
    ("d1/database/{database_id}/migrations", ("GET",)),
    ("local/crons", ("GET",)),
    ("local/scheduled", ("POST",)),
    ("local/engines", ("GET",)),
    ("local/versions", ("GET",)),
)


@dataclass(frozen=True)
class Match:
    """A request's route: its pattern, the values of its braced segments, and whether the route
    takes the request's method (``allowed`` lists the ones it takes)."""

    pattern: str
    params: dict[str, str]
    allowed: tuple[str, ...]
    method_allowed: bool


def allowed_methods(methods: Sequence[str]) -> tuple[str, ...]:
    """A route's methods as an ``Allow`` header lists them: ``HEAD`` right after ``GET``."""
    shown: list[str] = []
    for method in methods:
        shown.append(method)
        if method == "GET":
            shown.append("HEAD")
    return tuple(shown)


def match(method: str, segments: Sequence[str]) -> Match | None:
    """The route for ``method`` on ``segments``, or None when no route has this path.

    Literal segments win over braced ones (``instances/batch/delete`` is not an instance
    called ``batch``)."""
    best: tuple[int, str, dict[str, str], tuple[str, ...]] | None = None
    for pattern, methods in ROUTES:
        parts = pattern.split("/") if pattern else []
        rest = bool(parts) and parts[-1].endswith("...}")
        if rest and len(segments) >= len(parts):
            segments_here = [*segments[:len(parts) - 1], "/".join(segments[len(parts) - 1:])]
        elif len(parts) == len(segments):
            segments_here = list(segments)
        else:
            continue
        params: dict[str, str] = {}
        literals = 0
        for part, segment in zip(parts, segments_here, strict=True):
            if part.startswith("{"):
                params[part[1:-1].removesuffix("...")] = segment
            elif part == segment:
                literals += 1
            else:
                break
        else:
            if best is None or literals > best[0]:
                best = (literals, pattern, params, methods)
    if best is None:
        return None
    _, pattern, params, methods = best
    allowed = allowed_methods(methods)
    return Match(pattern, params, allowed, method in allowed)
