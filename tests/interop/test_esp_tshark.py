"""tshark reads the same SIP inside ESP-NULL (TS 33.203 Gm) as we do."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mikeyshark.calls import SipFlowHandler
from mikeyshark.capture import CaptureReader
from mikeyshark.flows import FlowTable
from mikeyshark.synth import synthesize
from mikeyshark.synth.net import write_frames
from tests.support.tunnels import (
    NULL_SAS,
    sip_in_esp,
)

pytestmark = pytest.mark.tshark


def test_tshark_reads_the_same_sip_in_esp_null(tmp_path: Path, tshark: str) -> None:
    r = synthesize("msrp-dial-in", seed=8)
    path = tmp_path / "gm.pcap"
    write_frames(sip_in_esp(r.frames, NULL_SAS["hmac-sha1-96"]), path)
    out = subprocess.run(
        [
            tshark, "-r", str(path), "-o", "esp.enable_null_encryption_decode_heuristic:TRUE",
            "-Y", "sip", "-T", "fields", "-E", "separator=|",
            "-e", "frame.number", "-e", "esp.spi", "-e", "sip.Call-ID",
            "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "sip.CSeq.method",
        ],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    theirs: list[tuple[int, int, str | None, str | None, str | None]] = []
    for line in out.splitlines():
        frame, spi, call_id, method, status, cseq = line.split("|")
        theirs.append((int(frame), int(spi, 0), call_id, method or status, cseq))
    sip = SipFlowHandler()
    FlowTable(sip).feed_all(CaptureReader(str(path)))
    ours = [
        (
            rec.frame,
            0x1001,
            rec.msg.get("Call-ID"),
            rec.msg.method if rec.msg.is_request else str(rec.msg.status),
            rec.msg.cseq.method if rec.msg.cseq else None,
        )
        for rec in sip.tracker.records
    ]
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
