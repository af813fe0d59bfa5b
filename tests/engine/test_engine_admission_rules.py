"""The pure rules of the platform's limits (engine/admission.py) and of version labels."""

from __future__ import annotations

import pytest

from pyflow_cli.engine.admission import (
    DAY_MS,
    PLANS,
    CreationLimits,
    CreationRate,
    PlatformRules,
    RunningLimit,
    admissible,
    creation_refusal,
    format_period,
    parse_rules,
)
from pyflow_cli.engine.errors import InvalidInputError, QueueFullError, RateLimitedError
from pyflow_cli.engine.versions import VersionRecord, find_version


def test_the_plans_hold_the_documented_limits() -> None:
    free, paid = PLANS["free"], PLANS["paid"]
    assert (free.max_running, free.max_queued, free.retention_ms) == (25, 10_000, 3 * DAY_MS)
    assert (paid.max_running, paid.max_queued, paid.retention_ms) == (4_500, 100_000, 7 * DAY_MS)
    assert free.creation_rate == paid.creation_rate == CreationRate(100, 10_000.0)


def test_single_limits_win_over_the_plan_and_say_where_they_come_from() -> None:
    rules = parse_rules(plan="free", max_running="3", retention="12h",
                        names={"max_running": "PYFLOW_MAX_RUNNING"})
    assert (rules.max_running, rules.max_queued, rules.retention_ms) == (3, 10_000, 12 * 3_600_000)
    assert rules.describe() == [
        "at most 3 instances running at once (PYFLOW_MAX_RUNNING)",
        "at most 10,000 instances queued (--plan free)",
        "at most 100 instances created every 10 seconds (--plan free)",
        "finished instances deleted 12 hours after they end (--retention)"]
    assert parse_rules() == PlatformRules() and PlatformRules().describe() == []
    assert parse_rules(max_running="1").describe() == [
        "at most 1 instance running at once (--max-running)"]


@pytest.mark.parametrize(("given", "message"), [
    ({"plan": "gold"}, '--plan must be one of free, paid (got "gold").'),
    ({"max_running": "0"}, '--max-running must be a whole number of 1 or more (got "0").'),
    ({"max_queued": "lots"}, '--max-queued must be a whole number of 1 or more (got "lots").'),
    ({"retention": "forever"}, '--retention must be a duration such as 7d, 12h, 30m or 1s '
                               '(got "forever").'),
    ({"retention": "-1d"}, '--retention must be a duration such as 7d'),
])
def test_bad_limits_are_one_clear_line(given: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_rules(**given)


def test_admissible_counts_the_others_and_the_claimants_own() -> None:
    assert admissible(0, None, 7) == 7
    assert admissible(1, RunningLimit(4, 1), 7) == 2
    assert admissible(3, RunningLimit(4, 2), 7) == 0  # over the limit: none, never negative


def test_a_create_over_the_rate_says_when_the_window_lets_it_in() -> None:
    limits = CreationLimits(rate=CreationRate(3, 10_000.0), rate_origin="--plan free")
    assert creation_refusal(limits, 1, 0, [1_000.0, 2_000.0], 5_000.0) is None
    refused = creation_refusal(limits, 2, 0, [1_000.0, 2_000.0], 5_000.0)
    assert isinstance(refused, RateLimitedError)
    assert refused.retry_after_s == pytest.approx(6.0)  # once the creation at 1000 leaves
    assert refused.error_code == "instance.rate_limited"
    assert str(refused).startswith("(instance.rate_limited) Too many instances created: at most "
                                   "3 every 10 seconds (--plan free), and 2 were created")


def test_a_create_over_the_queued_limit_is_refused_whole() -> None:
    limits = CreationLimits(max_queued=10)
    assert creation_refusal(limits, 2, 8, [], 0.0) is None
    refused = creation_refusal(limits, 3, 8, [], 0.0)
    assert isinstance(refused, QueueFullError) and refused.retry_after_s is None


def test_periods_read_as_people_write_them() -> None:
    assert [format_period(ms) for ms in (7 * DAY_MS, 3_600_000.0, 90_000.0, 1_500.0)] == [
        "7 days", "1 hour", "90 seconds", "1.5 seconds"]


def test_a_version_is_found_by_label_id_or_unique_prefix() -> None:
    versions = [VersionRecord("aaaa-1111", 1, 0.0), VersionRecord("aaab-2222", 2, 0.0)]
    assert find_version("v2", versions).id == "aaab-2222"
    assert find_version("aaaa-1111", versions).number == 1
    assert find_version("aaab", versions).label == "v2"
    with pytest.raises(InvalidInputError, match='"aaa" is not a version this store has seen'):
        find_version("aaa", versions)  # too short to be a prefix
    with pytest.raises(InvalidInputError, match="known: v1, v2"):
        find_version("v3", versions)
