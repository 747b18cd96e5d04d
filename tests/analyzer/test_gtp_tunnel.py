"""GTP-U (TS 29.281): the codec against scapy's, and a call tunnelled on N3 judged like
the same call in plain IP; tshark reads the same inner SIP."""

from __future__ import annotations

import socket
import struct
import subprocess
from pathlib import Path

import pytest
from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer
from scapy.layers.inet import IP, UDP
from scapy.packet import Raw

from mikeyshark.calls import SipFlowHandler
from mikeyshark.capture import CaptureReader
from mikeyshark.dissectors import gtp
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.ip import internet_checksum
from mikeyshark.flows import FlowTable, NullHandler, TcpConnection
from mikeyshark.model import Frame
from mikeyshark.synth import synthesize
from mikeyshark.synth.net import write_frames
from mikeyshark.synth.scenarios import UE_IPS
from tests.support.analyze import analyze_frames, statuses
from tests.support.tunnels import DL_TEID, GNB, QFI, UL_TEID, UPF, gtp_frame, ue_side

UES = frozenset(UE_IPS)


def _tunnelled(frames: tuple[Frame, ...] | list[Frame], **kw: object) -> list[Frame]:
    return [gtp_frame(f, uplink=ue_side(f.data[14:], UES), **kw) for f in frames]  # type: ignore[arg-type]


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
    tun = analyze_frames(_tunnelled(r.frames), r.keyfile_text, tmp_path / "n3.pcap")
    assert [c.verdict for c in plain.calls] == ["pass"]
    assert statuses(tun) == statuses(plain)
    assert [c.verdict for c in tun.calls] == ["pass"]


def test_outer_ipv6_and_dial_out_bfcp(tmp_path: Path) -> None:
    r = synthesize("bfcp-dial-out", seed=4)
    plain = analyze_frames(r.frames, r.keyfile_text, tmp_path / "plain.pcap")
    frames = _tunnelled(r.frames, gnb="2001:db8::1", upf="2001:db8::2")
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
    table.feed_all(_tunnelled(r.frames))
    assert h.conns, "the inner TCP connection was reassembled"
    t = h.conns[0].tunnel
    assert t is not None
    assert {t.outer_src, t.outer_dst} == {GNB, UPF}
    assert t.teid in (UL_TEID, DL_TEID) and t.qfi == QFI
    assert table.stats.gtpu == len(r.frames)
    assert table.stats.tcp > 0
    assert table.stats.connections == len(h.conns)
    assert table.tunnel_zones == 0  # released at the end


def test_tshark_reads_the_same_inner_sip(tmp_path: Path, tshark: str) -> None:
    r = synthesize("msrp-dial-in", seed=5)
    path = tmp_path / "n3.pcap"
    write_frames(_tunnelled(r.frames), path)
    out = subprocess.run(
        [
            tshark, "-r", str(path), "-Y", "sip", "-T", "fields", "-E", "separator=|",
            "-e", "frame.number", "-e", "gtp.teid", "-e", "sip.Call-ID",
            "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "sip.CSeq.method",
        ],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    theirs: list[tuple[int, int, str | None, str | None, str | None]] = []
    for line in out.splitlines():
        frame, teid_s, call_id, method, status, cseq = line.split("|")
        theirs.append((int(frame), int(teid_s, 0), call_id, method or status, cseq))
    sip = SipFlowHandler()
    FlowTable(sip).feed_all(CaptureReader(str(path)))
    by_frame = {f.number: f for f in _tunnelled(r.frames)}
    ours: list[tuple[int, int, str | None, str | None, str | None]] = []
    for rec in sip.tracker.records:
        m = rec.msg
        teid = gtp.parse(by_frame[rec.frame].data[42:]).header.teid
        ours.append(
            (
                rec.frame,
                teid,
                m.get("Call-ID"),
                m.method if m.is_request else str(m.status),
                m.cseq.method if m.cseq else None,
            )
        )
    # tshark finds the whole SIP ladder of the synthesized call, not just some of it
    assert [(t[3], t[4]) for t in theirs] == [
        ("INVITE", "INVITE"),
        ("100", "INVITE"),
        ("200", "INVITE"),
        ("ACK", "ACK"),
        ("BYE", "BYE"),
        ("200", "BYE"),
    ]
    assert ours == theirs


def _gtp_fast(g: Frame, uplink: bool, gnb: bytes) -> Frame:
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


def _many_ues(n: int) -> list[Frame]:
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
            frames.append(_gtp_fast(g, up, gnb))
    frames.sort(key=lambda f: f.ts_ns)
    return [Frame(i, f.ts_ns, 1, f.data, len(f.data)) for i, f in enumerate(frames, 1)]


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
    mine = gtp.parse(_gtp_fast(f, up, socket.inet_aton(GNB)).data[42:])
    theirs = gtp.parse(gtp_frame(f, uplink=up).data[42:])
    assert mine.payload == theirs.payload == f.data[14:]
    assert (mine.header.teid, mine.header.qfi) == (theirs.header.teid, theirs.header.qfi)
    assert mine.header.extensions == theirs.header.extensions


def test_200_tunnelled_ues_state_bounded_by_open_calls() -> None:
    h_few = _run(_many_ues(50))
    h_many = _run(_many_ues(200))
    assert len(h_many.tracker.calls) == 200
    assert len(h_few.tracker.calls) == 50
    # state held by the flow layer follows the calls that overlap, not the capture
    assert h_many.peak_zones == h_few.peak_zones <= 4
    assert h_many.peak_tracked == h_few.peak_tracked <= 8
