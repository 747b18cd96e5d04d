"""UDP (RFC 768), TCP (RFC 9293, options) and SCTP (RFC 9260, common header and chunks):
parse and build, checksums.

:func:`parse_udp` / :func:`parse_tcp` give dataclasses and :func:`build_udp` /
:func:`build_tcp` write them; :func:`decode_udp` / :func:`decode_tcp` are the flow table's
allocation-light hot path with the same length checks. SCTP is read as far as the DATA
chunk (its payload protocol identifier and user data), which is how H.248 rides on it;
reassembling fragmented DATA and following associations is the application's business.
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
    text = _FLAG_NAMES.get(flags)
    if text is None:
        text = ", ".join(c.name for c in TCP_FLAG if flags & c.value) or "<none>"
        if 0 <= flags < 0x1000:  # (every packet list asks for a handful of values)
            _FLAG_NAMES[flags] = text
    return text


_FLAG_NAMES: dict[int, str] = {}


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


# -- SCTP ----------------------------------------------------------------------------------------

SCTP_CHUNK = ValueTable(
    "sctp.chunk_type",
    [
        Const(0, "DATA", "RFC 9260 section 3.2"),
        Const(1, "INIT", "RFC 9260 section 3.2"),
        Const(2, "INIT ACK", "RFC 9260 section 3.2"),
        Const(3, "SACK", "RFC 9260 section 3.2"),
        Const(4, "HEARTBEAT", "RFC 9260 section 3.2"),
        Const(5, "HEARTBEAT ACK", "RFC 9260 section 3.2"),
        Const(6, "ABORT", "RFC 9260 section 3.2"),
        Const(7, "SHUTDOWN", "RFC 9260 section 3.2"),
        Const(8, "SHUTDOWN ACK", "RFC 9260 section 3.2"),
        Const(9, "ERROR", "RFC 9260 section 3.2"),
        Const(10, "COOKIE ECHO", "RFC 9260 section 3.2"),
        Const(11, "COOKIE ACK", "RFC 9260 section 3.2"),
        Const(14, "SHUTDOWN COMPLETE", "RFC 9260 section 3.2"),
        Const(15, "AUTH", "RFC 4895"),
        Const(64, "I-DATA", "RFC 8260"),
        Const(128, "ASCONF-ACK", "RFC 5061"),
        Const(130, "RE-CONFIG", "RFC 6525"),
        Const(132, "PAD", "RFC 4820"),
        Const(192, "FORWARD-TSN", "RFC 3758"),
        Const(193, "ASCONF", "RFC 5061"),
    ],
)
SCTP_DATA = SCTP_CHUNK["DATA"]
SCTP_DATA_UNORDERED = 0x04
SCTP_DATA_BEGINNING = 0x02
SCTP_DATA_ENDING = 0x01
_SCTP = struct.Struct("!HHII")
_SCTP_DATA = struct.Struct("!IHHI")


def _crc32c_table() -> tuple[int, ...]:
    out = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        out.append(c)
    return tuple(out)


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli, RFC 9260 appendix A), e.g. 0xE3069283 for b"123456789"."""
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class SctpHeader:
    src_port: int
    dst_port: int
    verification_tag: int
    checksum: int  # as the 32-bit field reads in network order


@dataclass(frozen=True, slots=True)
class SctpChunk:
    type: int
    flags: int
    value: bytes  # after the 4-byte chunk header, without padding


@dataclass(frozen=True, slots=True)
class SctpPacket:
    header: SctpHeader
    chunks: tuple[SctpChunk, ...]


@dataclass(frozen=True, slots=True)
class SctpData:
    """A DATA chunk's fields (RFC 9260 section 3.3.1)."""

    tsn: int
    stream_id: int
    stream_seq: int
    ppid: int
    payload: bytes
    flags: int = SCTP_DATA_BEGINNING | SCTP_DATA_ENDING

    @property
    def complete(self) -> bool:
        """A whole user message (neither a first, middle nor last fragment)."""
        both = SCTP_DATA_BEGINNING | SCTP_DATA_ENDING
        return self.flags & both == both


def parse_sctp(data: bytes) -> SctpPacket:
    if len(data) < 12:
        raise DissectError("sctp", 0, f"needs 12 bytes, {len(data)} left", "srcport")
    h = SctpHeader(*_SCTP.unpack_from(data, 0))
    chunks: list[SctpChunk] = []
    pos = 12
    while pos < len(data):
        if len(data) - pos < 4:
            raise DissectError(
                "sctp", pos, f"chunk header needs 4 bytes, {len(data) - pos}", "chunk"
            )
        ctype, flags, length = data[pos], data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4])
        if length < 4 or pos + length > len(data):
            raise DissectError(
                "sctp", pos + 2, f"chunk length {length} does not fit the packet", "chunk_length"
            )
        chunks.append(SctpChunk(ctype, flags, data[pos + 4 : pos + length]))
        pos += (length + 3) & ~3
    return SctpPacket(h, tuple(chunks))


def build_sctp(p: SctpPacket) -> bytes:
    """The packet with ``header.checksum`` as given (see :func:`sctp_packet` for a valid one)."""
    h = p.header
    out = bytearray(_SCTP.pack(h.src_port, h.dst_port, h.verification_tag, h.checksum))
    for c in p.chunks:
        out += bytes((c.type, c.flags)) + (4 + len(c.value)).to_bytes(2, "big") + c.value
        out += bytes(-len(c.value) % 4)
    return bytes(out)


def sctp_checksum(raw: bytes) -> int:
    """The checksum field's value for an SCTP packet (its checksum bytes taken as zero).

    RFC 9260 appendix A: the CRC-32C goes on the wire least significant byte first.
    """
    crc = crc32c(raw[:8] + bytes(4) + raw[12:])
    return int.from_bytes(crc.to_bytes(4, "little"), "big")


def sctp_packet(sport: int, dport: int, tag: int, chunks: tuple[SctpChunk, ...]) -> bytes:
    """An SCTP packet with its CRC-32C filled in (for builders and tests)."""
    raw = build_sctp(SctpPacket(SctpHeader(sport, dport, tag, 0), chunks))
    return raw[:8] + sctp_checksum(raw).to_bytes(4, "big") + raw[12:]


def parse_sctp_data(chunk: SctpChunk) -> SctpData:
    if chunk.type != SCTP_DATA:
        raise DissectError("sctp", 0, f"chunk type {chunk.type} is not DATA", "chunk_type")
    if len(chunk.value) < _SCTP_DATA.size:
        raise DissectError("sctp", 4, f"DATA chunk of {len(chunk.value)} bytes", "chunk_length")
    tsn, sid, ssn, ppid = _SCTP_DATA.unpack_from(chunk.value, 0)
    return SctpData(tsn, sid, ssn, ppid, chunk.value[_SCTP_DATA.size :], chunk.flags)


def build_sctp_data(d: SctpData) -> SctpChunk:
    return SctpChunk(
        SCTP_DATA, d.flags, _SCTP_DATA.pack(d.tsn, d.stream_id, d.stream_seq, d.ppid) + d.payload
    )


def sctp_data_chunks(p: SctpPacket) -> tuple[SctpData, ...]:
    return tuple(parse_sctp_data(c) for c in p.chunks if c.type == SCTP_DATA)
