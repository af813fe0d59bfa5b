"""What the end-to-end durability tests check after their engines were killed, frozen and
restarted: the step results the store committed, and the journal the step bodies wrote of
every start and finish (one JSON line each: instance ``i``, step ``s``, ``kind``, ``token``)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from pyflow_cli.engine.serde import decode
from pyflow_cli.engine.store import Store

Key = tuple[str, str]  # (instance id, step name)


async def committed_results(store: Store, workflow: str, limit: int) -> dict[Key, Any]:
    """Each ``do`` step's stored result, after checking that every instance completed with the
    list of its steps' results as its output."""
    page = await store.list_instances(workflow, limit=limit)
    results: dict[Key, Any] = {}
    for record in page.records:
        assert record.status.value == "complete", (record.id, record.status, record.error_json)
        history = await store.load_history(record.iid)
        for step in history.steps.values():
            if step.kind == "do":
                results[(record.id, step.target.rsplit("-", 1)[0])] = decode(step.value_json)
        output = decode(record.output_json)
        assert output == [results[(record.id, f"s{k}")] for k in range(len(output))]
    return results


def journal_by_step(journal: Path) -> dict[Key, list[dict[str, Any]]]:
    """The journal's entries per step, in the order the bodies wrote them."""
    by_step: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    for line in journal.read_text().splitlines():
        entry = json.loads(line)
        by_step[(entry["i"], entry["s"])].append(entry)
    return by_step


def after_commit(key: Key, history: list[dict[str, Any]], token: Any) -> list[dict[str, Any]]:
    """The entries written after the body run whose result (``token``) the store committed,
    which must exist: a stored result no body produced would be made up."""
    done_at = [n for n, e in enumerate(history) if e["kind"] == "done" and e["token"] == token]
    assert done_at, f"{key}: the stored result was never produced by a body"
    return history[done_at[0] + 1:]
