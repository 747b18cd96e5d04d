"""Chunking (RFC 4975 5.1) and reassembly by Message-ID / Byte-Range."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mikeyshark.dissectors import msrp

A = msrp.MsrpUri("msrp", "alice.example.com", 7777, "iau39soe2843z")
B = msrp.MsrpUri("msrp", "bob.example.com", 8888, "9di4eae923wzd")
TEXT = b"0123456789abcdefghijklmnopqrstuvwxyz" * 3  # 108 bytes


def whole() -> msrp.Message:
    return msrp.send("unused00", [B], [A], "4564dpWd", TEXT)


def test_chunker_headers_flags_and_wire_bytes() -> None:
    chunks = msrp.chunk_message(whole(), 50, ["dkei38sd", "dkei38ia", "dkei38ib"])
    assert [c.header("Byte-Range") for c in chunks] == ["1-50/108", "51-100/108", "101-108/108"]
    assert [c.flag for c in chunks] == ["+", "+", "$"]
    assert msrp.build_message(chunks[2]) == (
        b"MSRP dkei38ib SEND\r\n"
        b"To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n"
        b"From-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp\r\n"
        b"Message-ID: 4564dpWd\r\n"
        b"Byte-Range: 101-108/108\r\n"
        b"Content-Type: text/plain\r\n"
        b"\r\n"
        b"stuvwxyz\r\n"
        b"-------dkei38ib$\r\n"
    )


def test_chunker_unknown_total_and_errors() -> None:
    chunks = msrp.chunk_message(whole(), 100, ["t0000001", "t0000002"], unknown_total=True)
    assert [c.header("Byte-Range") for c in chunks] == ["1-100/*", "101-108/*"]
    with pytest.raises(ValueError, match="need 3 transaction ids"):
        msrp.chunk_message(whole(), 50, ["t0000001"])
    # A message without Byte-Range gets one, before the MIME headers.
    bare = msrp.request("abcd1234", "SEND", [B], [A], content_type="text/plain", body=b"hi")
    (one,) = msrp.chunk_message(bare, 10, ["abcd1234"])
    assert [h.name for h in one.headers] == ["To-Path", "From-Path", "Byte-Range", "Content-Type"]


def feed(chunks: list[msrp.Message]) -> list[msrp.Reassembled[int]]:
    r = msrp.Reassembler[int]()
    out = [d for i, c in enumerate(chunks) for d in r.add(c, i)]
    return out + r.flush()


def test_in_order_and_out_of_order() -> None:
    chunks = msrp.chunk_message(whole(), 25, [f"tid{i:05d}" for i in range(5)])
    for order in ([0, 1, 2, 3, 4], [4, 2, 0, 3, 1], [1, 2, 3, 4, 0]):
        (done,) = feed([chunks[i] for i in order])
        assert (done.state, done.body, done.total) == ("complete", TEXT, 108)
        assert done.refs == tuple(range(5))
        assert (done.missing, done.duplicates, done.conflicts) == ((), 0, ())


def test_star_end_taken_from_chunk_length_and_star_total_from_last() -> None:
    head = b"To-Path: msrp://a.example:1/s;tcp\r\nFrom-Path: msrp://b.example:2/t;tcp\r\n"
    head += b"Message-ID: m1abc\r\n"
    c1 = msrp.parse_message(
        b"MSRP dkei38sd SEND\r\n" + head + b"Byte-Range: 1-*/*\r\nContent-Type: text/plain\r\n"
        b"\r\nHello, \r\n-------dkei38sd+\r\n"
    )
    c2 = msrp.parse_message(
        b"MSRP dkei38se SEND\r\n" + head + b"Byte-Range: 8-*/*\r\nContent-Type: text/plain\r\n"
        b"\r\nworld\r\n-------dkei38se$\r\n"
    )
    (done,) = feed([c2, c1])
    assert (done.state, done.body, done.total) == ("complete", b"Hello, world", None)


def test_abort_keeps_what_arrived() -> None:
    chunks = msrp.chunk_message(whole(), 40, ["t0000001", "t0000002", "t0000003"])
    aborted = replace(chunks[1], body=chunks[1].body[:10], flag="#")  # type: ignore[index]
    (done,) = feed([chunks[0], aborted])
    assert done.state == "aborted"
    assert done.body == TEXT[:50]
    assert done.missing == ((51, 108),)


def test_duplicate_and_conflicting_chunks() -> None:
    chunks = msrp.chunk_message(whole(), 60, ["t0000001", "t0000002"])
    (done,) = feed([chunks[0], chunks[0], chunks[1]])
    assert (done.state, done.body, done.duplicates, done.conflicts) == ("complete", TEXT, 1, ())
    liar = replace(chunks[0], body=b"X" * 60)
    (done,) = feed([chunks[0], liar, chunks[1]])
    assert done.body == TEXT
    assert done.conflicts == ("bytes 1-60 arrived twice with different content",)


def test_chunk_after_completion_is_a_duplicate() -> None:
    chunks = msrp.chunk_message(whole(), 60, ["t0000001", "t0000002"])
    done, dup = feed([chunks[0], chunks[1], chunks[1]])
    assert (done.state, dup.state, dup.refs) == ("complete", "duplicate", (2,))


def test_missing_middle_is_incomplete_at_flush() -> None:
    chunks = msrp.chunk_message(whole(), 30, [f"t000000{i}" for i in range(4)])
    (done,) = feed([chunks[0], chunks[3]])
    assert done.state == "incomplete"
    assert done.body == TEXT[:30]
    assert done.missing == ((31, 90),)


def test_range_and_body_disagree_and_limits() -> None:
    (c,) = msrp.chunk_message(whole(), 200, ["t0000001"])
    short = replace(c, body=TEXT[:100])
    (done,) = feed([short])
    assert done.conflicts[0] == "Byte-Range 1-108/108 but 100 bytes of body"
    assert done.state == "incomplete"
    r = msrp.Reassembler[int](max_size=50)
    assert r.add(c, 0) == []
    (over,) = r.flush()
    assert over.conflicts == ("chunk ends at byte 108, beyond the 50 limit",)


def test_empty_message_and_non_send() -> None:
    empty = msrp.send("abcd1234", [B], [A], "emptyid1", b"")
    assert empty.header("Byte-Range") == "1-0/0"
    (done,) = feed([empty])
    assert (done.state, done.body) == ("complete", b"")
    r = msrp.Reassembler[int]()
    assert r.add(msrp.response(empty), 0) == []
    assert r.pending == 0
