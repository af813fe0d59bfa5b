"""Rows as both backends read them: log rows (with the runner of an attempt) and engines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pyflow_cli.engine.events import EventType, LogEvent, Runner
from pyflow_cli.engine.serde import parse_shown
from pyflow_cli.engine.store import EngineRecord


def log_event(seq: int, ts: float, event: int, key: str | None, target: str | None, meta: str,
              trace: str | None, version: str | None, engine: str | None) -> LogEvent:
    """A log row as read (``..., traceback, version, engine``): an attempt's start has the
    version of the code it ran and the engine that ran it. Rows hold JSON as shown (serde's
    display form): nothing in them is restored."""
    return LogEvent(seq, ts, EventType(event), key, target, parse_shown(meta),
                    parse_shown(trace) if trace is not None else None, version,
                    Runner(engine, version) if engine is not None else None)


def engine_record(row: Sequence[Any]) -> EngineRecord:
    """An ``engines`` row as read: ``id, pid, host, heartbeat_ms, version, kind, workflows,
    started_ms``, its workflows stored as a JSON list."""
    engine_id, pid, host, heartbeat_ms, version, kind, workflows, started_ms = row
    return EngineRecord(engine_id, pid, host, heartbeat_ms, version, kind,
                        tuple(json.loads(workflows)) if workflows else (), started_ms)
