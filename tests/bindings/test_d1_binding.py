"""``env.DB`` under ``pyflow dev``, from a Worker's fetch handler and from a workflow step:
prepared statements, batches, exec, sessions, value conversion and D1's error messages; and a D1
error escaping a step fails that attempt, which is retried."""

from __future__ import annotations

from bindingkit import Dev, Scenario


def d1_error(message: str, kind: str = "D1_ERROR") -> dict[str, str]:
    return {"raised": "D1Error", "message": f"{kind}: {message}"}


ADA = {"id": 1, "name": "ada", "active": 1, "avatar": [1, 2], "score": 2, "note": None}
GRACE = {"id": 2, "name": "grace", "active": 0, "avatar": None, "score": 1.5, "note": None}


def test_prepared_statements_first_all_run_and_raw(scenario: Scenario) -> None:
    scenario.check("d1_statements", {
        "created": {"success": True, "results": []},
        "inserted_meta": {"changes": 1, "last_row_id": 1, "changed_db": True},
        "meta_keys": ["changed_db", "changes", "duration", "last_row_id", "rows_read", "rows_written",
                      "served_by", "served_by_primary", "size_after", "timings", "total_attempts"],
        "all": [ADA, GRACE], "success": True,
        "read_meta": {"changes": 0, "changed_db": False, "rows_read": 2},
        "run_rows": GRACE, "first": ADA, "first_column": "ada", "first_none": None,
        "first_none_column": None,
        "raw": [list(ADA.values()), list(GRACE.values())],
        "raw_names": [list(ADA), list(ADA.values()), list(GRACE.values())],
        "raw_dict": [["name"]], "attribute": "ada", "named": {"a": 1, "b": 2}, "several": [{"b": 2}]})


def test_batches_are_atomic_and_exec_runs_one_query_per_line(scenario: Scenario) -> None:
    unique = ("UNIQUE constraint failed: {p}_ledger.ref: SQLITE_CONSTRAINT "
              "(extended: SQLITE_CONSTRAINT_UNIQUE)")
    scenario.check("d1_batch_and_exec", {
        "exec": {"count": 3, "duration_type": "float"}, "batch": [[], [{"n": 3}]],
        "batch_success": [True, True], "failed": d1_error(unique), "count_after_failed_batch": 3,
        "exec_error": d1_error("Error in line 2: INSERT INTO nowhere VALUES (1);: no such table: "
                               "nowhere: SQLITE_ERROR", "D1_EXEC_ERROR"),
        "count_after_exec_error": 3, "empty_batch": d1_error("No SQL statements detected."),
        "multi_line_statement": d1_error("Error in line 1: INSERT INTO {p}_ledger: incomplete input: "
                                         "SQLITE_ERROR", "D1_EXEC_ERROR")})


def test_errors_are_worded_as_d1_words_them(scenario: Scenario) -> None:
    constraint = "SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_{})"
    scenario.check("d1_errors", {
        "syntax": d1_error('near "SELEC": syntax error: SQLITE_ERROR'),
        "no_table": d1_error("no such table: nowhere: SQLITE_ERROR"),
        "unique": d1_error("UNIQUE constraint failed: {p}_strict.name: " + constraint.format("UNIQUE")),
        "not_null": d1_error("NOT NULL constraint failed: {p}_strict.name: " + constraint.format("NOTNULL")),
        "bindings": d1_error("Wrong number of parameter bindings for SQL query."),
        "multi_params": d1_error("When executing multiple SQL statements in a single call, only the "
                                 "last statement can have parameters."),
        "column": d1_error("Column not found (nope)", "D1_COLUMN_NOTFOUND"),
        "empty": d1_error("No SQL statements detected."),
        "transaction": d1_error("To execute a transaction, please use the batch() API instead of the "
                                "SQL BEGIN TRANSACTION or SAVEPOINT statements: a batch runs "
                                "atomically, and is rolled back if a statement fails."),
        "attach": d1_error("not authorized: SQLITE_AUTH"), "pragma": d1_error("not authorized: SQLITE_AUTH"),
        "allowed_pragma": {"ok": ["id", "name"]},
        "bind_type": d1_error("Type 'dict' not supported for value '{'a': 1}'", "D1_TYPE_ERROR"),
        "caught": {"caught": "D1Error", "is_exception": True, "starts": True}})


def test_sessions_hand_out_growing_bookmarks(scenario: Scenario) -> None:
    scenario.check("d1_sessions", {"before": None, "first": {"x": 1}, "after_is_text": True,
                                   "advances": True, "primary": None, "resumed": True})


def test_a_d1_error_escaping_a_step_is_retried_like_any_failure(dev: Dev) -> None:
    details = dev.run_workflow("d1-retry", {"table": "retry_target"})
    assert details["status"] == "complete", details.get("error")
    assert details["output"] == 0
    attempts = details["steps"][0]["attempts"]
    assert [a["success"] for a in attempts] == [False, True]
    assert attempts[0]["error"]["message"] == "D1_ERROR: no such table: retry_target: SQLITE_ERROR"
