"""dissectors/http.py: HTTP/1.1 message framing, held against the standard library's parser."""

from __future__ import annotations

import http.client
import io

import pytest

from mikeyshark.dissectors import http as httplib
from mikeyshark.dissectors.errors import DissectError

# A KMS leg as it travels (the body is a MIKEY message; any bytes do here).
REQUEST = (
    b"POST /kms HTTP/1.1\r\n"
    b"Host: kms.example.org\r\n"
    b"Content-Type: application/mikey\r\n"
    b"Content-Length: 5\r\n"
    b"\r\n"
    b"\x01\x02\x03\r\n"
)
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/mikey\r\nContent-Length: 3\r\n\r\nabc"


class _Sock:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode: str) -> io.BytesIO:
        return io.BytesIO(self.data)


def _stdlib_response(data: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
    r = http.client.HTTPResponse(_Sock(data))  # type: ignore[arg-type]
    r.begin()
    return r.status, r.reason, r.getheaders(), r.read()


def test_parse_a_request_and_a_response_off_one_stream() -> None:
    stream = REQUEST + RESPONSE
    first = httplib.parse_message(stream)
    assert first is not None
    req, end = first
    assert (req.start, req.method, req.is_request, req.status) == (
        "POST /kms HTTP/1.1",
        "POST",
        True,
        None,
    )
    assert req.header("content-type") == "application/mikey"
    assert req.body == b"\x01\x02\x03\r\n" and end == len(REQUEST)
    second = httplib.parse_message(stream, end)
    assert second is not None
    resp, end = second
    assert (resp.status, resp.is_request, resp.body, end) == ("200", False, b"abc", len(stream))


def test_parse_agrees_with_the_standard_library() -> None:
    got = httplib.parse_message(RESPONSE)
    assert got is not None
    status, reason, headers, body = _stdlib_response(RESPONSE)
    assert got[0].start == f"HTTP/1.1 {status} {reason}"
    assert list(got[0].headers) == headers
    assert got[0].body == body


def test_build_is_read_back_by_the_standard_library() -> None:
    data = httplib.build_message(
        "HTTP/1.1 200 OK", [("Content-Type", "application/mikey"), ("Content-Length", "99")], b"xy"
    )
    assert _stdlib_response(data) == (
        200,
        "OK",
        [("Content-Type", "application/mikey"), ("Content-Length", "2")],
        b"xy",
    )
    parsed = httplib.parse_message(data)
    assert parsed is not None and parsed[0].body == b"xy"


@pytest.mark.parametrize("cut", [10, len(REQUEST) - 4, len(REQUEST) - 1])
def test_an_incomplete_message_is_none(cut: int) -> None:
    assert httplib.parse_message(REQUEST[:cut]) is None


def test_no_content_length_is_an_empty_body() -> None:
    got = httplib.parse_message(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nnext")
    assert got is not None and got[0].body == b"" and got[1] == 27


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: -1",
        b"Content-Length: 1e3",
        b"Content-Length: 3\r\nContent-Length: 4",  # RFC 9112 6.3: differing lengths
        b"Content-Length: 2000000",  # above MAX_BODY
    ],
)
def test_a_bad_length_is_a_located_error(head: bytes) -> None:
    data = b"junk" + b"HTTP/1.1 200 OK\r\n" + head + b"\r\n\r\nabc"
    with pytest.raises(DissectError) as e:
        httplib.parse_message(data, 4)
    assert (e.value.layer, e.value.offset, e.value.field) == ("http", 4, "content_length")


def test_sniff() -> None:
    assert httplib.looks_like_http(REQUEST) and httplib.looks_like_http(RESPONSE)
    assert not httplib.looks_like_http(b"\x16\x03\x01\x00\x10")  # a TLS record
    assert not httplib.looks_like_http(b"MSRP a786hjs2 SEND\r\n")
