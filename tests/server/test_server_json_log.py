"""``--log-format json``: each record one JSON object on one line."""

from __future__ import annotations

import io
import json
import logging

from pyflow_cli.server.auth import ApiToken
from pyflow_cli.server.logs import JsonFormatter, JsonLog


def test_records_are_one_json_object_per_line_at_the_chosen_level() -> None:
    out = io.StringIO()
    log = JsonLog("info", out, clock=lambda: 1_700_000_000.25)
    log.info("Ready on http://0.0.0.0:8787")
    log.debug("not shown at info")
    log.error("two\nlines")
    lines = out.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"time": "2023-11-14T22:13:20.250Z", "level": "info",
         "message": "Ready on http://0.0.0.0:8787"},
        {"time": "2023-11-14T22:13:20.250Z", "level": "error", "message": "two\nlines"},
    ]


def test_uvicorn_records_are_json_too() -> None:
    record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "Exception in %s",
                               ("ASGI application",), None)
    shown = json.loads(JsonFormatter().format(record))
    assert shown["level"] == "error" and shown["message"] == "Exception in ASGI application"


def test_a_token_never_shows_in_its_repr_and_its_cookie_is_not_the_token() -> None:
    token = ApiToken.parse("  abcdefghijklmnop\n")
    assert token.secret == "abcdefghijklmnop" and "abcdefghijklmnop" not in repr(token)
    assert token.cookie_matches(token.cookie_value) and token.secret not in token.cookie_value
    assert not ApiToken.parse("abcdefghijklmnoq").cookie_matches(token.cookie_value)


def test_prints_become_records_while_the_streams_are_captured() -> None:
    import sys

    out = io.StringIO()
    log = JsonLog("log", out, clock=lambda: 0.0)
    before = sys.stdout, sys.stderr
    with log.capturing_standard_streams():
        print("one", "line")
        print("no newline", end="")
        sys.stderr.write("Traceback (most recent call last):\n  File ...\nValueError: x\n")
    assert (sys.stdout, sys.stderr) == before
    assert [(r["level"], r["message"]) for r in map(json.loads, out.getvalue().splitlines())] == [
        ("log", "one line"),
        ("error", "Traceback (most recent call last):\n  File ...\nValueError: x"),
        ("log", "no newline"),
    ]


async def test_on_the_loop_the_records_of_one_turn_are_written_at_once() -> None:
    import asyncio

    class Counted(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            Counted.writes += 1
            return super().write(text)

    out = Counted()
    log = JsonLog("info", out, clock=lambda: 0.0)
    for n in range(5):
        log.info(f"line {n}")
    assert out.getvalue() == ""  # not before the end of this turn
    await asyncio.sleep(0)
    assert [json.loads(line)["message"] for line in out.getvalue().splitlines()] == [
        f"line {n}" for n in range(5)]
    assert Counted.writes == 1
