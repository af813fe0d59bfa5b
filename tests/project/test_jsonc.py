import json

import pytest

from pyflow_cli.project import jsonc


def test_line_and_block_comments_are_ignored() -> None:
    text = '{\n  // a comment\n  "a": 1, /* inline */ "b": /* multi\nline */ 2\n}'
    assert jsonc.loads(text) == {"a": 1, "b": 2}


def test_comment_markers_inside_strings_are_kept() -> None:
    text = r'{"url": "http://x/*y*/", "q": "say \"//hi\"", "s": "a\\"} // end'
    assert jsonc.loads(text) == {"url": "http://x/*y*/", "q": 'say "//hi"', "s": "a\\"}


def test_trailing_commas_are_dropped_in_objects_and_arrays() -> None:
    text = '{"a": [1, 2, [3,],], "b": {"c": 1,}, // note\n}'
    assert jsonc.loads(text) == {"a": [1, 2, [3]], "b": {"c": 1}}


def test_trailing_comma_followed_by_a_comment_is_dropped() -> None:
    assert jsonc.loads("[1, /* x */\n// y\n]") == [1]


def test_a_comma_inside_a_string_before_a_bracket_is_kept() -> None:
    assert jsonc.loads('[",", "a,"]') == [",", "a,"]


@pytest.mark.parametrize("text", ["[,]", "[1,,]", "{,}"])
def test_commas_that_are_not_trailing_stay_invalid(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        jsonc.loads(text)


def test_error_positions_point_at_the_original_line_and_column() -> None:
    text = '{\n  /* one\n two */ "a": 1,\n  "b" 2\n}'
    with pytest.raises(json.JSONDecodeError) as info:
        jsonc.loads(text)
    assert (info.value.lineno, info.value.colno) == (4, 7)


def test_unterminated_block_comment_is_an_error() -> None:
    with pytest.raises(json.JSONDecodeError, match="Unterminated /\\* comment"):
        jsonc.loads('{"a": 1} /* open')
