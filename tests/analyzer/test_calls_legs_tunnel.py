"""SIP seen on N3 inside GTP-U (TS 29.281): each SIP record carries the tunnel it came
through (TEID, outer addresses, QFI), UDP and TCP alike, and the report says per call which
tunnel its signalling used (JSON "tunnel", terminal TUNNEL line, HTML call header).

Expected tunnels are the ones the test builds (tests/tunnel_helpers.py); tshark reads the
same TEID for the frame of the INVITE.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from mikeyshark.calls import track_capture
from mikeyshark.capture import CaptureReader
from mikeyshark.flows import Tunnel
from mikeyshark.model import Frame
from mikeyshark.report import json_report
from mikeyshark.synth import synthesize
from mikeyshark.synth.net import write_frames
from mikeyshark.synth.scenarios import UE_IPS
from tests.support.sip_captures import UE, write_calls
from tests.support.tunnels import DL_TEID, GNB, QFI, UL_TEID, UPF, gtp_frame, ue_side

UES = frozenset(UE_IPS)
UPLINK = Tunnel(UL_TEID, GNB, UPF, QFI)
DOWNLINK = Tunnel(DL_TEID, UPF, GNB, QFI)


def _tunnelled(
    frames: list[Frame] | tuple[Frame, ...], ues: frozenset[str], gnb: str = GNB, upf: str = UPF
) -> list[Frame]:
    return [gtp_frame(f, uplink=ue_side(f.data[14:], ues), gnb=gnb, upf=upf) for f in frames]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mikeyshark", *args], capture_output=True, text=True, timeout=120
    )


def test_udp_sip_records_carry_their_tunnel(tmp_path: Path) -> None:
    r = synthesize("msrp-dial-in", seed=3)
    write_frames(_tunnelled(r.frames, UES), tmp_path / "n3.pcap")
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
    write_frames(_tunnelled(frames, frozenset({UE})), tmp_path / "n3.pcap")
    tracker, _ = track_capture(tmp_path / "n3.pcap")
    tcp = [rec for rec in tracker.records if rec.transport == "TCP"]
    assert len(tcp) == 5  # the TCP call of tests/test_sip_captures.py
    # A connection keeps the tunnel of its first packet (the UE's SYN: uplink).
    assert {rec.tunnel for rec in tcp} == {UPLINK}


def test_report_names_the_tunnel_of_each_call(tmp_path: Path, tshark: str) -> None:
    r = synthesize("bfcp-dial-out", seed=4)
    gnb, upf = "2001:db8::1", "2001:db8::2"
    n3 = tmp_path / "n3.pcap"
    write_frames(_tunnelled(r.frames, UES, gnb=gnb, upf=upf), n3)
    keys = tmp_path / "k.toml"
    keys.write_text(r.keyfile_text, encoding="utf-8")
    html = tmp_path / "r.html"
    out = _cli("analyze", str(n3), "--keys", str(keys), "--json", "-", "--html", str(html))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    jsonschema.validate(doc, json_report.schema())
    (call,) = doc["calls"]
    # Dial-out: the focus's INVITE reaches UE-B downlink, from the UPF to the gNB.
    assert call["tunnel"] == {"teid": DL_TEID, "outer_src": upf, "outer_dst": gnb, "qfi": QFI}
    assert call["verdict"] == "pass"
    # tshark: the INVITE's frame has that TEID and those outer addresses.
    rows = subprocess.run(
        [
            tshark,
            "-r",
            str(n3),
            "-Y",
            f"frame.number == {call['invite_frame']}",
            "-T",
            "fields",
            "-E",
            "occurrence=f",
            "-e",
            "gtp.teid",
            "-e",
            "ipv6.src",
            "-e",
            "ipv6.dst",
            "-e",
            "sip.Method",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert rows == [f"0x{DL_TEID:08x}", upf, gnb, "INVITE"]
    term = _cli("analyze", str(n3), "--keys", str(keys))
    assert term.returncode == 0, term.stderr
    line = f"TUNNEL {call['call_id']}: SIP in GTP-U TEID 0x{DL_TEID:08x} {upf} -> {gnb} QFI {QFI}"
    assert line in " ".join(term.stdout.split())  # rich wraps lines at the terminal width
    assert f"<p>SIP signalling in GTP-U TEID 0x{DL_TEID:08x} {upf} -&gt; {gnb} QFI {QFI}</p>" in (
        html.read_text(encoding="utf-8")
    )


def test_untunnelled_call_has_null_tunnel(tmp_path: Path) -> None:
    r = synthesize("msrp-dial-in", seed=3)
    cap = tmp_path / "plain.pcap"
    write_frames(r.frames, cap)
    keys = tmp_path / "k.toml"
    keys.write_text(r.keyfile_text, encoding="utf-8")
    out = _cli("analyze", str(cap), "--keys", str(keys), "--json", "-")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    jsonschema.validate(doc, json_report.schema())
    assert [c["tunnel"] for c in doc["calls"]] == [None]
