"""Applying writes to the SQLite database, on the writer thread: a ``Change`` (guards, wipes,
then rows) alone, or a group of plain changes in one statement per table, as they would be
applied one after another (``Store``'s contract; ``tests/storage/`` checks both paths agree)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from pyflow_cli.engine.changes import UNSET, Change, InstanceUpdate, NewInstance, NewLogEvent, StepWrite
from pyflow_cli.engine.events import EventType
from pyflow_cli.engine.status import InstanceStatus
from pyflow_cli.engine.store import LeaseLost

_UPDATABLE = ("status", "output_json", "error_json", "runnable_at", "lease_owner",
              "lease_expires", "paused_at", "version_id", "control", "lifetime")
_COLUMN = {"output_json": "output", "error_json": "error"}


def queued_rows(conn: sqlite3.Connection, iid: int | None, new: NewInstance,
                started: bool = True) -> None:
    """Its ``WORKFLOW_QUEUED`` row and, unless it waits for admission, its ``WORKFLOW_START``."""
    ts = new.created_ms
    rows = [(iid, 1, ts, int(EventType.WORKFLOW_QUEUED), new.queued_metadata())]
    if started:
        rows.append((iid, 2, ts, int(EventType.WORKFLOW_START), "{}"))
    conn.executemany("INSERT INTO log (iid, seq, ts, event, metadata) VALUES (?, ?, ?, ?, ?)",
                     rows)


class PlainChange:
    """A change with no guard, wipe or shift, which the writer may apply together with others."""

    __slots__ = ("change",)

    def __init__(self, change: Change) -> None:
        self.change = change

    def __call__(self, conn: sqlite3.Connection) -> bool | LeaseLost:
        return _write(conn, [self.change])[0]

    @staticmethod
    def apply_many(conn: sqlite3.Connection, operations: list[PlainChange]
                   ) -> list[bool | LeaseLost]:
        return _write(conn, [op.change for op in operations])


def apply_change(conn: sqlite3.Connection, change: Change) -> bool | LeaseLost:
    """A change with a guard, a wipe or a shift: checked, wiped, then written like any other."""
    iid = change.iid
    row = conn.execute("SELECT status, lease_owner, lifetime, signal, lease_epoch FROM instances "
                       "WHERE iid = ?", (iid,)).fetchone()
    if row is None:
        return False
    status, owner, lifetime, signal, epoch = row
    if change.fence is not None and (owner, epoch) != change.fence:
        return LeaseLost(iid, change.fence)
    if ((change.expect_status is not None and status != change.expect_status.value)
            or (change.expect_owner is not UNSET and owner != change.expect_owner)
            or (change.expect_lifetime is not None and lifetime != change.expect_lifetime)
            or (change.expect_signal is not None and signal != change.expect_signal)):
        return False
    if change.wipe_all or change.wipe_keys or change.wipe_run_rows:
        # The numbers of wiped rows are not given out again (a reader may have seen them).
        conn.execute(f"UPDATE instances SET log_floor = MAX(log_floor, {_LAST_SEQ}) WHERE iid = ?",
                     (iid,))
    if change.wipe_all:
        for table in ("log", "steps", "timers", "inbox"):
            conn.execute(f"DELETE FROM {table} WHERE iid = ?", (iid,))
    elif change.wipe_keys or change.wipe_run_rows:
        keys = list(change.wipe_keys)
        marks = ",".join("?" * len(keys))
        if keys:
            conn.execute(f"DELETE FROM log WHERE iid = ? AND group_key IN ({marks})", (iid, *keys))
            conn.execute(f"DELETE FROM steps WHERE iid = ? AND cache_key IN ({marks})", (iid, *keys))
            conn.execute(f"DELETE FROM timers WHERE iid = ? AND cache_key IN ({marks})",
                         (iid, *keys))
        if change.wipe_run_rows:
            conn.execute("DELETE FROM log WHERE iid = ? AND group_key IS NULL AND event NOT IN "
                         "(?, ?)", (iid, int(EventType.WORKFLOW_QUEUED),
                                    int(EventType.WORKFLOW_START)))
    return _write(conn, [change])[0]


def _write(conn: sqlite3.Connection, changes: list[Change]) -> list[bool | LeaseLost]:
    """Write ``changes`` (guards and wipes done) as they would be written one after another, in a
    statement per table: a change for an instance that does not exist writes nothing (False), nor
    does one whose fence no longer holds (``LeaseLost``); the others number their log rows on
    from their instance's last number."""
    iids = list({change.iid for change in changes})
    # iid -> [lease owner, lease epoch, last log number]
    rows = {row[0]: [row[1], row[2], row[3]] for row in _instance_rows(
        conn, f"iid, lease_owner, lease_epoch, MAX(log_floor, {_LAST_SEQ})", iids)}
    outcomes: list[bool | LeaseLost] = []
    written: list[Change] = []
    log: list[tuple[int, int, NewLogEvent]] = []
    for change in changes:
        row = rows.get(change.iid)
        if row is None:
            outcomes.append(False)
            continue
        fence = change.fence
        if fence is not None and (row[0] != fence.owner or row[1] != fence.epoch):
            outcomes.append(LeaseLost(change.iid, fence))
            continue
        outcomes.append(True)
        written.append(change)
        for event in change.log:
            row[2] += 1
            log.append((change.iid, row[2], event))
        if change.instance is not None and change.instance.lease_owner is not UNSET:
            row[0] = change.instance.lease_owner  # a later change's fence sees it
    _insert_log(conn, log)
    _upsert_steps(conn, [(c.iid, s) for c in written for s in c.steps])
    _write_timers(conn, written)
    consumed = [(key, seq, c.iid) for c in written for seq, key in c.consume_events]
    if consumed:
        conn.executemany("UPDATE inbox SET consumed_by = ? WHERE seq = ? AND iid = ?", consumed)
    for change in written:
        if change.instance is not None:
            _update_instance(conn, change.iid, change.instance)
    return outcomes


_LAST_SEQ = "COALESCE((SELECT MAX(seq) FROM log WHERE log.iid = instances.iid), 0)"
"""The instance's highest log number (in a statement on ``instances``): the end of an index."""


def _instance_rows(conn: sqlite3.Connection, columns: str, iids: list[int]) -> Iterator[Any]:
    """``SELECT columns`` of the instance rows of ``iids``, 500 iids per statement."""
    for start in range(0, len(iids), 500):
        chunk = iids[start:start + 500]
        yield from conn.execute(f"SELECT {columns} FROM instances WHERE iid IN "
                                f"({','.join('?' * len(chunk))})", chunk)


def _write_timers(conn: sqlite3.Connection, changes: list[Change]) -> None:
    """Each change shifts its instance's stored timers, then sets, then clears (the order
    ``Change`` states); across changes only a row's last write counts, so the whole group takes
    one statement of each kind. (Shifting changes come alone: they are never plain.)"""
    shifts = [(c.shift_timers_ms, c.iid) for c in changes if c.shift_timers_ms]
    if shifts:
        conn.executemany("UPDATE timers SET due_ms = due_ms + ? WHERE iid = ?", shifts)
    last: dict[tuple[int, str, str], float | None] = {}  # None: cleared
    for change in changes:
        for timer in change.set_timers:
            last[(change.iid, timer.cache_key, timer.kind)] = timer.due_ms
        for key, kind in change.clear_timers:
            last[(change.iid, key, kind)] = None
    if not last:
        return
    kept = [(*row, due) for row, due in last.items() if due is not None]
    if kept:
        conn.executemany("INSERT OR REPLACE INTO timers VALUES (?, ?, ?, ?)", kept)
    cleared = [row for row, due in last.items() if due is None]
    if cleared:
        conn.executemany("DELETE FROM timers WHERE iid = ? AND cache_key = ? AND kind = ?", cleared)


def _insert_log(conn: sqlite3.Connection, rows: list[tuple[int, int, NewLogEvent]]) -> None:
    if rows:
        conn.executemany(
            "INSERT INTO log (iid, seq, ts, event, group_key, target, metadata, traceback, "
            "version, engine) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(iid, seq, e.timestamp_ms, int(e.event), e.group_key, e.target, e.encoded_metadata(),
              e.encoded_traceback(), e.version, e.runner.engine if e.runner else None)
             for iid, seq, e in rows])


def _upsert_steps(conn: sqlite3.Connection, rows: list[tuple[int, StepWrite]]) -> None:
    if rows:
        conn.executemany(
            "INSERT INTO steps (iid, cache_key, kind, target, state, value, error, config, "
            "attempts, attempt_open) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (iid, cache_key) DO UPDATE SET "
            "state = COALESCE(excluded.state, state), value = COALESCE(excluded.value, value), "
            "error = COALESCE(excluded.error, error), config = COALESCE(excluded.config, config), "
            "attempts = COALESCE(excluded.attempts, attempts), "
            "attempt_open = COALESCE(excluded.attempt_open, attempt_open)",
            [(iid, s.cache_key, s.kind, s.target, s.state, s.value_json, s.error_json,
              s.config_json, s.attempts, None if s.attempt_open is None else int(s.attempt_open))
             for iid, s in rows])


def _update_instance(conn: sqlite3.Connection, iid: int, update: InstanceUpdate) -> None:
    sets, params = [], []
    for name in _UPDATABLE:
        value = getattr(update, name)
        if value is UNSET:
            continue
        sets.append(f"{_COLUMN.get(name, name)} = ?")
        params.append(value.value if isinstance(value, InstanceStatus) else value)
    if update.bump_signal:
        sets.append("signal = signal + 1")
    if sets:
        conn.execute(f"UPDATE instances SET {', '.join(sets)} WHERE iid = ?", (*params, iid))
