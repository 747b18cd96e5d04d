"""UDP (RFC 768) and TCP (RFC 9293, options): parse and build, checksums.

:func:`parse_udp` / :func:`parse_tcp` give dataclasses and :func:`build_udp` /
:func:`build_tcp` write them; :func:`decode_udp` / :func:`decode_tcp` are the flow table's
allocation-light hot path with the same length checks.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from mikeyshark.dissectors.buffer import Reader, Writer
from mikeyshark.dissectors.consts import Const, ValueTable
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.ip import (
    PROTO_TCP,
    PROTO_UDP,
    build_tlv_options,
    internet_checksum,
    parse_tlv_options,
)

TCP_FIN = 0x001
TCP_SYN = 0x002
TCP_RST = 0x004
TCP_PSH = 0x008
TCP_ACK = 0x010
TCP_URG = 0x020
TCP_ECE = 0x040
TCP_CWR = 0x080
TCP_AE = 0x100  # formerly NS (RFC 3540, historic); RFC 9768 reuses the bit

TCP_FLAG = ValueTable(
    "tcp.flags",
    [
        Const(TCP_FIN, "FIN", "RFC 9293 section 3.1"),
        Const(TCP_SYN, "SYN", "RFC 9293 section 3.1"),
        Const(TCP_RST, "RST", "RFC 9293 section 3.1"),
        Const(TCP_PSH, "PSH", "RFC 9293 section 3.1"),
        Const(TCP_ACK, "ACK", "RFC 9293 section 3.1"),
        Const(TCP_URG, "URG", "RFC 9293 section 3.1"),
        Const(TCP_ECE, "ECE", "RFC 3168"),
        Const(TCP_CWR, "CWR", "RFC 3168"),
        Const(TCP_AE, "AE", "RFC 3540 (NS), RFC 9768"),
    ],
)

TCP_OPTION = ValueTable(
    "tcp.option",
    [
        Const(0, "EOL", "RFC 9293"),
        Const(1, "NOP", "RFC 9293"),
        Const(2, "MSS", "RFC 9293"),
        Const(3, "Window Scale", "RFC 7323"),
        Const(4, "SACK Permitted", "RFC 2018"),
        Const(5, "SACK", "RFC 2018"),
        Const(8, "Timestamps", "RFC 7323"),
        Const(28, "User Timeout", "RFC 5482"),
        Const(29, "TCP-AO", "RFC 5925"),
        Const(30, "MPTCP", "RFC 8684"),
        Const(34, "TCP Fast Open Cookie", "RFC 7413"),
    ],
)

_UDP = struct.Struct("!HHHH")
_TCP = struct.Struct("!HHIIHHHH")


def flag_names(flags: int) -> str:
    """Wireshark-like ``SYN, ACK`` text of a flags value."""
    return ", ".join(c.name for c in TCP_FLAG if flags & c.value) or "<none>"


# -- UDP -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UdpHeader:
    src_port: int
    dst_port: int
    length: int
    checksum: int


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    header: UdpHeader
    payload: bytes
    trailer: bytes = b""  # bytes after the UDP length (should be none)


def parse_udp(data: bytes) -> UdpDatagram:
    r = Reader(data, "udp")
    h = UdpHeader(r.u16("srcport"), r.u16("dstport"), r.u16("length"), r.u16("checksum"))
    if h.length < 8:
        raise DissectError("udp", 4, f"length {h.length} is below 8", "length")
    if h.length > len(data):
        raise DissectError(
            "udp", 4, f"length {h.length} exceeds the {len(data)} bytes available", "length"
        )
    return UdpDatagram(h, data[8 : h.length], data[h.length :])


def build_udp(d: UdpDatagram) -> bytes:
    h = d.header
    w = Writer().u16(h.src_port).u16(h.dst_port).u16(h.length).u16(h.checksum)
    return w.raw(d.payload).raw(d.trailer).getvalue()


def decode_udp(data: bytes, off: int, end: int) -> tuple[int, int, int, int]:
    """Hot path: (source port, destination port, payload start, payload end)."""
    if end - off < 8:
        raise DissectError("udp", off, f"needs 8 bytes, {end - off} left", "length")
    sport, dport, ulen, _csum = _UDP.unpack_from(data, off)
    if ulen < 8:
        if ulen == 0:
            # RFC 2675 jumbograms and offloaded packets leave the length 0: use what there is.
            return sport, dport, off + 8, end
        raise DissectError("udp", off + 4, f"length {ulen} is below 8", "length")
    if off + ulen > end:
        raise DissectError(
            "udp",
            off + 4,
            f"length {ulen} exceeds the {end - off} bytes of the IP payload",
            "length",
        )
    return sport, dport, off + 8, off + ulen


# -- TCP -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TcpOption:
    kind: int
    data: bytes  # after kind and length (empty for EOL / NOP)


@dataclass(frozen=True, slots=True)
class TcpHeader:
    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: int  # 9 bits; the 3 reserved bits are kept in ``reserved``
    window: int
    checksum: int
    urgent: int
    options: bytes = b""  # raw, padding included; see parse_tcp_options
    reserved: int = 0

    @property
    def header_length(self) -> int:
        return 20 + len(self.options)


@dataclass(frozen=True, slots=True)
class TcpSegment:
    header: TcpHeader
    payload: bytes


def parse_tcp(data: bytes) -> TcpSegment:
    r = Reader(data, "tcp")
    sport = r.u16("srcport")
    dport = r.u16("dstport")
    seq = r.u32("seq")
    ack = r.u32("ack")
    word = r.u16("hdr_len")
    hlen = (word >> 12) * 4
    if hlen < 20:
        raise DissectError("tcp", 12, f"header length {hlen} is below 20", "hdr_len")
    window = r.u16("window_size")
    csum = r.u16("checksum")
    urg = r.u16("urgent_pointer")
    options = r.take(hlen - 20, "options")
    h = TcpHeader(sport, dport, seq, ack, word & 0x1FF, window, csum, urg, options, (word >> 9) & 7)
    return TcpSegment(h, r.rest())


def parse_tcp_options(raw: bytes) -> tuple[TcpOption, ...]:
    return tuple(TcpOption(k, d) for k, d in parse_tlv_options(raw, "tcp.options"))


def build_tcp_options(opts: tuple[TcpOption, ...]) -> bytes:
    return build_tlv_options((o.kind, o.data) for o in opts)


def build_tcp(s: TcpSegment) -> bytes:
    h = s.header
    if len(h.options) % 4 or len(h.options) > 40:
        raise ValueError(f"options must be 0..40 bytes, a multiple of 4, not {len(h.options)}")
    w = Writer().u16(h.src_port).u16(h.dst_port).u32(h.seq).u32(h.ack)
    w.u16((h.header_length // 4) << 12 | (h.reserved << 9) | h.flags)
    w.u16(h.window).u16(h.checksum).u16(h.urgent).raw(h.options).raw(s.payload)
    return w.getvalue()


def decode_tcp(data: bytes, off: int, end: int) -> tuple[int, int, int, int, int, int, int]:
    """Hot path: (source port, destination port, seq, ack, flags, payload start, window)."""
    if end - off < 20:
        raise DissectError("tcp", off, f"needs 20 bytes, {end - off} left", "hdr_len")
    sport, dport, seq, ack, word, window, _csum, _urg = _TCP.unpack_from(data, off)
    hlen = (word >> 12) << 2
    if hlen < 20:
        raise DissectError("tcp", off + 12, f"header length {hlen} is below 20", "hdr_len")
    if off + hlen > end:
        raise DissectError(
            "tcp", off + 12, f"header length {hlen} exceeds the {end - off} bytes left", "hdr_len"
        )
    return sport, dport, seq, ack, word & 0x1FF, off + hlen, window


# -- checksums -----------------------------------------------------------------------------------


def pseudo_header(src: str, dst: str, protocol: int, length: int) -> bytes:
    """The IPv4 or IPv6 pseudo-header the UDP and TCP checksums cover."""
    if ":" in src:
        s = socket.inet_pton(socket.AF_INET6, src)
        d = socket.inet_pton(socket.AF_INET6, dst)
        return s + d + struct.pack("!IxxxB", length, protocol)
    s = socket.inet_pton(socket.AF_INET, src)
    d = socket.inet_pton(socket.AF_INET, dst)
    return s + d + struct.pack("!xBH", protocol, length)


def transport_checksum(src: str, dst: str, protocol: int, segment: bytes) -> int:
    """Checksum of a UDP/TCP segment whose checksum field is zero."""
    c = internet_checksum(pseudo_header(src, dst, protocol, len(segment)) + segment)
    if protocol == PROTO_UDP and c == 0:
        return 0xFFFF  # RFC 768: a computed zero is sent as all ones
    return c


def udp_datagram(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    """A UDP datagram with length and checksum filled in (for builders and tests)."""
    raw = build_udp(UdpDatagram(UdpHeader(sport, dport, 8 + len(payload), 0), payload))
    c = transport_checksum(src, dst, PROTO_UDP, raw)
    return raw[:6] + c.to_bytes(2, "big") + raw[8:]


def tcp_segment(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes = b"",
    *,
    window: int = 65535,
    options: bytes = b"",
) -> bytes:
    """A TCP segment with header length and checksum filled in (for builders and tests)."""
    h = TcpHeader(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, flags, window, 0, 0, options)
    raw = build_tcp(TcpSegment(h, payload))
    c = transport_checksum(src, dst, PROTO_TCP, raw)
    return raw[:16] + c.to_bytes(2, "big") + raw[18:]
