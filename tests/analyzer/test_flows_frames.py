"""Captures of every supported link type, fragments and malformed frames through the flow table.

Frames are built with scapy and written to pcap files (scapy's PcapWriter or by hand), read
back with CaptureReader and fed to FlowTable: the datagrams that come out, and the located
problems for the bad frames, are checked one by one.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import CookedLinux, Dot1AD, Dot1Q
from scapy.packet import Raw

from mikeyshark.dissectors import ip
from mikeyshark.flows import MAX_CACHED_ENDPOINTS, FlowTable
from mikeyshark.model import Frame
from tests.support.flows import Ether, Rec, run, sip_udp, write
from tests.support.pcapfiles import T0, pcap


def udp_seen(rec: Rec) -> list[tuple[int, str, str, bytes]]:
    return [(n, str(s), str(d), p) for n, s, d, p in rec.udp]


V4 = ("192.0.2.1:5060", "192.0.2.2:5060")
V6 = ("[2001:db8::1]:5060", "[2001:db8::2]:5060")


def sll2(proto: int) -> bytes:
    return struct.pack("!HHIHBB8s", proto, 0, 2, 1, 0, 6, bytes(8))


@pytest.mark.parametrize(
    ("linktype", "wrap"),
    [
        (1, lambda p, v6: bytes(Ether() / p)),
        (1, lambda p, v6: bytes(Ether() / Dot1Q(vlan=10) / p)),
        (1, lambda p, v6: bytes(Ether() / Dot1AD(vlan=10) / Dot1Q(vlan=20) / p)),
        (113, lambda p, v6: bytes(CookedLinux(pkttype=0, proto=0x86DD if v6 else 0x0800) / p)),
        (276, lambda p, v6: sll2(0x86DD if v6 else 0x0800) + bytes(p)),
        (0, lambda p, v6: struct.pack("<I", 30 if v6 else 2) + bytes(p)),
        (0, lambda p, v6: struct.pack(">I", 24 if v6 else 2) + bytes(p)),
        (108, lambda p, v6: struct.pack(">I", 28 if v6 else 2) + bytes(p)),
        (101, lambda p, v6: bytes(p)),
        (12, lambda p, v6: bytes(p)),
        (14, lambda p, v6: bytes(p)),
    ],
    ids=[
        "eth",
        "vlan",
        "qinq",
        "sll",
        "sll2",
        "null-le",
        "null-be",
        "loop",
        "raw",
        "raw12",
        "raw14",
    ],
)
def test_link_types_carry_ipv4_and_ipv6(tmp_path: Path, linktype: int, wrap: object) -> None:
    frames = [wrap(sip_udp(1), False), wrap(sip_udp(2, True), True)]  # type: ignore[operator]
    rec, _ = run(write(tmp_path / "l.pcap", linktype, frames))
    assert udp_seen(rec) == [(1, *V4, b"OPTIONS 1"), (2, *V6, b"OPTIONS 2")]
    assert rec.problems == []


def test_linktypes_ipv4_and_ipv6_only(tmp_path: Path) -> None:
    rec, _ = run(write(tmp_path / "a.pcap", 228, [sip_udp(1)]))
    assert udp_seen(rec) == [(1, *V4, b"OPTIONS 1")]
    rec, _ = run(write(tmp_path / "b.pcap", 229, [sip_udp(2, True)]))
    assert udp_seen(rec) == [(1, *V6, b"OPTIONS 2")]


def test_non_ip_frames_are_skipped_quietly(tmp_path: Path) -> None:
    arp = bytes(Ether(type=0x0806) / Raw(b"\x00" * 28))
    rec, table = run(write(tmp_path / "arp.pcap", 1, [arp, Ether() / sip_udp(1)]))
    assert udp_seen(rec) == [(2, *V4, b"OPTIONS 1")]
    assert rec.problems == [] and table.stats.non_ip == 1


def test_unsupported_link_type_is_reported_once(tmp_path: Path) -> None:
    rec, table = run(write(tmp_path / "ppp.pcap", 9, [b"\xff\x03\x00\x21" + bytes(sip_udp(1))] * 3))
    assert rec.udp == []
    [p] = rec.problems
    assert (p.frame, p.layer, p.field) == (1, "link", "linktype") and "link type 9" in p.reason
    assert table.stats.non_ip == 3


def test_ipv4_fragments_out_of_order(tmp_path: Path) -> None:
    big = (
        IP(src="192.0.2.1", dst="192.0.2.2", id=4242)
        / UDP(sport=5060, dport=5060)
        / Raw(bytes(range(256)) * 12)
    )
    frags = fragment(big, fragsize=1000)  # type: ignore[no-untyped-call]
    assert len(frags) == 4
    order = [frags[2], frags[0], frags[3], frags[1]]
    noise = Ether() / sip_udp(7)
    frames = [Ether() / order[0], Ether() / order[1], noise, Ether() / order[2], Ether() / order[3]]
    rec, table = run(write(tmp_path / "frag.pcap", 1, frames))
    assert udp_seen(rec) == [(3, *V4, b"OPTIONS 7"), (5, *V4, bytes(range(256)) * 12)]
    assert rec.problems == [] and table.stats.reassembled == 1


def test_ipv4_fragments_with_conflicting_overlap(tmp_path: Path) -> None:
    payload = UDP(sport=1, dport=2, len=8 + 24, chksum=0) / Raw(b"A" * 24)
    whole = bytes(payload)
    f1 = IP(src="1.1.1.1", dst="2.2.2.2", id=9, flags="MF", frag=0, proto=17) / Raw(whole[:16])
    f1b = IP(src="1.1.1.1", dst="2.2.2.2", id=9, flags="MF", frag=1, proto=17) / Raw(b"B" * 8)
    f2 = IP(src="1.1.1.1", dst="2.2.2.2", id=9, frag=2, proto=17) / Raw(whole[16:])
    rec, _ = run(write(tmp_path / "ov.pcap", 101, [f1, f1b, f2]))
    # f1b repeats bytes 8..16 with other content: reported; the first copy wins
    assert [(n, p) for n, _, _, p in udp_seen(rec)] == [(3, b"A" * 24)]
    [p] = rec.problems
    assert (p.frame, p.layer, p.field) == (2, "ip", "frag") and "bytes 8..16 differ" in p.reason


def test_ipv4_incomplete_datagram_times_out(tmp_path: Path) -> None:
    big = IP(src="192.0.2.1", dst="192.0.2.2", id=77) / UDP() / Raw(b"x" * 3000)
    frags = fragment(big, fragsize=1000)  # type: ignore[no-untyped-call]
    frames = [Ether() / frags[0], Ether() / frags[1]]
    path = tmp_path / "lost.pcap"
    recs = [(T0, 0, bytes(frames[0])), (T0, 1, bytes(frames[1]))]
    path.write_bytes(pcap([*recs, (T0 + 100, 0, bytes(Ether() / sip_udp(1)))]))
    rec, table = run(path, frag_timeout=30.0)
    assert udp_seen(rec) == [(3, *V4, b"OPTIONS 1")]
    [p] = rec.problems
    assert (p.frame, p.layer, p.field) == (1, "ip", "frag")
    assert "id 77" in p.reason and "2 fragments" in p.reason
    assert table.buffered_bytes == 0


def test_ipv6_extension_headers_and_fragments(tmp_path: Path) -> None:
    body = bytes(UDP(sport=5060, dport=5060, len=8 + 2000, chksum=0) / Raw(b"Z" * 2000))
    base = IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrHopByHop()
    # fragmentable part: a destination options header, then UDP
    frag_part = bytes(IPv6ExtHdrDestOpt(nh=17)) + body
    cut = [frag_part[:1200], frag_part[1200:]]
    f1 = base / IPv6ExtHdrFragment(id=0x1234, offset=0, m=1, nh=60) / Raw(cut[0])
    f2 = base / IPv6ExtHdrFragment(id=0x1234, offset=150, m=0, nh=60) / Raw(cut[1])
    plain = (
        IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrDestOpt()
        / UDP(sport=5060, dport=5060)
        / Raw(b"plain")
    )
    rec, table = run(write(tmp_path / "v6.pcap", 101, [f2, plain, f1]))
    assert udp_seen(rec) == [(2, *V6, b"plain"), (3, *V6, b"Z" * 2000)]
    assert rec.problems == [] and table.stats.reassembled == 1


def test_malformed_frames_are_located_and_the_rest_goes_on(tmp_path: Path) -> None:
    good = bytes(Ether() / sip_udp(1))
    bad_ihl = bytearray(good)
    bad_ihl[14] = 0x44  # IHL 4 = 16 bytes
    short = good[:30]  # caplen below the IPv4 header: truncated frame
    lying_udp = bytearray(good)
    lying_udp[14 + 20 + 4 : 14 + 20 + 6] = struct.pack("!H", 600)
    tcp_short = bytes(Ether() / IP(src="192.0.2.1", dst="192.0.2.2", proto=6) / Raw(b"\x00" * 10))
    frames = [bytes(bad_ihl), short, good, bytes(lying_udp), tcp_short, good]
    rec, table = run(write(tmp_path / "bad.pcap", 1, frames))
    assert [n for n, *_ in udp_seen(rec)] == [3, 6]
    got = [(p.frame, p.layer, p.field, p.offset, p.file) for p in rec.problems]
    f = str(tmp_path / "bad.pcap")
    assert got == [
        (1, "ip", "hdr_len", 14, f),
        (2, "ip", "hdr_len", 14, f),
        (4, "udp", "length", 38, f),
        (5, "tcp", "hdr_len", 34, f),
    ]
    assert "header length 16 is below 20" in rec.problems[0].reason
    assert table.stats.bad == 4


def test_truncated_capture_of_a_tcp_segment(tmp_path: Path) -> None:
    # snaplen cut the frame inside the TCP payload: IP total length exceeds what was captured
    seg = bytes(
        Ether()
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / TCP(sport=1, dport=2, flags="A")
        / Raw(b"x" * 100)
    )
    rec = Rec()
    table = FlowTable(rec, file="snap.pcap")
    table.feed(Frame(1, 0, 1, seg[:80], len(seg)))
    [p] = rec.problems
    assert (p.frame, p.layer, p.field, p.file) == (1, "ip", "len", "snap.pcap")
    assert "exceeds the 66 captured bytes" in p.reason


_SEEDS = [
    bytes(Ether() / sip_udp(1)),
    bytes(Ether() / sip_udp(2, True)),
    bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=2, flags="S")),
    bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2", flags="MF", id=3) / Raw(b"f" * 16)),
    bytes(
        Ether()
        / IPv6(src="::1", dst="::2")
        / IPv6ExtHdrFragment(id=5, offset=1, m=1, nh=6)
        / Raw(b"g" * 16)
    ),
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(_SEEDS) - 1),
            st.lists(st.tuples(st.integers(0, 120), st.integers(0, 255)), max_size=6),
            st.integers(0, 130),
            st.sampled_from([1, 1, 1, 0, 101, 113, 276, 229]),
        ),
        max_size=25,
    )
)
def test_mutated_frames_never_raise(
    mutations: list[tuple[int, list[tuple[int, int]], int, int]],
) -> None:
    rec = Rec()
    table = FlowTable(rec, file="fuzz")
    for n, (seed, edits, cut, linktype) in enumerate(mutations, 1):
        b = bytearray(_SEEDS[seed])
        for pos, val in edits:
            if pos < len(b):
                b[pos] = val
        table.feed(Frame(n, n * 1000, linktype, bytes(b[:cut]), len(b)))
    table.finish()
    assert all(p.file == "fuzz" and p.layer for p in rec.problems)
    assert table.tracked_connections == 0 and table.buffered_bytes == 0


def test_ipv4_total_length_zero_from_segmentation_offload() -> None:
    # Linux captures outgoing TSO segments before the NIC fills in the IP total length
    seg = bytearray(
        bytes(
            Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=2, seq=0, flags="S")
        )
    )
    data = bytearray(
        bytes(
            Ether()
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / TCP(sport=1, dport=2, seq=1, flags="A")
            / Raw(b"x" * 3000)
        )
    )
    data[16:18] = b"\x00\x00"
    rec = Rec()
    table = FlowTable(rec)
    table.feed(Frame(1, 0, 1, bytes(seg), len(seg)))
    table.feed(Frame(2, 1, 1, bytes(data), len(data)))
    assert rec.stream(0, True) == b"x" * 3000 and rec.problems == []
    p = ip.parse_ipv4(bytes(data[14:]))
    assert p.header.total_length == 0 and len(p.payload) == 20 + 3000
    assert ip.build_ipv4(p) == bytes(data[14:])


def _frag4(ident: int, off: int, mf: bool, piece: bytes) -> bytes:
    hdr = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(piece),
        ident,
        (0x2000 if mf else 0) | (off // 8),
        64,
        17,
        0,
        bytes([192, 0, 2, 1]),
        bytes([192, 0, 2, 2]),
    )
    return bytes(12) + b"\x08\x00" + hdr + piece


@settings(max_examples=150, deadline=None)
@given(
    body=st.binary(min_size=1, max_size=3000),
    cuts=st.lists(st.integers(1, 400), min_size=1, max_size=12),
    seed=st.integers(0, 2**32 - 1),
    dups=st.integers(0, 3),
)
def test_ipv4_fragments_in_any_order_reassemble(
    body: bytes, cuts: list[int], seed: int, dups: int
) -> None:
    datagram = struct.pack("!HHHH", 5060, 5060, 8 + len(body), 0) + body
    offs = sorted({0, *(min(8 * c, len(datagram) - 1) & ~7 for c in cuts)} - {len(datagram)})
    pieces = [
        (a, datagram[a:b]) for a, b in zip(offs, [*offs[1:], len(datagram)], strict=True) if b > a
    ]
    rng = random.Random(seed)
    order = pieces + [rng.choice(pieces) for _ in range(dups)]
    rng.shuffle(order)
    rec = Rec()
    table = FlowTable(rec)
    last_needed = 0
    seen: set[int] = set()
    for n, (a, piece) in enumerate(order, 1):
        table.feed(Frame(n, n, 1, _frag4(99, a, a + len(piece) < len(datagram), piece), 0))
        seen.add(a)
        if len(seen) == len(pieces) and not last_needed:
            last_needed = n
    table.finish()
    assert [(n, p) for n, _, _, p in rec.udp] == [(last_needed, body)]
    assert rec.problems == [] and table.memory_bytes == 0


def test_late_copy_of_a_fragment_is_a_duplicate_but_a_reused_id_is_a_new_datagram() -> None:
    a = struct.pack("!HHHH", 1, 2, 8 + 16, 0) + b"A" * 16
    b = struct.pack("!HHHH", 1, 2, 8 + 16, 0) + b"B" * 16
    frames = [
        _frag4(7, 0, True, a[:16]),
        _frag4(7, 16, False, a[16:]),
        _frag4(7, 16, False, a[16:]),  # a copy: ignored
        _frag4(7, 0, True, b[:16]),  # same id, other bytes: a new datagram
        _frag4(7, 16, False, b[16:]),
    ]
    rec = Rec()
    table = FlowTable(rec)
    for n, f in enumerate(frames, 1):
        table.feed(Frame(n, n, 1, f, len(f)))
    table.finish()
    assert [(n, p) for n, _, _, p in rec.udp] == [(2, b"A" * 16), (5, b"B" * 16)]
    assert rec.problems == [] and table.stats.duplicate_fragments == 1


def test_snapshot_length_cuts_are_reported_once_and_counted() -> None:
    udp = bytes(
        Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / Raw(b"u" * 300)
    )
    rec = Rec()
    table = FlowTable(rec, file="snap.pcap")
    for n in range(1, 4):
        table.feed(Frame(n, n, 1, udp[:96], len(udp)))  # tcpdump -s 96
    bad = bytearray(udp[:96])
    bad[14] = 0x43  # a header length below 20 is malformed however long the frame was
    table.feed(Frame(4, 4, 1, bytes(bad), len(udp)))
    got = [(p.frame, p.layer, p.field) for p in rec.problems]
    assert got == [(1, "ip", "len"), (4, "ip", "hdr_len")]
    assert "snapshot length" in rec.problems[0].reason
    assert (table.stats.snapped, table.stats.bad) == (3, 4) and rec.udp == []


def test_tcp_segments_cut_by_snapshot_length_keep_their_headers() -> None:
    def seg(
        frm: tuple[str, int], to: tuple[str, int], seq: int, ack: int, fl: str, n: int
    ) -> bytes:
        p = (
            Ether()
            / IP(src=frm[0], dst=to[0])
            / TCP(sport=frm[1], dport=to[1], seq=seq, ack=ack, flags=fl)
        )
        return bytes(p / Raw(bytes(range(n)))) if n else bytes(p)

    c, s = ("10.0.0.1", 40000), ("10.0.0.2", 80)
    frames = [
        seg(c, s, 0, 0, "S", 0),
        seg(s, c, 100, 1, "SA", 0),
        seg(c, s, 1, 101, "PA", 200),
        seg(c, s, 201, 101, "PA", 200),
        seg(c, s, 401, 101, "FA", 200),  # FIN after 200 bytes of which 42 are captured
        seg(s, c, 101, 602, "FA", 0),
    ]
    rec = Rec()
    table = FlowTable(rec)
    for n, f in enumerate(frames, 1):
        table.feed(Frame(n, n, 1, f[:96], len(f)))
    spans = [(ch.frame, ch.offset, len(ch.data), ch.gap) for _, _, ch in rec.chunks]
    assert spans == [(3, 0, 42, 0), (4, 200, 42, 158), (5, 400, 42, 158)]
    assert all(ch.data == bytes(range(42)) for _, _, ch in rec.chunks)
    [conn] = rec.opened
    assert (conn.syn_frame, conn.state, conn.close_frame) == (1, "closed", 6)
    assert table.stats.snapped == 3 and len(rec.problems) == 1 + 3  # the cut, three holes


def test_endpoint_cache_stays_bounded_and_right_after_it_is_emptied() -> None:
    # a datagram of each of more source ports than the cache holds, then the first port again
    # (decoded afresh once the cache was emptied)
    ports = [*range(20000, 20000 + MAX_CACHED_ENDPOINTS + 10), 20000]
    rec = Rec()
    table = FlowTable(rec)
    largest = 0
    for n, port in enumerate(ports, 1):
        p = Ether() / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=port, dport=5060)
        f = bytes(p / Raw(b"x"))
        table.feed(Frame(n, n, 1, f, len(f)))
        largest = max(largest, len(table._eps))
    assert largest == MAX_CACHED_ENDPOINTS
    assert [(str(s), str(d)) for _, s, d, _ in rec.udp] == [
        (f"192.0.2.1:{port}", "192.0.2.2:5060") for port in ports
    ]
