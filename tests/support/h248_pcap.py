"""Pcaps of H.248 messages for tshark: UDP 2944, TCP 2944 with TPKT (one segment per
message, after a handshake), SCTP 2944 with payload protocol identifier 7, UDP 2945 (binary).
Ethernet/IPv4 framing by scapy; TPKT and SCTP by the codecs under test."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

from mikeyshark.dissectors import transport
from mikeyshark.dissectors.h248 import SCTP_PPID
from mikeyshark.dissectors.h248.framing import build_tpkt

MRFC_IP = "198.51.100.1"
MRFP_IP = "198.51.100.2"


def _ip(src: str, dst: str) -> Packet:
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst=dst)


def write_udp(path: Path, payloads: list[bytes], port: int = 2944) -> None:
    pkts = [_ip(MRFC_IP, MRFP_IP) / UDP(sport=port, dport=port) / Raw(p) for p in payloads]
    wrpcap(str(path), pkts)


def write_tcp(path: Path, payloads: list[bytes]) -> None:
    """The MRFP opens 2944 -> 2944 (docs/mp-profile.md); every message is one segment."""
    c, s = MRFP_IP, MRFC_IP
    seq, ack = 1000, 5000
    pkts = [
        _ip(c, s) / TCP(sport=2944, dport=2944, flags="S", seq=seq - 1),
        _ip(s, c) / TCP(sport=2944, dport=2944, flags="SA", seq=ack - 1, ack=seq),
        _ip(c, s) / TCP(sport=2944, dport=2944, flags="A", seq=seq, ack=ack),
    ]
    for p in payloads:
        framed = build_tpkt(p)
        pkts.append(
            _ip(c, s) / TCP(sport=2944, dport=2944, flags="PA", seq=seq, ack=ack) / Raw(framed)
        )
        seq += len(framed)
    wrpcap(str(path), pkts)


def write_sctp(path: Path, payloads: list[bytes]) -> None:
    pkts: list[Packet] = []
    for i, p in enumerate(payloads):
        chunk = transport.build_sctp_data(transport.SctpData(100 + i, 0, i, SCTP_PPID, p))
        raw = transport.sctp_packet(2944, 2944, 0x5CAB1E, (chunk,))
        pkts.append(_ip(MRFC_IP, MRFP_IP) / Raw(raw))
        pkts[-1][IP].proto = 132
    wrpcap(str(path), pkts)
