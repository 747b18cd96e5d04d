"""Link layers of a capture: Ethernet (802.1Q, QinQ), Linux cooked v1/v2, raw IP, BSD null/loop.

Two ways in: :func:`parse` returns the full header as dataclasses (detail views, tests) and
:func:`build` turns them back into bytes; :func:`network_offset` is the hot path used for
every frame and only answers "where does IPv4/IPv6 start", without allocating.

Sources: tcpdump.org link-layer header types (LINKTYPE_*), IEEE 802.1Q for the tag format,
the Linux cooked-capture pages (SLL, SLL2) and the DLT_NULL / DLT_LOOP description.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from mikeyshark.dissectors.buffer import Reader, Writer
from mikeyshark.dissectors.consts import Const, ValueTable
from mikeyshark.dissectors.errors import DissectError

_LT = "tcpdump.org/linktypes.html"

LINKTYPE = ValueTable(
    "linktype",
    [
        Const(0, "NULL", _LT),
        Const(1, "ETHERNET", _LT),
        Const(12, "RAW (DLT_RAW 12)", _LT + " (DLT_RAW on most BSDs)"),
        Const(14, "RAW (DLT_RAW 14)", _LT + " (DLT_RAW on OpenBSD)"),
        Const(101, "RAW", _LT),
        Const(108, "LOOP", _LT),
        Const(113, "LINUX_SLL", _LT),
        Const(228, "IPV4", _LT),
        Const(229, "IPV6", _LT),
        Const(276, "LINUX_SLL2", _LT),
    ],
)
LINKTYPE_NULL = LINKTYPE["NULL"]
LINKTYPE_ETHERNET = LINKTYPE["ETHERNET"]
LINKTYPE_RAW = LINKTYPE["RAW"]
LINKTYPE_LOOP = LINKTYPE["LOOP"]
LINKTYPE_LINUX_SLL = LINKTYPE["LINUX_SLL"]
LINKTYPE_IPV4 = LINKTYPE["IPV4"]
LINKTYPE_IPV6 = LINKTYPE["IPV6"]
LINKTYPE_LINUX_SLL2 = LINKTYPE["LINUX_SLL2"]
_RAW_TYPES = frozenset({12, 14, LINKTYPE_RAW})
SUPPORTED_LINKTYPES = frozenset(c.value for c in LINKTYPE)

_IEEE = "IEEE Registration Authority, EtherType registry"
ETHERTYPE = ValueTable(
    "ethertype",
    [
        Const(0x0800, "IPv4", _IEEE),
        Const(0x0806, "ARP", _IEEE),
        Const(0x8100, "802.1Q", "IEEE 802.1Q"),
        Const(0x86DD, "IPv6", _IEEE),
        Const(0x88A8, "802.1ad", "IEEE 802.1ad (QinQ service tag)"),
        Const(0x9100, "QinQ (legacy)", "pre-standard QinQ tag, as Wireshark"),
    ],
)
ETH_IPV4 = ETHERTYPE["IPv4"]
ETH_IPV6 = ETHERTYPE["IPv6"]
VLAN_TPIDS = frozenset({0x8100, 0x88A8, 0x9100})

_BSD = "tcpdump.org/linktypes.html (LINKTYPE_NULL)"
# The AF_INET6 value differs per operating system; all of these appear in real captures.
NULL_FAMILY = ValueTable(
    "null.family",
    [
        Const(2, "AF_INET", _BSD),
        Const(10, "AF_INET6 (Linux)", _BSD),
        Const(24, "AF_INET6 (NetBSD, OpenBSD, BSD/OS)", _BSD),
        Const(28, "AF_INET6 (FreeBSD, DragonFly BSD)", _BSD),
        Const(30, "AF_INET6 (Darwin)", _BSD),
    ],
)
_AF_INET6 = frozenset({10, 24, 28, 30})

SLL_PACKET_TYPE = ValueTable(
    "sll.pkttype",
    [
        Const(0, "unicast to us", "Linux packet(7) PACKET_HOST"),
        Const(1, "broadcast", "Linux packet(7) PACKET_BROADCAST"),
        Const(2, "multicast", "Linux packet(7) PACKET_MULTICAST"),
        Const(3, "unicast to another host", "Linux packet(7) PACKET_OTHERHOST"),
        Const(4, "sent by us", "Linux packet(7) PACKET_OUTGOING"),
    ],
)

# network kinds returned by network_offset / LinkFrame.network
NET_OTHER = 0
NET_IPV4 = 4
NET_IPV6 = 6

_U16 = struct.Struct("!H")
_U32LE = struct.Struct("<I")
_U32BE = struct.Struct("!I")


@dataclass(frozen=True, slots=True)
class VlanTag:
    tpid: int
    pcp: int
    dei: int
    vid: int


@dataclass(frozen=True, slots=True)
class Ethernet:
    dst: bytes
    src: bytes
    tags: tuple[VlanTag, ...]
    ethertype: int  # below 0x0600 an 802.3 length, not a type


@dataclass(frozen=True, slots=True)
class LinuxSll:
    packet_type: int
    arphrd_type: int
    addr_len: int
    addr: bytes  # always the 8 bytes of the field; addr_len says how many are meaningful
    protocol: int


@dataclass(frozen=True, slots=True)
class LinuxSll2:
    protocol: int
    reserved: int
    ifindex: int
    arphrd_type: int
    packet_type: int
    addr_len: int
    addr: bytes  # 8 bytes, as in LinuxSll


@dataclass(frozen=True, slots=True)
class NullLoopback:
    family: int
    big_endian: bool  # DLT_NULL is in the capturing host's byte order; DLT_LOOP is always big


@dataclass(frozen=True, slots=True)
class RawIp:
    """Raw IP link types have no header; the version nibble says which IP."""


LinkHeader = Ethernet | LinuxSll | LinuxSll2 | NullLoopback | RawIp


@dataclass(frozen=True, slots=True)
class LinkFrame:
    linktype: int
    header: LinkHeader
    network: int  # NET_IPV4 / NET_IPV6 / NET_OTHER
    offset: int  # where the network layer starts in the frame


def _ethertype_net(t: int) -> int:
    if t == ETH_IPV4:
        return NET_IPV4
    if t == ETH_IPV6:
        return NET_IPV6
    return NET_OTHER


def _raw_net(data: bytes, off: int) -> int:
    if off >= len(data):
        raise DissectError("ip", off, "no bytes for the IP version", "version")
    v = data[off] >> 4
    return NET_IPV4 if v == 4 else NET_IPV6 if v == 6 else NET_OTHER


def _null_net(family: int) -> int:
    if family == 2:
        return NET_IPV4
    if family in _AF_INET6:
        return NET_IPV6
    return NET_OTHER


def parse(linktype: int, data: bytes) -> LinkFrame:
    """The link header of a frame of ``linktype``; raises DissectError when it is short."""
    if linktype == LINKTYPE_ETHERNET:
        r = Reader(data, "eth")
        dst = r.take(6, "dst")
        src = r.take(6, "src")
        t = r.u16("type")
        tags: list[VlanTag] = []
        while t in VLAN_TPIDS:
            tci = r.u16("vlan.tci")
            tags.append(VlanTag(t, tci >> 13, (tci >> 12) & 1, tci & 0x0FFF))
            t = r.u16("vlan.type")
        return LinkFrame(linktype, Ethernet(dst, src, tuple(tags), t), _ethertype_net(t), r.pos)
    if linktype == LINKTYPE_LINUX_SLL:
        r = Reader(data, "sll")
        h1 = LinuxSll(
            r.u16("pkttype"), r.u16("hatype"), r.u16("halen"), r.take(8, "addr"), r.u16("protocol")
        )
        return LinkFrame(linktype, h1, _ethertype_net(h1.protocol), r.pos)
    if linktype == LINKTYPE_LINUX_SLL2:
        r = Reader(data, "sll2")
        h2 = LinuxSll2(
            r.u16("protocol"),
            r.u16("reserved"),
            r.u32("ifindex"),
            r.u16("hatype"),
            r.u8("pkttype"),
            r.u8("halen"),
            r.take(8, "addr"),
        )
        return LinkFrame(linktype, h2, _ethertype_net(h2.protocol), r.pos)
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(data) < 4:
            raise DissectError("null", 0, f"needs 4 bytes, {len(data)} left", "family")
        if linktype == LINKTYPE_LOOP:
            fam, big = _U32BE.unpack_from(data, 0)[0], True
        else:
            fam, big = _null_family(data)
        return LinkFrame(linktype, NullLoopback(fam, big), _null_net(fam), 4)
    if linktype in _RAW_TYPES:
        return LinkFrame(linktype, RawIp(), _raw_net(data, 0), 0)
    if linktype == LINKTYPE_IPV4:
        return LinkFrame(linktype, RawIp(), NET_IPV4, 0)
    if linktype == LINKTYPE_IPV6:
        return LinkFrame(linktype, RawIp(), NET_IPV6, 0)
    raise DissectError("link", 0, f"unsupported link type {LINKTYPE.label(linktype)}", "linktype")


def _null_family(data: bytes) -> tuple[int, bool]:
    # The writer's byte order is unknown; a family value is small, so the order in which the
    # value fits in the low 16 bits is the right one (Wireshark decides the same way).
    le = _U32LE.unpack_from(data, 0)[0]
    if le & 0xFFFF0000:
        return _U32BE.unpack_from(data, 0)[0], True
    return le, False


def build(header: LinkHeader) -> bytes:
    """The bytes of a link header; the network layer is appended by the caller."""
    w = Writer()
    if isinstance(header, Ethernet):
        w.raw(_fixed(header.dst, 6, "dst")).raw(_fixed(header.src, 6, "src"))
        for tag in header.tags:
            w.u16(tag.tpid).u16((tag.pcp << 13) | (tag.dei << 12) | tag.vid)
        w.u16(header.ethertype)
    elif isinstance(header, LinuxSll):
        w.u16(header.packet_type).u16(header.arphrd_type).u16(header.addr_len)
        w.raw(_fixed(header.addr, 8, "addr")).u16(header.protocol)
    elif isinstance(header, LinuxSll2):
        w.u16(header.protocol).u16(header.reserved).u32(header.ifindex)
        w.u16(header.arphrd_type).u8(header.packet_type).u8(header.addr_len)
        w.raw(_fixed(header.addr, 8, "addr"))
    elif isinstance(header, NullLoopback):
        w.raw(header.family.to_bytes(4, "big" if header.big_endian else "little"))
    return w.getvalue()


def _fixed(b: bytes, n: int, field: str) -> bytes:
    if len(b) != n:
        raise ValueError(f"{field} must be {n} bytes, not {len(b)}")
    return b


def network_offset(linktype: int, data: bytes) -> tuple[int, int]:
    """(NET_IPV4 / NET_IPV6 / NET_OTHER, offset of the network layer) of a frame, quickly.

    Raises DissectError when the frame is too short for its link header.
    """
    n = len(data)
    if linktype == LINKTYPE_ETHERNET:
        if n < 14:
            raise DissectError("eth", 0, f"frame of {n} bytes is shorter than 14", "type")
        t = (data[12] << 8) | data[13]
        off = 14
        while t in VLAN_TPIDS:
            if n < off + 4:
                raise DissectError("eth", off, "truncated VLAN tag", "vlan.type")
            t = (data[off + 2] << 8) | data[off + 3]
            off += 4
        if t == ETH_IPV4:
            return NET_IPV4, off
        if t == ETH_IPV6:
            return NET_IPV6, off
        return NET_OTHER, off
    if linktype == LINKTYPE_LINUX_SLL:
        if n < 16:
            raise DissectError("sll", 0, f"frame of {n} bytes is shorter than 16", "protocol")
        return _ethertype_net((data[14] << 8) | data[15]), 16
    if linktype == LINKTYPE_LINUX_SLL2:
        if n < 20:
            raise DissectError("sll2", 0, f"frame of {n} bytes is shorter than 20", "protocol")
        return _ethertype_net((data[0] << 8) | data[1]), 20
    if linktype in _RAW_TYPES:
        return _raw_net(data, 0), 0
    if linktype == LINKTYPE_IPV4:
        return NET_IPV4, 0
    if linktype == LINKTYPE_IPV6:
        return NET_IPV6, 0
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if n < 4:
            raise DissectError("null", 0, f"frame of {n} bytes is shorter than 4", "family")
        fam = _U32BE.unpack_from(data, 0)[0] if linktype == LINKTYPE_LOOP else _null_family(data)[0]
        return _null_net(fam), 4
    return NET_OTHER, 0
