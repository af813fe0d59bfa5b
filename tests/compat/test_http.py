import json
from http import HTTPMethod, HTTPStatus

import pytest

from pyflow_cli.compat import http
from pyflow_cli.compat.http import Headers, Request, Response

# --- Headers ------------------------------------------------------------------------------------


def test_header_names_are_case_insensitive_and_read_lower_case() -> None:
    headers = Headers({"Content-Type": "text/html", "X-Trace": "1"})

    assert headers.get("content-type") == "text/html"
    assert headers["CONTENT-TYPE"] == "text/html"
    assert "x-TRACE" in headers
    assert headers.keys() == ["content-type", "x-trace"]


def test_missing_header_reads_as_none_or_the_fallback_like_http_message() -> None:
    headers = Headers()

    assert headers["x-missing"] is None
    assert headers.get("x-missing") is None
    assert headers.get("x-missing", "fallback") == "fallback"
    assert headers.get_all("x-missing") is None
    assert headers.get_all("x-missing", []) == []
    assert "x-missing" not in headers
    assert 42 not in headers


def test_repeated_header_reads_as_one_comma_joined_value() -> None:
    headers = Headers([("Accept", "text/html"), ("accept", "application/json")])

    assert headers.get("accept") == "text/html, application/json"
    assert headers.get_all("accept") == ["text/html, application/json"]
    assert len(headers) == 1


def test_commas_inside_a_value_are_preserved() -> None:
    user_agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"

    assert Headers({"user-agent": user_agent}).get("user-agent") == user_agent


def test_set_cookie_values_stay_separate_lines() -> None:
    headers = Headers([("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2")])

    assert headers.get("set-cookie") == "a=1; Path=/"
    assert headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2"]
    assert headers.items() == [("set-cookie", "a=1; Path=/"), ("set-cookie", "b=2")]
    assert len(headers) == 2


def test_headers_iterate_sorted_by_name_like_the_runtime() -> None:
    headers = Headers({"x-b": "2", "Content-Type": "text/plain", "x-a": "1"})

    assert list(headers) == ["content-type", "x-a", "x-b"]
    assert headers.items() == [("content-type", "text/plain"), ("x-a", "1"), ("x-b", "2")]
    assert headers.values() == ["text/plain", "1", "2"]


def test_set_replaces_append_adds_and_delete_removes() -> None:
    headers = Headers({"x-a": "1"})

    headers.append("X-A", "2")
    assert headers.get("x-a") == "1, 2"
    headers.set("x-a", "3")
    assert headers.get("x-a") == "3"
    headers.delete("X-A")
    headers.delete("x-never-set")
    assert "x-a" not in headers


def test_headers_copy_from_headers_is_independent() -> None:
    original = Headers({"x-a": "1"})
    copied = Headers(original)

    copied.set("x-a", "2")

    assert original.get("x-a") == "1"
    assert copied.get("x-a") == "2"


def test_header_values_are_trimmed_of_surrounding_whitespace() -> None:
    assert Headers({"x-a": "  padded\t"}).get("x-a") == "padded"


@pytest.mark.parametrize("name", ["", "bad name", "x:y", "naïve"])
def test_invalid_header_name_is_rejected_with_the_name(name: str) -> None:
    with pytest.raises(TypeError, match="Invalid header name"):
        Headers({name: "v"})


def test_header_value_with_line_break_is_rejected_to_prevent_injection() -> None:
    with pytest.raises(TypeError, match="Invalid header value for 'x-a'"):
        Headers({"x-a": "ok\r\nx-injected: 1"})


def test_non_string_header_value_is_rejected_with_its_type() -> None:
    with pytest.raises(TypeError, match="'x-len' has value 5 of type int"):
        Headers({"x-len": 5})  # type: ignore[dict-item]


def test_headers_from_an_unsupported_type_is_rejected() -> None:
    with pytest.raises(TypeError, match="unexpected type for headers argument: str"):
        Headers("x-a: 1")  # type: ignore[arg-type]


def test_headers_repr_shows_the_lines() -> None:
    assert repr(Headers({"X-A": "1"})) == "Headers([('x-a', '1')])"


# --- Request ------------------------------------------------------------------------------------


def test_request_defaults_to_get_with_no_body() -> None:
    request = Request("https://example.com/path?q=1")

    assert request.url == "https://example.com/path?q=1"
    assert request.method == "GET"
    assert request.method is HTTPMethod.GET
    assert request.body is None
    assert len(request.headers) == 0


def test_request_url_is_normalised_like_the_runtime() -> None:
    assert Request("https://Example.COM").url == "https://example.com/"
    assert Request("HTTP://user:Pw@Example.com:8787/A?B#C").url == "http://user:Pw@example.com:8787/A?B#C"


@pytest.mark.parametrize(
    "url", ["/relative", "example.com/path", "https://", "http://[::1", "https://a\x00b"]
)
def test_request_with_a_url_that_is_not_absolute_is_rejected(url: str) -> None:
    with pytest.raises(TypeError, match="Invalid URL"):
        Request(url)


def test_request_method_is_upper_cased() -> None:
    request = Request("https://example.com/", method="patch", body="x")

    assert request.method is HTTPMethod.PATCH
    assert str(request.method) == "PATCH"


def test_request_with_an_unknown_method_is_rejected() -> None:
    with pytest.raises(TypeError, match="Invalid HTTP method string: FETCH"):
        Request("https://example.com/", method="FETCH")


@pytest.mark.parametrize("method", ["GET", "head"])
def test_get_or_head_request_cannot_have_a_body(method: str) -> None:
    with pytest.raises(TypeError, match="GET or HEAD method cannot have a body"):
        Request("https://example.com/", method=method, body="")


async def test_request_text_body_reads_as_text_bytes_and_json() -> None:
    payload = '{"name": "café"}'

    assert await Request("https://e.com/", method="POST", body=payload).text() == payload
    assert await Request("https://e.com/", method="POST", body=payload).bytes() == payload.encode()
    assert await Request("https://e.com/", method="POST", body=payload).json() == {"name": "café"}


async def test_request_json_passes_keyword_arguments_to_json_loads() -> None:
    request = Request("https://e.com/", method="POST", body=b'{"n": 1.5}')

    assert await request.json(parse_float=str) == {"n": "1.5"}


async def test_request_json_with_invalid_body_names_the_problem() -> None:
    request = Request("https://e.com/", method="POST", body="not json")

    with pytest.raises(json.JSONDecodeError, match=r"Request body is not valid JSON \(Expecting value\)"):
        await request.json()


async def test_request_text_decodes_like_js_dropping_bom_and_replacing_bad_bytes() -> None:
    request = Request("https://e.com/", method="POST", body=b"\xef\xbb\xbfhi \xff")

    assert await request.text() == "hi \ufffd"


def test_request_str_body_gets_a_plain_text_content_type_unless_one_is_given() -> None:
    text = Request("https://e.com/", method="POST", body="hi")
    typed = Request("https://e.com/", method="POST", body="{}", headers={"Content-Type": "application/json"})
    raw = Request("https://e.com/", method="POST", body=b"hi")

    assert text.headers.get("content-type") == "text/plain;charset=UTF-8"
    assert typed.headers.get("content-type") == "application/json"
    assert "content-type" not in raw.headers


def test_request_body_of_an_unsupported_type_is_rejected() -> None:
    with pytest.raises(TypeError, match="Unsupported body type: dict"):
        Request("https://e.com/", method="POST", body={"a": 1})  # type: ignore[arg-type]


async def test_request_body_can_only_be_read_once() -> None:
    request = Request("https://e.com/", method="POST", body="x")

    assert request.body == b"x"
    assert not request.body_used
    await request.text()
    assert request.body_used
    with pytest.raises(OSError, match="Body already used"):
        await request.bytes()


async def test_reading_a_request_without_a_body_never_uses_it() -> None:
    request = Request("https://e.com/")

    assert await request.text() == ""
    assert await request.bytes() == b""
    assert not request.body_used


async def test_request_clone_can_be_read_independently() -> None:
    request = Request("https://e.com/", method="POST", body="x", headers={"x-a": "1"})
    twin = request.clone()
    twin.headers.set("x-a", "2")

    assert await request.text() == "x"
    assert await twin.text() == "x"
    assert request.headers.get("x-a") == "1"
    with pytest.raises(OSError, match="Body already used"):
        request.clone()


async def test_request_copied_from_a_request_takes_its_body_and_overrides() -> None:
    original = Request("https://e.com/", method="POST", body="x", headers={"x-a": "1"})

    copied = Request(original, headers={"x-b": "2"})

    assert copied.url == "https://e.com/"
    assert copied.method is HTTPMethod.POST
    assert copied.headers.items() == [("x-b", "2")]
    assert await copied.text() == "x"
    assert original.body_used
    with pytest.raises(TypeError, match="Cannot reconstruct a Request with a used body"):
        Request(original)


def test_request_copied_with_get_method_cannot_keep_a_body() -> None:
    original = Request("https://e.com/", method="POST", body="x")

    with pytest.raises(TypeError, match="GET or HEAD method cannot have a body"):
        Request(original, method="GET")


def test_request_url_is_read_only_like_the_sdk() -> None:
    request = Request("https://e.com/")

    with pytest.raises(AttributeError):
        request.url = "https://other.com/"  # type: ignore[misc]


def test_request_repr_shows_method_and_url() -> None:
    assert (
        repr(Request("https://e.com/a", method="DELETE")) == "Request(method='DELETE', url='https://e.com/a')"
    )


# --- Response -----------------------------------------------------------------------------------


async def test_response_str_body_defaults_to_status_200_and_plain_text() -> None:
    response = Response("Hello World!")

    assert response.status == 200
    assert response.ok
    assert response.status_text == "OK"
    assert response.headers.get("Content-Type") == "text/plain;charset=UTF-8"
    assert response.body == b"Hello World!"
    assert await response.text() == "Hello World!"


async def test_response_bytes_body_has_no_default_content_type() -> None:
    response = Response(b"\x00\x01", headers=[("X-A", "1")])

    assert "content-type" not in response.headers
    assert response.headers["x-a"] == "1"
    assert await response.bytes() == b"\x00\x01"


def test_response_explicit_content_type_wins_over_the_default() -> None:
    response = Response("<p>hi</p>", headers={"Content-Type": "text/html"})

    assert response.headers.get_all("content-type") == ["text/html"]


async def test_response_without_a_body_has_none_and_reads_empty() -> None:
    response = Response()

    assert response.body is None
    assert "content-type" not in response.headers
    assert await response.text() == ""


def test_response_status_and_status_text_are_kept() -> None:
    response = Response("gone", status=HTTPStatus.NOT_FOUND, status_text="Nope")

    assert response.status == 404
    assert response.status_text == "Nope"
    assert not response.ok


def test_response_status_text_defaults_to_the_standard_phrase_or_empty() -> None:
    assert Response(status=201).status_text == "Created"
    assert Response(status=299).status_text == ""


def test_response_falsy_status_means_200_like_the_sdk() -> None:
    assert Response("x", status=0).status == 200


@pytest.mark.parametrize("status", [199, 600, 101])
def test_response_status_outside_200_to_599_is_rejected(status: int) -> None:
    with pytest.raises(ValueError, match=rf"range 200 to 599, inclusive \(got {status}\)"):
        Response("x", status=status)


def test_response_status_text_with_control_character_is_rejected() -> None:
    with pytest.raises(TypeError, match="Invalid statusText"):
        Response("x", status_text="OK\r\nx-injected: 1")


def test_null_body_status_rejects_a_body_but_treats_an_empty_one_as_none() -> None:
    with pytest.raises(TypeError, match=r"null body status \(101, 204, 205, or 304\)"):
        Response("x", status=204)

    empty = Response("", status=204)
    assert empty.body is None
    assert "content-type" not in empty.headers


@pytest.mark.parametrize(
    ("body", "kind"), [({"ok": True}, "dict"), ([1], "list"), (bytearray(b"x"), "bytearray")]
)
def test_response_body_of_an_unsupported_type_is_rejected(body: object, kind: str) -> None:
    with pytest.raises(TypeError, match=f"Unsupported type in Response: {kind}. .*Response.json"):
        Response(body)  # type: ignore[arg-type]


async def test_response_body_can_only_be_read_once() -> None:
    response = Response("x")
    await response.text()

    assert response.body_used
    assert response.body == b"x"
    with pytest.raises(OSError, match="Response body is already used"):
        await response.json()


async def test_response_clone_copies_status_headers_and_body() -> None:
    response = Response("x", status=202, headers={"x-a": "1"})
    twin = response.clone()

    assert (twin.status, twin.headers.get("x-a"), await twin.text()) == (202, "1", "x")
    assert await response.text() == "x"


async def test_response_json_on_the_class_builds_a_json_response_like_the_sdk() -> None:
    response = Response.json({"ok": True, "name": "café"}, status=201, headers={"x-a": "1"})

    assert response.status == 201
    assert response.headers.get("content-type") == "application/json"
    assert response.headers.get("x-a") == "1"
    # The SDK serialises with json.dumps defaults, not JS JSON.stringify's compact form.
    assert response.body == b'{"ok": true, "name": "caf\\u00e9"}'
    assert await response.json() == {"ok": True, "name": "café"}


def test_response_json_keeps_a_content_type_the_caller_gave() -> None:
    response = Response.json([1], headers={"Content-Type": "application/vnd.api+json"})

    assert response.headers.get_all("content-type") == ["application/vnd.api+json"]


def test_response_from_json_is_the_same_as_class_json() -> None:
    response = Response.from_json("text", status_text="Fine")

    assert response.body == b'"text"'
    assert response.status_text == "Fine"


def test_response_json_of_unserialisable_data_fails_like_json_dumps() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        Response.json({"when": object()})


async def test_response_json_with_invalid_body_names_the_problem() -> None:
    with pytest.raises(json.JSONDecodeError, match=r"Response body is not valid JSON \(Expecting value\)"):
        await Response("<html>").json()


async def test_response_json_on_an_instance_passes_keyword_arguments_to_json_loads() -> None:
    assert await Response("[1.5]").json(parse_float=str) == ["1.5"]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_sets_location_and_has_no_body(status: int) -> None:
    response = Response.redirect("https://Example.com", status)

    assert response.status == status
    assert response.headers.items() == [("location", "https://example.com/")]
    assert response.body is None
    assert not response.ok


def test_redirect_defaults_to_302_found() -> None:
    response = Response.redirect("https://example.com/next")

    assert (response.status, response.status_text) == (302, "Found")


@pytest.mark.parametrize("status", [200, 300, 304, 399])
def test_redirect_with_a_non_redirect_status_is_rejected(status: int) -> None:
    expected = f"{status} is not a redirect status code. It must be one of: 301, 302, 303, 307, or 308."
    with pytest.raises(ValueError, match=expected):
        Response.redirect("https://example.com/", status)


def test_redirect_to_a_relative_url_is_rejected() -> None:
    with pytest.raises(TypeError, match="Unable to parse URL: '/login'"):
        Response.redirect("/login")


def test_response_repr_shows_status_and_content_type() -> None:
    assert repr(Response.json({})) == "Response(status=200, content_type='application/json')"
    assert repr(Response(status=204)) == "Response(status=204)"


def test_public_surface_is_pinned() -> None:
    assert http.__all__ == ["BodyInit", "Headers", "HeadersInit", "Request", "Response"]
