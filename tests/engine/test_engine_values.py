"""Values crossing a step boundary: the conversion table of ``engine/serde.py``, resident and
replayed alike, and what logs and views show for them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from conftest import EnvFactory

from pyflow_cli.engine import serde
from pyflow_cli.engine.entrypoint import WorkflowEntrypoint
from pyflow_cli.engine.events import EventType

AWARE = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
NAIVE = datetime(2026, 1, 2, 3, 4, 5, 678901)


def round_trip(value: Any) -> Any:
    return serde.decode(serde.encode(value))


def test_json_values_come_back_unchanged_with_attribute_access() -> None:
    value = round_trip({"a": [1, 2.5, None, True, "s"], "n": None, "o": {"deep": [None]}})
    assert value == {"a": [1, 2.5, None, True, "s"], "n": None, "o": {"deep": [None]}}
    assert value.o.deep == [None]


def test_datetimes_come_back_as_datetimes_to_the_millisecond() -> None:
    assert round_trip(AWARE) == datetime(2026, 1, 2, 1, 4, 5, 678000, tzinfo=UTC)
    assert round_trip(NAIVE) == datetime(2026, 1, 2, 3, 4, 5, 678000)
    assert round_trip(NAIVE).tzinfo is None


def test_bytes_and_sets_come_back_as_themselves() -> None:
    value = round_trip({"raw": b"\x00\xffhi", "tags": {"x", "y"}, "frozen": frozenset([1])})
    assert value.raw == b"\x00\xffhi"
    assert value.tags == {"x", "y"}
    assert value.frozen == {1}


def test_a_dict_that_looks_like_a_tag_stays_a_dict() -> None:
    lookalike = {"$py": "datetime", "v": "2026-01-01T00:00:00"}
    assert round_trip(lookalike) == lookalike
    assert round_trip([lookalike, {"$py": 1}]) == [lookalike, {"$py": 1}]
    assert serde.shown(serde.encode({"x": lookalike})) == {"x": lookalike}


def test_logs_show_json_values_as_javascript_would() -> None:
    stored, shown = serde.encode_both({"when": AWARE, "naive": NAIVE, "raw": b"abc", "s": {1},
                                       "plain": [None]})
    assert serde.decode(stored)["raw"] == b"abc"
    assert serde.parse_shown(shown) == {"when": "2026-01-02T01:04:05.678Z",
                                        "naive": "2026-01-02T03:04:05.678Z",
                                        "raw": "[Uint8Array(3 bytes)]", "s": [1], "plain": [None]}
    assert serde.shown_json(stored) == shown


def test_plain_values_are_stored_exactly_as_shown() -> None:
    stored, shown = serde.encode_both({"a": [1, None]})
    assert stored is shown
    assert stored == '{"a":[1,null]}'


@pytest.mark.parametrize(("bad", "kind", "hint"), [
    ((1, 2), "tuple", "use a list"), (bytearray(b"x"), "bytearray", "use bytes"),
    (date(2026, 1, 1), "date", "use a datetime"), (timedelta(1), "timedelta", ""),
    (object(), "object", ""), (len, "builtin_function_or_method", ""),
    (float("inf"), "float", "NaN and infinity"),
])
def test_unstorable_values_are_named_with_their_place(bad: object, kind: str, hint: str) -> None:
    with pytest.raises(serde.NotSerialisableError) as caught:
        serde.encode({"v": [1, {"w": bad}]})
    message = str(caught.value)
    assert message.startswith(f"a value of type {kind} at ['v'][1]['w'] is not serialisable")
    assert hint in message


def test_non_string_keys_are_refused() -> None:
    with pytest.raises(serde.NotSerialisableError, match=r"at \[1\] \(key\)"):
        serde.encode({1: "x"})


def test_a_value_that_contains_itself_or_nests_too_deeply_is_not_serialisable() -> None:
    loop: dict[str, object] = {}
    loop["self"] = loop
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    for bad in (loop, deep):
        for encode in (serde.encode, serde.encode_both):
            with pytest.raises(serde.NotSerialisableError, match="contains itself or is nested "
                                                                 "too deeply to be stored"):
                encode(bad)


async def test_values_cross_steps_as_on_cloudflare(make_env: EnvFactory, hibernation: bool) -> None:
    """A datetime made by one step is a datetime in the next (``.year`` works), on the first run
    and after replay; bytes, sets and None inside containers round-trip too."""
    seen: list[Any] = []

    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            made = await step.do("make", lambda: {"when": AWARE, "raw": b"hi", "tags": {"a"},
                                                  "gaps": [None, {"n": None}]})
            await step.sleep("nap", "1 hour")
            year = await step.do("read", lambda: made.when.year)
            seen.append(made)
            return {"year": year, "when": made.when, "params": event.payload}

    async with make_env({"wf": Flow}, force_hibernate=hibernation) as env:
        instance_id = await env.service.create("wf", params={"start": NAIVE, "raw": b"p"})
        record = await env.run_until_done("wf", instance_id)
        assert record.status == "complete"
        details = await env.service.describe("wf", instance_id)
        status = await env.service.status("wf", instance_id)
        log = await env.store.read_log(record.iid)

    last = seen[-1]
    assert last["when"] == datetime(2026, 1, 2, 1, 4, 5, 678000, tzinfo=UTC)
    assert last["raw"] == b"hi" and last["tags"] == {"a"} and last["gaps"] == [None, {"n": None}]
    assert all(run["when"].year == 2026 for run in seen)  # resident and replayed runs alike
    assert status["output"]["year"] == 2026
    assert status["output"]["when"] == last["when"]
    assert status["output"]["params"] == {"start": datetime(2026, 1, 2, 3, 4, 5, 678000),
                                          "raw": b"p"}
    # What logs, describe and the local API show is JSON, as Cloudflare's log shows it.
    assert details["params"] == {"start": "2026-01-02T03:04:05.678Z", "raw": "[Uint8Array(1 bytes)]"}
    assert details["steps"][0]["output"] == {
        "when": "2026-01-02T01:04:05.678Z", "raw": "[Uint8Array(2 bytes)]", "tags": ["a"],
        "gaps": [None, {"n": None}]}
    assert details["output"]["when"] == "2026-01-02T01:04:05.678Z"
    queued = next(row for row in log if row.event is EventType.WORKFLOW_QUEUED)
    assert queued.metadata["params"]["raw"] == "[Uint8Array(1 bytes)]"


async def test_event_payloads_keep_their_types(make_env: EnvFactory, hibernation: bool) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            received = await step.wait_for_event("wait", "go", timeout="1 hour")
            return await step.do("use", lambda: received.payload.at.isoformat())

    async with make_env({"wf": Flow}, force_hibernate=hibernation) as env:
        instance_id = await env.service.create("wf")
        await env.run_until_status("wf", instance_id, "waiting")
        await env.service.send_event("wf", instance_id, "go", {"at": AWARE})
        record = await env.run_until_done("wf", instance_id)
        details = await env.service.describe("wf", instance_id)

    assert record.status == "complete"
    assert details["output"] == "2026-01-02T01:04:05.678000+00:00"
    assert details["steps"][0]["output"]["payload"] == {"at": "2026-01-02T01:04:05.678Z"}


async def test_restart_keeps_typed_params(make_env: EnvFactory) -> None:
    class Flow(WorkflowEntrypoint):
        async def run(self, event: Any, step: Any) -> Any:
            return await step.do("year", lambda: event.payload.start.year)

    async with make_env({"wf": Flow}) as env:
        instance_id = await env.service.create("wf", params={"start": NAIVE})
        await env.run_until_done("wf", instance_id)
        await env.service.restart("wf", instance_id)
        record = await env.run_until_done("wf", instance_id)
        details = await env.service.describe("wf", instance_id)
    assert record.status == "complete"
    assert details["output"] == 2026
    assert details["params"] == {"start": "2026-01-02T03:04:05.678Z"}
