"""SDP codec: the vector's SDP, typed attributes for MSRP/BFCP/RFC 4567, round trips."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mikeyshark.dissectors import sdp, sip
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.msrp import MsrpUri


def vector_sdp(vectors: Path) -> bytes:
    m = sip.parse((vectors / "sip" / "sip_invite_example.txt").read_bytes())
    body = m.sdp_body()
    assert body is not None
    return body


def test_vector_sdp(vectors: Path) -> None:
    raw = vector_sdp(vectors)
    sd = sdp.parse(raw)
    assert sdp.build(sd) == raw
    o = sd.origin
    assert o == sdp.Origin("alice", "2890844526", "2890844527", "IN", "IP4", "192.0.2.1")
    assert sd.connection == sdp.Connection("IN", "IP4", "192.0.2.1")
    msrp, bfcp = sd.media
    assert msrp.m == sdp.MediaLine("message", 50000, None, "TCP/TLS/MSRP", ("*",))
    assert (msrp.protocol, bfcp.protocol) == ("msrp", "bfcp")
    assert bfcp.m == sdp.MediaLine("application", 50001, None, "TCP/TLS/BFCP", ("*",))
    assert msrp.accept_types == ("message/cpim", "text/plain")
    assert msrp.paths == (MsrpUri("msrps", "192.0.2.1", 50000, "asfd34", "tcp"),)
    assert msrp.setup == "actpass" and bfcp.setup == "actpass"
    assert bfcp.connection_attr == "new" and msrp.connection_attr is None
    assert bfcp.floorctrl == ("c-only",)
    text = (
        "AQAFABI0VngBAADerb7vAAAAAAsA58GiswAAAAAKEIwfTmotmwfDXoGk8msNk3IBAAAAHgABAQEBEAIBAQMBFAQBDg"
        "UBAAcBAQgBAQoBAQsBCgABABQ3aratBOC4gTmRTX0BiPLz+N/qFQHb26YaHl2zcST2ALEuM25BcSnxNQ=="
    )
    km = sd.media_key_mgmt(0)
    assert km is not None and km.protocol == "mikey"
    assert km.data == base64.b64decode(text) and len(km.data) == 127
    assert sd.media_connection(1) == sdp.Connection("IN", "IP4", "192.0.2.1")


BFCP_SERVER = (
    "v=0\r\n"
    "o=conf 1 1 IN IP6 2001:db8::2\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=key-mgmt:mikey AAEC\r\n"
    "m=application 6001 TCP/BFCP *\r\n"
    "c=IN IP6 2001:db8::2\r\n"
    "a=setup:passive\r\n"
    "a=floorctrl:s-only c-s\r\n"
    "a=confid:4321\r\n"
    "a=userid:1234\r\n"
    "a=floorid:1 mstrm:10 11\r\n"
    "a=floorid:2 m-stream:12\r\n"
    "a=bfcpver:2 1\r\n"
    "m=audio 49170 RTP/AVP 0\r\n"
    "a=label:10\r\n"
    "a=key-mgmt:mikey AAECAw\r\n"
    "m=message 7000 TCP/MSRP *\r\n"
    "c=IN IP4 198.51.100.7\r\n"
    "a=path:msrp://relay.example.org:2855/r1;tcp msrp://[2001:db8::2]/s2;tcp\r\n"
    "a=msrp-cema\r\n"
)


def test_bfcp_and_msrp_attributes() -> None:
    sd = sdp.parse(BFCP_SERVER.encode())
    bfcp, audio, msrp = sd.media
    assert bfcp.proto == "TCP/BFCP" and bfcp.protocol == "bfcp"
    assert bfcp.floorctrl == ("s-only", "c-s")
    assert (bfcp.confid, bfcp.userid) == (4321, 1234)
    assert bfcp.floorids == (sdp.FloorId(1, ("10", "11")), sdp.FloorId(2, ("12",)))
    assert bfcp.bfcpver == (2, 1)
    assert bfcp.setup == "passive"
    assert audio.protocol == "audio" and audio.label == "10"
    assert msrp.protocol == "msrp" and msrp.msrp_cema and not bfcp.msrp_cema
    assert msrp.paths == (
        MsrpUri("msrp", "relay.example.org", 2855, "r1", "tcp"),
        MsrpUri("msrp", "[2001:db8::2]", None, "s2", "tcp"),
    )
    # c=: the media's own, else the session's (none here for the audio line).
    assert sd.media_connection(0) == sdp.Connection("IN", "IP6", "2001:db8::2")
    assert sd.media_connection(1) is None
    assert sd.media_connection(2) == sdp.Connection("IN", "IP4", "198.51.100.7")
    # RFC 4567: media level wins; session level applies to media without their own.
    assert sd.media_key_mgmt(0) == sdp.KeyMgmt("mikey", b"\x00\x01\x02", "AAEC")
    assert sd.media_key_mgmt(1) == sdp.KeyMgmt("mikey", b"\x00\x01\x02\x03", "AAECAw")
    assert sd.media_key_mgmt(2) == sdp.KeyMgmt("mikey", b"\x00\x01\x02", "AAEC")
    assert sdp.build(sd) == BFCP_SERVER.encode()


@pytest.mark.parametrize(
    ("text", "data"),
    [("AAECAw==", b"\0\1\2\3"), ("AAECAw", b"\0\1\2\3"), ("AAECAwQ", b"\0\1\2\3\4")],
)
def test_key_mgmt_padding_tolerated(text: str, data: bytes) -> None:
    assert sdp.KeyMgmt.parse(f"mikey {text}").data == data


@pytest.mark.parametrize("value", ["mikey", "mikey AA*B", "mikey A"])
def test_key_mgmt_malformed(value: str) -> None:
    with pytest.raises(DissectError) as ei:
        sdp.KeyMgmt.parse(value)
    assert ei.value.field == "key-mgmt" and ei.value.layer == "sdp"


def test_malformed_lines_located() -> None:
    raw = b"v=0\r\ns=-\r\nthis is not sdp\r\nm=message x TCP/MSRP *\r\n"
    sd, errors = sdp.decode(raw)
    assert [(e.field, e.offset) for e in errors] == [("line", 10), ("m", 0)]
    assert sdp.build(sd) == raw
    with pytest.raises(DissectError):
        sdp.parse(raw)


def test_editing_helpers() -> None:
    md = sdp.media_description(
        "message",
        9,
        "TCP/TLS/MSRP",
        lines=[sdp.attribute("setup", "actpass"), sdp.key_mgmt_attribute("mikey", b"\1\2")],
    )
    assert [str(ln) for ln in md.lines] == [
        "m=message 9 TCP/TLS/MSRP *",
        "a=setup:actpass",
        "a=key-mgmt:mikey AQI=",
    ]
    md2 = md.with_attr("setup", "active").without_attr("key-mgmt").with_proto("TCP/MSRP")
    assert [str(ln) for ln in md2.lines] == ["m=message 9 TCP/MSRP *", "a=setup:active"]
    assert md2.with_attr("msrp-cema", None).lines[-1] == sdp.SdpLine("a", "msrp-cema")


def test_lf_and_no_final_eol_round_trip() -> None:
    for raw in (b"v=0\ns=-\nm=audio 1 RTP/AVP 0\na=x\n", b"v=0\r\ns=-\r\nm=audio 1 RTP/AVP 0"):
        assert sdp.build(sdp.parse(raw)) == raw


# ---- property tests: any attribute set survives build -> parse, and parse -> build

_name = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)
_value = st.one_of(st.none(), st.from_regex(r"[!-~][ -~]{0,30}", fullmatch=True))
_attrs = st.lists(st.tuples(_name, _value), max_size=8)
_proto = st.sampled_from(["TCP/TLS/MSRP", "TCP/TLS/BFCP", "TCP/MSRP", "TCP/BFCP", "RTP/AVP"])


@st.composite
def descriptions(draw: st.DrawFn) -> sdp.SessionDescription:
    session = [sdp.SdpLine("v", "0"), sdp.SdpLine("s", "-")]
    session += [sdp.attribute(n, v) for n, v in draw(_attrs)]
    media = []
    for _ in range(draw(st.integers(0, 3))):
        port = draw(st.integers(0, 65535))
        lines = [sdp.attribute(n, v) for n, v in draw(_attrs)]
        media.append(sdp.media_description("application", port, draw(_proto), lines=lines))
    eol = draw(st.sampled_from(["\r\n", "\n"]))
    return sdp.SessionDescription(tuple(session), tuple(media), eol)


@settings(max_examples=200, deadline=None)
@given(descriptions())
def test_parse_build_property(sd: sdp.SessionDescription) -> None:
    raw = sdp.build(sd)
    back = sdp.parse(raw)
    assert back == sd
    assert sdp.build(back) == raw
    # Every attribute comes back with its name and value, in order.
    for md_in, md_out in zip(sd.media, back.media, strict=True):
        assert md_out.attributes == md_in.attributes


@settings(max_examples=200, deadline=None)
@given(_attrs)
def test_attribute_values_property(attrs: list[tuple[str, str | None]]) -> None:
    lines = "".join(f"a={n}\r\n" if v is None else f"a={n}:{v}\r\n" for n, v in attrs)
    raw = f"v=0\r\ns=-\r\nm=message 9 TCP/TLS/MSRP *\r\n{lines}".encode()
    sd = sdp.parse(raw)
    assert [(a.name, a.value) for a in sd.media[0].attributes] == attrs
    assert sdp.build(sd) == raw


@pytest.mark.parametrize(
    ("line", "attr"),
    [("a=confid:²", "confid"), ("a=floorid:²", "floorids"), ("a=bfcpver:2 ²", "bfcpver")],
)
def test_non_ascii_digits_are_dissect_errors(line: str, attr: str) -> None:
    sd = sdp.parse(f"v=0\r\nm=application 1 TCP/BFCP *\r\n{line}\r\n".encode())
    with pytest.raises(DissectError):
        getattr(sd.media[0], attr)
    with pytest.raises(DissectError) as ei:
        sdp.MediaLine.parse("audio ² RTP/AVP 0")
    assert ei.value.field == "m"


def test_session_level_setup_applies_to_media_without_one() -> None:
    raw = (
        b"v=0\r\ns=-\r\na=setup:passive\r\n"
        b"m=message 1 TCP/MSRP *\r\n"
        b"m=application 2 TCP/BFCP *\r\na=setup:ACTIVE\r\n"
    )
    sd = sdp.parse(raw)
    assert [sd.media_setup(0), sd.media_setup(1)] == ["passive", "active"]
    assert sd.media[0].setup is None


def test_attributes_by_name_read_twice_and_case_insensitive() -> None:
    sd = sdp.parse(
        b"v=0\r\ns=-\r\na=Setup:passive\r\nm=message 9 TCP/TLS/MSRP *\r\n"
        b"a=accept-types:text/plain\r\na=msrp-cema\r\na=SETUP:active\r\na=setup:x\r\n"
    )
    md = sd.media[0]
    for _ in range(2):
        assert md.attrs("setup") == ("active", "x")  # in order, whatever the name's case
        assert md.attrs("SeTuP") == ("active", "x")
        assert md.attrs("msrp-cema") == ("",)  # a flag
        assert md.attrs("label") == ()
        assert md.setup == "active"
        assert sd.attrs("setup") == ("passive",)  # the session's own, not the media's
    assert md.has("msrp-cema") and not md.has("path")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # RFC 8866 5: one lower-case letter, "=", the value (possibly empty, possibly "=")
        ("a=", [("a", "")]),
        ("b==x", [("b", "=x")]),
        ("A=x", [("", "A=x")]),  # an upper-case type is not a type
        ("é=x", [("", "é=x")]),  # nor a letter outside ASCII
        ("ab=x", [("", "ab=x")]),
        ("a", [("", "a")]),
        ("=x", [("", "=x")]),
    ],
)
def test_line_types(raw: str, expected: list[tuple[str, str]]) -> None:
    sd, errors = sdp.decode(f"v=0\r\n{raw}\r\n".encode())
    assert [(ln.type, ln.value) for ln in sd.session[1:]] == expected
    assert [e.offset for e in errors] == ([] if expected[0][0] else [5])


def test_malformed_line_after_non_ascii_located_in_bytes() -> None:
    # "s=é" is 4 bytes on the wire (é is 2 in UTF-8), 3 characters: the bad line is at 5+6
    raw = "v=0\r\ns=é\r\nnot sdp\r\n".encode()
    _, errors = sdp.decode(raw)
    assert [(e.field, e.offset) for e in errors] == [("line", 11)]


def test_malformed_lines_after_good_ones_each_located() -> None:
    # 5 + "bad1\r\n" 6 + "s=é\r\n" 6 (é is 2 bytes) = 17; then 17 + 6 + "t=0 0\r\n" 7 = 30
    raw = "v=0\r\nbad1\r\ns=é\r\nbad2\r\nt=0 0\r\nbad3\r\n".encode()
    _, errors = sdp.decode(raw)
    assert [e.offset for e in errors] == [5, 17, 30]


def test_paths_read_twice_and_a_bad_one_fails_each_time() -> None:
    md = sdp.parse(
        b"v=0\r\nm=message 9 TCP/TLS/MSRP *\r\na=path:msrps://h.example:9/s1;tcp\r\n"
    ).media[0]
    assert md.paths == md.paths
    assert [str(u) for u in md.paths] == ["msrps://h.example:9/s1;tcp"]
    bad = sdp.parse(b"v=0\r\nm=message 9 TCP/MSRP *\r\na=path:not-a-uri\r\n").media[0]
    for _ in range(2):
        with pytest.raises(DissectError) as ei:
            _ = bad.paths
        assert (ei.value.layer, ei.value.field) == ("sdp", "path")


def test_repeated_lines_parse_the_same_and_the_cache_stays_bounded() -> None:
    a = sdp.parse(b"v=0\r\ns=-\r\nm=message 9 TCP/MSRP *\r\na=setup:active\r\n")
    b = sdp.parse(b"v=0\r\ns=-\r\nm=message 10 TCP/MSRP *\r\na=setup:active\r\n")
    assert a.media[0].lines[1] == b.media[0].lines[1] == sdp.SdpLine("a", "setup:active")
    assert (a.media[0].m.port, b.media[0].m.port) == (9, 10)
    # a malformed line is never taken from the cache: located in each description
    for _ in range(2):
        _, errors = sdp.decode(b"v=0\r\nnot sdp\r\n")
        assert [(e.field, e.offset) for e in errors] == [("line", 5)]
    for i in range(sdp.MAX_CACHED_LINES + 10):
        sdp.decode(f"v=0\r\na=x:{i}\r\na=y:{'y' * 300}\r\n".encode())
    assert 0 < len(sdp._LINES) <= sdp.MAX_CACHED_LINES
    assert all(len(line) <= sdp.MAX_CACHED_LINE for line in sdp._LINES)
