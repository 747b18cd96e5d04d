"""Several calls in one capture, interleaved, with retransmitted SIP and reordered TCP
segments, get the same verdicts, rule by rule, as each call analyzed alone."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from mikeyshark.model import Frame
from mikeyshark.synth import synthesize
from tests.support.analyze import analyze_frames, statuses

pytestmark = pytest.mark.tshark

SCENARIOS = ("msrp-dial-in", "bfcp-dial-out", "bfcp-dial-in", "msrp-dial-out")
MS = 1_000_000


def _udp_payload(data: bytes) -> bytes:
    pkt = Ether(data)
    return bytes(pkt[UDP].payload) if UDP in pkt else b""


def _split_reversed(f: Frame) -> list[Frame]:
    """The frame's TCP payload as two segments, the second half delivered first."""
    pkt = Ether(f.data)
    payload = bytes(pkt[TCP].payload)
    half = len(payload) // 2
    out = []
    for i, (seq_off, piece) in enumerate(((half, payload[half:]), (0, payload[:half]))):
        p = pkt.copy()
        p[TCP].remove_payload()
        p[TCP].seq = (pkt[TCP].seq + seq_off) % (1 << 32)
        p = p / Raw(piece)
        del p[IP].len, p[IP].chksum, p[TCP].chksum
        data = bytes(p)
        out.append(dataclasses.replace(f, ts_ns=f.ts_ns + i * 1000, data=data, wirelen=len(data)))
    return out


def _mangle(frames: tuple[Frame, ...], start_ns: int) -> list[Frame]:
    """Move the call to ``start_ns``, retransmit its INVITE and 200 OK, and deliver the
    first TLS record (the ClientHello) and the largest TCP segment out of order."""
    t0 = frames[0].ts_ns
    out = [dataclasses.replace(f, ts_ns=f.ts_ns - t0 + start_ns) for f in frames]
    extra = []
    for f in out:
        payload = _udp_payload(f.data)
        if payload.startswith((b"INVITE ", b"SIP/2.0 200")):
            extra.append(dataclasses.replace(f, ts_ns=f.ts_ns + 40 * MS))
    tcp_data = [
        i
        for i, f in enumerate(out)
        if TCP in (p := Ether(f.data)) and len(bytes(p[TCP].payload)) > 1
    ]
    hello = next(i for i in tcp_data if bytes(Ether(out[i].data)[TCP].payload)[:1] == b"\x16")
    largest = max(tcp_data, key=lambda i: len(out[i].data))
    for i in sorted({hello, largest}, reverse=True):
        out[i : i + 1] = _split_reversed(out[i])
    return out + extra


def test_interleaved_calls_match_each_call_alone(tshark: str, tmp_path: Path) -> None:
    keytext = synthesize("msrp-dial-in", seed=30).keyfile_text
    results = [synthesize(s, seed=31 + i, keys=keytext) for i, s in enumerate(SCENARIOS)]
    alone: dict[str, dict[str, str]] = {}
    for i, r in enumerate(results):
        report = analyze_frames(r.frames, keytext, tmp_path / f"alone{i}.pcap")
        assert len(report.calls) == 1
        alone.update(statuses(report))
    # Forward in time only: each ticket is valid for an hour from its call's start.
    base = max(r.frames[0].ts_ns for r in results)
    merged = [f for i, r in enumerate(results) for f in _mangle(r.frames, base + i * 113 * MS)]
    merged.sort(key=lambda f: f.ts_ns)
    merged = [dataclasses.replace(f, number=n) for n, f in enumerate(merged, 1)]
    report = analyze_frames(merged, keytext, tmp_path / "merged.pcap")
    # tshark agrees that the capture is what this test claims it is
    seen = subprocess.run(
        [tshark, "-r", str(tmp_path / "merged.pcap"), "-Y", "tcp.analysis.out_of_order"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # MSRP: the ClientHello and a chat chunk; BFCP: its largest segment is the ClientHello
    assert seen.stdout.count("Out-Of-Order") == 2 + 1 + 1 + 2
    invites = [f for f in merged if _udp_payload(f.data).startswith(b"INVITE ")]
    assert len(invites) == 8  # each sent twice
    assert invites[2].ts_ns < max(f.ts_ns for f in _mangle(results[0].frames, base))  # overlap
    together = statuses(report)
    assert set(together) == {f.call_id for r in results for f in r.calls}
    assert together == alone
    assert all(c.verdict.value == "pass" for c in report.calls)
    # the reordered segments and retransmissions were seen, and did not break anything
    assert [c.scenario for c in report.calls] == list(SCENARIOS)
