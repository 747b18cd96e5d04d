"""Budgets of the analysis: every structure hostile input can grow is bounded, and passing a
bound is a located warning, not a crash or a silent loss. Each budget is lowered here so that
a few frames pass it; docs/limits.md lists the real values."""

from __future__ import annotations

import dataclasses
import io
import struct
import tracemalloc
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP

from mikeyshark import calls, flows, pipeline
from mikeyshark.calls import CallTracker, SipFlowHandler
from mikeyshark.capture import CaptureReader
from mikeyshark.decrypt import PskCandidate, decrypt_capture
from mikeyshark.dissectors import sip
from mikeyshark.flows import FlowTable
from mikeyshark.keyfile import KeyFile
from mikeyshark.model import Endpoint, Frame
from mikeyshark.synth import synthesize
from mikeyshark.synth.net import write_frames
from tests.support.flows import Ether, Rec
from tests.support.hostile import PCAP_HEADER, claimed_length_pcap, endless_dialogs_pcap, record
from tests.support.tunnels import gtp_frame

A = Endpoint("192.0.2.1", 5060)
B = Endpoint("192.0.2.2", 5060)


# ---------------------------------------------------------------- record and frame lengths


def test_claimed_wire_length_is_not_materialised() -> None:
    (frame,) = CaptureReader(io.BytesIO(claimed_length_pcap(0xFFFFFFFF)), "x.pcap")
    rec = Rec()
    table = FlowTable(rec)
    tracemalloc.start()
    try:
        table.feed(frame)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20  # padded at most to the largest record (256 KiB), not to 4 GiB
    (p,) = rec.problems
    assert (p.frame, p.layer, p.field, p.reason) == (
        1,
        "ip",
        "len",
        "total length 29 is below header length 60",
    )


def test_a_huge_snaplen_does_not_admit_a_huge_record(tmp_path: Path) -> None:
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 0x7FFFFFF0, 1)
    path = tmp_path / "snap.pcap"
    path.write_bytes(header + struct.pack("<IIII", 1_700_000_000, 0, 0x7FFFFF00, 0x7FFFFF00))
    reader = CaptureReader(str(path))
    tracemalloc.start()
    try:
        assert list(reader) == []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20  # never asks for the 2 GiB the record claims
    (p,) = reader.problems
    assert p.reason.startswith("record length 2147483392 exceeds the maximum 16777216")


# ---------------------------------------------------------------- TLS


def test_tls11_with_a_tls12_only_suite_is_a_located_problem(tmp_path: Path) -> None:
    """The review's defect 6: the ServerHello's version turned to TLS 1.1 while it keeps
    TLS_PSK_WITH_AES_128_GCM_SHA256; with the right key the session was a ValueError."""
    result = synthesize("msrp-dial-in", seed=1)
    frames = list(result.frames)
    number = None
    for i, f in enumerate(frames):
        at = f.data.find(b"\x16\x03\x03")
        # a handshake record whose first message is a ServerHello (type 2)
        if at >= 0 and f.data[at + 5] == 2:
            data = bytearray(f.data)
            data[at + 9 : at + 11] = b"\x03\x02"  # server_version: TLS 1.1
            frames[i] = dataclasses.replace(f, data=bytes(data))
            number = f.number
            break
    assert number is not None
    path = tmp_path / "tls11.pcap"
    write_frames(frames, path)
    (media,) = result.calls[0].media
    conns = [
        c
        for c in decrypt_capture([path], [PskCandidate(media.tek, "tek")])
        if c.info.version is not None
    ]
    (info,) = [c.info for c in conns]
    assert info.decryptable is False
    located = [p for p in info.problems if p.frame == number]
    assert [(p.field, p.reason) for p in located] == [
        ("version", "TLS_PSK_WITH_AES_128_GCM_SHA256 needs TLS 1.2, the ServerHello chose TLS 1.1")
    ]


# ---------------------------------------------------------------- SIP


def message(*lines: str) -> sip.SipMessage:
    return sip.parse(("\r\n".join(lines) + "\r\n\r\n").encode())


def test_a_malformed_from_keeps_the_request_out_of_its_call() -> None:
    """A request whose From does not parse is a problem of its own frame; it used to join
    the call and then break the dialog of every later response (their tags are compared)."""
    head = ["Call-ID: c1@example.org", "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1"]
    invite = message(
        "INVITE sip:b@example.org SIP/2.0",
        *head,
        "From: <sip:a@example.org>;tag=a1",
        "To: <sip:b@example.org>",
        "CSeq: 1 INVITE",
    )
    info = message(
        "INFO sip:b@example.org SIP/2.0",
        *head,
        "From: <sip:a@example.org;tag=a1",  # the < is never closed
        "To: <sip:b@example.org>",
        "CSeq: 2 INFO",
    )
    ok = message(
        "SIP/2.0 200 OK",
        *head,
        "From: <sip:a@example.org>;tag=a1",
        "To: <sip:b@example.org>;tag=b1",
        "CSeq: 1 INVITE",
    )
    t = CallTracker("x.pcap")
    t.add(invite, frame=1, ts_ns=0, src=A, dst=B, transport="UDP")
    bad = t.add(info, frame=2, ts_ns=1, src=A, dst=B, transport="UDP")
    t.add(ok, frame=3, ts_ns=2, src=B, dst=A, transport="UDP")
    (call,) = t.calls.values()
    assert [r.frame for r in call.records] == [1, 3]
    assert [(p.frame, p.field) for p in bad.problems] == [(2, "from")]
    (dialog,) = call.dialogs
    assert (dialog.state, [r.frame for r in dialog.records]) == ("confirmed", [1, 3])


def test_a_call_keeps_at_most_its_budget_of_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calls, "MAX_RECORDS_PER_CALL", 3)
    t = CallTracker("x.pcap")
    for n in range(1, 6):
        m = message(
            "OPTIONS sip:b@example.org SIP/2.0",
            "Call-ID: many@example.org",
            "From: <sip:a@example.org>;tag=a1",
            "To: <sip:b@example.org>",
            f"CSeq: {n} OPTIONS",
        )
        t.add(m, frame=n, ts_ns=n, src=A, dst=B, transport="UDP")
    (call,) = t.calls.values()
    assert [r.frame for r in call.records] == [1, 2, 3]
    (warning,) = call.problems
    assert (warning.frame, warning.severity.value) == (4, "warning")
    assert "more than 3 messages" in warning.reason


def test_quiet_calls_past_their_budget_drop_the_oldest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "MAX_QUIET_CALLS", 5)
    handler = SipFlowHandler(CallTracker("x.pcap"), "x.pcap")
    quiet = pipeline._QuietCalls(handler)
    for n in range(10):
        invite = (
            f"INVITE sip:b@example.org SIP/2.0\r\nCall-ID: q{n}@example.org\r\n"
            "Content-Type: application/sdp\r\n\r\nm=audio 4000 RTP/AVP 0\r\n"
        ).encode()
        assert quiet.hold(Frame(n + 1, n, 1, b"", 0), A, B, invite)
    assert list(quiet.calls) == [f"q{n}@example.org".encode() for n in range(5, 10)]
    assert quiet.dropped == 5
    (p,) = handler.problems
    assert (p.frame, p.severity.value) == (6, "warning")
    assert p.reason.startswith("more than 5 calls without MSRP/BFCP")


# ---------------------------------------------------------------- open calls


def dialogs_capture(tmp_path: Path, dialogs: int, spacing_us: int = 1000) -> tuple[Path, KeyFile]:
    data, keys = endless_dialogs_pcap(dialogs, tmp_path, spacing_us)
    path = tmp_path / f"dialogs-{dialogs}.pcap"
    path.write_bytes(data)
    return path, KeyFile.parse(keys)


def test_open_calls_past_the_budget_are_judged_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """100 dialogs that never end, 20 allowed open: at the 21st the 3 least recently active
    are judged (back to 18, 9/10 of the budget), and again at every third new call after:
    at 21, 24, ..., 99 calls, 27 times 3 = 81 calls judged early; all 100 are reported."""
    monkeypatch.setattr(pipeline, "MAX_OPEN_CALLS", 20)
    path, keys = dialogs_capture(tmp_path, 100)
    result = pipeline.analyze_capture(str(path), keys)
    assert len(result.calls) == 100
    early = [
        c.call_id
        for c in result.calls
        if any("judged before it ended" in p.reason for p in c.problems)
    ]
    assert len(early) == 81
    codes = {p.kind for c in result.calls for p in c.problems if "judged before" in p.reason}
    assert codes == {"budget.open_calls"}
    # the least recently active first: the first 81 dialogs of the capture
    assert sorted(early) == sorted(c.call_id for c in result.calls[:81])


def test_a_silent_call_is_judged_after_an_hour(tmp_path: Path) -> None:
    path, keys = dialogs_capture(tmp_path, 2, spacing_us=3601 * 10**6)
    result = pipeline.analyze_capture(str(path), keys)
    first, second = result.calls
    (p,) = [p for p in first.problems if "judged before it ended" in p.reason]
    assert "no SIP message for 3600 s" in p.reason
    assert p.frame == 4  # the first call's last message (its ACK)
    assert not [p for p in second.problems if "judged before it ended" in p.reason]


# ---------------------------------------------------------------- connections and tunnels


def syn(client: str, port: int) -> bytes:
    return bytes(
        Ether() / IP(src=client, dst="198.51.100.7") / TCP(sport=port, dport=443, flags="S")
    )


def test_open_connections_past_the_budget_evict_the_least_recent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "MAX_OPEN_CONNECTIONS", 5)
    monkeypatch.setattr(pipeline, "MAX_HELD_CONNECTIONS", 4)
    path = tmp_path / "syns.pcap"
    path.write_bytes(PCAP_HEADER + b"".join(record(syn("10.0.0.1", 2000 + k)) for k in range(8)))
    result = pipeline.analyze_capture(str(path), KeyFile())
    tcp = [(p.frame, p.reason) for p in result.info.errors if p.layer == "tcp"]
    held = "more than 4 TCP connections held for calls not seen yet"
    assert tcp[0][0] == 5 and tcp[0][1].startswith(held)
    evicted = [(f, r) for f, r in tcp if "open connections" in r]
    assert evicted == [
        (
            6 + k,
            f"more than 5 open connections; evicting stream {k} (10.0.0.1:{2000 + k} -> "
            "198.51.100.7:443)",
        )
        for k in range(3)
    ]


def test_tunnel_pairs_past_the_budget_end_the_least_recent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(flows, "MAX_TUNNEL_ZONES", 3)
    rec = Rec()
    table = FlowTable(rec)
    for k in range(5):
        inner = Frame(k + 1, k, 1, syn("10.45.0.1", 3000 + k), 0)
        table.feed(gtp_frame(inner, uplink=True, gnb=f"203.0.113.{10 + k}"))
    assert table.tunnel_zones == 3
    (p,) = rec.problems
    assert (p.frame, p.layer) == (4, "gtp")
    assert p.reason.startswith("more than 3 GTP-U tunnel endpoint pairs")
    assert p.kind == "budget.tunnel_pairs"
    # the first two pairs' connections ended (closed to the handler), the last three open
    assert [c.client.port for c in rec.closed] == [3000, 3001]
