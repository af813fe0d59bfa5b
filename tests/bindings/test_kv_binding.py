"""``env.KV`` under ``pyflow dev``, from a Worker's fetch handler and from a workflow step: every
method and option of Cloudflare's KV API, with its return shapes, limits and error messages."""

from __future__ import annotations

from bindingkit import Scenario

BULK_ERROR = "KV GET_BULK failed: 400 "


def kv_error(message: str) -> dict[str, str]:
    return {"raised": "KVError", "message": message}


def type_error(message: str) -> dict[str, str]:
    return {"raised": "TypeError", "message": message}


def test_put_and_get_text_bytes_and_numbers(scenario: Scenario) -> None:
    scenario.check("kv_put_get", {"text": "hello", "text_type": "hello", "missing": None,
                                  "number": "42", "bytes": [0, 1, 255], "buffer_type": "memoryview"})


def test_get_json_with_a_type_a_dict_or_a_keyword(scenario: Scenario) -> None:
    config = {"theme": "dark", "sizes": [1, 2]}
    scenario.check("kv_json_and_options", {
        "positional": config, "dict": config, "keyword": config, "attribute": "dark", "missing": None,
        "not_json": {"raised": "JSONDecodeError", "message": "Expecting value: line 1 column 1 (char 0)"}})


def test_streams_go_in_and_come_out(scenario: Scenario) -> None:
    scenario.check("kv_stream", {"joined": "str-bytes", "first": "str-bytes", "done": True,
                                 "response": "str-bytes"})


def test_get_many_keys_returns_a_dict_with_none_for_missing_ones(scenario: Scenario) -> None:
    scenario.check("kv_bulk_get", {
        "text": {"{p}:a": "one", "{p}:b": '{"x": 2}', "{p}:missing": None},
        "json": {"ok": {"{p}:b": {"x": 2}, "{p}:missing": None}},
        "with_metadata": {"{p}:b": {"value": {"x": 2}, "metadata": {"tag": "b"}}, "{p}:missing": None},
        "bad_json": kv_error(BULK_ERROR + "At least one of the requested keys corresponds to a "
                                          "non-json value"),
        "buffer": kv_error(BULK_ERROR + '"arrayBuffer" is not a valid type. Use "json" or "text"'),
        "none": kv_error(BULK_ERROR + "You must request a minimum of 1 key"),
        "too_many": kv_error(BULK_ERROR + "You can request a maximum of 100 keys"),
    })


def test_metadata_and_expiration_from_options_or_keywords(scenario: Scenario) -> None:
    scenario.check("kv_metadata_and_expiration", {
        "one": {"value": "v1", "metadata": {"by": "dict"}, "cacheStatus": None},
        "two": {"value": "v2", "metadata": {"by": "keyword"}, "cacheStatus": None},
        "missing": {"value": None, "metadata": None, "cacheStatus": None},
        "listed_metadata": [{"by": "dict"}, {"by": "keyword"}], "expirations_near": [True, True]})


def test_list_is_in_key_order_and_pages_with_a_cursor(scenario: Scenario) -> None:
    scenario.check("kv_list_paging", {
        "names": [f"{{p}}:list:{n}" for n in "abcde"], "complete": True, "has_cursor": False,
        "pages": [["a", "b"], ["c", "d"], ["e"]], "cache_status": None})


def test_delete_returns_none_and_a_missing_key_is_not_an_error(scenario: Scenario) -> None:
    scenario.check("kv_delete", {"deleted": None, "missing": None, "after": None})


def test_limits_give_cloudflares_errors_and_store_nothing(scenario: Scenario) -> None:
    put = "KV PUT failed: "
    scenario.check("kv_errors", {
        "empty_key": type_error("Key name cannot be empty."),
        "dot_key": type_error('"." is not allowed as a key name.'),
        "long_key": kv_error(put + "414 UTF-8 encoded length of 513 exceeds key length limit of 512."),
        "long_key_get": kv_error("KV GET failed: 414 UTF-8 encoded length of 513 exceeds key length "
                                 "limit of 512."),
        "short_ttl": kv_error(put + "400 Invalid expiration_ttl of 10. Expiration TTL must be at least 60."),
        "zero_ttl": kv_error(put + "400 Invalid expiration_ttl of 0. Please specify integer greater than 0."),
        "past": kv_error(put + "400 Invalid expiration of 1000. Please specify integer greater than the "
                               "current number of seconds since the UNIX epoch."),
        "big_metadata": kv_error(put + "413 Metadata length of 1108 exceeds limit of 1024."),
        "big_value": kv_error(put + "413 Value length of 26214401 exceeds limit of 26214400."),
        "bad_value": type_error("KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and "
                                "ReadableStreams as values."),
        "bad_type": type_error('Unknown response type. Possible types are "text", "arrayBuffer", '
                               '"json", and "stream".'),
        "cache_ttl": kv_error("KV GET failed: 400 Invalid cache_ttl of 10. Cache TTL must be at least 30."),
        "list_limit": kv_error("KV GET failed: 400 Invalid key_count_limit of 1001. Please specify an "
                               "integer less than 1000."),
        "stored": None,
    })
