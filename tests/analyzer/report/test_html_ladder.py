"""The ladder of the HTML report: complete (every frame of the call, long runs folded, no
cited frame folded) and failures marked on the arrows the failing rule cites."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from scapy.layers.inet import TCP, UDP
from scapy.layers.l2 import Ether

import mikeyshark.synth.media as synth_media
from mikeyshark.evidence import Status
from mikeyshark.report.html import render_html
from mikeyshark.synth import FAULTS, synthesize
from mikeyshark.synth.faults import applicable
from tests.support.analyze import analyze_synth
from tests.support.html import ladder_rows, parse_html

# TCP flags (RFC 9293 3.1)
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


def _long_chat(rng: random.Random, user: str, ue_first: bool) -> list[tuple[bool, bytes]]:
    """310 short chat messages, alternately from each side: 620 MSRP messages (SEND + 200)."""
    return [(i % 2 == 0, f"line {i} from {user}".encode()) for i in range(310)]


def _call_frames(frames: list[bytes]) -> set[int]:
    """The frames a packet list shows for the call, by their own TCP/UDP headers (scapy):
    SIP datagrams, and on the media connection every segment with payload, the SYN, the FINs
    and the RSTs (pure ACKs and the SYN-ACK are not messages)."""
    out = set()
    for n, data in enumerate(frames, 1):
        pkt = Ether(data)
        if UDP in pkt and 5060 in (pkt[UDP].sport, pkt[UDP].dport):
            out.add(n)
        elif TCP in pkt:
            flags = int(pkt[TCP].flags)
            payload = len(bytes(pkt[TCP].payload))
            syn = flags & SYN and not flags & ACK
            if payload or syn or flags & (FIN | RST):
                out.add(n)
    return out


def test_a_long_chat_is_drawn_whole_with_no_cited_frame_folded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synth_media, "msrp_texts", _long_chat)
    result = synthesize("msrp-dial-in", seed=3)
    report = analyze_synth(result, tmp_path / "long.pcap")
    (call,) = report.calls
    assert len(call.media[0].messages) == 620
    page = ladder_rows(render_html(report))
    drawn = {int(r.id.split("-f")[1]): r for r in page.rows.values() if r.id.startswith("c0-f")}
    assert set(drawn) == _call_frames([f.data for f in result.frames])
    assert sum(r.folded for r in drawn.values()) > 500  # the long run is folded...
    cited = {f for c in call.checks for f in c.frames}
    assert cited and all(not drawn[f].folded for f in cited)  # ...never what a rule cites
    # the frames of the SEND/200 run: each row says which message its frame completed
    sends = [r for r in drawn.values() if r.cells[3] == "MSRP"]
    assert len(sends) == 620


SCENARIOS = ("msrp-dial-in", "bfcp-dial-out")
CASES = [
    # the Mp faults at the MRF, the others at the UE
    (s, f, "ue" if "ue" in FAULTS[f].capture_points else "mrf")
    for f in sorted(FAULTS)
    for s in SCENARIOS
    # a warning fault (tls10) makes no call fail: nothing to mark
    if applicable(f, {s.split("-")[0]}) and f != "certificate-suite" and FAULTS[f].trips == "fail"
]


@pytest.mark.parametrize(("scenario", "fault", "point"), CASES)
def test_the_failing_rule_marks_its_arrows(
    scenario: str, fault: str, point: str, tmp_path: Path
) -> None:
    result = synthesize(scenario, faults=[fault], seed=5, capture_point=point)
    report = analyze_synth(result, tmp_path / "fault.pcap")
    rule = FAULTS[fault].rule
    html = render_html(report)
    page = ladder_rows(html)
    # one sentence on what to fix at the top of each failing call
    fails = sum(c.verdict.value == "fail" for c in report.calls)
    assert parse_html(html).count("p", "fix") == fails > 0
    marked = 0
    for i, call in enumerate(report.calls):
        failing = [c for c in call.checks if c.status is Status.FAIL]
        fix = page.ids.get(f"call-{i}")
        assert fix is not None
        for check in failing:
            rule_row = f"c{i}-{check.rule}"
            assert page.ids[rule_row][0] == "tr"
            for f in check.frames:
                row = page.rows[f"c{i}-f{f}"]
                # a full row: frame, time, step, protocol, source, destination, info
                frame, time, _step, protocol, src, dst, info = row.cells
                assert frame == str(f) and time and protocol and src and dst and info, row
                assert "bad" in row.classes
                assert (check.rule, f"#{rule_row}") in row.badges
                assert not row.folded
                # the rule's row links to the arrow
                assert (f"#c{i}-f{f}", str(f)) in page.links
                marked += check.rule == rule
    assert marked, f"{fault}: no arrow marked for {rule}"
