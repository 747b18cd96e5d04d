"""GTP-U (TS 29.281): the codec against scapy's, and a call tunnelled on N3 judged like
the same call in plain IP."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer
from scapy.layers.inet import IP, UDP
from scapy.packet import Raw

from mikeyshark.calls import SipFlowHandler
from mikeyshark.dissectors import gtp
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.flows import FlowTable, NullHandler, TcpConnection
from mikeyshark.model import Frame
from mikeyshark.synth import synthesize
from tests.support.analyze import analyze_frames, statuses
from tests.support.tunnels import (
    DL_TEID,
    GNB,
    QFI,
    UES,
    UL_TEID,
    UPF,
    gtp_fast,
    gtp_frame,
    many_ues,
    tunnelled,
    ue_side,
)


def test_codec_against_scapy() -> None:
    inner = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5060, dport=5060) / b"x")
    raw = bytes(
        GTP_U_Header(teid=0xDEADBEEF, E=1, S=1, seq=77, next_ex=0x85)
        / GTPPDUSessionContainer(type=0, QFI=9)
        / Raw(inner)
    )
    p = gtp.parse(raw)
    h = p.header
    assert (h.version, h.message_type, h.teid, h.sequence) == (1, 255, 0xDEADBEEF, 77)
    assert h.length == len(raw) - 8
    assert len(h.extensions) == 1 and h.extensions[0].ext_type == 0x85
    assert h.qfi == 9
    assert p.payload == inner
    assert gtp.build(p) == raw
    assert gtp.parse(gtp.build(p)) == p
    teid, mt, qfi, start, end = gtp.decode_gtpu(raw, 0, len(raw))
    assert (teid, mt, qfi, raw[start:end]) == (0xDEADBEEF, 255, 9, inner)
    plain = bytes(GTP_U_Header(teid=7) / Raw(inner))
    assert gtp.decode_gtpu(plain, 0, len(plain))[2:] == (-1, 8, len(plain))


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"\x30\xff\x00\x10\x00\x00\x00\x01abc", "length"),  # length lies
        (b"\x50\xff\x00\x00\x00\x00\x00\x01", "version"),  # GTPv2 is not user plane
        (b"\x34\xff\x00\x06\x00\x00\x00\x01\x00\x00\x00\x85\x00\x00", "ext_length"),
        (b"\x34\xff\x00\x06\x00\x00\x00\x01\x00\x00\x00\x85\x02\x00", "ext_length"),
    ],
)
def test_malformed_header_is_located(raw: bytes, field: str) -> None:
    with pytest.raises(DissectError) as e:
        gtp.decode_gtpu(raw, 0, len(raw))
    assert e.value.layer == "gtp" and e.value.field == field
    with pytest.raises(DissectError):
        gtp.parse(raw)


def test_n3_call_is_judged_like_the_plain_call(tmp_path: Path) -> None:
    r = synthesize("msrp-dial-in", seed=3)
    plain = analyze_frames(r.frames, r.keyfile_text, tmp_path / "plain.pcap")
    tun = analyze_frames(tunnelled(r.frames), r.keyfile_text, tmp_path / "n3.pcap")
    assert [c.verdict for c in plain.calls] == ["pass"]
    assert statuses(tun) == statuses(plain)
    assert [c.verdict for c in tun.calls] == ["pass"]


def test_outer_ipv6_and_dial_out_bfcp(tmp_path: Path) -> None:
    r = synthesize("bfcp-dial-out", seed=4)
    plain = analyze_frames(r.frames, r.keyfile_text, tmp_path / "plain.pcap")
    frames = tunnelled(r.frames, gnb="2001:db8::1", upf="2001:db8::2")
    tun = analyze_frames(frames, r.keyfile_text, tmp_path / "n3v6.pcap")
    assert statuses(tun) == statuses(plain)
    assert {c.verdict for c in tun.calls} == {"pass"}


class _Conns(NullHandler):
    def __init__(self) -> None:
        self.conns: list[TcpConnection] = []

    def on_tcp_open(self, conn: TcpConnection) -> None:
        self.conns.append(conn)


def test_tunnel_context_and_zones() -> None:
    r = synthesize("msrp-dial-in", seed=3)
    h = _Conns()
    table = FlowTable(h)
    table.feed_all(tunnelled(r.frames))
    assert h.conns, "the inner TCP connection was reassembled"
    t = h.conns[0].tunnel
    assert t is not None
    assert {t.outer_src, t.outer_dst} == {GNB, UPF}
    assert t.teid in (UL_TEID, DL_TEID) and t.qfi == QFI
    assert table.stats.gtpu == len(r.frames)
    assert table.stats.tcp > 0
    assert table.stats.connections == len(h.conns)
    assert table.tunnel_zones == 0  # released at the end


class _Peaks(SipFlowHandler):
    def __init__(self, table_ref: list[FlowTable]) -> None:
        super().__init__()
        self.ref = table_ref
        self.peak_zones = 0
        self.peak_tracked = 0

    def on_tcp_open(self, conn: TcpConnection) -> None:  # type: ignore[override]
        super().on_tcp_open(conn)
        t = self.ref[0]
        self.peak_zones = max(self.peak_zones, t.tunnel_zones)
        self.peak_tracked = max(self.peak_tracked, t.tracked_connections)


def _run(frames: list[Frame]) -> _Peaks:
    ref: list[FlowTable] = []
    h = _Peaks(ref)
    table = FlowTable(h, linger=1.0, idle_timeout=5.0)
    ref.append(table)
    table.feed_all(frames)
    return h


def test_fast_builder_matches_scapy() -> None:
    f = synthesize("msrp-dial-in", seed=6).frames[0]
    up = ue_side(f.data[14:], UES)
    mine = gtp.parse(gtp_fast(f, up, socket.inet_aton(GNB)).data[42:])
    theirs = gtp.parse(gtp_frame(f, uplink=up).data[42:])
    assert mine.payload == theirs.payload == f.data[14:]
    assert (mine.header.teid, mine.header.qfi) == (theirs.header.teid, theirs.header.qfi)
    assert mine.header.extensions == theirs.header.extensions


def test_200_tunnelled_ues_state_bounded_by_open_calls() -> None:
    h_few = _run(many_ues(50))
    h_many = _run(many_ues(200))
    assert len(h_many.tracker.calls) == 200
    assert len(h_few.tracker.calls) == 50
    # state held by the flow layer follows the calls that overlap, not the capture
    assert h_many.peak_zones == h_few.peak_zones <= 4
    assert h_many.peak_tracked == h_few.peak_tracked <= 8
