"""Turn a synthesized plain-IP call into the same call as a mobile-network probe sees it:
inside GTP-U on N3 (scapy builds the tunnel headers) or with its SIP inside ESP-NULL."""

from __future__ import annotations

import ipaddress

from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from mikeyshark.dissectors import esp as esplib
from mikeyshark.model import Frame

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
