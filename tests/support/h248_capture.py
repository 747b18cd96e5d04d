"""Megaco payloads of a capture, read with the project's own capture reader and the
link/IP/UDP codecs (no tshark), for the H.248 tests."""

from __future__ import annotations

from pathlib import Path

from mikeyshark.capture import read_all
from mikeyshark.dissectors import link
from mikeyshark.dissectors.ip import PROTO_UDP, parse_ipv4
from mikeyshark.dissectors.transport import parse_udp
from tests.support.paths import VECTORS

HEPLIFY = VECTORS / "megaco" / "megaco-heplify.pcap"


def udp_payloads(path: Path, port: int = 2944) -> list[tuple[int, bytes]]:
    """(frame number, UDP payload) of every IPv4 UDP frame to or from ``port``."""
    frames, problems = read_all([str(path)])
    assert not problems, problems
    out: list[tuple[int, bytes]] = []
    for f in frames:
        lf = link.parse(f.linktype, f.data)
        if lf.network != link.NET_IPV4:
            continue
        ip = parse_ipv4(f.data[lf.offset :])
        if ip.header.protocol != PROTO_UDP:
            continue
        udp = parse_udp(ip.payload)
        if port in (udp.header.src_port, udp.header.dst_port):
            out.append((f.number, udp.payload))
    return out
