"""The platform's rules on PostgreSQL (``engine/admission.py``, ``retention.py``,
``versions.py``): claims and creates under limits, purges, versions.

The decisions that must hold across processes are taken by the server-side functions of schema
v2 (``pg_schema.py``) under one advisory lock per schema, the *admission lock*: a claim under a
running limit and a create under a queued limit or a creation rate take it before they count,
so what they count cannot change before they commit. (In PostgreSQL's READ COMMITTED, each
statement of a function sees what was committed before it started: the count, taken after the
lock, sees every claim that held the lock before.) The words of a refusal come from the same
pure function as on SQLite, given the counts the server found.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pyflow_cli.engine.admission import CreationLimits, creation_refusal
from pyflow_cli.engine.errors import TooManyRequestsError
from pyflow_cli.engine.retention import PurgeQuery
from pyflow_cli.engine.versions import VersionRecord


def limits_json(limits: CreationLimits | None) -> str | None:
    """``limits`` as ``create_instances`` takes them (None: no limit, start rows at once)."""
    if limits is None:
        return None
    rate = limits.rate
    return json.dumps({"q": limits.max_queued, "rc": rate.count if rate else None,
                       "rw": rate.window_ms if rate else None, "d": limits.start_on_admission})


def created(result: dict[str, Any], limits: CreationLimits | None,
            news_ms: Sequence[float]) -> list[int | None] | TooManyRequestsError:
    """What ``create_instances`` answered: the new iids, or the 429 its counts call for."""
    if "iids" in result:
        return list(result["iids"])
    assert limits is not None, "a create without limits is never refused"
    refusal = creation_refusal(limits, int(result["adding"]), int(result["queued"]),
                               [float(t) for t in result["recent"]], max(news_ms))
    return refusal or TooManyRequestsError(
        "The instances could not be created: a platform limit refused them.", "too_many")


def purge_sql(schema: str, query: PurgeQuery, limit: int) -> tuple[str, list[Any]]:
    """One statement deleting a batch and every row it owns; it returns how many."""
    where, params = _where(query)
    tables = "".join(f", d_{t} AS (DELETE FROM {schema}.{t} WHERE iid IN (SELECT iid FROM gone))"
                     for t in ("log", "steps", "timers", "inbox"))
    # Picked once (MATERIALIZED): a subquery with LIMIT may be run again inside a DELETE.
    return (f"WITH picked AS MATERIALIZED (SELECT iid FROM {schema}.instances WHERE {where} "
            "ORDER BY ended_ms LIMIT %s FOR UPDATE SKIP LOCKED), "
            f"gone AS (DELETE FROM {schema}.instances WHERE iid IN (SELECT iid FROM picked) "
            f"RETURNING iid){tables} SELECT count(*) FROM gone", [*params, limit])


def count_sql(schema: str, query: PurgeQuery) -> tuple[str, list[Any]]:
    where, params = _where(query)
    return f"SELECT count(*) FROM {schema}.instances WHERE {where}", params


def _where(query: PurgeQuery) -> tuple[str, list[Any]]:
    terms = ["ended_ms IS NOT NULL", "ended_ms < %s", "lease_owner IS NULL", "status = ANY(%s)"]
    params: list[Any] = [query.ended_before_ms, [s.value for s in query.statuses]]
    if query.workflow is not None:
        terms.append("workflow = %s")
        params.append(query.workflow)
    return " AND ".join(terms), params


def list_versions_sql(schema: str, count: bool) -> str:
    instances = (f"(SELECT count(*) FROM {schema}.instances i WHERE i.version_id = v.id)"
                 if count else "0")
    return (f"SELECT v.id, v.number, v.first_seen_ms, {instances} FROM {schema}.versions v "
            "ORDER BY v.number")


def version(row: Sequence[Any]) -> VersionRecord:
    return VersionRecord(row[0], int(row[1]), float(row[2]), int(row[3]) if len(row) > 3 else 0)
