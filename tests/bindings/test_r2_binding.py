"""``env.BUCKET`` under ``pyflow dev``, from a Worker's fetch handler and from a workflow step:
put/get/head/delete/list, ranges, conditions, checksums and multipart uploads, with R2's return
shapes and error messages."""

from __future__ import annotations

from typing import Any

from bindingkit import Scenario

HELLO_MD5 = "5eb63bbbe01eeed093cb22bb8f5acdc3"  # md5("hello world")


def r2_error(message: str) -> dict[str, str]:
    return {"raised": "R2Error", "message": message}


def shape(cls: str, key: str, size: int, etag: str, *, http: dict[str, Any] | None = None,
          custom: dict[str, str] | None = None, checksums: dict[str, str] | None = None,
          range_: dict[str, int] | None = None) -> dict[str, Any]:
    return {"class": cls, "key": key, "size": size, "etag": etag, "httpEtag": f'"{etag}"',
            "version_hex": True, "uploaded_utc": True, "httpMetadata": http or {},
            "customMetadata": custom or {}, "checksums": {"md5": etag} if checksums is None else checksums,
            "range": range_, "has_body": cls == "R2ObjectBody"}


def test_put_head_and_get_return_r2_objects(scenario: Scenario) -> None:
    http = {"contentType": "text/plain", "cacheControl": "max-age=60"}
    meta: dict[str, Any] = {"http": http, "custom": {"owner": "ada"}}
    scenario.check("r2_put_head_get", {
        "put": shape("R2Object", "{p}/a.txt", 11, HELLO_MD5, **meta),
        "head": shape("R2Object", "{p}/a.txt", 11, HELLO_MD5, **meta, range_={"offset": 0, "length": 11}),
        "get": shape("R2ObjectBody", "{p}/a.txt", 11, HELLO_MD5, **meta,
                     range_={"offset": 0, "length": 11}),
        "text": "hello world", "same_version": True,
        "headers": {"cache-control": "max-age=60", "content-type": "text/plain"},
        "missing_get": None, "missing_head": None})


def test_bodies_read_once_as_text_json_bytes_or_stream(scenario: Scenario) -> None:
    data = '{"n": [1, 2]}'
    scenario.check("r2_bodies", {
        "json": {"n": [1, 2]}, "attribute": [1, 2], "buffer_type": "memoryview", "buffer": data,
        "bytes": data, "used": True,
        "twice": {"raised": "TypeError", "message": "Body has already been used. It can only be used "
                                                    "once. Use tee() first if you need to read it twice."},
        "response": data, "streamed": "from a stream", "streamed_size": 13, "empty_size": 0,
        "bad_value": {"raised": "TypeError", "message": "Failed to execute 'put' on 'R2Bucket': "
                      "parameter 2 is not of type 'ReadableStream or ArrayBuffer or ArrayBufferView "
                      "or string or Blob'."}})


def test_ranges_by_offset_length_suffix_or_range_header(scenario: Scenario) -> None:
    def read(offset: int, length: int, text: str) -> dict[str, Any]:
        return {"range": {"offset": offset, "length": length}, "text": text}

    scenario.check("r2_ranges", {
        "offset_length": read(6, 3, "wor"), "offset": read(6, 5, "world"), "suffix": read(6, 5, "world"),
        "past_end": read(5, 6, " world"), "header": read(0, 5, "hello"), "keyword": {"ok": "hello"},
        "unsatisfiable": r2_error("get: The requested range is not satisfiable (10039)")})


def test_only_if_conditions_refuse_puts_and_bodies(scenario: Scenario) -> None:
    v2_md5 = "1b267619c4812cc46ee281747884ca50"  # md5("v2")
    scenario.check("r2_conditions", {
        "refused": None, "accepted": True, "create_only": None, "created": True,
        "not_modified": shape("R2Object", "{p}/c.txt", 2, v2_md5, range_={"offset": 0, "length": 2}),
        "old": False, "quoted": "v2", "now": "v2"})


def test_checksums_are_checked_and_kept(scenario: Scenario) -> None:
    sha256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    md5 = "5d41402abc4b2a76b9719d911017c592"
    scenario.check("r2_checksums", {
        "checksums": {"md5": md5, "sha256": sha256}, "sha256_bytes": sha256,
        "bad_md5": r2_error("put: The MD5 checksum you specified did not match what we received.\n"
                            f"You provided a MD5 checksum with value: {'0' * 32}\nActual MD5 was: "
                            f"{md5} (10037)"),
        "bad_sha": r2_error("put: The SHA-256 checksum you specified did not match what we received.\n"
                            f"You provided a SHA-256 checksum with value: {'0' * 64}\nActual SHA-256 "
                            f"was: {sha256} (10037)"),
        "short_md5": {"raised": "TypeError", "message": "MD5 is 32 hex characters, not 3"},
        "stored": None})


def test_list_with_prefix_delimiter_cursor_start_after_and_include(scenario: Scenario) -> None:
    a_md5 = "0cc175b9c0f1b6a831c399e269772661"  # md5("a")
    max_keys = r2_error("list: MaxKeys params must be positive integer <= 1000. (10022)")
    scenario.check("r2_list", {
        "keys": ["a", "b/1", "b/2", "c/x/1", "d"], "truncated": False, "has_cursor": False,
        "plain_metadata": {}, "objects": ["a", "d"], "prefixes": ["{p}/list/b/", "{p}/list/c/"],
        "included": shape("R2Object", "{p}/list/a", 1, a_md5, http={"contentType": "text/plain"},
                          custom={"k": "a"}),
        "pages": [["a", "b/1"], ["b/2", "c/x/1"], ["d"]], "after": ["c/x/1", "d"],
        "zero": max_keys, "too_many": max_keys})


def test_delete_one_or_many_keys(scenario: Scenario) -> None:
    scenario.check("r2_delete", {
        "one": None, "many": None, "left": [],
        "long_key": r2_error("put: The specified object name is not valid. (10020)")})


def test_multipart_upload_complete_abort_and_resume(scenario: Scenario) -> None:
    complete = "completeMultipartUpload: "
    scenario.check("r2_multipart", {
        "upload": {"key": "{p}/big.bin", "id_type": "str"}, "part": {"partNumber": 1, "etag_type": "str"},
        "object": shape("R2Object", "{p}/big.bin", 5 * 1024 * 1024 + 4, "30dcfd3901d1c613b7fb532281748544-2",
                        http={"contentType": "application/octet-stream"}, custom={"parts": "2"},
                        checksums={}),
        "etag_is_md5_of_md5s": True, "tail": "aatail",
        "after_abort": r2_error("uploadPart: The specified multipart upload does not exist. (10024)"),
        "aborted_object": None,
        "too_small": r2_error(complete + "Your proposed upload is smaller than the minimum allowed "
                                         "object size. (10011)"),
        "bad_part": r2_error(complete + "One or more of the specified parts could not be found. (10025)"),
        "part_zero": {"raised": "TypeError", "message": "Part number must be between 1 and 10000 "
                                                        "(inclusive). Actual value was: 0"},
        "completed_twice": r2_error(complete + "The specified multipart upload does not exist. (10024)")})
