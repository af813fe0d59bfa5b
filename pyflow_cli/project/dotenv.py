"""The dotenv format of ``.dev.vars`` and ``.env``: local secrets, one ``KEY=value`` a line.

Supported: ``KEY=value``, ``export KEY=value``, ``#`` comments (whole-line, or after an unquoted
value following whitespace), blank lines, ``'single'`` quotes (literal) and ``"double"`` quotes
(with ``\\n``, ``\\t``, ``\\"`` and ``\\\\`` escapes). No interpolation and no multi-line values.
Error messages name the file and line but never echo a value: these files hold secrets.
"""

from __future__ import annotations

import re

from pyflow_cli.engine.errors import ConfigError

_LINE = re.compile(r"(?:export\s+)?(?P<key>[^=\s]+)\s*=\s*(?P<rest>.*)")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def parse(text: str, label: str) -> dict[str, str]:
    """Parse dotenv ``text``; ``label`` names the file in errors. A later duplicate key wins."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{label}:{number}"
        match = _LINE.fullmatch(line)
        if match is None:
            raise ConfigError(f"{where}: expected KEY=value. Fix the line, or comment it out with #.")
        key = match["key"]
        if not _KEY.fullmatch(key):
            raise ConfigError(
                f'{where}: "{key}" is not a valid variable name. Use letters, digits and '
                "underscores, not starting with a digit."
            )
        values[key] = _value(match["rest"], f"{where}: {key}")
    return values


def _value(rest: str, where: str) -> str:
    if rest.startswith('"'):
        value, tail = _double_quoted(rest, where)
    elif rest.startswith("'"):
        close = rest.find("'", 1)
        if close < 0:
            raise ConfigError(f"{where}: unterminated single-quoted value. Close the quote.")
        value, tail = rest[1:close], rest[close + 1 :]
    else:
        return re.split(r"\s+#", rest, maxsplit=1)[0].rstrip()
    tail = tail.strip()
    if tail and not tail.startswith("#"):
        raise ConfigError(
            f"{where}: unexpected text after the closing quote. Remove it, or quote the whole value."
        )
    return value


def _double_quoted(rest: str, where: str) -> tuple[str, str]:
    out: list[str] = []
    i = 1
    while i < len(rest):
        c = rest[i]
        if c == '"':
            return "".join(out), rest[i + 1 :]
        if c == "\\" and i + 1 < len(rest):
            nxt = rest[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    raise ConfigError(
        f"{where}: unterminated double-quoted value. Close the quote "
        "(use \\n for a line break; values must fit on one line)."
    )
