"""Dates, durations, labelled blocks and tables, compared with the reference's exact text (SPEC §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pyflow_cli.cli.doc import Field, cell_width, labelled, plain, table, wrap
from pyflow_cli.cli.formats import (
    distance_strict,
    iso_to_ms,
    js_json,
    locale_datetime,
    parse_date_option,
    relative,
    status_text,
    trigger_text,
)
from pyflow_cli.cli.screens import workflow_details, workflows_table
from pyflow_cli.engine.errors import InvalidInputError


def ms(text: str) -> float:
    return iso_to_ms(text)


@pytest.mark.parametrize(("iso", "expected"), [
    ("2026-11-24T16:02:13.934Z", "11/24/2026, 4:02:13 PM"),
    ("2026-01-01T00:00:00.000Z", "1/1/2026, 12:00:00 AM"),
    ("2026-01-01T12:00:05.000Z", "1/1/2026, 12:00:05 PM"),
    ("2026-07-04T09:05:00.000Z", "7/4/2026, 9:05:00 AM"),
])
def test_dates_are_written_as_nodes_to_locale_string(iso: str, expected: str) -> None:
    assert locale_datetime(ms(iso), UTC) == expected


def test_dates_are_shown_in_the_given_time_zone() -> None:
    new_york = timezone(timedelta(hours=-5))
    assert locale_datetime(ms("2026-11-24T16:02:13Z"), new_york) == "11/24/2026, 11:02:13 AM"


def test_dates_default_to_the_machine_time_zone() -> None:
    moment = ms("2026-11-24T16:02:13Z")
    local = datetime.fromtimestamp(moment / 1000).astimezone()
    assert locale_datetime(moment).endswith(f"{local.minute:02d}:13 {'AM' if local.hour < 12 else 'PM'}")


@pytest.mark.parametrize(("seconds", "expected"), [
    (0, "0 seconds"), (1, "1 second"), (3, "3 seconds"), (44.4, "44 seconds"), (59.5, "60 seconds"),
    (60, "1 minute"), (89, "1 minute"), (90, "2 minutes"), (3599, "60 minutes"), (3600, "1 hour"),
    (5400, "2 hours"), (86_399, "24 hours"), (86_400, "1 day"), (45 * 86_400, "2 months"),
    (359 * 86_400, "1 year"), (400 * 86_400, "1 year"), (800 * 86_400, "2 years"),
])
def test_durations_follow_date_fns_format_distance_strict(seconds: float, expected: str) -> None:
    assert distance_strict(1_000_000 + seconds * 1000, 1_000_000) == expected
    assert distance_strict(1_000_000, 1_000_000 + seconds * 1000) == expected


def test_relative_times_say_in_or_ago() -> None:
    assert relative(10_000, 7_000) == "in 3 seconds from now"
    assert relative(7_000, 10_000) == "3 seconds ago"


def test_status_and_trigger_labels() -> None:
    assert [status_text(s) for s in ("complete", "errored", "waitingForPause", "bogus", None)] == [
        "✅ Completed", "❌ Errored", "⏱️ Waiting for Pause", "❓ Unknown", "❓ Unknown"]
    assert [trigger_text(n) for n in (0, 1, 2, 3, 4, 9, None)] == [
        "🌎 API", "🔗 Binding", "📨 Event", "⏰ Cron", "🖥️ CLI", "❓ Unknown", "❓ Unknown"]


def test_json_is_written_as_json_stringify_writes_it() -> None:
    assert js_json({"a": [1, 2.0, 2.5], "b": "é", "c": None}) == '{"a":[1,2,2.5],"b":"é","c":null}'


def test_emoji_with_variation_selector_takes_two_cells() -> None:
    assert cell_width("✅ Completed") == 12
    assert cell_width("⏸️ Paused") == 9
    assert cell_width("▶ Running") == 9
    assert cell_width("🖥️ CLI") == 6


def test_wrap_breaks_at_spaces_then_inside_long_words() -> None:
    assert wrap("RuntimeError: boom", 13) == ["RuntimeError:", "boom"]
    assert wrap("abcdefghij", 4) == ["abcd", "efgh", "ij"]
    assert wrap("a\nb", 10) == ["a", "b"]
    assert wrap("⏸️ Paused", 2) == ["⏸️", "Pa", "us", "ed"]


ATTEMPTS_SAMPLE = """\
┌────────────────────────┬────────────────────────┬───────────┬────────────┬───────────┐
│ Start                  │ End                    │ Duration  │ State      │ Error     │
├────────────────────────┼────────────────────────┼───────────┼────────────┼───────────┤
│ 11/24/2026, 4:00:15 PM │ 11/24/2026, 4:00:15 PM │ 0 seconds │ ❌ Error   │ Error: x1 │
├────────────────────────┼────────────────────────┼───────────┼────────────┼───────────┤
│ 11/24/2026, 4:00:18 PM │ 11/24/2026, 4:00:18 PM │ 0 seconds │ ✅ Success │           │
└────────────────────────┴────────────────────────┴───────────┴────────────┴───────────┘"""


def test_table_matches_the_reference_attempts_table() -> None:
    rows = [
        {"Start": "11/24/2026, 4:00:15 PM", "End": "11/24/2026, 4:00:15 PM", "Duration": "0 seconds",
         "State": "❌ Error", "Error": "Error: x1"},
        {"Start": "11/24/2026, 4:00:18 PM", "End": "11/24/2026, 4:00:18 PM", "Duration": "0 seconds",
         "State": "✅ Success"},
    ]
    assert plain(table(rows)) == ATTEMPTS_SAMPLE


def test_table_headers_come_from_the_first_row_only() -> None:
    rows = [{"A": "1"}, {"A": "2", "B": "dropped"}]
    assert "dropped" not in plain(table(rows))


WORKFLOWS_SAMPLE = """\
Showing 1 workflow from wrangler.toml:
┌───────────────────┬───────────────────┬────────────┐
│ Name              │ Script name       │ Class name │
├───────────────────┼───────────────────┼────────────┤
│ workflows-starter │ workflows-starter │ MyWorkflow │
└───────────────────┴───────────────────┴────────────┘"""


def test_workflows_table_matches_the_reference() -> None:
    rows = [{"name": "workflows-starter", "script_name": "workflows-starter", "class_name": "MyWorkflow"}]
    assert plain(workflows_table(rows, "wrangler.toml", None)) == WORKFLOWS_SAMPLE


def test_narrow_tables_wrap_free_text_columns_first() -> None:
    rows = [{"When": "11/24/2026, 4:00:15 PM", "Error": "RuntimeError: something went wrong"}]
    text = plain(table(rows, max_width=50, flexible=("Error",)))
    assert all(cell_width(line) <= 50 for line in text.splitlines())
    assert "│ 11/24/2026, 4:00:15 PM │" in text  # the date kept on one line
    assert "RuntimeError:" in text and "wrong" in text


WORKFLOW_DESCRIBE_SAMPLE = """\
Name:         workflows-starter
Script Name:  workflows-starter
Class Name:   MyWorkflow
Instance Status Counts:
  complete:         17
  errored:          11
  paused:           0
  queued:           0
  running:          0
  terminated:       0
  waiting:          0
  waitingForPause:  0"""


def test_labelled_blocks_align_values_as_the_reference_does() -> None:
    info = {"name": "workflows-starter", "script_name": "workflows-starter", "class_name": "MyWorkflow"}
    counts = {"complete": 17, "errored": 11, "paused": 0, "queued": 0, "running": 0, "terminated": 0,
              "waiting": 0, "waitingForPause": 0}
    assert plain(workflow_details(info, counts)) == WORKFLOW_DESCRIBE_SAMPLE


def test_multi_line_values_continue_at_the_value_column() -> None:
    assert plain(labelled([Field("Error", "one\ntwo")], indent=2)) == "  Error:  one\n          two"


def test_date_options_accept_dates_and_date_times() -> None:
    assert parse_date_option("2026-01-31", "--date-start") == ms("2026-01-31T00:00:00Z")
    assert parse_date_option("2026-01-31", "--date-end", end=True) == pytest.approx(
        ms("2026-02-01T00:00:00Z") - 0.001)
    assert parse_date_option("2026-01-31T13:00:00", "--date-start") == ms("2026-01-31T13:00:00Z")
    assert parse_date_option("2026-01-31T13:00:00+01:00", "--date-end", end=True) == ms(
        "2026-01-31T12:00:00Z")
    with pytest.raises(InvalidInputError, match='--date-start "yesterday" is not an ISO 8601 date'):
        parse_date_option("yesterday", "--date-start")
