"""SIP seen on N3 inside GTP-U (TS 29.281): each SIP record carries the tunnel it came
through (TEID, outer addresses, QFI), UDP and TCP alike, and the report says per call which
tunnel its signalling used (JSON "tunnel", terminal TUNNEL line, HTML call header).

Expected tunnels are the ones the test builds (tests/support/tunnels.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from mikeyshark.calls import track_capture
from mikeyshark.capture import CaptureReader
from mikeyshark.model import Tunnel
from mikeyshark.report import json_report
from mikeyshark.synth import synthesize
from mikeyshark.synth.net import write_frames
from tests.support.cli import run_cli
from tests.support.sip_captures import UE, write_calls
from tests.support.tunnels import (
    DL_TEID,
    GNB,
    QFI,
    UES,
    UL_TEID,
    UPF,
    tunnelled_for,
)

UPLINK = Tunnel(UL_TEID, GNB, UPF, QFI)
DOWNLINK = Tunnel(DL_TEID, UPF, GNB, QFI)


def test_udp_sip_records_carry_their_tunnel(tmp_path: Path) -> None:
    r = synthesize("msrp-dial-in", seed=3)
    write_frames(tunnelled_for(r.frames, UES), tmp_path / "n3.pcap")
    tracker, problems = track_capture(tmp_path / "n3.pcap")
    assert problems == []
    # every SIP message of the synthesized call, one per UDP datagram
    sent = sum(b"SIP/2.0" in f.data for f in r.frames)
    assert sent > 0 and len(tracker.records) == sent
    for rec in tracker.records:
        assert rec.transport == "UDP"
        assert rec.tunnel == (UPLINK if rec.src.ip in UES else DOWNLINK)
    # The same capture outside the tunnel: no tunnel anywhere.
    write_frames(r.frames, tmp_path / "plain.pcap")
    plain, _ = track_capture(tmp_path / "plain.pcap")
    assert len(plain.records) == len(tracker.records)
    assert {rec.tunnel for rec in plain.records} == {None}


def test_tcp_sip_records_carry_their_tunnel(tmp_path: Path) -> None:
    frames = list(CaptureReader(write_calls(tmp_path / "calls.pcap")))
    write_frames(tunnelled_for(frames, frozenset({UE})), tmp_path / "n3.pcap")
    tracker, _ = track_capture(tmp_path / "n3.pcap")
    tcp = [rec for rec in tracker.records if rec.transport == "TCP"]
    assert len(tcp) == 5  # the TCP call of tests/support/sip_captures.py
    # A connection keeps the tunnel of its first packet (the UE's SYN: uplink).
    assert {rec.tunnel for rec in tcp} == {UPLINK}


def test_untunnelled_call_has_null_tunnel(tmp_path: Path) -> None:
    r = synthesize("msrp-dial-in", seed=3)
    cap = tmp_path / "plain.pcap"
    write_frames(r.frames, cap)
    keys = tmp_path / "k.toml"
    keys.write_text(r.keyfile_text, encoding="utf-8")
    out = run_cli("analyze", str(cap), "--keys", str(keys), "--json", "-")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    jsonschema.validate(doc, json_report.schema())
    assert [c["tunnel"] for c in doc["calls"]] == [None]
