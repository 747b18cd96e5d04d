"""BfcpFramer: length from the header, any split, several per feed, garbage, lying lengths."""

from __future__ import annotations

import itertools

from mikeyshark.dissectors import bfcp
from tests.support.bfcp_samples import FLOOR_REQUEST, GRANTED, HELLO, HELLO_ACK

STREAM = HELLO + HELLO_ACK + FLOOR_REQUEST + GRANTED
BOUNDS = [0, 12, 60, 76, 116]


def spans(out: list[bfcp.Framed]) -> list[tuple[str, int, int]]:
    return [("msg" if isinstance(r, bfcp.FramedMessage) else "err", r.start, r.end) for r in out]


def test_split_at_every_byte_boundary() -> None:
    expected = [("msg", a, b) for a, b in itertools.pairwise(BOUNDS)]
    assert len(STREAM) == BOUNDS[-1]
    for i in range(len(STREAM) + 1):
        f = bfcp.BfcpFramer()
        out = f.feed(STREAM[:i]) + f.feed(STREAM[i:]) + f.close()
        assert spans(out) == expected, i


def test_byte_at_a_time_and_all_at_once() -> None:
    f = bfcp.BfcpFramer()
    out: list[bfcp.Framed] = []
    for b in STREAM:
        out += f.feed(bytes([b]))
    prims = [r.message.primitive_name for r in out if isinstance(r, bfcp.FramedMessage)]
    assert prims == ["Hello", "HelloAck", "FloorRequest", "FloorRequestStatus"]
    assert len(bfcp.BfcpFramer().feed(STREAM)) == 4


def test_garbage_then_resync() -> None:
    f = bfcp.BfcpFramer()
    out = f.feed(b"\x00\x01\x02junk!" + HELLO) + f.feed(b"\xff" * 3 + FLOOR_REQUEST) + f.close()
    assert spans(out) == [("err", 0, 8), ("msg", 8, 20), ("err", 20, 23), ("msg", 23, 39)]
    err = out[0]
    assert isinstance(err, bfcp.FramingError)
    assert err.error.reason == "8 bytes that are not BFCP"


def test_payload_length_too_long_swallows_nothing_for_good() -> None:
    # Hello claiming 2 words: the next FloorRequest's header is read as its attributes.
    liar = bytes.fromhex("200b0002 00000001 0001 0002")
    out = bfcp.BfcpFramer().feed(liar + FLOOR_REQUEST + HELLO)
    assert spans(out) == [("err", 0, 12), ("msg", 12, 28), ("msg", 28, 40)]
    err = out[0]
    assert isinstance(err, bfcp.FramingError)
    assert (err.error.offset, err.error.field) == (12, "REQUESTED-BY-INFORMATION")


def test_payload_length_too_short_leaves_reported_garbage() -> None:
    # FloorRequest claiming 0 words: its FLOOR-ID is left over and reported.
    liar = bytes.fromhex("20010000 00000001 0002 0002 05040001")
    out = bfcp.BfcpFramer().feed(liar + HELLO)
    assert spans(out) == [("msg", 0, 12), ("err", 12, 16), ("msg", 16, 28)]
    first = out[0]
    assert isinstance(first, bfcp.FramedMessage)
    assert first.message.attributes == ()


def test_payload_length_beyond_the_stream_is_reported_at_close() -> None:
    f = bfcp.BfcpFramer()
    assert f.feed(bytes.fromhex("200b0100 00000001 0001 0002") + HELLO) == []
    err, hello = f.close()
    assert isinstance(err, bfcp.FramingError)
    assert (err.start, err.end, err.error.field, err.error.offset) == (0, 12, "payload_length", 2)
    assert isinstance(hello, bfcp.FramedMessage)
    assert (hello.start, hello.message.primitive_name) == (12, "Hello")
    assert err.error.reason == "stream ended: message needs 1036 bytes, 24 arrived"


def test_gap_resyncs_on_the_next_message() -> None:
    f = bfcp.BfcpFramer()
    out = f.feed(HELLO_ACK[:20]) + f.feed(HELLO_ACK[30:] + HELLO, gap=10) + f.close()
    assert spans(out) == [("err", 0, 20), ("err", 30, 48), ("msg", 48, 60)]


def test_stream_ends_inside_a_header() -> None:
    f = bfcp.BfcpFramer()
    assert f.feed(bytes.fromhex("200100d0")) == []
    (err,) = f.close()
    assert isinstance(err, bfcp.FramingError)
    assert (err.start, err.end, err.error.offset) == (0, 4, 2)
    assert err.error.reason == "stream ended: message needs 844 bytes, 4 arrived"
