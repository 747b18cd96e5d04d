"""Turn a synthesized plain-IP call into the same call as a mobile-network probe sees it:
inside GTP-U on N3 (scapy builds the tunnel headers) or with its SIP inside ESP-NULL."""

from __future__ import annotations

import ipaddress
import socket
import struct

from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from mikeyshark.dissectors import esp
from mikeyshark.dissectors import esp as esplib
from mikeyshark.dissectors.ip import internet_checksum
from mikeyshark.model import Frame
from mikeyshark.synth import synthesize
from mikeyshark.synth.scenarios import UE_IPS

GNB = "203.0.113.1"
UPF = "203.0.113.2"
UL_TEID = 0x00001000
DL_TEID = 0x00002000
QFI = 5


def ue_side(inner: bytes, ue_ips: frozenset[str]) -> bool:
    """Whether the inner packet comes from a UE (uplink)."""
    if inner[0] >> 4 == 4:
        src = str(ipaddress.IPv4Address(inner[12:16]))
    else:
        src = str(ipaddress.IPv6Address(inner[8:24]))
    return src in ue_ips


def gtp_frame(
    f: Frame,
    *,
    uplink: bool,
    gnb: str = GNB,
    upf: str = UPF,
    ul_teid: int = UL_TEID,
    dl_teid: int = DL_TEID,
) -> Frame:
    """``f`` (Ethernet) tunnelled on N3: GTP-U with a PDU Session Container (UL or DL)."""
    inner = f.data[14:]
    src, dst = (gnb, upf) if uplink else (upf, gnb)
    outer = IPv6(src=src, dst=dst) if ":" in gnb else IP(src=src, dst=dst)
    pkt = (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / outer
        / UDP(sport=2152, dport=2152)
        / GTP_U_Header(teid=ul_teid if uplink else dl_teid, E=1, S=1, seq=f.number, next_ex=0x85)
        / GTPPDUSessionContainer(type=1 if uplink else 0, QFI=QFI)
        / Raw(inner)
    )
    data = bytes(pkt)
    return Frame(f.number, f.ts_ns, 1, data, len(data))


def esp_frame(f: Frame, sa: esplib.EspSa, seq: int, iv: bytes = b"") -> Frame:
    """``f`` with its transport (UDP/TCP) carried in ESP transport mode with ``sa``."""
    pkt = Ether(f.data)
    ip = pkt.payload
    inner = ip.payload
    nh = 17 if isinstance(inner, UDP) else 6
    assert isinstance(inner, UDP | TCP)
    body = esplib.seal_packet(sa, seq, nh, bytes(inner), iv)
    new_ip: IP | IPv6
    if isinstance(ip, IPv6):
        new_ip = IPv6(src=ip.src, dst=ip.dst, hlim=ip.hlim, nh=50)
    else:
        new_ip = IP(src=ip.src, dst=ip.dst, id=ip.id, flags=ip.flags, ttl=ip.ttl, proto=50)
    data = bytes(Ether(src=pkt.src, dst=pkt.dst) / new_ip / Raw(body))
    return Frame(f.number, f.ts_ns, 1, data, len(data))


def sip_ports(f: Frame) -> bool:
    """Whether the Ethernet frame is SIP (UDP or TCP port 5060)."""
    pkt = Ether(f.data)
    t = pkt.getlayer(UDP) or pkt.getlayer(TCP)
    return t is not None and 5060 in (t.sport, t.dport)


UES = frozenset(UE_IPS)


def tunnelled(frames: tuple[Frame, ...] | list[Frame], **kw: object) -> list[Frame]:
    return [gtp_frame(f, uplink=ue_side(f.data[14:], UES), **kw) for f in frames]  # type: ignore[arg-type]


def gtp_fast(g: Frame, uplink: bool, gnb: bytes) -> Frame:
    """What :func:`gtp_frame` builds, by hand (thousands of frames, no scapy per frame)."""
    inner = g.data[14:]
    src, dst = (gnb, _UPF) if uplink else (_UPF, gnb)
    ext = bytes((1, 0x10 if uplink else 0x00, QFI, 0))  # PDU Session Container, 4 octets
    gtp_body = struct.pack("!HBB", 0, 0, 0x85) + ext + inner
    gtp_hdr = struct.pack("!BBHI", 0x34, 255, len(gtp_body), UL_TEID if uplink else DL_TEID)
    udp = struct.pack("!HHHH", 2152, 2152, 8 + len(gtp_hdr) + len(gtp_body), 0)
    total = 20 + len(udp) + len(gtp_hdr) + len(gtp_body)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, 17, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", internet_checksum(hdr)) + hdr[12:]
    data = (
        b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + hdr + udp + gtp_hdr + gtp_body
    )
    return Frame(g.number, g.ts_ns, 1, data, len(data))


_UPF = socket.inet_aton(UPF)


def many_ues(n: int) -> list[Frame]:
    """``n`` UEs, each behind its own gNB, each with its own call (its own Call-ID), the
    calls one after another with a few overlapping: at most a handful are open at once."""
    base = synthesize("msrp-dial-in", seed=6)
    call_id = next(
        line.split(b":", 1)[1].strip()
        for f in base.frames
        for line in f.data.split(b"\r\n")
        if line.lower().startswith(b"call-id:")
    )
    ups = [ue_side(f.data[14:], UES) for f in base.frames]
    span = base.frames[-1].ts_ns - base.frames[0].ts_ns
    frames: list[Frame] = []
    for k in range(n):
        new_id = call_id[:-4] + f"{k:04d}".encode()
        gnb = socket.inet_aton(f"10.{k // 250}.{k % 250}.1")
        shift = k * span // 3  # three calls overlap at most
        for f, up in zip(base.frames, ups, strict=True):
            g = Frame(f.number, f.ts_ns + shift, 1, f.data.replace(call_id, new_id), f.wirelen)
            frames.append(gtp_fast(g, up, gnb))
    frames.sort(key=lambda f: f.ts_ns)
    return [Frame(i, f.ts_ns, 1, f.data, len(f.data)) for i, f in enumerate(frames, 1)]


def tunnelled_for(
    frames: list[Frame] | tuple[Frame, ...], ues: frozenset[str], gnb: str = GNB, upf: str = UPF
) -> list[Frame]:
    return [gtp_frame(f, uplink=ue_side(f.data[14:], ues), gnb=gnb, upf=upf) for f in frames]


SHA1_KEY = bytes(range(20))


MD5_KEY = bytes(range(16))


XCBC_KEY = bytes(range(16))


SHA256_KEY = bytes(range(32))


NULL_SAS = {
    "hmac-sha1-96": esp.EspSa(0x1001, "null", "hmac-sha1-96", b"", SHA1_KEY),
    "hmac-md5-96": esp.EspSa(0x1002, "null", "hmac-md5-96", b"", MD5_KEY),
    "aes-xcbc-mac-96": esp.EspSa(0x1003, "null", "aes-xcbc-mac-96", b"", XCBC_KEY),
    "hmac-sha256-128": esp.EspSa(0x1004, "null", "hmac-sha256-128", b"", SHA256_KEY),
}


def sip_in_esp(frames: tuple[Frame, ...], sa: esp.EspSa, iv: bytes = b"") -> list[Frame]:
    """The SIP frames in ESP with ``sa``, the rest as it was."""
    out = []
    for i, f in enumerate(frames):
        out.append(esp_frame(f, sa, i + 1, iv) if sip_ports(f) else f)
    return out
