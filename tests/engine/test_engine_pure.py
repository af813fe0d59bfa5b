"""The pure decision modules: durations, step config, backoff, cache keys, limits, values."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pyflow_cli.engine.durations import InvalidDurationError, parse_duration_ms
from pyflow_cli.engine.keys import KeyCounter, split_target
from pyflow_cli.engine.limits import is_addressable_id, is_valid_instance_id, is_valid_step_name
from pyflow_cli.engine.retry import InvalidStepConfig, delay_for, resolve_config, validate_config, will_retry
from pyflow_cli.engine.status import InstanceStatus, parse_status


@pytest.mark.parametrize(("text", "ms"), [
    ("1 second", 1000), ("2 seconds", 2000), ("3 min", 180_000), ("5 mins", 300_000),
    ("1 sec", 1000), ("2 hrs", 7_200_000), ("3 s", 3000), ("1.5 hours", 5_400_000),
    ("24 hours", 86_400_000), ("10 Seconds", 10_000), ("500 ms", 500), ("1 week", 604_800_000),
    ("1 month", 2_592_000_000), ("1 year", 31_536_000_000), ("2 days", 172_800_000), ("1500", 1500),
    (1500, 1500), (2.5, 2.5), ("-5 seconds", -5000), ("10s", 10_000), ("1  second", 1000),
    (timedelta(minutes=2), 120_000),
])
def test_duration_grammar_accepts_units_plurals_and_short_forms(text: object, ms: float) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("bad", ["banana", "3 parsecs", "", "   ", "ten seconds", None, True, float("nan")])
def test_unknown_duration_is_a_clear_error_naming_the_value(bad: object) -> None:
    with pytest.raises(InvalidDurationError) as info:
        parse_duration_ms(bad)
    assert repr(bad) in str(info.value) or str(bad) in str(info.value)


def test_default_config_is_the_documented_one_in_reference_key_order() -> None:
    stored = resolve_config(None).stored
    assert stored == {"retries": {"limit": 5, "backoff": "exponential", "delay": 10000},
                      "timeout": "10 minutes"}
    assert list(stored["retries"]) == ["limit", "backoff", "delay"]


def test_config_merge_is_shallow_per_level() -> None:
    stored = resolve_config({"retries": {"limit": 1, "delay": 100}}).stored
    assert stored["retries"] == {"limit": 1, "backoff": "exponential", "delay": 100}
    assert stored["timeout"] == "10 minutes"


@pytest.mark.parametrize("config", [
    {"retries": {"limit": 3}}, {"retries": {"delay": 3}}, {"retries": {"limit": 1, "delay": 1, "x": 1}},
    {"timeout": 0}, {"timeout": "0"}, {"timeout": "soon"}, {"retries": {"limit": -1, "delay": 1}},
    {"retries": {"limit": 1, "delay": 1, "backoff": "fibonacci"}}, {"sensitive": "input"},
    {"whatever": 1}, "not a dict", {"retries": {"limit": True, "delay": 1}},
])
def test_invalid_step_configs_are_rejected(config: object) -> None:
    with pytest.raises(InvalidStepConfig):
        validate_config(config)


def test_zero_seconds_timeout_and_function_delay_are_valid() -> None:
    validate_config({"timeout": "0 seconds"})
    validate_config({"retries": {"limit": 1, "delay": lambda arg: 5}})
    assert "delay" not in resolve_config({"retries": {"limit": 1, "delay": lambda arg: 5}}).stored["retries"]


@pytest.mark.parametrize(("backoff", "expected"), [
    ("constant", [1000, 1000, 1000, 1000, 1000]),
    ("linear", [1000, 2000, 3000, 4000, 5000]),
    ("exponential", [1000, 2000, 4000, 8000, 16000]),
    ("unknown", [1000, 1000, 1000, 1000, 1000]),
])
def test_backoff_arithmetic_matches_the_reference_table(backoff: str, expected: list[int]) -> None:
    assert [delay_for(backoff, 1000, n) for n in range(1, 6)] == expected


def test_limit_counts_retries_not_attempts() -> None:
    assert [will_retry(0, 1)] == [False]
    assert [will_retry(2, n) for n in (1, 2, 3)] == [True, True, False]


def test_cache_keys_hash_the_name_and_count_uses() -> None:
    keys = KeyCounter()
    first, second = keys.do("first"), keys.do("first")
    assert first.cache_key == "e0996a37c13d44c3b06074939d43fa3759bd32c1-1"
    assert second.cache_key == "e0996a37c13d44c3b06074939d43fa3759bd32c1-2"
    assert (first.target, second.target) == ("first-1", "first-2")
    import hashlib

    assert keys.sleep("s", 3000).cache_key == hashlib.sha1(b"s3000").hexdigest() + "-1"
    wait = keys.wait_for_event("wait approval")
    assert wait.cache_key == hashlib.sha1(b"wait approval-1").hexdigest() + "-1"
    assert split_target("charge card-12") == ("charge card", 12)


@pytest.mark.parametrize(("instance_id", "ok"), [
    ("a", True), ("_x", True), ("a-b_c9", True), ("x" * 100, True), ("x" * 101, False), ("", False),
    ("a b", False), ("a.b", False), ("-a", False), ("é", False), (None, False),
])
def test_instance_id_rule(instance_id: object, ok: bool) -> None:
    assert is_valid_instance_id(instance_id) is ok


def test_addressable_ids_and_step_names() -> None:
    assert is_addressable_id("cron */5 * * * *#1")
    assert not is_addressable_id("x" * 272)
    assert is_valid_step_name("x" * 256) and not is_valid_step_name("x" * 257)
    assert not is_valid_step_name("bad\nname")


def test_status_names_and_validation_message() -> None:
    assert parse_status("waitingForPause") is InstanceStatus.WAITING_FOR_PAUSE
    with pytest.raises(ValueError, match=r'invalid status "done"\. Valid statuses are: queued, running'):
        parse_status("done")


def test_ids_with_a_trailing_newline_are_invalid() -> None:
    assert not is_valid_instance_id("abc\n")
    assert not is_addressable_id("abc\n")
