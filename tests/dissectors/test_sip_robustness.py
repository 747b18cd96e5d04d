"""Bad input never crashes: only DissectError comes out of the SIP/SDP codecs, and the call
tracker turns whatever parses into records and located problems."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from mikeyshark.calls import CallTracker
from mikeyshark.dissectors import sdp, sip
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.model import Endpoint

SEED = (
    b"INVITE sip:conf@example.org SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
    b'From: "A" <sip:a@example.org>;tag=1\r\nTo: <sip:b@example.org>\r\nCall-ID: x\r\n'
    b"CSeq: 1 INVITE\r\nContact: <sip:a@192.0.2.1>;isfocus\r\nRequire: 100rel\r\nRSeq: 1\r\n"
    b"RAck: 1 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: 60\r\n\r\n"
    b"v=0\r\nc=IN IP4 192.0.2.1\r\nm=message 1 TCP/MSRP *\r\na=path:msrp://h:1/s;tcp\r\n"
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """The seed message with bytes flipped, inserted and removed (mostly still SIP-like)."""
    data = bytearray(SEED)
    for _ in range(draw(st.integers(1, 12))):
        op = draw(st.integers(0, 2))
        i = draw(st.integers(0, len(data)))
        if op == 0 and i < len(data):
            data[i] = draw(st.sampled_from(b' :;<>"\r\n,=@0123456789\xff\xb2/[]'))
        elif op == 1:
            # "²" and "٣" are digits to str.isdigit() but not to int() / SIP.
            extra = st.sampled_from(["²".encode(), "٣".encode(), b"\r\n ", b"-1"])
            data[i:i] = draw(st.one_of(st.binary(min_size=1, max_size=6), extra))
        elif i < len(data):
            del data[i : i + draw(st.integers(1, 20))]
    return bytes(data)


def _accessors(m: sip.SipMessage) -> None:
    getters: list[Callable[[], object]] = [
        lambda: m.call_id,
        lambda: m.cseq,
        lambda: m.from_,
        lambda: m.to,
        lambda: m.contacts,
        lambda: m.vias,
        lambda: m.require,
        lambda: m.rseq,
        lambda: m.rack,
        lambda: m.content_length,
        lambda: m.p_asserted_identity,
        lambda: m.reliable,
        lambda: m.sdp_body(),
        lambda: sip.normalize_uri(m.from_.uri if m.from_ else "x"),
        lambda: [na.parsed_uri() for na in m.contacts],
    ]
    for g in getters:
        with contextlib.suppress(DissectError):
            g()


def _sdp_accessors(body: bytes) -> None:
    sd, _ = sdp.decode(body)
    for i, md in enumerate(sd.media):
        getters: list[Callable[[], object]] = [
            lambda md=md: md.m,  # type: ignore[misc]
            lambda md=md: md.protocol,  # type: ignore[misc]
            lambda md=md: md.paths,  # type: ignore[misc]
            lambda md=md: md.floorids,  # type: ignore[misc]
            lambda md=md: md.confid,  # type: ignore[misc]
            lambda md=md: md.bfcpver,  # type: ignore[misc]
            lambda md=md: md.key_mgmts(),  # type: ignore[misc]
            lambda i=i: sd.media_key_mgmt(i),  # type: ignore[misc]
            lambda i=i: sd.media_connection(i),  # type: ignore[misc]
        ]
        for g in getters:
            with contextlib.suppress(DissectError):
                g()


@settings(max_examples=300, deadline=None)
@given(mutated())
def test_mutated_messages(data: bytes) -> None:
    try:
        d = sip.decode_datagram(data)
    except DissectError:
        d = None
    if d is not None:
        _accessors(d.message)
        _sdp_accessors(d.message.body)
        t = CallTracker()
        a, b = Endpoint("192.0.2.1", 5060), Endpoint("192.0.2.2", 5060)
        t.add(d.message, frame=1, ts_ns=0, src=a, dst=b, transport="UDP")
    f = sip.SipStreamFramer()
    out = f.feed(data[:40]) + f.feed(data[40:]) + f.close()
    for o in out:
        assert isinstance(o, sip.Decoded | DissectError)
        if isinstance(o, sip.Decoded):
            _accessors(o.message)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    with contextlib.suppress(DissectError):
        sip.decode_datagram(data)
    f = sip.SipStreamFramer()
    f.feed(data)
    f.close()
    _sdp_accessors(data)
