"""pcap and pcapng files assembled with struct from the format descriptions
(draft-ietf-opsawg-pcapng), independently of the reader."""

from __future__ import annotations

import struct

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

T0 = 1_700_000_000


def udp_frame(i: int) -> bytes:
    return bytes(
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="192.0.2.1", dst="192.0.2.2")
        / UDP(sport=5060, dport=5060 + i)
        / Raw(b"frame %d" % i)
    )


def raw_ip(i: int) -> bytes:
    return bytes(IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=1, dport=2) / Raw(b"r%d" % i))


def pcap(
    records: list[tuple[int, int, bytes]], *, bo: str = "<", nano: bool = False, linktype: int = 1
) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(bo + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for sec, frac, data in records:
        out += struct.pack(bo + "IIII", sec, frac, len(data), len(data) + 4) + data
    return out


def pad(b: bytes) -> bytes:
    return b + bytes(-len(b) % 4)


def block(btype: int, body: bytes, bo: str = "<") -> bytes:
    body = pad(body)
    n = 12 + len(body)
    return struct.pack(bo + "II", btype, n) + body + struct.pack(bo + "I", n)


def shb(bo: str = "<") -> bytes:
    return block(0x0A0D0D0A, struct.pack(bo + "IHHq", 0x1A2B3C4D, 1, 0, -1), bo)


def idb(linktype: int, bo: str = "<", tsresol: int | None = None, tsoffset: int = 0) -> bytes:
    opts = b""
    if tsresol is not None:
        opts += struct.pack(bo + "HH", 9, 1) + bytes([tsresol, 0, 0, 0])
    if tsoffset:
        opts += struct.pack(bo + "HHq", 14, 8, tsoffset)
    if opts:
        opts += struct.pack(bo + "HH", 0, 0)
    return block(1, struct.pack(bo + "HHI", linktype, 0, 262144) + opts, bo)


def epb(iface: int, ticks: int, data: bytes, bo: str = "<") -> bytes:
    hdr = struct.pack(bo + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data))
    return block(6, hdr + pad(data), bo)


def two_sections() -> tuple[bytes, list[tuple[int, int, int, bytes]]]:
    """Section 1 (little-endian): Ethernet in microseconds and raw IPv4 in nanoseconds.
    Section 2 (big-endian): raw IP with a binary resolution (2^-20 s) and if_tsoffset."""
    f1, f2, f3, f4 = udp_frame(1), raw_ip(2), raw_ip(3), udp_frame(4)
    data = (
        shb("<")
        + idb(1, "<")
        + idb(101, "<", tsresol=9)
        + epb(0, T0 * 10**6 + 123456, f1, "<")
        + epb(1, T0 * 10**9 + 123456789, f2, "<")
        + block(5, struct.pack("<III", 0, 0, 0), "<")  # an ISB: skipped
        + shb(">")
        + idb(228, ">", tsresol=0x80 | 20, tsoffset=100)
        + idb(1, ">", tsresol=3)
        + epb(0, (T0 << 20) + (1 << 19), f3, ">")
        + epb(1, T0 * 1000 + 7, f4, ">")
    )
    expect = [
        (1, T0 * 10**9 + 123456000, 1, f1),
        (2, T0 * 10**9 + 123456789, 101, f2),
        (3, (T0 + 100) * 10**9 + 500_000_000, 228, f3),
        (4, T0 * 10**9 + 7_000_000, 1, f4),
    ]
    return data, expect
