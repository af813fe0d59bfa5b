"""JSONC: JSON plus ``//`` and ``/* */`` comments and trailing commas, as wrangler.jsonc allows.

The text is rewritten to plain JSON and handed to :mod:`json`, so there is one JSON grammar and
one kind of parse error (``json.JSONDecodeError``) for callers to report.
"""

from __future__ import annotations

import json


def loads(text: str) -> object:
    """Parse JSONC text; raises ``json.JSONDecodeError`` with the user's line and column."""
    return json.loads(strip(text))


def strip(text: str) -> str:
    """Return ``text`` as plain JSON: comments blanked out, trailing commas dropped.

    Comments and dropped commas become spaces (newlines are kept) rather than being removed, so
    the positions json reports in an error still point at the user's line and column.
    """
    chars = list(text)
    # Positions of the last two significant characters outside comments: a comma is "trailing"
    # when the next one closes a container and the one before it is a value, so `[1,]` loses
    # its comma while `[,]` and `[1,,]` stay invalid, as in JSONC parsers.
    prev = last = -1
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = _string_end(text, i)
            prev, last = last, i - 1
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            _blank(chars, i, end)
            i = end
            continue
        if text.startswith("/*", i):
            close = text.find("*/", i + 2)
            if close < 0:
                raise json.JSONDecodeError("Unterminated /* comment", text, i)
            _blank(chars, i, close + 2)
            i = close + 2
            continue
        if c in "]}" and last >= 0 and text[last] == "," and prev >= 0 and text[prev] not in "[{,":
            chars[last] = " "
        if not c.isspace():
            prev, last = last, i
        i += 1
    return "".join(chars)


def _string_end(text: str, start: int) -> int:
    """Index just past the string literal opening at ``start`` (the end of text if unclosed)."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        else:
            i += 1
    return len(text)


def _blank(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] not in "\r\n":
            chars[i] = " "
