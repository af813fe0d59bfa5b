"""The pure rules under the bindings: splitting SQL into statements, D1's value conversions,
R2's ranges and conditions, and option values given as any mapping or sequence."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from pyflow_cli.bindings.d1_sql import bind_value, result_value, split
from pyflow_cli.bindings.errors import D1Error
from pyflow_cli.bindings.kv import decode_cursor, encode_cursor
from pyflow_cli.bindings.r2_objects import Conditional, byte_range
from pyflow_cli.bindings.r2_store import ObjectRow
from pyflow_cli.bindings.values import options, plain


class Proxy(Mapping[str, Any]):
    """A mapping that is not a dict, as a converted JS object may be."""

    def __init__(self, **values: Any) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def test_statements_split_on_semicolons_outside_strings_comments_and_triggers() -> None:
    sql = """
        CREATE TABLE t (x TEXT); -- a comment; with a semicolon
        INSERT INTO t VALUES ('a;b');
        /* block; comment */
        CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO t VALUES ('x'); END;
        SELECT * FROM t
    """
    statements = split(sql)
    assert len(statements) == 4
    assert statements[1].strip().endswith("INSERT INTO t VALUES ('a;b');")
    assert statements[2].strip().endswith("INSERT INTO t VALUES ('x'); END;")
    assert statements[3].strip() == "SELECT * FROM t"
    assert split("-- only a comment\n;  ") == []
    assert split("SELECT 1") == ["SELECT 1"]


def test_bound_values_follow_d1() -> None:
    assert [bind_value(v) for v in (True, False, None, 3, 1.5, "x", b"\x01", bytearray(b"\x02"))] == [
        1, 0, None, 3, 1.5, "x", b"\x01", b"\x02"]
    assert bind_value([1, 2, 255]) == b"\x01\x02\xff"
    with pytest.raises(D1Error, match=r"^D1_TYPE_ERROR: Type 'dict' not supported for value '\{'a': 1\}'$"):
        bind_value({"a": 1})
    with pytest.raises(D1Error, match="D1_TYPE_ERROR"):
        bind_value(2**64)
    assert [result_value(v) for v in (b"\x01\x02", 2.0, 2.5, 2**60, "x", None)] == [
        [1, 2], 2, 2.5, 2**60, "x", None]
    assert type(result_value(2.0)) is int


def test_cursors_round_trip_any_key() -> None:
    for key in ("a", "ünïcødé/key", "x" * 512):
        assert decode_cursor(encode_cursor(key)) == key
    assert decode_cursor(None) is None and decode_cursor("") is None


@pytest.mark.parametrize(("given", "expected"), [
    (None, None), ({"offset": 2, "length": 3}, (2, 3)), ({"offset": 8}, (8, 2)), ({"suffix": 4}, (6, 4)),
    ({"suffix": 50}, (0, 10)), ({"offset": 5, "length": 50}, (5, 5)), ({"offset": 10}, None),
])
def test_ranges_clip_to_the_object(given: Any, expected: Any) -> None:
    if given == {"offset": 10}:
        with pytest.raises(ValueError):
            byte_range(given, 10)
        return
    assert byte_range(given, 10) == expected


def test_conditions_combine_as_http_does() -> None:
    row = ObjectRow("k", "v", 1, "abc", 10_500, {}, {}, {})
    assert Conditional.parse({"etagMatches": '"abc"'}).holds(row)  # type: ignore[union-attr]
    assert not Conditional.parse({"etagMatches": "xyz, W/\"nope\""}).holds(row)  # type: ignore[union-attr]
    assert not Conditional.parse({"etagDoesNotMatch": "*"}).holds(row)  # type: ignore[union-attr]
    assert Conditional.parse({"etagDoesNotMatch": "*"}).holds(None)  # type: ignore[union-attr]
    assert not Conditional.parse({"etagMatches": "abc"}).holds(None)  # type: ignore[union-attr]
    assert Conditional.parse({"uploadedAfter": 10_000}).holds(row)  # type: ignore[union-attr]
    seconds = Conditional.parse({"uploadedAfter": 10_000, "secondsGranularity": True})
    assert seconds is not None and not seconds.holds(row)
    headers = Conditional.parse(Proxy(**{"If-None-Match": '"abc"'}))
    assert headers is not None and not headers.holds(row)


def test_options_and_metadata_accept_any_mapping_or_sequence() -> None:
    assert options(Proxy(limit=5), {"prefix": "a"}, "list") == {"limit": 5, "prefix": "a"}
    with pytest.raises(TypeError, match=r"list\(\) options must be a dict"):
        options(["not", "options"], {}, "list")
    assert plain(Proxy(a=1)) == {"a": 1}
    assert plain((1, 2)) == [1, 2]
