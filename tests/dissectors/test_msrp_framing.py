"""MsrpFramer: any split of the stream, several messages per feed, garbage, gaps, no end-line."""

from __future__ import annotations

from mikeyshark.dissectors import msrp
from tests.support.msrp_samples import CHUNK_STAR, OK, REPORT, SEND

STREAM = SEND + OK + CHUNK_STAR + REPORT
OFFSETS = [(0, len(SEND))]
for _m in (OK, CHUNK_STAR, REPORT):
    OFFSETS.append((OFFSETS[-1][1], OFFSETS[-1][1] + len(_m)))

OTHER = (
    b"MSRP zz99zz99 SEND\r\nTo-Path: msrp://a.example:1/s;tcp\r\n"
    b"From-Path: msrp://b.example:2/t;tcp\r\n-------zz99zz99$\r\n"
)


def spans(results: list[msrp.Framed]) -> list[tuple[str, int, int]]:
    return [
        ("msg" if isinstance(r, msrp.FramedMessage) else "err", r.start, r.end) for r in results
    ]


def test_split_at_every_byte_boundary() -> None:
    expected = [("msg", a, b) for a, b in OFFSETS]
    for i in range(len(STREAM) + 1):
        f = msrp.MsrpFramer()
        out = f.feed(STREAM[:i]) + f.feed(STREAM[i:]) + f.close()
        assert spans(out) == expected, i
        messages = [r for r in out if isinstance(r, msrp.FramedMessage)]  # all, per spans
        assert [m.raw for m in messages] == [SEND, OK, CHUNK_STAR, REPORT]


def test_one_byte_at_a_time() -> None:
    f = msrp.MsrpFramer()
    out: list[msrp.Framed] = []
    for b in STREAM:
        out += f.feed(bytes([b]))
    assert spans(out) == [("msg", a, b) for a, b in OFFSETS]
    assert f.buffered == 0


def test_several_messages_in_one_feed() -> None:
    out = msrp.MsrpFramer().feed(STREAM)
    assert [r.message.transaction_id for r in out if isinstance(r, msrp.FramedMessage)] == [
        "a786hjs2",
        "a786hjs2",
        "dkei38sd",
        "dkei38sd",
    ]


def test_garbage_then_resync() -> None:
    f = msrp.MsrpFramer()
    out = f.feed(b"\x16\x03\x01junk") + f.feed(SEND + b"more junk" + OK) + f.close()
    assert spans(out) == [
        ("err", 0, 7),
        ("msg", 7, 7 + len(SEND)),
        ("err", 7 + len(SEND), 16 + len(SEND)),
        ("msg", 16 + len(SEND), 16 + len(SEND) + len(OK)),
    ]
    err = out[0]
    assert isinstance(err, msrp.FramingError)
    assert (err.error.offset, err.error.reason) == (0, "7 bytes that are not MSRP")


def test_bad_start_line_is_reported_then_skipped() -> None:
    f = msrp.MsrpFramer()
    out = f.feed(b"MSRP ?? SEND\r\n" + OK) + f.close()
    assert spans(out) == [("err", 0, 14), ("msg", 14, 14 + len(OK))]
    first = out[0]
    assert isinstance(first, msrp.FramingError)
    assert first.error.field == "start-line"


def test_bad_start_line_after_a_whole_message_in_the_same_piece() -> None:
    # the piece's whole messages are framed where they lie, the rest as from the buffer
    f = msrp.MsrpFramer()
    bad = b"MSRP ?? SEND\r\n"
    out = f.feed(SEND + bad + OK[:20]) + f.feed(OK[20:]) + f.close()
    n = len(SEND)
    assert spans(out) == [("msg", 0, n), ("err", n, n + 14), ("msg", n + 14, n + 14 + len(OK))]
    assert [r.raw for r in out if isinstance(r, msrp.FramedMessage)] == [SEND, OK]
    assert f.buffered == 0 and f.offset == n + len(bad) + len(OK)


def test_missing_end_line_is_bounded_and_reported() -> None:
    lost = SEND[: -len(b"-------a786hjs2$\r\n")]
    f = msrp.MsrpFramer(max_message=400)
    out: list[msrp.Framed] = []
    stream = lost + OTHER + OTHER
    for i in range(0, len(stream), 16):
        out += f.feed(stream[i : i + 16])
        assert f.buffered <= 400 + 16
    out += f.close()
    kinds = spans(out)
    first = out[0]
    assert isinstance(first, msrp.FramingError)
    assert first.error.reason == "no end-line for transaction a786hjs2 within 400 bytes"
    assert (first.error.field, first.error.offset) == ("end-line", 0)
    assert kinds == [
        ("err", 0, len(lost)),
        ("msg", len(lost), len(lost) + len(OTHER)),
        ("msg", len(lost) + len(OTHER), len(lost) + 2 * len(OTHER)),
    ]


def test_stream_ends_inside_a_message() -> None:
    f = msrp.MsrpFramer()
    assert f.feed(SEND[:100]) == []
    (err,) = f.close()
    assert isinstance(err, msrp.FramingError)
    assert (err.start, err.end, err.error.field) == (0, 100, "end-line")
    assert err.error.reason == "stream ended inside a message: no end-line for transaction a786hjs2"


def test_message_behind_a_lost_end_line_is_found_at_close() -> None:
    lost = SEND[: -len(b"-------a786hjs2$\r\n")]
    f = msrp.MsrpFramer()
    assert f.feed(lost + OTHER) == []  # waits: the end-line may still come
    out = f.close()
    assert spans(out) == [("err", 0, len(lost)), ("msg", len(lost), len(lost) + len(OTHER))]


def test_gap_drops_the_cut_message_and_resyncs() -> None:
    f = msrp.MsrpFramer()
    out = f.feed(SEND[:50]) + f.feed(SEND[80:] + OK, gap=30) + f.close()
    # "MSRP over TLS" in the cut body is not taken for a start line.
    assert spans(out) == [
        ("err", 0, 50),
        ("err", 80, len(SEND)),
        ("msg", len(SEND), len(SEND) + len(OK)),
    ]
    first = out[0]
    assert isinstance(first, msrp.FramingError)
    assert first.error.reason == "message cut by 30 missing bytes"


def test_framed_but_malformed_message_keeps_the_stream_in_step() -> None:
    bad = SEND.replace(b"Byte-Range: 1-37/37", b"Byte-Range: 9-1/37")
    out = msrp.MsrpFramer().feed(bad + OK)
    assert spans(out) == [("err", 0, len(bad)), ("msg", len(bad), len(bad) + len(OK))]
    err = out[0]
    assert isinstance(err, msrp.FramingError)
    assert (err.error.field, err.error.offset) == ("Byte-Range", 141)
