"""TCP reassembly of mikeyshark.flows, on segments built with scapy (an independent encoder).

Each test sends a hand-written sequence of segments and checks the exact chunks, frame
numbers, gaps, states and problems that the sequence must produce.
"""

from __future__ import annotations

import itertools
import random
import socket
import struct
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from mikeyshark.flows import FlowTable, NullHandler, TcpConnection
from mikeyshark.model import Frame, StreamChunk
from tests.support.flows import Rec

C = ("10.0.0.1", 40000)
S = ("10.0.0.2", 443)
ISN_C = 1000
ISN_S = 5000


class Net:
    """Feeds scapy-built segments to a FlowTable, numbering frames 1, 2, ..."""

    def __init__(self, **kw: int | float) -> None:
        self.rec = Rec()
        self.table = FlowTable(self.rec, file="t.pcap", **kw)  # type: ignore[arg-type]
        self.n = 0
        self.ts = 1_700_000_000 * 10**9

    def send(
        self,
        frm: tuple[str, int],
        to: tuple[str, int],
        seq: int,
        ack: int = 0,
        flags: str = "A",
        data: bytes = b"",
        *,
        at: float | None = None,
    ) -> int:
        pkt = (
            Ether()
            / IP(src=frm[0], dst=to[0])
            / TCP(sport=frm[1], dport=to[1], seq=seq % 2**32, ack=ack % 2**32, flags=flags)
        )
        if data:
            pkt = pkt / Raw(data)
        raw = bytes(pkt)
        self.n += 1
        self.ts = self.ts + 1000 if at is None else 1_700_000_000 * 10**9 + int(at * 10**9)
        self.table.feed(Frame(self.n, self.ts, 1, raw, len(raw)))
        return self.n

    def c(self, off: int, data: bytes = b"", flags: str = "A", ack: int = 1) -> int:
        """Client segment at stream offset ``off`` acknowledging server offset ``ack - 1``."""
        return self.send(C, S, ISN_C + 1 + off, ISN_S + ack, flags, data)

    def s(self, off: int, data: bytes = b"", flags: str = "A", ack: int = 1) -> int:
        return self.send(S, C, ISN_S + 1 + off, ISN_C + ack, flags, data)

    def handshake(self) -> None:
        self.send(C, S, ISN_C, 0, "S")
        self.send(S, C, ISN_S, ISN_C + 1, "SA")
        self.send(C, S, ISN_C + 1, ISN_S + 1, "A")


def test_handshake_data_and_fin_close() -> None:
    n = Net()
    n.handshake()
    n.c(0, b"hello ")  # 4
    n.s(0, b"HI", ack=7)  # 5
    n.c(6, b"world", ack=3)  # 6
    n.c(11, b"", "FA", ack=3)  # 7
    n.s(2, b"", "FA", ack=13)  # 8
    n.c(12, b"", "A", ack=4)  # 9: last ACK, must not open a new connection
    r = n.rec
    assert len(r.opened) == 1
    conn = r.opened[0]
    assert (conn.index, str(conn.client), str(conn.server)) == (0, "10.0.0.1:40000", "10.0.0.2:443")
    assert (conn.syn_frame, conn.synack_frame, conn.first_frame, conn.opened_by) == (1, 2, 1, "syn")
    assert r.spans(True) == [(4, 0, 6, 0), (6, 6, 5, 0)]
    assert r.spans(False) == [(5, 0, 2, 0)]
    assert r.stream(0, True) == b"hello world"
    assert r.closed == [conn]
    assert (conn.state, conn.close_frame, conn.client_fin_frame, conn.server_fin_frame) == (
        "closed",
        8,
        7,
        8,
    )
    assert (conn.c2s.bytes, conn.s2c.bytes) == (11, 2)
    assert r.problems == []
    assert n.table.open_connections == 0


def test_out_of_order_segments_are_delivered_in_order_with_their_frames() -> None:
    n = Net()
    n.handshake()
    a = n.c(0, b"A" * 100)
    c = n.c(200, b"C" * 100)
    b = n.c(100, b"B" * 100)
    assert n.rec.spans() == [(a, 0, 100, 0), (b, 100, 100, 0), (c, 200, 100, 0)]
    assert n.rec.stream(0, True) == b"A" * 100 + b"B" * 100 + b"C" * 100
    assert n.rec.problems == []


def test_identical_retransmission_is_counted_not_delivered() -> None:
    n = Net()
    n.handshake()
    n.c(0, b"abcdef")
    n.c(0, b"abcdef")
    n.c(6, b"gh")
    conn = n.rec.opened[0]
    assert n.rec.stream(0, True) == b"abcdefgh"
    assert (conn.c2s.retransmissions, conn.c2s.conflicts) == (1, 0)
    assert n.rec.problems == []


def test_conflicting_retransmission_is_reported_and_first_copy_wins() -> None:
    n = Net()
    n.handshake()
    n.c(0, b"abcdef")
    bad = n.c(2, b"XY")
    n.c(6, b"gh")
    conn = n.rec.opened[0]
    assert n.rec.stream(0, True) == b"abcdefgh"
    assert conn.c2s.conflicts == 1
    [p] = n.rec.problems
    assert (p.frame, p.layer, p.file) == (bad, "tcp", "t.pcap")
    assert "offset 2 differ" in p.reason


def test_overlapping_segments_keep_the_first_copy() -> None:
    n = Net()
    n.handshake()
    a = n.c(0, b"0123456789")
    c = n.c(20, b"KLMNOPQRST")  # waits for 10..20
    # covers 5..25: 5..10 delivered already, 10..20 new, 20..25 overlaps the pending copy
    # with different bytes -> reported, first copy kept
    o = n.c(5, b"56789abcdefghijXXXXX")
    assert n.rec.stream(0, True) == b"0123456789abcdefghijKLMNOPQRST"
    assert n.rec.spans() == [(a, 0, 10, 0), (o, 10, 10, 0), (c, 20, 10, 0)]
    conn = n.rec.opened[0]
    assert conn.c2s.conflicts == 1
    assert [p.frame for p in n.rec.problems] == [o]
    assert "offset 20 differ" in n.rec.problems[0].reason


def test_keepalive_byte_is_not_a_conflicting_retransmission() -> None:
    n = Net()
    n.handshake()
    n.c(0, b"hello")
    n.c(4, b"\x00")  # keep-alive: seq = next - 1, one garbage byte
    n.c(5, b"!")
    conn = n.rec.opened[0]
    assert n.rec.stream(0, True) == b"hello!"
    assert (conn.c2s.keepalives, conn.c2s.conflicts, conn.state) == (1, 0, "established")
    assert n.rec.problems == []


def test_overlap_that_agrees_is_silent() -> None:
    n = Net()
    n.handshake()
    n.c(0, b"0123456789")
    n.c(5, b"56789abcde")
    assert n.rec.stream(0, True) == b"0123456789abcde"
    conn = n.rec.opened[0]
    assert (conn.c2s.overlaps, conn.c2s.conflicts) == (1, 0)
    assert n.rec.problems == []


def test_hole_acknowledged_by_the_peer_becomes_a_gap() -> None:
    n = Net()
    n.handshake()
    n.c(0, b"A" * 100)
    c = n.c(200, b"C" * 100)  # 100..200 never captured
    assert len(n.rec.chunks) == 1  # C waits for the hole
    ackf = n.s(0, b"", ack=301)  # the server has everything: the hole will never be filled
    assert n.rec.spans() == [(4, 0, 100, 0), (c, 200, 100, 100)]
    conn = n.rec.opened[0]
    assert (conn.c2s.gaps, conn.c2s.gap_bytes) == (1, 100)
    [p] = n.rec.problems
    assert p.frame == c and "100 bytes of stream 0" in p.reason
    assert ackf == 6
    # late copy of the missing bytes after the gap was declared: dropped, not delivered
    n.c(100, b"B" * 100)
    assert n.rec.stream(0, True) == b"A" * 100 + b"C" * 100


def test_hole_still_open_at_end_of_capture_becomes_a_gap() -> None:
    n = Net()
    n.handshake()
    n.c(0, b"A" * 10)
    c = n.c(20, b"C" * 10)
    n.table.finish()
    assert n.rec.spans() == [(4, 0, 10, 0), (c, 20, 10, 10)]
    [conn] = n.rec.closed
    assert (conn.state, conn.close_frame) == ("ended", None)


def test_rst_closes_and_later_segments_do_not_open_a_new_connection() -> None:
    n = Net()
    n.handshake()
    n.c(0, b"data")
    rst = n.s(0, b"", "R")
    n.c(4, b"more")
    conn = n.rec.opened[0]
    assert len(n.rec.opened) == 1
    assert (conn.state, conn.rst_frame, conn.close_frame) == ("reset", rst, rst)
    assert conn.c2s.dropped_bytes == 4
    assert n.rec.stream(0, True) == b"data"
    [p] = n.rec.problems
    assert (p.frame, p.field) == (rst + 1, "payload") and "after stream 0 was reset" in p.reason


def test_reused_four_tuple_after_close_is_a_new_connection() -> None:
    n = Net()
    n.handshake()
    n.c(0, b"one")
    n.c(3, b"", "FA")
    n.s(0, b"", "FA", ack=5)
    n.c(4, b"", "A", ack=2)
    syn2 = n.send(C, S, 900_000, 0, "S")
    n.send(S, C, 77_000, 900_001, "SA")
    n.send(C, S, 900_001, 77_001, "A", b"two")
    r = n.rec
    assert [c.index for c in r.opened] == [0, 1]
    second = r.opened[1]
    assert (second.syn_frame, second.first_frame, second.opened_by) == (syn2, syn2, "syn")
    assert r.stream(0, True) == b"one" and r.stream(1, True) == b"two"
    assert r.opened[0].state == "closed"


def test_syn_with_new_isn_on_a_live_connection_replaces_it() -> None:
    n = Net()
    n.handshake()
    n.c(0, b"old")
    syn2 = n.send(C, S, 3_000_000_000, 0, "S")
    r = n.rec
    assert [c.index for c in r.opened] == [0, 1]
    assert r.closed[0].state == "reused" and r.closed[0] is r.opened[0]
    assert r.opened[1].syn_frame == syn2


def test_syn_retransmission_is_not_a_new_connection() -> None:
    n = Net()
    n.send(C, S, ISN_C, 0, "S")
    n.send(C, S, ISN_C, 0, "S")
    n.send(S, C, ISN_S, ISN_C + 1, "SA")
    assert len(n.rec.opened) == 1
    assert n.rec.opened[0].c2s.retransmissions == 1


def test_synack_without_syn_makes_its_receiver_the_client() -> None:
    n = Net()
    n.send(S, C, ISN_S, ISN_C + 1, "SA")
    n.c(0, b"req")
    conn = n.rec.opened[0]
    assert (str(conn.client), conn.opened_by, conn.syn_frame, conn.synack_frame) == (
        "10.0.0.1:40000",
        "syn-ack",
        None,
        1,
    )
    assert n.rec.spans() == [(2, 0, 3, 0)]


def test_midstream_pickup_uses_first_sender_and_ack_for_the_peer() -> None:
    n = Net()
    n.send(S, C, 70_000, 90_000, "PA", b"resp1")  # the server speaks first in the capture
    n.send(C, S, 90_000, 70_005, "PA", b"req2")
    n.send(S, C, 70_005, 90_004, "PA", b"resp2")
    conn = n.rec.opened[0]
    assert conn.midstream and str(conn.client) == "10.0.0.2:443"
    assert n.rec.spans(True) == [(1, 0, 5, 0), (3, 5, 5, 0)]
    assert n.rec.spans(False) == [(2, 0, 4, 0)]


def test_sequence_wraps_around_2_to_32() -> None:
    n = Net()
    isn = 2**32 - 3
    n.send(C, S, isn, 0, "S")
    n.send(S, C, ISN_S, isn + 1, "SA")
    n.send(C, S, isn + 1, ISN_S + 1, "A", b"abcd")  # crosses the wrap
    n.send(C, S, isn + 5, ISN_S + 1, "A", b"efgh")
    assert n.rec.spans() == [(3, 0, 4, 0), (4, 4, 4, 0)]


def test_wild_sequence_jump_is_reported_dropped_and_stream_goes_on() -> None:
    n = Net()
    n.handshake()
    n.c(0, b"A" * 10)
    wild = n.c(1 << 28, b"W" * 10)
    n.c(10, b"B" * 10)
    conn = n.rec.opened[0]
    assert n.rec.stream(0, True) == b"A" * 10 + b"B" * 10
    assert conn.c2s.dropped_bytes == 10 and conn.c2s.buffered == 0
    [p] = n.rec.problems
    assert (p.frame, p.field) == (wild, "seq") and f"jump of {(1 << 28) - 10} bytes" in p.reason


def test_two_contiguous_far_segments_resynchronise_with_a_gap() -> None:
    n = Net(max_jump=1000)
    n.handshake()
    n.c(0, b"A" * 10)
    w1 = n.c(5000, b"X" * 10)
    w2 = n.c(5010, b"Y" * 10)
    assert n.rec.spans() == [(4, 0, 10, 0), (w1, 5000, 10, 4990), (w2, 5010, 10, 0)]
    assert n.rec.opened[0].c2s.dropped_bytes == 0


def test_resynchronising_after_a_pending_segment_that_overlaps_the_jump() -> None:
    n = Net(max_jump=100)
    n.handshake()
    p = n.c(90, b"P" * 110)  # waits for 0..90; reaches to 200
    n.c(150, b"W" * 10)  # more than 100 ahead of 0: wild, kept aside
    n.c(160, b"X" * 10)  # continues it: resynchronise at 150, the hole before P given up
    y = n.c(200, b"Y" * 5)
    # W and X lie inside what P already delivered: never delivered twice, offsets never go back
    assert n.rec.spans() == [(p, 90, 110, 90), (y, 200, 5, 0)]


def test_out_of_order_buffer_is_bounded() -> None:
    n = Net(max_buffer=1000)
    n.handshake()
    n.c(0, b"A" * 100)
    frames = [n.c(200 + 100 * i, bytes([65 + i]) * 100) for i in range(12)]  # 100..200 lost
    conn = n.rec.opened[0]
    assert conn.c2s.buffered <= 1000
    assert conn.c2s.gaps == 1 and conn.c2s.gap_bytes == 100
    spans = n.rec.spans()
    assert spans[0] == (4, 0, 100, 0) and spans[1] == (frames[0], 200, 100, 100)
    assert any("exceeded 1000 bytes" in p.reason for p in n.rec.problems)


def test_closed_connections_release_their_state() -> None:
    n = Net(linger=5.0)
    for i in range(200):
        port = 20000 + i
        t = i * 0.001
        n.send(("10.0.0.1", port), S, 10, 0, "S", at=t)
        n.send(S, ("10.0.0.1", port), 20, 11, "SA", at=t)
        n.send(("10.0.0.1", port), S, 11, 21, "FA", b"x" * 50, at=t)
        n.send(S, ("10.0.0.1", port), 21, 63, "FA", at=t)
    assert len(n.rec.closed) == 200 and n.table.open_connections == 0
    assert n.table.memory_bytes == 0  # no history or buffers kept for closed connections
    assert n.table.tracked_connections == 200  # lingering to absorb late ACKs
    n.send(("10.0.0.9", 1), ("10.0.0.8", 2), 1, 0, "S", at=10.0)  # 10 s later
    assert n.table.tracked_connections == 1
    assert n.table.buffered_bytes == 0


def test_idle_connection_is_evicted() -> None:
    n = Net(idle_timeout=60.0)
    n.handshake()
    n.c(0, b"A" * 10)
    n.c(20, b"C" * 10)
    n.send(("10.0.0.9", 1), ("10.0.0.8", 2), 1, 0, "S", at=1000.0)
    first = n.rec.closed[0]
    assert first.state == "evicted" and first.close_frame is None
    assert n.rec.spans()[-1] == (5, 20, 10, 10)  # what it held is delivered across the hole
    assert n.table.open_connections == 1


def test_ack_past_everything_carries_the_gap_to_the_next_chunk() -> None:
    n = Net()
    n.handshake()
    n.c(0, b"A" * 100)
    c = n.c(200, b"C" * 100)  # 100..200 missing
    n.s(0, b"", ack=401)  # the server also got 300..400, never captured
    d = n.c(400, b"D" * 10)
    assert n.rec.spans() == [(4, 0, 100, 0), (c, 200, 100, 100), (d, 400, 10, 100)]
    conn = n.rec.opened[0]
    assert (conn.c2s.gaps, conn.c2s.gap_bytes) == (2, 200)


def _segments(data: bytes, rng: random.Random, extra: int) -> list[tuple[int, bytes]]:
    """A cover of ``data`` by segments cut at random points, plus ``extra`` random
    sub-ranges (retransmissions and overlaps that agree), in a random order."""
    cuts = sorted({0, len(data), *(rng.randrange(len(data) + 1) for _ in range(8))})
    segs = [(a, data[a:b]) for a, b in itertools.pairwise(cuts) if b > a]
    for _ in range(extra):
        a = rng.randrange(len(data))
        b = rng.randrange(a + 1, len(data) + 1)
        segs.append((a, data[a:b]))
    rng.shuffle(segs)
    return segs


@settings(max_examples=150, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=3000),
    seed=st.integers(0, 2**32 - 1),
    extra=st.integers(0, 6),
    isn=st.integers(0, 2**32 - 1),
)
def test_any_order_and_overlap_reassembles_the_original(
    data: bytes, seed: int, extra: int, isn: int
) -> None:
    rng = random.Random(seed)
    rec = Rec()
    table = FlowTable(rec)
    frames = [_raw_seg(C, S, isn, 0, 0x02, b"")]
    frames += [
        _raw_seg(C, S, isn + 1 + off, 0, 0x18, chunk) for off, chunk in _segments(data, rng, extra)
    ]
    for i, raw in enumerate(frames):
        table.feed(Frame(i + 1, i, 1, raw, len(raw)))
    table.finish()
    assert rec.stream(0, True) == data
    assert all(c.gap == 0 for _, _, c in rec.chunks)
    assert rec.problems == []
    # every chunk is attributed to a frame that carried those very bytes
    for _, _, c in rec.chunks:
        assert c.data in frames[c.frame - 1]


@settings(max_examples=100, deadline=None)
@given(data=st.binary(min_size=20, max_size=2000), seed=st.integers(0, 2**32 - 1))
def test_a_missing_range_is_one_gap_of_the_right_size(data: bytes, seed: int) -> None:
    rng = random.Random(seed)
    a = rng.randrange(1, len(data) - 1)
    b = rng.randrange(a + 1, len(data))
    segs = [(off, ch) for off, ch in _segments(data, rng, 0)]
    # drop every byte in a..b: cut the segments around the hole
    kept: list[tuple[int, bytes]] = []
    for off, ch in segs:
        end = off + len(ch)
        if off < a:
            kept.append((off, ch[: min(end, a) - off]))
        if end > b:
            s0 = max(off, b)
            kept.append((s0, ch[s0 - off :]))
    rec = Rec()
    table = FlowTable(rec)
    raws = [_raw_seg(C, S, 99, 0, 0x02, b"")] + [
        _raw_seg(C, S, 100 + o, 0, 0x18, c) for o, c in kept if c
    ]
    for i, raw in enumerate(raws):
        table.feed(Frame(i + 1, i, 1, raw, len(raw)))
    table.finish()
    assert rec.stream(0, True) == data[:a] + data[b:]
    gaps = [(c.offset, c.gap) for _, _, c in rec.chunks if c.gap]
    assert gaps == [(b, b - a)]


def _raw_seg(
    frm: tuple[str, int], to: tuple[str, int], seq: int, ack: int, flags: int, data: bytes
) -> bytes:
    """Ethernet + IPv4 + TCP written out with struct (fast enough for property tests;
    checksums are left zero, as the flow table does not check them)."""
    tcp = struct.pack("!HHIIHHHH", frm[1], to[1], seq % 2**32, ack, (5 << 12) | flags, 65535, 0, 0)
    ip4 = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(tcp) + len(data),
        0,
        0,
        64,
        6,
        0,
        socket.inet_aton(frm[0]),
        socket.inet_aton(to[0]),
    )
    return bytes(12) + b"\x08\x00" + ip4 + tcp + data


def test_memory_budget_across_connections_is_kept() -> None:
    n = Net(max_memory=20_000, history=4096)
    peak = 0
    for i in range(10):
        cl = (f"10.0.1.{i + 1}", 40000)
        n.send(cl, S, 0, 0, "S")
        n.send(S, cl, 0, 1, "SA")
        n.send(cl, S, 1, 1, "A", b"h" * 1000)  # delivered: goes to the history
        n.send(cl, S, 2001, 1, "A", b"p" * 3000)  # after a hole: held
        peak = max(peak, n.table.memory_bytes)
    assert peak <= 20_000 + 3000  # at most one segment over the budget before relief
    assert n.table.memory_bytes <= 20_000
    relief = [p for p in n.rec.problems if "reassembly memory passed 20000" in p.reason]
    # Each connection holds 1000 history + 3000 pending bytes in 4 frames: five fill the
    # budget exactly, and the sixth one's first data segment (frame 5 * 4 + 3) passes it.
    assert relief and relief[0].frame == 23
    # given-up holes reach the handler as gaps, oldest connection first
    gapped = [(i, c.offset, c.gap) for i, fc, c in n.rec.chunks if c.gap]
    assert gapped[0] == (0, 2000, 1000)
    n.table.finish()
    assert n.table.memory_bytes == 0
    assert all(n.rec.stream(i, True) == b"h" * 1000 + b"p" * 3000 for i in range(10))


class _Contiguity(Rec):
    """Checks, chunk by chunk, that each direction's offsets follow on: prev end + gap."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: dict[tuple[int, bool], int] = {}

    def on_tcp_data(self, conn: TcpConnection, from_client: bool, chunk: StreamChunk) -> None:
        key = (conn.index, from_client)
        if key in self.ends:
            assert chunk.offset == self.ends[key] + chunk.gap
        assert chunk.data
        self.ends[key] = chunk.offset + len(chunk.data)
        super().on_tcp_data(conn, from_client, chunk)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    max_buffer=st.sampled_from([300, 100_000]),
    max_jump=st.sampled_from([1000, 1 << 24]),
    history=st.sampled_from([0, 100, 1 << 16]),
    max_memory=st.sampled_from([2000, 1 << 28]),
)
def test_random_segments_keep_stream_invariants(
    seed: int, max_buffer: int, max_jump: int, history: int, max_memory: int
) -> None:
    """Random flags, sequence numbers near (and rarely far from) the stream, random payloads:
    nothing raises, offsets stay contiguous up to declared gaps, every opened connection is
    closed, and nothing is held after the end."""
    rng = random.Random(seed)
    rec = _Contiguity()
    table = FlowTable(
        rec, max_buffer=max_buffer, max_jump=max_jump, history=history, max_memory=max_memory
    )
    ends = [C, S]
    bases = [rng.randrange(2**32), rng.randrange(2**32)]
    for n in range(rng.randrange(1, 80)):
        d = rng.randrange(2)
        flags = rng.choice([0x10] * 20 + [0x02, 0x12, 0x11, 0x04, 0x18])
        seq = bases[d] + rng.randrange(-50, 400)
        if rng.random() < 0.03:
            seq = rng.randrange(2**32)
        ack = bases[1 - d] + rng.randrange(-50, 400)
        data = bytes([rng.randrange(3)]) * rng.randrange(60) if rng.random() < 0.8 else b""
        raw = _raw_seg(ends[d], ends[1 - d], seq, ack % 2**32, flags, data)
        table.feed(Frame(n + 1, n * 1000 * rng.choice([1, 1, 10**7]), 1, raw, len(raw)))
    table.finish()
    assert {c.index for c in rec.opened} == {c.index for c in rec.closed}
    assert table.memory_bytes == 0 and table.tracked_connections == 0


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    max_buffer=st.sampled_from([200, 5000]),
    max_jump=st.sampled_from([100, 500]),
    history=st.sampled_from([0, 50, 1000]),
    max_memory=st.sampled_from([1500, 1 << 28]),
)
def test_jumps_holes_and_late_fins_keep_stream_invariants(
    seed: int, max_buffer: int, max_jump: int, history: int, max_memory: int
) -> None:
    """One direction moving forward with jumps past ``max_jump``, steps back, stray FINs and
    peer ACKs: the wild-jump, resynchronisation and gap paths keep offsets contiguous."""
    rng = random.Random(seed)
    rec = _Contiguity()
    table = FlowTable(
        rec, max_buffer=max_buffer, max_jump=max_jump, history=history, max_memory=max_memory
    )
    base = rng.randrange(2**32)
    frames = [_raw_seg(C, S, base - 1, 0, 0x02, b"")]
    pos = 0
    for _ in range(rng.randrange(1, 60)):
        r = rng.random()
        if r < 0.15:
            pos += rng.randrange(100, 3000)
        elif r < 0.25:
            pos -= rng.randrange(0, 300)
        ln = rng.randrange(1, 200)
        flags = 0x10 if rng.random() < 0.9 else 0x11
        frames.append(
            _raw_seg(C, S, base + pos + rng.randrange(-20, 20), 0, flags, bytes([pos & 1]) * ln)
        )
        if rng.random() < 0.2:
            frames.append(
                _raw_seg(S, C, 5, (base + pos + rng.randrange(-50, 400)) % 2**32, 0x10, b"")
            )
        pos += ln
    for i, raw in enumerate(frames):
        table.feed(Frame(i + 1, i, 1, raw, len(raw)))
    table.finish()
    assert table.memory_bytes == 0
    conn = rec.opened[0]
    assert conn.c2s.bytes == sum(len(c.data) for i, fc, c in rec.chunks if fc and i == 0)


def test_memory_stays_flat_over_many_short_connections() -> None:
    rec = NullCounter()
    table = FlowTable(rec, linger=0.5)
    n = 0

    def conversation(i: int) -> None:
        nonlocal n
        cl = (f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", 1024 + i % 60000)
        for raw in (
            _raw_seg(cl, S, 10, 0, 0x02, b""),
            _raw_seg(S, cl, 20, 11, 0x12, b""),
            _raw_seg(cl, S, 11, 21, 0x18, b"q" * 500),
            _raw_seg(S, cl, 21, 511, 0x18, b"r" * 700),
            _raw_seg(cl, S, 511, 721, 0x11, b""),
            _raw_seg(S, cl, 721, 512, 0x11, b""),
            _raw_seg(cl, S, 512, 722, 0x10, b""),
        ):
            n += 1
            table.feed(Frame(n, n * 1_000_000, 1, raw, len(raw)))  # 1 ms apart

    tracemalloc.start()
    try:
        for i in range(600):
            conversation(i)
        after_600 = tracemalloc.get_traced_memory()[0]
        for i in range(600, 3600):
            conversation(i)
        after_3600 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert rec.closed == 3600 and rec.bytes == 3600 * 1200
    # closed ones linger up to linger + the 1 s sweep interval: about 215 of them at 7 ms each
    assert table.open_connections == 0 and table.tracked_connections < 300
    # six times the traffic, about the same memory: nothing is kept per closed connection
    assert after_3600 - after_600 < 100_000


class NullCounter(NullHandler):
    """Counts, keeps nothing: the handler must not be what holds memory in this test."""

    def __init__(self) -> None:
        self.closed = 0
        self.bytes = 0

    def on_tcp_data(self, conn: TcpConnection, from_client: bool, chunk: StreamChunk) -> None:
        self.bytes += len(chunk.data)

    def on_tcp_close(self, conn: TcpConnection) -> None:
        self.closed += 1


def test_unwanted_direction_is_reassembled_but_not_handed_on() -> None:
    # A handler that wants no more of one direction: its bytes are no longer handed on, yet
    # reassembly goes on - the counters, a conflicting retransmission, a hole - and the
    # other direction is delivered as before.
    n = Net()
    n.handshake()
    n.c(0, b"abcdef")
    n.s(0, b"123")
    n.rec.opened[0].c2s.unwanted = True
    n.c(6, b"gh")
    n.c(6, b"gh")  # a retransmission: counted
    bad = n.c(2, b"XY")  # differs from what was delivered before: reported
    late = n.c(20, b"late")  # past a hole of 12 bytes ...
    n.s(3, b"45", ack=25)  # ... which the server acknowledges: a gap, located at "late"
    conn = n.rec.opened[0]
    assert n.rec.stream(0, True) == b"abcdef"
    assert n.rec.stream(0, False) == b"12345"
    assert (conn.c2s.bytes, conn.c2s.segments) == (12, 5)
    assert (conn.c2s.retransmissions, conn.c2s.conflicts) == (2, 1)
    assert (conn.c2s.gaps, conn.c2s.gap_bytes) == (1, 12)
    assert [(p.frame, p.reason[:24]) for p in n.rec.problems] == [
        (bad, "retransmitted bytes at s"),
        (late, "12 bytes of stream 0 (cl"),
    ]
