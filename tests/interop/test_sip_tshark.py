"""Our SIP/SDP field extraction against tshark's on the same captures.

tshark dissects each capture independently; we run capture -> flows -> SIP -> calls and
print the same fields per frame. Messages split over TCP segments are compared at the frame
that completes them (where both tools show them).
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from mikeyshark.calls import track_capture
from tests.support.sip_captures import write_calls, write_liars
from tests.support.sip_fields import our_fields, tshark_fields

pytestmark = pytest.mark.tshark


def test_calls_capture_matches_tshark(tshark: str, tmp_path: Path) -> None:
    pcap = write_calls(tmp_path / "calls.pcap")
    theirs = tshark_fields(tshark, pcap)
    ours = our_fields(pcap)
    # The frames where tshark shows SIP: the UDP ones, and the TCP frames completing messages.
    assert sorted(theirs) == [*range(1, 14), 19, 20, 21, 22, 23, 24, 25]
    assert sorted(ours) == sorted(theirs)
    for frame in theirs:
        assert ours[frame] == theirs[frame], f"frame {frame}"
    # The INVITE written over frames 17-19 starts in 17 and is shown in 19.
    tracker, problems = track_capture(pcap)
    (split,) = [
        r
        for r in tracker.records
        if r.transport == "TCP" and r.msg.is_request and r.msg.method == "INVITE"
    ]
    assert (split.first_frame, split.frame) == (17, 19)
    assert problems == []


def test_vector_matches_tshark(tshark: str, vectors: Path) -> None:
    pcap = vectors / "sip" / "sip_sdp_keymgmt.pcap"
    theirs = tshark_fields(tshark, pcap)
    ours = our_fields(pcap)
    assert sorted(theirs) == [1]
    assert ours == theirs


def test_key_mgmt_bytes_match_tshark_value(tshark: str, vectors: Path) -> None:
    """The a=key-mgmt data, decoded here with the standard library from tshark's value."""
    pcap = vectors / "sip" / "sip_sdp_keymgmt.pcap"
    cmd = [tshark, "-r", str(pcap), "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"]
    cmd += ["-e", "sdp.media_attribute.value"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    values = [v for v in out.strip().split("|") if v.startswith("mikey ")]
    assert len(values) == 2
    expected = [base64.b64decode(v.split(" ", 1)[1]) for v in values]
    tracker, _ = track_capture(pcap)
    (media_msrp, media_bfcp) = tracker.media_sessions
    assert [media_msrp.offer_key_mgmt, media_bfcp.offer_key_mgmt] == expected
    assert (media_msrp.proto, media_bfcp.proto) == ("TCP/TLS/MSRP", "TCP/TLS/BFCP")
    # RFC 3830 common header: version 1, data type 0 (Initiator's pre-shared key message).
    assert expected[0][:2] == b"\x01\x00"


def test_lying_content_length_rest_still_parsed(tshark: str, tmp_path: Path) -> None:
    pcap = write_liars(tmp_path / "liars.pcap")
    tracker, problems = track_capture(pcap)
    got = [(r.frame, r.msg.call_id) for r in tracker.records]
    assert got == [
        (1, "udp-call-3"),
        (2, "liar-udp"),
        (3, "udp-call-3"),
        (7, "liar-tcp"),
        (7, "after-tcp"),
    ]
    assert [r.msg.body for r in tracker.records[3:]] == [b"hello", b"world"]
    assert tracker.records[1].msg.body == b"hello"
    located = [(p.frame, p.layer, p.field) for p in problems]
    assert located == [(2, "sip", "content-length"), (7, "sip", "content-length")]
    assert all(p.file == str(pcap) for p in problems)
    # The UDP liar: the body offset in the datagram is where the declared length overruns.
    assert problems[0].offset is not None and problems[0].offset > 0
    # tshark sees the same good messages around the liars (it cannot frame the TCP one).
    theirs = tshark_fields(tshark, pcap)
    assert theirs[1]["sip.Call-ID"] == "udp-call-3" and theirs[3]["sip.Call-ID"] == "udp-call-3"
    assert theirs[2]["sip.Call-ID"] == "liar-udp"
