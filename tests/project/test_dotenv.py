import pytest

from pyflow_cli.engine.errors import ConfigError
from pyflow_cli.project import dotenv


def test_parses_plain_export_quoted_and_commented_lines() -> None:
    text = (
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "export EXPORTED = spaced value  \n"
        "WITH_EQUALS=a=b\n"
        "INLINE=kept # dropped\n"
        "HASH=a#b\n"
        "EMPTY=\n"
        "SINGLE='literal \\n # not a comment'\n"
        'DOUBLE="line1\\nline2 \\"q\\" \\\\ \\x"  # comment\n'
    )
    assert dotenv.parse(text, ".dev.vars") == {
        "PLAIN": "value",
        "EXPORTED": "spaced value",
        "WITH_EQUALS": "a=b",
        "INLINE": "kept",
        "HASH": "a#b",
        "EMPTY": "",
        "SINGLE": "literal \\n # not a comment",
        "DOUBLE": 'line1\nline2 "q" \\ \\x',
    }


def test_a_later_duplicate_key_wins() -> None:
    assert dotenv.parse("A=1\nA=2\n", ".env") == {"A": "2"}


def test_malformed_line_names_file_and_line_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as info:
        dotenv.parse("A=1\nsecret-token-value\n", ".dev.vars")
    assert info.value.message == (".dev.vars:2: expected KEY=value. Fix the line, or comment it out with #.")


def test_invalid_key_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        dotenv.parse("1KEY=x\n", ".env")
    assert info.value.message == (
        '.env:1: "1KEY" is not a valid variable name. '
        "Use letters, digits and underscores, not starting with a digit."
    )


def test_unterminated_double_quote_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        dotenv.parse('KEY="abc\n', ".dev.vars")
    assert info.value.message == (
        ".dev.vars:1: KEY: unterminated double-quoted value. Close the quote "
        "(use \\n for a line break; values must fit on one line)."
    )


def test_unterminated_single_quote_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"^\.env:1: KEY: unterminated single-quoted value"):
        dotenv.parse("KEY='abc\n", ".env")


def test_text_after_closing_quote_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        dotenv.parse('KEY="a" b\n', ".env")
    assert info.value.message == (
        ".env:1: KEY: unexpected text after the closing quote. Remove it, or quote the whole value."
    )
