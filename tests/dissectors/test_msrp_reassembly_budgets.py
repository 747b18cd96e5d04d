"""The reassembler's budgets: a chunk costs its own bytes wherever its Byte-Range puts it,
and past the open-message and held-byte budgets the least recently fed message is given up
(as incomplete, the reason among its conflicts) instead of held."""

from __future__ import annotations

import tracemalloc

from mikeyshark.dissectors import msrp

TO = b"To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp"
FROM = b"From-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp"


def chunk(mid: str, start: int, body: bytes, flag: str = "+", total: str = "*") -> msrp.Message:
    """A SEND chunk as on the wire (RFC 4975 7.1), parsed."""
    end = start + len(body) - 1
    wire = (
        b"MSRP tx%s SEND\r\n%s\r\n%s\r\nMessage-ID: %s\r\nByte-Range: %d-%d/%s\r\n"
        b"Content-Type: text/plain\r\n\r\n%s\r\n-------tx%s%s\r\n"
        % (
            mid.encode(),
            TO,
            FROM,
            mid.encode(),
            start,
            end,
            total.encode(),
            body,
            mid.encode(),
            flag.encode(),
        )
    )
    return msrp.parse_message(wire)


def test_a_far_chunk_holds_only_its_bytes() -> None:
    r = msrp.Reassembler[int](max_open=100)
    tracemalloc.start()
    try:
        for k in range(50):
            assert r.add(chunk(f"far{k:05d}", 4_194_000, b"0123456789"), k) == []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # 50 messages of 10 bytes each, not 50 zero-filled 4 MB buffers (the review: 245 MB)
    assert peak < 1 << 20
    assert r.held == 500


def test_far_chunk_completes_with_its_head() -> None:
    r = msrp.Reassembler[int]()
    assert r.add(chunk("m1abcdef", 11, b"klmnopqrst", "$", "20"), 0) == []
    (done,) = r.add(chunk("m1abcdef", 1, b"abcdefghij", "+", "20"), 1)
    assert (done.state, done.body, done.refs, done.missing) == (
        "complete",
        b"abcdefghijklmnopqrst",
        (0, 1),
        (),
    )
    assert r.held == 0


def test_overlap_later_chunk_wins_and_covered_duplicate_is_compared() -> None:
    r = msrp.Reassembler[int]()
    r.add(chunk("m2abcdef", 1, b"AAAAAAAA"), 0)  # bytes 1-8
    r.add(chunk("m2abcdef", 5, b"bbbbbbbb"), 1)  # bytes 5-12: overlaps 5-8
    r.add(chunk("m2abcdef", 3, b"AAbb"), 2)  # bytes 3-6, inside 1-12, as written: a duplicate
    r.add(chunk("m2abcdef", 9, b"XXXX"), 3)  # 9-12 again but different
    (done,) = r.add(chunk("m2abcdef", 13, b"cc", "$"), 4)
    assert done.body == b"AAAAbbbbbbbbcc"
    assert done.duplicates == 2
    assert done.conflicts == ("bytes 9-12 arrived twice with different content",)


def test_open_messages_past_the_budget_give_up_the_oldest() -> None:
    r = msrp.Reassembler[int](max_open=3)
    for k in range(3):
        assert r.add(chunk(f"open{k:04d}", 1, b"head"), k) == []
    r.add(chunk("open0000", 5, b"more"), 3)  # open0000 is now the most recently fed
    (gone,) = r.add(chunk("open0003", 1, b"head"), 4)
    assert (gone.message_id, gone.state, gone.body, gone.refs) == (
        "open0001",
        "incomplete",
        b"head",
        (1,),
    )
    assert gone.conflicts == ("given up: more than 3 messages open at once",)
    assert r.pending == 3


def test_held_bytes_past_the_budget_give_up_the_oldest() -> None:
    r = msrp.Reassembler[int](max_held=25)
    assert r.add(chunk("held0001", 1, b"x" * 10), 0) == []
    assert r.add(chunk("held0002", 1, b"y" * 10), 1) == []
    (gone,) = r.add(chunk("held0003", 1, b"z" * 10), 2)  # 30 bytes held > 25
    assert (gone.message_id, gone.conflicts) == (
        "held0001",
        ("given up: more than 25 bytes held for open messages",),
    )
    assert r.held == 20


def test_one_message_keeps_at_most_max_size_bytes() -> None:
    r = msrp.Reassembler[int](max_size=16)
    r.add(chunk("big00001", 1, b"a" * 10), 0)
    r.add(chunk("big00001", 2, b"b" * 10), 1)  # within 16 as a range, but 20 bytes stored
    (done,) = r.flush()
    assert done.conflicts == ("bytes 2-11 not kept: the chunks of this message exceed 16 bytes",)
    assert done.body == b"a" * 10
