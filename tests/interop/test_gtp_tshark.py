"""tshark reads the same inner SIP from a call tunnelled in GTP-U on N3 (TS 29.281) as we do."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mikeyshark.calls import SipFlowHandler
from mikeyshark.capture import CaptureReader
from mikeyshark.dissectors import gtp
from mikeyshark.flows import FlowTable
from mikeyshark.synth import synthesize
from mikeyshark.synth.net import write_frames
from tests.support.tunnels import (
    tunnelled,
)

pytestmark = pytest.mark.tshark


def test_tshark_reads_the_same_inner_sip(tmp_path: Path, tshark: str) -> None:
    r = synthesize("msrp-dial-in", seed=5)
    path = tmp_path / "n3.pcap"
    write_frames(tunnelled(r.frames), path)
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
    by_frame = {f.number: f for f in tunnelled(r.frames)}
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
