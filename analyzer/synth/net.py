"""Frames on a wire: Ethernet/IPv4 or IPv6, UDP datagrams and TCP connections that behave.

The synthesizer describes a call as "A sends these bytes to B at time t"; this module turns
that into the frames a capture on the path would hold: a TCP three-way handshake with MSS and
window-scale options, data split at the MSS, the peer's ACKs, FIN exchange at the end, IP IDs
counting per host, and timestamps that advance by plausible amounts. Every random choice comes
from the caller's ``random.Random`` so that one seed gives one capture, byte for byte.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import EDecimal, PcapNgWriter, PcapWriter

from mikeyshark.dissectors.link import LINKTYPE_ETHERNET
from mikeyshark.model import Endpoint, Frame

EPHEMERAL_PORTS = (49152, 65535)  # RFC 6335 dynamic range, what Linux and Windows draw from
_MS = 1_000_000


@dataclass(slots=True)
class Host:
    """One network node. The MAC is derived from the address so it is stable across seeds."""

    name: str
    ip: str
    ip_id: int = 0
    ports_in_use: set[int] = field(default_factory=set)

    @property
    def mac(self) -> str:
        # Locally administered unicast (02:00:...), the low four bytes of the address.
        low = ipaddress.ip_address(self.ip).packed[-4:]
        return "02:00:" + ":".join(f"{b:02x}" for b in low)

    @property
    def ipv6(self) -> bool:
        return ":" in self.ip


class Cursor:
    """A clock that one actor (a call, a connection) advances; frames are sorted at the end."""

    __slots__ = ("now_ns", "rng")

    def __init__(self, rng: random.Random, now_ns: int) -> None:
        self.rng = rng
        self.now_ns = now_ns

    def wait(self, lo_ms: float, hi_ms: float) -> int:
        """Advance by a uniform delay in [lo_ms, hi_ms] (microsecond grain); return the new time."""
        self.now_ns += int(self.rng.uniform(lo_ms, hi_ms) * 1000) * 1000
        return self.now_ns

    def fork(self) -> Cursor:
        return Cursor(self.rng, self.now_ns)


class Network:
    """Collects frames from every actor; ``frames()`` returns them in capture order."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._frames: list[tuple[int, int, bytes]] = []  # (ts_ns, insertion order, bytes)

    def host(self, name: str, ip: str) -> Host:
        return Host(name, ip, ip_id=self.rng.randrange(1, 0xFFFF))

    def view(self, rng: random.Random) -> Network:
        """The same wire with another random source: a leg that only some captures hold (the
        Mp and KMS legs at the MRF) draws from its own, so that adding it changes nothing
        else of the capture."""
        other = Network(rng)
        other._frames = self._frames
        return other

    def ephemeral_port(self, host: Host) -> int:
        while True:
            port = self.rng.randint(*EPHEMERAL_PORTS)
            if port not in host.ports_in_use:
                host.ports_in_use.add(port)
                return port

    def _ip(self, src: Host, dst: Host) -> Packet:
        if src.ipv6 != dst.ipv6:
            raise ValueError(f"{src.name} and {dst.name} are of different IP versions")
        eth = Ether(src=src.mac, dst=dst.mac)
        if src.ipv6:
            return eth / IPv6(src=src.ip, dst=dst.ip, hlim=64)
        src.ip_id = (src.ip_id + 1) & 0xFFFF
        return eth / IP(src=src.ip, dst=dst.ip, id=src.ip_id, flags="DF", ttl=64)

    def emit(self, ts_ns: int, packet: Packet) -> None:
        self._frames.append((ts_ns, len(self._frames), bytes(packet)))

    def udp(
        self, cursor: Cursor, src: Host, sport: int, dst: Host, dport: int, payload: bytes
    ) -> None:
        self.emit(
            cursor.now_ns,
            self._ip(src, dst) / UDP(sport=sport, dport=dport) / Raw(payload),
        )

    def frames(self) -> list[Frame]:
        ordered = sorted(self._frames)
        return [
            Frame(n, ts, LINKTYPE_ETHERNET, data, len(data))
            for n, (ts, _, data) in enumerate(ordered, start=1)
        ]


@dataclass(slots=True)
class _Side:
    host: Host
    port: int
    seq: int  # next sequence number this side sends
    acked: int = 0  # highest sequence number of the peer this side has acknowledged


class TcpConnection:
    """One TCP connection between ``client`` (sends the SYN) and ``server``.

    Each call to :meth:`send` is one application write: it is cut at the MSS, and the last
    segment carries PSH. The peer acknowledges the write after a short delay unless the caller
    says the peer answers right away (then the answer's segments carry the ACK).
    """

    def __init__(
        self,
        net: Network,
        cursor: Cursor,
        client: Host,
        client_port: int,
        server: Host,
        server_port: int,
    ) -> None:
        self.net = net
        self.cursor = cursor
        self.mss = 1440 if client.ipv6 else 1460
        self.c = _Side(client, client_port, net.rng.getrandbits(32))
        self.s = _Side(server, server_port, net.rng.getrandbits(32))
        self.open = False

    @property
    def client(self) -> Endpoint:
        return Endpoint(self.c.host.ip, self.c.port)

    @property
    def server(self) -> Endpoint:
        return Endpoint(self.s.host.ip, self.s.port)

    def _segment(
        self,
        src: _Side,
        dst: _Side,
        flags: str,
        payload: bytes = b"",
        *,
        window: int = 502,
        options: list[tuple[str, object]] | None = None,
    ) -> None:
        tcp = TCP(
            sport=src.port,
            dport=dst.port,
            seq=src.seq & 0xFFFFFFFF,
            ack=(dst.seq & 0xFFFFFFFF) if "A" in flags else 0,
            flags=flags,
            window=window,
            options=options or [],
        )
        pkt = self.net._ip(src.host, dst.host) / tcp
        if payload:
            pkt = pkt / Raw(payload)
        self.net.emit(self.cursor.now_ns, pkt)
        if "A" in flags:
            src.acked = dst.seq
        src.seq += len(payload) + (1 if ("S" in flags or "F" in flags) else 0)

    def connect(self, rtt_ms: tuple[float, float] = (8.0, 30.0)) -> None:
        """SYN, SYN-ACK, ACK: the client's options as Linux sends them, the server's reply."""
        syn_opts = [("MSS", self.mss), ("SAckOK", b""), ("NOP", None), ("WScale", 7)]
        self._segment(self.c, self.s, "S", window=64240, options=syn_opts)
        self.cursor.wait(*rtt_ms)
        self._segment(self.s, self.c, "SA", window=65160, options=syn_opts)
        self.cursor.wait(0.05, 0.3)
        self._segment(self.c, self.s, "A")
        self.open = True

    def send(
        self,
        from_client: bool,
        data: bytes,
        *,
        peer_answers: bool = False,
        rtt_ms: tuple[float, float] = (8.0, 30.0),
    ) -> None:
        """One write of ``data``; then the peer's ACK after half an RTT unless it answers."""
        if not self.open:
            raise RuntimeError("send on a TCP connection that is not open")
        src, dst = (self.c, self.s) if from_client else (self.s, self.c)
        for i in range(0, len(data), self.mss):
            last = i + self.mss >= len(data)
            self._segment(src, dst, "PA" if last else "A", data[i : i + self.mss])
            if not last:
                self.cursor.wait(0.01, 0.05)
        self.cursor.wait(rtt_ms[0] / 2, rtt_ms[1] / 2)
        if not peer_answers:
            self._segment(dst, src, "A")
            self.cursor.wait(0.05, 2.0)

    def close(self, from_client: bool, rtt_ms: tuple[float, float] = (8.0, 30.0)) -> None:
        """FIN from one side, the other's FIN-ACK, the final ACK."""
        src, dst = (self.c, self.s) if from_client else (self.s, self.c)
        self._segment(src, dst, "FA")
        self.cursor.wait(rtt_ms[0] / 2, rtt_ms[1] / 2)
        self._segment(dst, src, "FA")
        self.cursor.wait(rtt_ms[0] / 2, rtt_ms[1] / 2)
        self._segment(src, dst, "A")
        self.open = False


def write_frames(frames: Iterable[Frame], path: str | Path) -> None:
    """pcapng when the name ends in ``.pcapng``, else classic pcap with nanosecond stamps."""
    path = Path(path)
    writer: PcapNgWriter | PcapWriter
    if path.suffix.lower() == ".pcapng":
        writer = PcapNgWriter(str(path))
    else:
        writer = PcapWriter(str(path), linktype=LINKTYPE_ETHERNET, nano=True, sync=False)
    try:
        for frame in frames:
            pkt = Ether(frame.data)
            pkt.time = EDecimal(frame.ts_ns) / EDecimal(1_000_000_000)
            writer.write(pkt)
    finally:
        writer.close()
