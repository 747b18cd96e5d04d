"""Flow-table helpers: a handler that records what the flow table reports, and pcap files of
scapy-built frames run through it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether as _Ether
from scapy.packet import Packet, Raw

from mikeyshark.capture import CaptureReader
from mikeyshark.flows import FlowTable, TcpConnection
from mikeyshark.model import Endpoint, Frame, Problem, StreamChunk
from tests.support.pcapfiles import T0, pcap


@dataclass
class Rec:
    opened: list[TcpConnection] = field(default_factory=list)
    closed: list[TcpConnection] = field(default_factory=list)
    chunks: list[tuple[int, bool, StreamChunk]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    udp: list[tuple[int, Endpoint, Endpoint, bytes]] = field(default_factory=list)

    def on_udp(self, frame: Frame, src: Endpoint, dst: Endpoint, payload: bytes) -> None:
        self.udp.append((frame.number, src, dst, payload))

    def on_tcp_open(self, conn: TcpConnection) -> None:
        self.opened.append(conn)

    def on_tcp_data(self, conn: TcpConnection, from_client: bool, chunk: StreamChunk) -> None:
        self.chunks.append((conn.index, from_client, chunk))

    def on_tcp_close(self, conn: TcpConnection) -> None:
        self.closed.append(conn)

    def on_problem(self, problem: Problem) -> None:
        self.problems.append(problem)

    def stream(self, index: int, from_client: bool) -> bytes:
        return b"".join(c.data for i, fc, c in self.chunks if i == index and fc == from_client)

    def spans(self, from_client: bool = True) -> list[tuple[int, int, int, int]]:
        """(frame, offset, length, gap) of one direction's chunks."""
        return [
            (c.frame, c.offset, len(c.data), c.gap) for _, fc, c in self.chunks if fc == from_client
        ]


def run(path: Path, **kw: float) -> tuple[Rec, FlowTable]:
    rec = Rec()
    table = FlowTable(rec, file=str(path), **kw)  # type: ignore[arg-type]
    reader = CaptureReader(path)
    table.feed_all(reader)
    assert reader.problems == []
    return rec, table


def write(path: Path, linktype: int, frames: Sequence[bytes | Packet]) -> Path:
    path.write_bytes(pcap([(T0 + i, 0, bytes(f)) for i, f in enumerate(frames)], linktype=linktype))
    return path


def Ether(**kw: Any) -> Packet:
    # explicit addresses: scapy would otherwise resolve them through the host's routes
    return _Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", **kw)


def sip_udp(i: int, v6: bool = False) -> Packet:
    if v6:
        return (
            IPv6(src="2001:db8::1", dst="2001:db8::2")
            / UDP(sport=5060, dport=5060)
            / Raw(b"OPTIONS %d" % i)
        )
    return (
        IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=5060, dport=5060) / Raw(b"OPTIONS %d" % i)
    )
