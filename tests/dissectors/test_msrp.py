"""MSRP codec against hand-written bytes in the RFC 4975 format."""

from __future__ import annotations

import pytest

from mikeyshark.dissectors import msrp
from mikeyshark.dissectors.errors import DissectError
from tests.support.msrp_samples import CHUNK_STAR, OK, REPORT, SEND


def test_send_fields() -> None:
    m = msrp.parse_message(SEND)
    assert (m.transaction_id, m.method, m.status, m.flag) == ("a786hjs2", "SEND", None, "$")
    assert m.message_id == "87652491"
    assert m.byte_range == msrp.ByteRange(1, 37, 37)
    assert m.content_type == "text/plain"
    assert m.body == b"Hello Bob, this is MSRP over TLS-PSK."
    (to,) = m.to_path
    assert (to.scheme, to.host, to.port, to.session_id, to.transport) == (
        "msrps",
        "192.0.2.2",
        5061,
        "kjhd37s2s20w2a",
        "tcp",
    )
    assert msrp.build_message(m) == SEND


def test_response_built_from_request() -> None:
    req = msrp.parse_message(SEND)
    assert msrp.build_message(msrp.response(req)) == OK
    r = msrp.parse_message(OK)
    assert (r.status, r.comment, r.body) == (200, "OK", None)


def test_missing_end_line() -> None:
    with pytest.raises(DissectError) as e:
        msrp.parse_message(SEND[:-18])
    assert e.value.field == "end-line"


def test_chunk_with_star_end_and_report_headers() -> None:
    m = msrp.parse_message(CHUNK_STAR)
    assert m.byte_range == msrp.ByteRange(1, None, 8191)
    assert (m.success_report, m.failure_report, m.flag) == ("yes", "partial", "+")
    assert m.body == b"abcdefghij"
    assert msrp.build_message(m) == CHUNK_STAR
    r = msrp.parse_message(REPORT)
    assert r.method == "REPORT"
    assert r.report_status == msrp.ReportStatus(0, 200, "OK")
    assert r.byte_range == msrp.ByteRange(1, 8191, 8191)
    assert r.body is None
    assert msrp.build_message(r) == REPORT


def test_body_with_dashes_and_foreign_end_line_is_not_the_end() -> None:
    body = b"a line\r\n-------\r\n-------xxxxyyyy$\r\n-------dkei38sd\r\nlast"
    raw = (
        b"MSRP dkei38sd SEND\r\nTo-Path: msrp://a.example:1/s;tcp\r\n"
        b"From-Path: msrp://b.example:2/t;tcp\r\nContent-Type: text/plain\r\n\r\n"
        + body
        + b"\r\n-------dkei38sd$\r\n"
    )
    m = msrp.parse_message(raw)
    assert m.body == body
    assert msrp.build_message(m) == raw


def test_empty_body_and_no_body_differ() -> None:
    head = b"MSRP abcd1234 SEND\r\nTo-Path: msrp://a.example:1/s;tcp\r\nFrom-Path: msrp://b.example:2/t;tcp\r\n"
    empty = msrp.parse_message(head + b"Content-Type: text/plain\r\n\r\n\r\n-------abcd1234$\r\n")
    none = msrp.parse_message(head + b"Byte-Range: 1-0/0\r\n-------abcd1234$\r\n")
    assert (empty.body, none.body) == (b"", None)
    assert none.byte_range == msrp.ByteRange(1, 0, 0)


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        (
            "msrp://alice.example.com:7777/iau39soe2843z;tcp",
            msrp.MsrpUri("msrp", "alice.example.com", 7777, "iau39soe2843z", "tcp"),
        ),
        (
            "msrps://bob@[2001:db8::7]:2855/s1;tcp;x=y;flag",
            msrp.MsrpUri("msrps", "[2001:db8::7]", 2855, "s1", "tcp", "bob", ("x=y", "flag")),
        ),
        ("msrps://relay.example.net;tcp", msrp.MsrpUri("msrps", "relay.example.net", None, None)),
    ],
)
def test_uri_forms(text: str, expect: msrp.MsrpUri) -> None:
    assert msrp.MsrpUri.parse(text) == expect
    assert str(expect) == text


def test_path_with_relays_is_a_uri_list() -> None:
    raw = SEND.replace(
        b"To-Path: msrps://192.0.2.2:5061/kjhd37s2s20w2a;tcp",
        b"To-Path: msrps://relay.example.net:2855/r1;tcp msrps://192.0.2.2:5061/kjhd37s2s20w2a;tcp",
    )
    m = msrp.parse_message(raw)
    assert [u.host for u in m.to_path] == ["relay.example.net", "192.0.2.2"]


@pytest.mark.parametrize(
    ("old", "new", "field", "offset"),
    [
        (b"Byte-Range: 1-37/37", b"Byte-Range: 0-37/37", "Byte-Range", 141),
        (b"Byte-Range: 1-37/37", b"Byte-Range: 1-38/37", "Byte-Range", 141),
        (b"Byte-Range: 1-37/37", b"Byte-Range: 1-37", "Byte-Range", 141),
        (b"To-Path: msrps://", b"To-Path: http://", "To-Path", 20),
        (b"Message-ID: 87652491", b"Message-ID: 8 7", "Message-ID", 119),
        (b"Content-Type: text/plain", b"Content-Type text/plain", "header", 162),
        (b"MSRP a786hjs2 SEND", b"MSRP a78 SEND", "start-line", 0),
        (b"MSRP a786hjs2 SEND", b"MSRP a786hjs2 send", "start-line", 0),
        (b"From-Path: msrps://192.0.2.1:50000/asfd34;tcp\r\n", b"", "From-Path", 20),
    ],
)
def test_malformed_fields_are_located(old: bytes, new: bytes, field: str, offset: int) -> None:
    raw = SEND.replace(old, new)
    if b"a78 " in raw:
        raw = raw.replace(b"-------a786hjs2$", b"-------a78$")
    with pytest.raises(DissectError) as e:
        msrp.parse_message(raw)
    assert (e.value.layer, e.value.field, e.value.offset) == ("msrp", field, offset)


def test_trailing_bytes_after_end_line() -> None:
    with pytest.raises(DissectError) as e:
        msrp.parse_message(SEND + b"x")
    assert (e.value.field, e.value.offset) == ("end-line", len(SEND))


def test_build_refuses_body_containing_its_end_line() -> None:
    m = msrp.parse_message(SEND)
    from dataclasses import replace

    with pytest.raises(ValueError, match="end-line"):
        msrp.build_message(replace(m, body=b"oops\r\n-------a786hjs2$\r\nmore"))


def test_status_comment_and_unknown_code() -> None:
    r = msrp.parse_message(OK.replace(b"200 OK", b"481 Session Does Not Exist"))
    assert (r.status, r.comment) == (481, "Session Does Not Exist")
    assert msrp.STATUS_CODES.label(481) == "Session Does Not Exist"
    r = msrp.parse_message(OK.replace(b"200 OK", b"299"))
    assert (r.status, r.comment) == (299, None)


def test_info_line_and_detail_tree() -> None:
    m = msrp.parse_message(SEND)
    assert msrp.info_line(m) == "MSRP SEND a786hjs2"
    assert msrp.info_line(msrp.parse_message(OK)) == "MSRP 200 OK a786hjs2"
    assert msrp.info_line(msrp.parse_message(CHUNK_STAR)) == "MSRP SEND dkei38sd [+]"
    tree = msrp.detail_tree(m)
    assert tree[0] == (0, "Message Session Relay Protocol")
    assert (2, "Byte-Range: 1-37/37") in tree
    assert (3, "Range start 1, end 37, total 37") in tree
    assert (3, "URI: host 192.0.2.2, port 5061, session kjhd37s2s20w2a, tcp") in tree
    assert (1, "Data (37 bytes)") in tree
    assert tree[-1] == (2, "Continuation-flag: $ (message complete)")


def test_looks_like_msrp() -> None:
    assert msrp.looks_like_msrp(SEND)
    assert msrp.looks_like_msrp(b"MSRP a786")
    assert not msrp.looks_like_msrp(b"\x16\x03\x01\x00\x40")
    assert not msrp.looks_like_msrp(b"MSRP x SEND\r\n")
    assert not msrp.looks_like_msrp(b"GET / HTTP/1.1\r\n")


def test_detail_tree_unwraps_cpim() -> None:
    body = (
        b"From: <sip:alice@example.org>\r\nTo: <sip:conf1@conf.example.org>\r\n\r\n"
        b"Content-Type: text/plain;charset=UTF-8\r\n\r\nHello all"
    )
    raw = SEND.replace(b"Byte-Range: 1-37/37", b"Byte-Range: 1-%d/%d" % (len(body), len(body)))
    raw = raw.replace(b"text/plain", b"message/cpim").replace(
        b"Hello Bob, this is MSRP over TLS-PSK.", body
    )
    tree = msrp.detail_tree(msrp.parse_message(raw))
    i = tree.index((2, "Common Presence and Instant Messaging (message/cpim)"))
    assert tree[i + 1 : i + 5] == [
        (3, "From: <sip:alice@example.org>"),
        (3, "To: <sip:conf1@conf.example.org>"),
        (3, "Content-Type: text/plain;charset=UTF-8"),
        (3, "Hello all"),
    ]


@pytest.mark.parametrize(
    ("text", "endpoint"),
    [
        ("msrp://alice.example.com:7777/iau39soe2843z;tcp", ("alice.example.com", 7777)),
        ("msrps://bob@[2001:db8::7]:2855/s1;tcp", ("2001:db8::7", 2855)),
        ("msrps://relay.example.net;tcp", None),  # no port: nothing to connect to
    ],
)
def test_uri_endpoint(text: str, endpoint: tuple[str, int] | None) -> None:
    assert msrp.MsrpUri.parse(text).endpoint() == endpoint


def test_uri_key_ignores_host_case_not_session_case() -> None:
    # RFC 4975 6.1: the host compares case-insensitively, the session id exactly
    a = msrp.MsrpUri.parse("msrp://Alice.Example.com:7777/iau39soe2843z;tcp")
    b = msrp.MsrpUri.parse("msrp://alice.example.com:7777/iau39soe2843z;tcp")
    c = msrp.MsrpUri.parse("msrp://alice.example.com:7777/IAU39soe2843z;tcp")
    assert a.key == b.key != c.key


def test_a_header_line_is_checked_once_and_shared_but_never_a_bad_one() -> None:
    first = msrp.parse_message(SEND)
    again = msrp.parse_message(SEND.replace(b"a786hjs2", b"b786hjs2"))
    assert again.headers == first.headers
    assert again.headers[0] is first.headers[0]  # the To-Path line: parsed once, shared
    bad = SEND.replace(b"Byte-Range: 1-37/37", b"Byte-Range: 0-37/37")
    for _ in range(2):  # a line that fails is not remembered: it fails again, located
        with pytest.raises(DissectError) as e:
            msrp.parse_message(bad)
        assert (e.value.field, e.value.offset) == ("Byte-Range", 141)


def test_the_header_lines_remembered_stay_within_their_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(msrp, "_LINES", {})
    monkeypatch.setattr(msrp, "MAX_KNOWN_LINES", 8)
    for i in range(50):  # a new Message-ID line in every message
        m = msrp.parse_message(SEND.replace(b"87652491", b"%08d" % i))
        assert m.message_id == f"{i:08d}"
        assert len(msrp._LINES) <= 8
