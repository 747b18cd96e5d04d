"""IPv4 (RFC 791, options) and IPv6 (RFC 8200, extension headers, fragments): parse and build.

:func:`parse_ipv4` / :func:`parse_ipv6` return full dataclasses; :func:`build_ipv4` /
:func:`build_ipv6` write them back. :func:`decode_ipv4` / :func:`decode_ipv6` are the hot path
for the flow table: plain tuples of what reassembly needs, with the same checks.
Fragment reassembly itself keeps state, so it lives in the analyzer.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from mikeyshark.dissectors.buffer import Reader, Writer
from mikeyshark.dissectors.consts import Const, ValueTable
from mikeyshark.dissectors.errors import DissectError

IP_PROTO = ValueTable(
    "ip.proto",
    [
        Const(0, "IPv6 Hop-by-Hop Options", "RFC 8200 section 4.3"),
        Const(1, "ICMP", "RFC 792"),
        Const(6, "TCP", "RFC 9293"),
        Const(17, "UDP", "RFC 768"),
        Const(43, "IPv6 Routing", "RFC 8200 section 4.4"),
        Const(44, "IPv6 Fragment", "RFC 8200 section 4.5"),
        Const(50, "ESP", "RFC 4303"),
        Const(51, "AH", "RFC 4302"),
        Const(58, "ICMPv6", "RFC 4443"),
        Const(59, "IPv6 No Next Header", "RFC 8200 section 4.7"),
        Const(60, "IPv6 Destination Options", "RFC 8200 section 4.6"),
        Const(132, "SCTP", "RFC 9260"),
        Const(135, "Mobility Header", "RFC 6275"),
        Const(139, "HIP", "RFC 7401"),
        Const(140, "Shim6", "RFC 5533"),
    ],
)
PROTO_TCP = IP_PROTO["TCP"]
PROTO_UDP = IP_PROTO["UDP"]
PROTO_SCTP = IP_PROTO["SCTP"]
EXT_HOPOPTS = IP_PROTO["IPv6 Hop-by-Hop Options"]
EXT_ROUTING = IP_PROTO["IPv6 Routing"]
EXT_FRAGMENT = IP_PROTO["IPv6 Fragment"]
EXT_AH = IP_PROTO["AH"]
EXT_NONE = IP_PROTO["IPv6 No Next Header"]
EXT_DSTOPTS = IP_PROTO["IPv6 Destination Options"]
# Extension headers in the generic "next header, length in 8-octet units" format.
_EXT_GENERIC = frozenset({EXT_HOPOPTS, EXT_ROUTING, EXT_DSTOPTS, 135, 139, 140})

IPV4_OPTION = ValueTable(
    "ip.opt",
    [
        Const(0, "End of Options List", "RFC 791"),
        Const(1, "No Operation", "RFC 791"),
        Const(7, "Record Route", "RFC 791"),
        Const(68, "Timestamp", "RFC 791"),
        Const(130, "Security", "RFC 1108"),
        Const(131, "Loose Source Route", "RFC 791"),
        Const(137, "Strict Source Route", "RFC 791"),
        Const(148, "Router Alert", "RFC 2113"),
    ],
)

_V4 = struct.Struct("!BBHHHBBH4s4s")
_V6 = struct.Struct("!IHBB16s16s")


def _ntop4(b: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, b)


def _ntop6(b: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, b)


_FAMILIES = ((socket.AF_INET6, _ntop6), (socket.AF_INET, _ntop4))


# Addresses written lately and their canonical form: an SDP's c= and a=path addresses come
# back in every offer and answer of the same parties. Bounded: short texts only, emptied when
# it holds MAX_CANONICAL.
_CANONICAL: dict[str, str] = {}
MAX_CANONICAL = 1024
MAX_CANONICAL_TEXT = 64  # characters (the longest IPv6 text with a zone is well under)


def canonical_address(text: str) -> str:
    """An IP address written in text (SDP, a URI) as the packets' addresses are shown: IPv6 in
    RFC 5952 form (lower case, the longest run of zero groups as ``::``), so that the two
    compare equal; a host name or anything else as it is."""
    got = _CANONICAL.get(text)
    if got is not None:
        return got
    got = text
    # (text without a colon is no IPv6 address: not tried, its failure costs an exception)
    for family, ntop in _FAMILIES if ":" in text else _FAMILIES[1:]:
        try:
            got = ntop(socket.inet_pton(family, text))
            break
        except (OSError, ValueError):
            continue
    if len(text) <= MAX_CANONICAL_TEXT:
        if len(_CANONICAL) >= MAX_CANONICAL:
            _CANONICAL.clear()
        _CANONICAL[text] = got
    return got


# -- IPv4 ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IPv4Option:
    type: int
    data: bytes  # the bytes after type and length (empty for EOL / NOP)


@dataclass(frozen=True, slots=True)
class IPv4Header:
    tos: int
    total_length: int
    identification: int
    flags: int  # 3 bits: reserved, DF, MF
    fragment_offset: int  # in 8-octet units, as on the wire
    ttl: int
    protocol: int
    checksum: int
    src: str
    dst: str
    options: bytes = b""  # raw, padding included; see parse_ipv4_options

    @property
    def header_length(self) -> int:
        return 20 + len(self.options)

    @property
    def more_fragments(self) -> bool:
        return bool(self.flags & 1)

    @property
    def dont_fragment(self) -> bool:
        return bool(self.flags & 2)

    @property
    def is_fragment(self) -> bool:
        return bool(self.flags & 1) or self.fragment_offset != 0


@dataclass(frozen=True, slots=True)
class IPv4Packet:
    header: IPv4Header
    payload: bytes
    trailer: bytes = b""  # bytes after total_length (link-layer padding)


def parse_ipv4(data: bytes) -> IPv4Packet:
    r = Reader(data, "ip")
    vihl = r.u8("version")
    if vihl >> 4 != 4:
        raise DissectError("ip", 0, f"version {vihl >> 4} is not 4", "version")
    hlen = (vihl & 0x0F) * 4
    if hlen < 20:
        raise DissectError("ip", 0, f"header length {hlen} is below 20", "hdr_len")
    tos = r.u8("tos")
    total = r.u16("len")
    ident = r.u16("id")
    ff = r.u16("flags")
    ttl = r.u8("ttl")
    proto = r.u8("proto")
    csum = r.u16("checksum")
    src = _ntop4(r.take(4, "src"))
    dst = _ntop4(r.take(4, "dst"))
    options = r.take(hlen - 20, "options")
    if total == 0:
        # segmentation offload: see decode_ipv4; the packet is what was captured
        header = IPv4Header(
            tos, 0, ident, ff >> 13, ff & 0x1FFF, ttl, proto, csum, src, dst, options
        )
        return IPv4Packet(header, data[hlen:])
    if total < hlen:
        raise DissectError("ip", 2, f"total length {total} is below header length {hlen}", "len")
    if total > len(data):
        raise DissectError(
            "ip", 2, f"total length {total} exceeds the {len(data)} captured bytes", "len"
        )
    header = IPv4Header(
        tos, total, ident, ff >> 13, ff & 0x1FFF, ttl, proto, csum, src, dst, options
    )
    return IPv4Packet(header, data[hlen:total], data[total:])


def parse_tlv_options(raw: bytes, layer: str) -> list[tuple[int, bytes]]:
    """(type, value) of the options in the format IPv4 and TCP share (RFC 791 3.1, RFC 9293
    3.1): type 0 ends the list, type 1 is a lone padding byte, any other type is followed
    by a length that counts the type and length bytes too."""
    r = Reader(raw, layer)
    out: list[tuple[int, bytes]] = []
    while not r.eof():
        t = r.u8("type")
        if t == 0:
            out.append((0, b""))
            break
        if t == 1:
            out.append((1, b""))
            continue
        n = r.u8("len")
        if n < 2:
            raise DissectError(layer, r.pos - 1, f"option length {n} is below 2", "len")
        out.append((t, r.take(n - 2, "value")))
    return out


def build_tlv_options(opts: Iterable[tuple[int, bytes]]) -> bytes:
    """Options in the format of :func:`parse_tlv_options`, padded with zeros (End of
    Options List) to a multiple of 4."""
    w = Writer()
    for t, data in opts:
        w.u8(t)
        if t > 1:
            w.u8(len(data) + 2).raw(data)
    b = w.getvalue()
    return b + bytes(-len(b) % 4)


def parse_ipv4_options(raw: bytes) -> tuple[IPv4Option, ...]:
    """The options of an IPv4 header; stops at End of Options List."""
    return tuple(IPv4Option(t, d) for t, d in parse_tlv_options(raw, "ip.opt"))


def build_ipv4_options(opts: tuple[IPv4Option, ...]) -> bytes:
    return build_tlv_options((o.type, o.data) for o in opts)


def internet_checksum(data: bytes) -> int:
    """RFC 1071 one's-complement sum, returned ready to be written into the header."""
    if len(data) % 2:
        data += b"\x00"
    s: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def build_ipv4(p: IPv4Packet) -> bytes:
    h = p.header
    if len(h.options) % 4 or len(h.options) > 40:
        raise ValueError(f"options must be 0..40 bytes, a multiple of 4, not {len(h.options)}")
    w = Writer()
    w.u8(0x40 | (h.header_length // 4)).u8(h.tos).u16(h.total_length).u16(h.identification)
    w.u16((h.flags << 13) | h.fragment_offset).u8(h.ttl).u8(h.protocol).u16(h.checksum)
    w.raw(socket.inet_pton(socket.AF_INET, h.src)).raw(socket.inet_pton(socket.AF_INET, h.dst))
    w.raw(h.options).raw(p.payload).raw(p.trailer)
    return w.getvalue()


def ipv4_header(
    src: str,
    dst: str,
    protocol: int,
    payload_length: int,
    *,
    identification: int = 0,
    flags: int = 0,
    fragment_offset: int = 0,
    ttl: int = 64,
    tos: int = 0,
    options: bytes = b"",
) -> IPv4Header:
    """A header with total length and checksum filled in (for builders and tests)."""
    h = IPv4Header(
        tos,
        20 + len(options) + payload_length,
        identification,
        flags,
        fragment_offset,
        ttl,
        protocol,
        0,
        src,
        dst,
        options,
    )
    raw = build_ipv4(IPv4Packet(h, b""))
    return IPv4Header(
        h.tos,
        h.total_length,
        h.identification,
        h.flags,
        h.fragment_offset,
        h.ttl,
        h.protocol,
        internet_checksum(raw),
        h.src,
        h.dst,
        h.options,
    )


def decode_ipv4(data: bytes, off: int) -> tuple[bytes, bytes, int, int, int, int, int, bool]:
    """Hot path: (src, dst, protocol, payload start, payload end, id, fragment byte offset, MF).

    Addresses are the 4 raw bytes. Raises DissectError with the offset in ``data``.
    """
    n = len(data)
    if n - off < 20:
        raise DissectError("ip", off, f"needs 20 bytes, {n - off} left", "hdr_len")
    vihl, _tos, total, ident, ff, _ttl, proto, _csum, src, dst = _V4.unpack_from(data, off)
    if vihl >> 4 != 4:
        raise DissectError("ip", off, f"version {vihl >> 4} is not 4", "version")
    hlen = (vihl & 0x0F) << 2
    if hlen < 20:
        raise DissectError("ip", off, f"header length {hlen} is below 20", "hdr_len")
    if total == 0:
        # Segmentation offload: the capturing host saw the packet before the NIC filled in
        # the length. Wireshark takes the captured length then, and so do we.
        total = n - off
    if total < hlen:
        raise DissectError(
            "ip", off + 2, f"total length {total} is below header length {hlen}", "len"
        )
    if off + total > n:
        raise DissectError(
            "ip", off + 2, f"total length {total} exceeds the {n - off} captured bytes", "len"
        )
    return src, dst, proto, off + hlen, off + total, ident, (ff & 0x1FFF) << 3, bool(ff & 0x2000)


# -- IPv6 ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IPv6Header:
    traffic_class: int
    flow_label: int
    payload_length: int
    next_header: int
    hop_limit: int
    src: str
    dst: str


@dataclass(frozen=True, slots=True)
class IPv6Extension:
    """An extension header other than Fragment; ``data`` follows next-header and length."""

    type: int
    next_header: int
    data: bytes


@dataclass(frozen=True, slots=True)
class IPv6Fragment:
    next_header: int
    reserved: int
    fragment_offset: int  # in 8-octet units, as on the wire
    flags: int  # 2 reserved bits and M
    identification: int

    @property
    def more_fragments(self) -> bool:
        return bool(self.flags & 1)


IPv6ExtensionHeader = IPv6Extension | IPv6Fragment


@dataclass(frozen=True, slots=True)
class IPv6Packet:
    header: IPv6Header
    extensions: tuple[IPv6ExtensionHeader, ...]
    protocol: int  # the upper-layer protocol (or 44's next header inside a fragment, ESP, 59)
    payload: bytes  # after the last extension header this packet's bytes reach
    trailer: bytes = b""


def _ext_len(t: int, second_byte: int) -> int:
    if t == EXT_AH:
        return (second_byte + 2) * 4
    return (second_byte + 1) * 8


def parse_ipv6(data: bytes) -> IPv6Packet:
    r = Reader(data, "ipv6")
    word = r.u32("version")
    if word >> 28 != 6:
        raise DissectError("ipv6", 0, f"version {word >> 28} is not 6", "version")
    plen = r.u16("plen")
    nh = r.u8("nxt")
    hlim = r.u8("hlim")
    src = _ntop6(r.take(16, "src"))
    dst = _ntop6(r.take(16, "dst"))
    if 40 + plen > len(data):
        raise DissectError(
            "ipv6", 4, f"payload length {plen} exceeds the {len(data) - 40} captured bytes", "plen"
        )
    header = IPv6Header((word >> 20) & 0xFF, word & 0xFFFFF, plen, nh, hlim, src, dst)
    body = Reader(data, "ipv6", 40, 40 + plen)
    exts: list[IPv6ExtensionHeader] = []
    while True:
        if nh == EXT_FRAGMENT:
            nxt = body.u8("frag.nxt")
            res = body.u8("frag.reserved")
            off_flags = body.u16("frag.offset")
            ident = body.u32("frag.id")
            exts.append(IPv6Fragment(nxt, res, off_flags >> 3, off_flags & 7, ident))
            nh = nxt
            if off_flags >> 3:
                break  # a non-first fragment: what follows is the middle of the datagram
        elif nh in _EXT_GENERIC or nh == EXT_AH:
            start = body.pos
            nxt = body.u8("ext.nxt")
            n = _ext_len(nh, body.u8("ext.len"))
            body.pos = start
            raw = body.take(n, "ext")
            exts.append(IPv6Extension(nh, nxt, raw[2:]))
            nh = nxt
        else:
            break
    return IPv6Packet(header, tuple(exts), nh, body.rest(), data[40 + plen :])


def build_ipv6(p: IPv6Packet) -> bytes:
    h = p.header
    w = Writer()
    w.u32((6 << 28) | (h.traffic_class << 20) | h.flow_label).u16(h.payload_length)
    w.u8(h.next_header).u8(h.hop_limit)
    w.raw(socket.inet_pton(socket.AF_INET6, h.src)).raw(socket.inet_pton(socket.AF_INET6, h.dst))
    for e in p.extensions:
        if isinstance(e, IPv6Fragment):
            w.u8(e.next_header).u8(e.reserved).u16((e.fragment_offset << 3) | e.flags)
            w.u32(e.identification)
        else:
            total = len(e.data) + 2
            unit = 4 if e.type == EXT_AH else 8
            if total % unit:
                raise ValueError(f"extension {e.type} of {total} bytes is not a multiple of {unit}")
            w.u8(e.next_header).u8(total // unit - (2 if e.type == EXT_AH else 1)).raw(e.data)
    w.raw(p.payload).raw(p.trailer)
    return w.getvalue()


def decode_ipv6(
    data: bytes, off: int
) -> tuple[bytes, bytes, int, int, int, tuple[int, int, bool, int] | None]:
    """Hot path: (src, dst, protocol, payload start, payload end, fragment).

    ``fragment`` is None or (identification, byte offset, M flag, offset of the fragment
    header); for a fragment, ``protocol`` is the Fragment header's next header and the
    payload is the fragmentable part. Addresses are the 16 raw bytes.
    """
    n = len(data)
    if n - off < 40:
        raise DissectError("ipv6", off, f"needs 40 bytes, {n - off} left", "hdr")
    word, plen, nh, _hlim, src, dst = _V6.unpack_from(data, off)
    if word >> 28 != 6:
        raise DissectError("ipv6", off, f"version {word >> 28} is not 6", "version")
    end = off + 40 + plen
    if end > n:
        raise DissectError(
            "ipv6",
            off + 4,
            f"payload length {plen} exceeds the {n - off - 40} captured bytes",
            "plen",
        )
    nh, p = skip_ipv6_extensions(data, off + 40, nh, end)
    if nh == EXT_FRAGMENT:
        if p + 8 > end:
            raise DissectError("ipv6", p, "truncated fragment header", "frag")
        of = (data[p + 2] << 8) | data[p + 3]
        ident = int.from_bytes(data[p + 4 : p + 8], "big")
        return src, dst, data[p], p + 8, end, (ident, of & 0xFFF8, bool(of & 1), p)
    return src, dst, nh, p, end, None


def skip_ipv6_extensions(data: bytes, off: int, nh: int, end: int) -> tuple[int, int]:
    """(upper protocol, its offset) after extension headers inside a reassembled datagram."""
    p = off
    while nh in _EXT_GENERIC or nh == EXT_AH:
        if p + 2 > end:
            raise DissectError("ipv6", p, "truncated extension header", "ext")
        ln = _ext_len(nh, data[p + 1])
        if p + ln > end:
            raise DissectError(
                "ipv6", p, f"extension header {nh} of {ln} bytes overruns the packet", "ext.len"
            )
        nh = data[p]
        p += ln
    return nh, p


def ntop(addr: bytes) -> str:
    """Text form of a 4- or 16-byte address."""
    return _ntop4(addr) if len(addr) == 4 else _ntop6(addr)
