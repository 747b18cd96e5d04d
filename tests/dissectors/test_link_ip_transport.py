"""mikeyshark.dissectors.link / ip / transport: parse and build against scapy's independent encoder.

scapy builds the reference bytes (and computes the checksums); our parsers must read its
fields, our builders must reproduce its bytes, and parse/build must round-trip.
"""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP, IPOption_Router_Alert, IPOption_RR
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import CookedLinux, Dot1AD, Dot1Q, Ether
from scapy.packet import Raw

from mikeyshark.dissectors import ip, link, transport
from mikeyshark.dissectors.errors import DissectError


def scapy_sll2(proto: int, payload: bytes) -> bytes:
    # scapy's CookedLinuxV2 layout, written out so the test does not depend on its version
    return struct.pack("!HHIHBB8s", proto, 0, 3, 1, 4, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00") + (
        payload
    )


# -- link ----------------------------------------------------------------------------------------


def test_ethernet_qinq_parse_and_build() -> None:
    inner = bytes(IP(src="10.1.1.1", dst="10.1.1.2") / UDP(sport=1, dport=2))
    frame = bytes(
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / Dot1AD(vlan=100, prio=5)
        / Dot1Q(vlan=200, dei=1)
        / Raw(inner)
    )
    # scapy's Dot1Q after Raw does not set the inner type; fix the last type field by hand
    frame = frame[:20] + b"\x08\x00" + frame[22:]
    lf = link.parse(1, frame)
    assert isinstance(lf.header, link.Ethernet)
    assert lf.header.tags == (link.VlanTag(0x88A8, 5, 0, 100), link.VlanTag(0x8100, 0, 1, 200))
    assert (lf.network, lf.offset, lf.header.ethertype) == (link.NET_IPV4, 22, 0x0800)
    assert link.build(lf.header) + frame[22:] == frame
    assert link.network_offset(1, frame) == (link.NET_IPV4, 22)


def test_linux_sll_v1_and_v2() -> None:
    pkt = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=2))
    v1 = bytes(CookedLinux(pkttype=4, lladdrtype=1, lladdrlen=6, src=b"\x02" * 6, proto=0x86DD))
    lf = link.parse(113, v1 + pkt)
    assert isinstance(lf.header, link.LinuxSll)
    assert (lf.header.packet_type, lf.header.protocol, lf.network, lf.offset) == (
        4,
        0x86DD,
        link.NET_IPV6,
        16,
    )
    assert link.build(lf.header) == v1
    v2 = scapy_sll2(0x0800, bytes(IP() / UDP()))
    lf2 = link.parse(276, v2)
    assert isinstance(lf2.header, link.LinuxSll2)
    assert (lf2.header.ifindex, lf2.header.packet_type, lf2.network, lf2.offset) == (
        3,
        4,
        link.NET_IPV4,
        20,
    )
    assert link.build(lf2.header) == v2[:20]
    assert link.network_offset(276, v2) == (link.NET_IPV4, 20)


@pytest.mark.parametrize(
    ("linktype", "head", "family", "big", "net"),
    [
        (0, struct.pack("<I", 2), 2, False, link.NET_IPV4),
        (0, struct.pack(">I", 2), 2, True, link.NET_IPV4),  # written by a big-endian host
        (0, struct.pack("<I", 30), 30, False, link.NET_IPV6),  # Darwin AF_INET6
        (0, struct.pack("<I", 24), 24, False, link.NET_IPV6),
        (0, struct.pack("<I", 28), 28, False, link.NET_IPV6),
        (108, struct.pack(">I", 2), 2, True, link.NET_IPV4),  # LOOP: always network order
        (108, struct.pack(">I", 24), 24, True, link.NET_IPV6),
    ],
)
def test_bsd_null_and_loop(linktype: int, head: bytes, family: int, big: bool, net: int) -> None:
    lf = link.parse(linktype, head + b"\x45")
    assert lf.header == link.NullLoopback(family, big)
    assert (lf.network, lf.offset) == (net, 4)
    assert link.build(lf.header) == head
    assert link.network_offset(linktype, head + b"\x45") == (net, 4)


@pytest.mark.parametrize("linktype", [12, 14, 101])
def test_raw_ip_versions(linktype: int) -> None:
    assert link.network_offset(linktype, bytes(IP())) == (link.NET_IPV4, 0)
    assert link.network_offset(linktype, bytes(IPv6())) == (link.NET_IPV6, 0)
    assert link.parse(linktype, bytes(IPv6())).network == link.NET_IPV6
    assert link.network_offset(228, b"") == (link.NET_IPV4, 0)
    assert link.network_offset(229, b"") == (link.NET_IPV6, 0)


def test_short_link_headers_raise_located_errors() -> None:
    with pytest.raises(DissectError) as e:
        link.network_offset(1, b"\x00" * 10)
    assert (e.value.layer, e.value.offset) == ("eth", 0)
    with pytest.raises(DissectError) as e:
        link.network_offset(1, b"\x00" * 12 + b"\x81\x00\x00")
    assert (e.value.layer, e.value.offset, e.value.field) == ("eth", 14, "vlan.type")
    with pytest.raises(DissectError):
        link.parse(276, b"\x08\x00" + b"\x00" * 10)
    with pytest.raises(DissectError):
        link.network_offset(0, b"\x02\x00")


# -- IP ------------------------------------------------------------------------------------------


def test_ipv4_with_options_against_scapy() -> None:
    ref = bytes(
        IP(
            src="192.0.2.1",
            dst="198.51.100.7",
            id=0x1234,
            flags="DF",
            ttl=17,
            tos=0xB8,
            options=[IPOption_Router_Alert(), IPOption_RR(routers=["10.0.0.1"])],
        )
        / UDP(sport=5060, dport=5060)
        / Raw(b"x" * 10)
    )
    p = ip.parse_ipv4(ref + b"\x00\x00")  # with 2 bytes of link padding after it
    h = p.header
    assert (h.src, h.dst, h.identification, h.ttl, h.tos, h.protocol) == (
        "192.0.2.1",
        "198.51.100.7",
        0x1234,
        17,
        0xB8,
        17,
    )
    assert h.dont_fragment and not h.is_fragment and h.header_length == 32
    assert [o.type for o in ip.parse_ipv4_options(h.options)] == [148, 7, 0]
    # RFC 791 record route: pointer 4 (the first slot), then the recorded address
    assert ip.parse_ipv4_options(h.options)[1].data == b"\x04" + bytes([10, 0, 0, 1])
    # the builder is the parser's mirror on scapy's option bytes
    assert ip.build_ipv4_options(ip.parse_ipv4_options(h.options)) == h.options
    assert p.trailer == b"\x00\x00" and len(p.payload) == 18
    assert ip.build_ipv4(p) == ref + b"\x00\x00"
    # our checksum helper agrees with scapy's
    fresh = ip.ipv4_header(
        "192.0.2.1",
        "198.51.100.7",
        17,
        18,
        identification=0x1234,
        flags=2,
        ttl=17,
        tos=0xB8,
        options=h.options,
    )
    assert fresh == h
    s, d, proto, start, end, ident, fo, mf = ip.decode_ipv4(ref + b"\x00\x00", 0)
    assert (s, d, proto, start, end, ident, fo, mf) == (
        bytes([192, 0, 2, 1]),
        bytes([198, 51, 100, 7]),
        17,
        32,
        len(ref),
        0x1234,
        0,
        False,
    )


def test_ipv4_fragment_fields() -> None:
    ref = bytes(IP(src="1.2.3.4", dst="5.6.7.8", id=7, flags="MF", frag=185) / Raw(b"y" * 8))
    h = ip.parse_ipv4(ref).header
    assert (h.more_fragments, h.fragment_offset, h.is_fragment) == (True, 185, True)
    assert ip.decode_ipv4(ref, 0)[6:] == (185 * 8, True)


@pytest.mark.parametrize(
    ("mutate", "field", "offset"),
    [
        (lambda b: bytes([0x43]) + b[1:], "hdr_len", 0),  # IHL 3 = 12 bytes
        (lambda b: b[:2] + struct.pack("!H", 10) + b[4:], "len", 2),  # total below header
        (lambda b: b[:2] + struct.pack("!H", 9000) + b[4:], "len", 2),  # beyond the capture
        (lambda b: bytes([0x65]) + b[1:], "version", 0),
        (lambda b: b[:15], "hdr_len", 0),
    ],
)
def test_bad_ipv4_headers(mutate: object, field: str, offset: int) -> None:
    ref = bytes(IP(src="1.2.3.4", dst="5.6.7.8") / UDP() / Raw(b"z" * 20))
    bad = mutate(ref)  # type: ignore[operator]
    with pytest.raises(DissectError) as e:
        ip.decode_ipv4(b"\xee" * 14 + bad, 14)
    assert (e.value.layer, e.value.field, e.value.offset) == ("ip", field, 14 + offset)
    if field != "hdr_len" or len(bad) > 20:
        with pytest.raises(DissectError):
            ip.parse_ipv4(bad)


def test_ipv6_extension_headers_against_scapy() -> None:
    ref = bytes(
        IPv6(src="2001:db8::1", dst="2001:db8::2", tc=0x2E, fl=0x12345, hlim=9)
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrRouting(addresses=["2001:db8::99"])
        / IPv6ExtHdrDestOpt()
        / UDP(sport=5060, dport=5062)
        / Raw(b"sip")
    )
    p = ip.parse_ipv6(ref)
    assert (p.header.traffic_class, p.header.flow_label, p.header.hop_limit) == (0x2E, 0x12345, 9)
    assert [e.type for e in p.extensions if isinstance(e, ip.IPv6Extension)] == [0, 43, 60]
    assert p.protocol == 17 and p.payload == ref[-11:]
    assert ip.build_ipv6(p) == ref
    s, d, proto, start, end, frag = ip.decode_ipv6(ref, 0)
    assert (proto, start, end, frag) == (17, len(ref) - 11, len(ref), None)
    assert ip.ntop(s) == "2001:db8::1" and ip.ntop(d) == "2001:db8::2"


def test_ipv6_fragment_header() -> None:
    ref = bytes(
        IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrFragment(id=0xDEADBEEF, offset=3, m=1, nh=17)
        / Raw(b"q" * 16)
    )
    p = ip.parse_ipv6(ref)
    [fr] = p.extensions
    assert isinstance(fr, ip.IPv6Fragment)
    assert (fr.identification, fr.fragment_offset, fr.more_fragments, fr.next_header) == (
        0xDEADBEEF,
        3,
        True,
        17,
    )
    assert ip.build_ipv6(p) == ref
    *_, frag = ip.decode_ipv6(ref, 0)
    assert frag == (0xDEADBEEF, 24, True, 40)


def test_ipv6_extension_overrunning_packet() -> None:
    ref = bytearray(bytes(IPv6() / IPv6ExtHdrDestOpt() / UDP()))
    ref[41] = 10  # the destination options header now claims 88 bytes
    with pytest.raises(DissectError) as e:
        ip.decode_ipv6(bytes(ref), 0)
    assert (e.value.layer, e.value.offset, e.value.field) == ("ipv6", 40, "ext.len")
    with pytest.raises(DissectError):
        ip.parse_ipv6(bytes(ref))


# -- UDP / TCP -----------------------------------------------------------------------------------


def test_udp_against_scapy() -> None:
    ref = bytes(UDP(sport=5060, dport=5080) / Raw(b"INVITE"))
    d = transport.parse_udp(ref)
    assert (d.header.src_port, d.header.dst_port, d.header.length, d.payload) == (
        5060,
        5080,
        14,
        b"INVITE",
    )
    assert transport.build_udp(d) == ref
    full = bytes(IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=1, dport=2) / Raw(b"abc"))
    assert transport.udp_datagram("192.0.2.1", "192.0.2.2", 1, 2, b"abc") == full[20:]
    full6 = bytes(IPv6(src="::1", dst="::2") / UDP(sport=1, dport=2) / Raw(b"abc"))
    assert transport.udp_datagram("::1", "::2", 1, 2, b"abc") == full6[40:]
    with pytest.raises(DissectError) as e:
        transport.decode_udp(ref[:4] + b"\x00\x05" + ref[6:], 0, len(ref))
    assert (e.value.field, e.value.offset) == ("length", 4)
    with pytest.raises(DissectError):
        transport.decode_udp(ref[:4] + b"\x00\xff" + ref[6:], 0, len(ref))


def test_tcp_with_options_against_scapy() -> None:
    opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 2)), ("NOP", None), ("WScale", 7)]
    ref = bytes(
        IP(src="192.0.2.1", dst="192.0.2.2")
        / TCP(sport=40000, dport=5061, seq=123, ack=456, flags="SA", window=1000, options=opts)
        / Raw(b"tls")
    )
    seg = transport.parse_tcp(ref[20:])
    h = seg.header
    assert (h.src_port, h.dst_port, h.seq, h.ack, h.window, seg.payload) == (
        40000,
        5061,
        123,
        456,
        1000,
        b"tls",
    )
    assert h.flags == transport.TCP_SYN | transport.TCP_ACK
    assert transport.flag_names(h.flags) == "SYN, ACK"
    kinds = [o.kind for o in transport.parse_tcp_options(h.options)]
    assert kinds[:5] == [2, 4, 8, 1, 3]
    assert transport.build_tcp_options(transport.parse_tcp_options(h.options)) == h.options
    assert transport.build_tcp(seg) == ref[20:]
    mine = transport.tcp_segment(
        "192.0.2.1",
        "192.0.2.2",
        40000,
        5061,
        123,
        456,
        h.flags,
        b"tls",
        window=1000,
        options=h.options,
    )
    assert mine == ref[20:]
    assert transport.decode_tcp(ref, 20, len(ref)) == (
        40000,
        5061,
        123,
        456,
        0x12,
        20 + h.header_length,
        1000,
    )


def test_tcp_bad_header_length() -> None:
    ref = bytearray(bytes(TCP()))
    ref[12] = 0x40  # 16 bytes
    with pytest.raises(DissectError) as e:
        transport.decode_tcp(bytes(ref), 0, len(ref))
    assert (e.value.field, e.value.offset) == ("hdr_len", 12)
    ref[12] = 0xF0  # 60 bytes, more than there is
    with pytest.raises(DissectError):
        transport.decode_tcp(bytes(ref), 0, len(ref))


# -- round-trip properties -----------------------------------------------------------------------

_v4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))


@settings(max_examples=200, deadline=None)
@given(
    src=_v4,
    dst=_v4,
    tos=st.integers(0, 255),
    ident=st.integers(0, 0xFFFF),
    flags=st.integers(0, 7),
    fo=st.integers(0, 0x1FFF),
    ttl=st.integers(0, 255),
    proto=st.integers(0, 255),
    csum=st.integers(0, 0xFFFF),
    opt_words=st.integers(0, 10),
    payload=st.binary(max_size=64),
)
def test_ipv4_round_trip(
    src: str,
    dst: str,
    tos: int,
    ident: int,
    flags: int,
    fo: int,
    ttl: int,
    proto: int,
    csum: int,
    opt_words: int,
    payload: bytes,
) -> None:
    opts = b"\x01" * (4 * opt_words)
    h = ip.IPv4Header(
        tos, 20 + len(opts) + len(payload), ident, flags, fo, ttl, proto, csum, src, dst, opts
    )
    p = ip.IPv4Packet(h, payload)
    raw = ip.build_ipv4(p)
    assert ip.parse_ipv4(raw) == p
    assert ip.build_ipv4(ip.parse_ipv4(raw)) == raw


@settings(max_examples=200, deadline=None)
@given(
    sport=st.integers(0, 0xFFFF),
    dport=st.integers(0, 0xFFFF),
    seq=st.integers(0, 2**32 - 1),
    ack=st.integers(0, 2**32 - 1),
    flags=st.integers(0, 0x1FF),
    reserved=st.integers(0, 7),
    window=st.integers(0, 0xFFFF),
    opts=st.integers(0, 10),
    payload=st.binary(max_size=64),
)
def test_tcp_round_trip(
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    reserved: int,
    window: int,
    opts: int,
    payload: bytes,
) -> None:
    s = transport.TcpSegment(
        transport.TcpHeader(
            sport, dport, seq, ack, flags, window, 0xABCD, 7, b"\x01" * (4 * opts), reserved
        ),
        payload,
    )
    raw = transport.build_tcp(s)
    assert transport.parse_tcp(raw) == s
    assert transport.build_tcp(transport.parse_tcp(raw)) == raw


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from([0, 1, 12, 14, 101, 108, 113, 228, 229, 276]),
    body=st.binary(min_size=0, max_size=60),
)
def test_link_parse_never_crashes_and_round_trips(kind: int, body: bytes) -> None:
    try:
        lf = link.parse(kind, body)
    except DissectError:
        with pytest.raises(DissectError):
            link.network_offset(kind, body)
        return
    assert link.build(lf.header) + body[lf.offset :] == body
    assert link.network_offset(kind, body) == (lf.network, lf.offset)


@settings(max_examples=200, deadline=None)
@given(
    sport=st.integers(0, 0xFFFF),
    dport=st.integers(0, 0xFFFF),
    csum=st.integers(0, 0xFFFF),
    payload=st.binary(max_size=64),
    trailer=st.binary(max_size=4),
)
def test_udp_round_trip(sport: int, dport: int, csum: int, payload: bytes, trailer: bytes) -> None:
    d = transport.UdpDatagram(
        transport.UdpHeader(sport, dport, 8 + len(payload), csum), payload, trailer
    )
    raw = transport.build_udp(d)
    assert transport.parse_udp(raw) == d
    assert transport.build_udp(transport.parse_udp(raw)) == raw


_v6 = st.binary(min_size=16, max_size=16).map(ip.ntop)


def _generic(t: int, words: int) -> ip.IPv6ExtensionHeader:
    return ip.IPv6Extension(t, 0, bytes(6 + 8 * words))


def _frag(off: int, flags: int, ident: int) -> ip.IPv6ExtensionHeader:
    return ip.IPv6Fragment(0, 0, off, flags, ident)


_ext = st.one_of(
    st.builds(_generic, st.sampled_from([0, 43, 60]), st.integers(0, 3)),
    st.builds(_frag, st.integers(0, 0x1FFF), st.integers(0, 7), st.integers(0, 2**32 - 1)),
)


@settings(max_examples=200, deadline=None)
@given(
    src=_v6,
    dst=_v6,
    tc=st.integers(0, 255),
    fl=st.integers(0, 0xFFFFF),
    hlim=st.integers(0, 255),
    exts=st.lists(_ext, max_size=3),
    payload=st.binary(max_size=40),
)
def test_ipv6_round_trip(
    src: str,
    dst: str,
    tc: int,
    fl: int,
    hlim: int,
    exts: list[ip.IPv6ExtensionHeader],
    payload: bytes,
) -> None:
    # chain them: each header's next-header names the following one, the last names UDP
    kinds = [44 if isinstance(e, ip.IPv6Fragment) else e.type for e in exts] + [17]
    chain = [replace(e, next_header=kinds[i + 1]) for i, e in enumerate(exts)]
    # parsing stops after a non-first fragment header: what follows is opaque payload
    stop = next(
        (i for i, c in enumerate(chain) if isinstance(c, ip.IPv6Fragment) and c.fragment_offset),
        None,
    )
    body_len = sum(8 if isinstance(c, ip.IPv6Fragment) else 2 + len(c.data) for c in chain)
    header = ip.IPv6Header(tc, fl, body_len + len(payload), kinds[0], hlim, src, dst)
    p = ip.IPv6Packet(header, tuple(chain), 17, payload)
    raw = ip.build_ipv6(p)
    parsed = ip.parse_ipv6(raw)
    if stop is None:
        assert parsed == p
    else:
        assert parsed.extensions == tuple(chain[: stop + 1])
    assert ip.build_ipv6(parsed) == raw


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("2001:DB8::1", "2001:db8::1"),  # RFC 5952 4.3: lower case
        ("2001:db8:0:0:0:0:2:1", "2001:db8::2:1"),  # 4.2.1: the run shortened as far as it goes
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  # 4.2.2: never :: for one group
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),  # 4.2.3: the longest run
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  # 4.2.3: the first of equal runs
        ("192.0.2.1", "192.0.2.1"),
        ("conf.example.org", "conf.example.org"),  # a name is left as it is
    ],
)
def test_canonical_address_is_rfc5952(text: str, shown: str) -> None:
    assert ip.canonical_address(text) == shown
    assert ip.canonical_address(text) == shown  # (the second time from the cache)


def test_canonical_addresses_kept_stay_within_their_budget() -> None:
    for i in range(ip.MAX_CANONICAL + 10):
        assert ip.canonical_address(f"2001:DB8::{i + 1:X}") == f"2001:db8::{i + 1:x}"
        name = "h" * 70 + f"{i}.example"  # too long to be kept
        assert ip.canonical_address(name) == name
    assert 0 < len(ip._CANONICAL) <= ip.MAX_CANONICAL
    assert all(len(t) <= ip.MAX_CANONICAL_TEXT for t in ip._CANONICAL)
