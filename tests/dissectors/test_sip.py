"""SIP codec: parsing, typed headers, framing, lying Content-Length, round trips.

Expected values are read off the literal messages by hand (or come from RFC 3261 / the
project profile, docs/profile.md), never from the code under test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mikeyshark.dissectors import sip
from mikeyshark.dissectors.errors import DissectError

CRLF = "\r\n"


def msg(*lines: str, body: str = "") -> bytes:
    return (CRLF.join(lines) + CRLF + CRLF + body).encode()


INVITE = msg(
    "INVITE sip:conf1@conf.example.org SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1;rport",
    "Via: SIP/2.0/TCP proxy.example.org;branch=z9hG4bK-0",
    "Max-Forwards: 70",
    'From: "Alice A." <sip:alice@example.org>;tag=a1',
    "To: <sip:conf1@conf.example.org>",
    "Call-ID: call-1@192.0.2.1",
    "CSeq: 10 INVITE",
    'Contact: <sip:alice@192.0.2.1:5060;transport=udp>;+sip.instance="<urn:x>"',
    "Supported: 100rel, timer",
    "P-Asserted-Identity: <sip:alice@example.org>, <tel:+15551234>",
    "Content-Type: application/sdp",
    "Content-Length: 4",
    body="v=0\n",
)


def test_request_fields() -> None:
    m = sip.parse(INVITE)
    assert m.is_request
    assert m.start == sip.RequestLine("INVITE", "sip:conf1@conf.example.org", "SIP/2.0")
    assert m.call_id == "call-1@192.0.2.1"
    assert m.cseq == sip.CSeq(10, "INVITE")
    assert m.from_ is not None and m.from_.display == "Alice A."
    assert m.from_.uri == "sip:alice@example.org" and m.from_.tag == "a1"
    assert m.to is not None and m.to.tag is None and m.to.uri == "sip:conf1@conf.example.org"
    c = m.contact
    assert c is not None and c.uri == "sip:alice@192.0.2.1:5060;transport=udp"
    assert c.param("+sip.instance") == '"<urn:x>"'
    u = c.parsed_uri()
    assert (u.user, u.host, u.port, u.param("transport")) == ("alice", "192.0.2.1", 5060, "udp")
    vias = m.vias
    assert [v.branch for v in vias] == ["z9hG4bK-1", "z9hG4bK-0"]
    assert vias[0].transport == "UDP" and vias[0].sent_by == "192.0.2.1:5060"
    assert vias[1].host == "proxy.example.org" and vias[1].port is None
    assert vias[0].params[1] == ("rport", None)
    assert m.supported == ("100rel", "timer")
    assert [p.uri for p in m.p_asserted_identity] == ["sip:alice@example.org", "tel:+15551234"]
    assert m.content_length == 4 and m.body == b"v=0\n"
    assert m.sdp_body() == b"v=0\n"


def test_response_reliable_provisional() -> None:
    m = sip.parse(
        msg(
            "SIP/2.0 183 Session Progress",
            "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1",
            "From: <sip:alice@example.org>;tag=a1",
            "To: <sip:conf1@conf.example.org>;tag=c9",
            "Call-ID: call-1@192.0.2.1",
            "CSeq: 10 INVITE",
            "Contact: <sip:conf1@192.0.2.2>;isfocus",
            "Require: 100rel",
            "RSeq: 4711",
            "Content-Length: 0",
        )
    )
    assert m.status == 183 and m.method == "INVITE"
    assert m.start == sip.StatusLine(183, "Session Progress")
    assert m.rseq == 4711 and m.require == ("100rel",) and m.reliable
    assert m.contact is not None and m.contact.param("isfocus") == ""
    assert m.to is not None and m.to.tag == "c9"


def test_prack_rack() -> None:
    m = sip.parse(
        msg(
            "PRACK sip:conf1@192.0.2.2 SIP/2.0",
            "Call-ID: x",
            "CSeq: 11 PRACK",
            "RAck: 4711 10 INVITE",
            "Content-Length: 0",
        )
    )
    assert m.rack == sip.RAck(4711, 10, "INVITE")


def test_compact_forms_and_folding() -> None:
    raw = msg(
        "INVITE sip:bob@example.net SIP/2.0",
        "v: SIP/2.0/TCP 192.0.2.1:40000",
        " ;branch=z9hG4bK-fold",
        "f: Alice <sip:alice@example.org>",
        "\t;tag=77",
        "t: sip:bob@example.net",
        "i: compact-1",
        "CSeq:   1   INVITE",
        "m: <sip:alice@192.0.2.1>",
        "k: 100rel",
        "s: a subject",
        "c: application/sdp",
        "l: 0",
    )
    m = sip.parse(raw)
    assert m.call_id == "compact-1"
    assert m.cseq == sip.CSeq(1, "INVITE")
    assert m.from_ == sip.NameAddr("Alice", "sip:alice@example.org", (("tag", "77"),))
    assert m.to == sip.NameAddr(None, "sip:bob@example.net", ())
    assert m.top_via is not None and m.top_via.branch == "z9hG4bK-fold"
    assert m.supported == ("100rel",)
    assert m.get("Subject") == "a subject"
    assert m.media_type == "application/sdp" and m.content_length == 0
    assert sip.build(m) == raw


def test_addr_spec_params_are_header_params() -> None:
    # RFC 3261 20.10: without <>, ;tag belongs to the header, not to the URI.
    na = sip.NameAddr.parse("sip:bob@example.net;tag=887s")
    assert na.uri == "sip:bob@example.net" and na.tag == "887s"


@pytest.mark.parametrize(
    ("value", "uid"),
    [
        ('"Alice" <sip:Alice@Example.ORG;transport=tcp>', "sip:Alice@example.org"),
        ("<SIP:bob@EXAMPLE.net>;tag=1", "sip:bob@example.net"),
        ("sips:carol@Conf.Example.org:5061;lr?subject=x", "sips:carol@conf.example.org:5061"),
        ("<tel:+15551234;phone-context=example.org>", "tel:+15551234"),
    ],
)
def test_normalize_uri(value: str, uid: str) -> None:
    assert sip.normalize_uri(value) == uid


def test_multipart_sdp_part() -> None:
    body = (
        "--b1\r\n"
        "Content-Type: application/sdp\r\n"
        "\r\n"
        "v=0\r\ns=-\r\n"
        "\r\n--b1\r\n"
        "Content-Type: application/resource-lists+xml\r\n"
        "Content-Disposition: recipient-list\r\n"
        "\r\n"
        "<x/>\r\n"
        "--b1--\r\n"
    )
    raw = msg(
        "INVITE sip:conf@example.org SIP/2.0",
        "Call-ID: mp",
        "CSeq: 1 INVITE",
        'Content-Type: multipart/mixed;boundary="b1"',
        f"Content-Length: {len(body)}",
        body=body,
    )
    m = sip.parse(raw)
    parts = m.body_parts()
    assert len(parts) == 2
    assert parts[0].content_type == "application/sdp"
    # The CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1).
    assert parts[0].body == b"v=0\r\ns=-\r\n"
    assert parts[1].body == b"<x/>"
    assert m.sdp_body() == b"v=0\r\ns=-\r\n"
    assert sip.build_multipart(parts, "b1") == body.encode()


def test_vector_round_trip(vectors: Path) -> None:
    raw = (vectors / "sip" / "sip_invite_example.txt").read_bytes()
    m = sip.parse(raw)
    assert sip.build(m) == raw
    assert m.content_length == 690 and len(m.body) == 690


def test_parse_build_parse() -> None:
    m = sip.request(
        "INVITE",
        "sip:conf@example.org",
        [("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-9"), ("i", "c"), ("CSeq", "1 INVITE")],
        body=b"v=0\r\n",
        content_type="application/sdp",
    )
    raw = sip.build(m)
    assert raw == (
        b"INVITE sip:conf@example.org SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-9\r\ni: c\r\nCSeq: 1 INVITE\r\n"
        b"Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"
    )
    assert sip.parse(raw) == m


def test_response_to_copies_headers_in_order() -> None:
    req = sip.parse(INVITE)
    r = sip.response_to(req, 180, "Ringing", to_tag="t7", headers=[("Require", "100rel")])
    raw = sip.build(r)
    assert raw.startswith(b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=")
    assert b"To: <sip:conf1@conf.example.org>;tag=t7\r\n" in raw
    assert raw.endswith(b"Require: 100rel\r\nContent-Length: 0\r\n\r\n")
    assert sip.parse(raw) == r


def test_lf_only_round_trip() -> None:
    raw = b"OPTIONS sip:x@y SIP/2.0\nCall-ID: lf\nCSeq: 2 OPTIONS\nContent-Length: 0\n\n"
    m = sip.parse(raw)
    assert m.eol == "\n" and m.call_id == "lf" and sip.build(m) == raw


# ---- lying Content-Length in a datagram


def test_datagram_content_length_too_long() -> None:
    raw = msg("MESSAGE sip:a@b SIP/2.0", "Call-ID: l1", "CSeq: 1 MESSAGE", "l: 50", body="hello")
    d = sip.decode_datagram(raw)
    assert d.message.body == b"hello"
    assert d.message.call_id == "l1"
    (e,) = d.errors
    assert e.field == "content-length" and e.offset == raw.index(b"hello")
    assert "50" in e.reason
    with pytest.raises(DissectError):
        sip.parse(raw)


def test_datagram_the_first_content_length_frames_the_body() -> None:
    # two Content-Length headers (the compact one second): the first is the one declared,
    # and the message's headers are found by any spelling of their names all the same
    raw = msg("MESSAGE sip:a@b SIP/2.0", "CONTENT-LENGTH: 3", "i: c1", "l: 10", body="abcdef")
    d = sip.decode_datagram(raw)
    assert d.message.body == b"abc"
    (e,) = d.errors
    assert (e.field, e.offset) == ("content-length", raw.index(b"def"))
    assert "3 bytes after the Content-Length 3 body" in e.reason
    assert [h.value for h in d.message.get_all("l")] == ["3", "10"]
    assert d.message.get("Call-ID") == d.message.call_id == "c1"
    assert d.message.content_length == 3


@pytest.mark.parametrize("cl", ["-5", "abc", "1e3"])
def test_datagram_content_length_garbage(cl: str) -> None:
    raw = msg("MESSAGE sip:a@b SIP/2.0", "Call-ID: g", f"Content-Length: {cl}", body="hi")
    d = sip.decode_datagram(raw)
    assert d.message.body == b"hi"
    assert [e.field for e in d.errors] == ["content-length"]


def test_not_sip_datagram() -> None:
    with pytest.raises(DissectError) as ei:
        sip.decode_datagram(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert ei.value.field == "start-line" and ei.value.offset == 0


# ---- stream framing


A = msg("INVITE sip:a@b SIP/2.0", "Call-ID: s1", "CSeq: 1 INVITE", "Content-Length: 3", body="abc")
B = msg("SIP/2.0 100 Trying", "Call-ID: s1", "CSeq: 1 INVITE", "Content-Length: 0")
C = msg("SIP/2.0 200 OK", "Call-ID: s1", "CSeq: 1 INVITE", "Content-Length: 2", body="xy")


def frame_all(chunks: list[bytes]) -> list[sip.Decoded | DissectError]:
    f = sip.SipStreamFramer()
    out: list[sip.Decoded | DissectError] = []
    for c in chunks:
        out += f.feed(c)
    return out + f.close()


def test_stream_one_message_over_three_segments() -> None:
    out = frame_all([A[:10], A[10:40], A[40:]])
    assert len(out) == 1
    d = out[0]
    assert isinstance(d, sip.Decoded)
    assert (d.start, d.end, d.message.body, d.errors) == (0, len(A), b"abc", ())


def test_stream_two_messages_in_one_segment_and_keepalives() -> None:
    stream = b"\r\n\r\n" + A + B + b"\r\n" + C
    out = frame_all([stream[:7], stream[7:]])
    starts = [(o.start, o.end) for o in out if isinstance(o, sip.Decoded)]
    a0 = 4
    assert starts == [
        (a0, a0 + len(A)),
        (a0 + len(A), a0 + len(A) + len(B)),
        (a0 + len(A) + len(B) + 2, len(stream)),
    ]
    assert all(isinstance(o, sip.Decoded) and not o.errors for o in out)


def test_stream_resync_after_garbage() -> None:
    junk = b"\x16\x03\x01garbage line\r\nmore\r\n"
    out = frame_all([A + junk + B])
    assert isinstance(out[0], sip.Decoded)
    e = out[1]
    assert isinstance(e, DissectError)
    assert e.offset == len(A) and str(len(junk)) in e.reason
    assert isinstance(out[2], sip.Decoded) and out[2].start == len(A) + len(junk)
    assert len(out) == 3


def test_stream_lying_content_length_next_message_found() -> None:
    liar = msg("MESSAGE sip:a@b SIP/2.0", "Call-ID: s2", "Content-Length: 400", body="short")
    stream = A + liar + B + C
    out = frame_all([stream[i : i + 50] for i in range(0, len(stream), 50)])
    decoded = [o for o in out if isinstance(o, sip.Decoded)]
    assert [d.message.start for d in decoded] == [
        sip.RequestLine("INVITE", "sip:a@b"),
        sip.RequestLine("MESSAGE", "sip:a@b"),
        sip.StatusLine(100, "Trying"),
        sip.StatusLine(200, "OK"),
    ]
    bad = decoded[1]
    assert bad.message.body == b"short"
    (e,) = bad.errors
    assert e.field == "content-length" and e.offset == len(A) + liar.index(b"short")
    assert all(not d.errors for d in decoded if d is not bad)


def test_stream_negative_content_length() -> None:
    liar = msg("MESSAGE sip:a@b SIP/2.0", "Call-ID: s3", "Content-Length: -1", body="zz")
    out = frame_all([liar + B])
    decoded = [o for o in out if isinstance(o, sip.Decoded)]
    assert len(decoded) == 2 and decoded[0].message.body == b"zz"
    assert decoded[0].errors[0].field == "content-length"
    assert decoded[1].message.status == 100 and not decoded[1].errors


def test_stream_truncated_at_close() -> None:
    out = frame_all([A[:-2]])
    (d,) = out
    assert isinstance(d, sip.Decoded)
    assert d.message.body == b"a" and d.errors[0].field == "content-length"
    assert d.errors[0].reason == "Content-Length 3 but the stream ended after 1 body bytes"


def test_stream_gap_restarts_framing() -> None:
    f = sip.SipStreamFramer()
    out = f.feed(A[:20], 0)
    # 10 bytes lost: the partial INVITE is reported, framing resumes at the next start line.
    out += f.feed(A[30:] + B, 30)
    out += f.close()
    assert isinstance(out[0], DissectError) and out[0].offset == 0
    decoded = [o for o in out if isinstance(o, sip.Decoded)]
    assert [d.message.status for d in decoded] == [100]
    assert decoded[0].start == len(A)


@pytest.mark.parametrize(
    ("get", "field"),
    [
        (lambda: sip.Via.parse("SIP/2.0/UDP h:5²"), "via"),
        (lambda: sip.SipUri.parse("sip:a@h:²"), "uri"),
        (lambda: sip.parse(b"OPTIONS s:x SIP/2.0\r\nCSeq: \xc2\xb2 X\r\n\r\n").cseq, "cseq"),
        (lambda: sip.parse(b"OPTIONS s:x SIP/2.0\r\nRSeq: \xd9\xa3\r\n\r\n").rseq, "rseq"),
        (lambda: sip.decode_datagram("SIP/2.0 ٣٣٣ OK\r\n\r\n".encode()), "start-line"),
    ],
)
def test_non_ascii_digits_are_dissect_errors(get: Callable[[], object], field: str) -> None:
    # str.isdigit() and the str regex \d accept "²" and "٣"; SIP numbers are ASCII only.
    with pytest.raises(DissectError) as ei:
        get()
    assert ei.value.field == field


def test_stream_overlap_is_ignored() -> None:
    f = sip.SipStreamFramer()
    out = f.feed(A[:30], 0) + f.feed(A[20:], 20) + f.feed(A[10:15], 10) + f.close()
    assert len(out) == 1
    d = out[0]
    assert isinstance(d, sip.Decoded) and sip.build(d.message) == A and not d.errors


def test_response_builder() -> None:
    m = sip.response(
        200, "OK", [("Call-ID", "r1"), ("CSeq", "1 INVITE")], b"v=0\r\n", "application/sdp"
    )
    assert sip.build(m) == (
        b"SIP/2.0 200 OK\r\nCall-ID: r1\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n"
        b"Content-Length: 5\r\n\r\nv=0\r\n"
    )
    # with_body replaces the length in place and keeps the header order.
    m2 = sip.with_body(m, b"")
    assert sip.build(m2).endswith(b"Content-Type: application/sdp\r\nContent-Length: 0\r\n\r\n")


def test_typed_headers_read_twice_give_the_same_and_errors_are_raised_each_time() -> None:
    # What a message derives from its headers is kept (the tracker reads it many times): a
    # second read returns the first value; a malformed header fails on every read, with the
    # same error, and does not spoil the headers read from it before or after.
    m = sip.parse(
        msg(
            "BYE sip:bob@example.net SIP/2.0",
            "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-7",
            "From: <sip:alice@example.org>;tag=f1",
            "To: <sip:bob@example.net>;tag=t1",
            "Call-ID: twice-1",
            "CSeq: two BYE",
            "RSeq: 17",
        )
    )
    assert m.get("from") == "<sip:alice@example.org>;tag=f1"
    for _ in range(2):
        assert m.call_id == "twice-1"
        assert m.get("i") == "twice-1"  # the compact form is the same header
        assert m.from_ is not None and m.from_.tag == "f1"
        assert m.to is not None and m.to.tag == "t1"
        assert m.rseq == 17
        assert m.top_via is not None and m.top_via.branch == "z9hG4bK-7"
        assert m.values("via") == ["SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-7"]
        with pytest.raises(DissectError) as ei:
            _ = m.cseq
        assert (ei.value.field, ei.value.reason) == ("cseq", "malformed CSeq 'two BYE'")
    # a list handed out is the caller's: changing it changes no later read
    m.values("via").append("SIP/2.0/UDP x")
    assert len(m.values("via")) == 1
    assert m.get("content-length") is None


def test_display_names_and_quoted_angle_brackets() -> None:
    # an angle bracket inside a quoted display name is not where the URI starts
    na = sip.NameAddr.parse('"A <not> \\"B\\"" <sip:ab@example.org>;tag=x')
    assert na == sip.NameAddr('A <not> "B"', "sip:ab@example.org", (("tag", "x"),))
    assert sip.NameAddr.parse("Bob <sip:bob@example.net>") == sip.NameAddr(
        "Bob", "sip:bob@example.net", ()
    )


def test_malformed_header_after_non_ascii_located_in_bytes() -> None:
    # "Subject: é" is 11 bytes on the wire, 10 characters: the bad line starts at
    # 23 (start line and CRLF) + 11 + 2
    raw = "OPTIONS sip:x SIP/2.0\r\nSubject: é\r\nno colon here\r\n\r\n".encode()
    d = sip.decode_datagram(raw)
    assert [(e.field, e.offset) for e in d.errors] == [("header", 36)]


@pytest.mark.parametrize(
    ("raw", "body"),
    [
        (b"OPTIONS sip:x SIP/2.0\r\nA: 1\r\n\r\nbody", b"body"),
        (b"OPTIONS sip:x SIP/2.0\nA: 1\n\nbody", b"body"),
        # mixed line breaks: the first empty line ends the head, whichever form it takes
        (b"OPTIONS sip:x SIP/2.0\r\nA: 1\n\r\nB: 2\r\n\r\nbody", b"B: 2\r\n\r\nbody"),
        (b"OPTIONS sip:x SIP/2.0\r\nA: 1\r\n\nB: 2\n\nbody", b"B: 2\n\nbody"),
    ],
)
def test_the_first_empty_line_ends_the_head(raw: bytes, body: bytes) -> None:
    d = sip.decode_datagram(raw)
    assert d.message.get("a") == "1" and d.message.body == body


def test_repeated_lines_parse_the_same_and_the_caches_stay_bounded() -> None:
    # A line seen before gives the same header; folding after it extends this message's
    # copy only; a name-addr that fails names the header it came from, every time.
    first = sip.parse(msg("OPTIONS sip:x SIP/2.0", "Subject: hello", "From: <sip:a@x>;tag=1"))
    folded = sip.parse(
        msg("OPTIONS sip:x SIP/2.0", "Subject: hello", " world", "From: <sip:a@x>;tag=1")
    )
    assert first.get("subject") == "hello"
    assert folded.get("subject") == "hello world"
    assert first.get("subject") == "hello"  # the first message's header is untouched
    assert sip.parse(msg("OPTIONS sip:x SIP/2.0", "Subject: hello")).headers == (
        sip.Header("Subject", "hello", ": "),
    )
    assert first.from_ == folded.from_ == sip.NameAddr(None, "sip:a@x", (("tag", "1"),))
    for header in ("From", "Contact", "From"):
        m = sip.parse(msg("OPTIONS sip:x SIP/2.0", f"{header}: <sip:unterminated"))
        with pytest.raises(DissectError) as ei:
            _ = m.from_ if header == "From" else m.contacts
        assert ei.value.field == header.lower()
    # A Via seen before (a response repeats its request's) parses the same; a malformed
    # one raises each time, for each message.
    via = "Via: SIP/2.0/UDP h.example:5070;branch=z9hG4bK1;rport"
    req = sip.parse(msg("OPTIONS sip:x SIP/2.0", via, "Via: SIP/2.0/TCP p"))
    resp = sip.parse(msg("SIP/2.0 200 OK", via))
    assert (
        req.top_via
        == resp.top_via
        == sip.Via("SIP/2.0/UDP", "h.example", 5070, (("branch", "z9hG4bK1"), ("rport", None)))
    )
    assert [v.host for v in req.vias] == ["h.example", "p"]
    # the top Via is the first value of the first Via header with a value
    two = sip.parse(msg("SIP/2.0 200 OK", "Via: SIP/2.0/UDP a;branch=1, SIP/2.0/TCP b", via))
    assert (two.top_via.host, two.top_via.branch) == ("a", "1")  # type: ignore[union-attr]
    empty = sip.parse(msg("SIP/2.0 200 OK", "Via: ", "Via: SIP/2.0/TCP c:5080, SIP/2.0/UDP d"))
    assert (empty.top_via.host, empty.top_via.port) == ("c", 5080)  # type: ignore[union-attr]
    assert sip.parse(msg("SIP/2.0 200 OK", "Via:  ,")).top_via is None
    for _ in range(2):
        bad = sip.parse(msg("SIP/2.0 200 OK", "Via: SIP/2.0/UDP h:x"))
        with pytest.raises(DissectError) as ei:
            _ = bad.top_via
        assert ei.value.field == "via"
    # many distinct lines, some long: the caches never hold more than their budget
    for i in range(sip.MAX_CACHED_LINES + 10):
        sip.parse(msg("OPTIONS sip:x SIP/2.0", f"X-N: {i}", f"To: <sip:{i}@x>", "Y: " + "y" * 300))
        _ = sip.parse(msg("OPTIONS sip:x SIP/2.0", f"To: <sip:{i}@x>")).to
        long = "SIP/2.0/UDP h;branch=" + "b" * 300
        vias = sip.parse(msg("OPTIONS sip:x SIP/2.0", f"Via: SIP/2.0/UDP h{i}", "Via: " + long))
        assert vias.vias[1].branch == "b" * 300
    # start lines: one seen before parses the same; a bad one raises every time; many
    # distinct ones (some long) never fill the cache past its budget
    assert sip.parse(msg("OPTIONS sip:x SIP/2.0")).start == sip.RequestLine("OPTIONS", "sip:x")
    assert sip.parse(msg("SIP/2.0 180 Ringing")).start == sip.StatusLine(180, "Ringing")
    for _ in range(2):
        with pytest.raises(DissectError) as ei:
            sip.parse(msg("SIP/2.0 18 Ringing"))
        assert ei.value.field == "start-line"
    for i in range(sip.MAX_CACHED_LINES + 10):
        short = sip.RequestLine("OPTIONS", f"sip:{i}@x")
        assert sip.parse(msg(f"OPTIONS sip:{i}@x SIP/2.0")).start == short
        big = sip.RequestLine("OPTIONS", f"sip:{'u' * 300}{i}@x")
        assert sip.parse(msg(f"OPTIONS {big.uri} SIP/2.0")).start == big
    assert 0 < len(sip._STARTS) <= sip.MAX_CACHED_LINES
    assert all(len(line) <= sip.MAX_CACHED_LINE for line in sip._STARTS)
    assert 0 < len(sip._LINES) <= sip.MAX_CACHED_LINES
    assert 0 < len(sip._NAME_ADDRS) <= sip.MAX_CACHED_LINES
    assert 0 < len(sip._VIAS) <= sip.MAX_CACHED_LINES
    assert all(len(line) <= sip.MAX_CACHED_LINE for line in sip._LINES)
    assert all(len(v) <= sip.MAX_CACHED_LINE for v in sip._VIAS)
