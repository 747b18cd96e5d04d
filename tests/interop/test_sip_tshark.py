"""Our SIP/SDP field extraction against tshark's on the same captures.

tshark dissects each capture independently; we run capture -> flows -> SIP -> calls and
print the same fields per frame. Messages split over TCP segments are compared at the frame
that completes them (where both tools show them).
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from mikeyshark.calls import SipRecord, track_capture
from mikeyshark.dissectors.errors import DissectError
from tests.support.sip_captures import write_calls, write_liars

Getter = Callable[[SipRecord], list[str]]


def _one(v: object) -> list[str]:
    return [] if v is None else [str(v)]


def _cseq_seq(r: SipRecord) -> list[str]:
    c = r.msg.cseq
    return _one(c.number if c else None)


def _cseq_method(r: SipRecord) -> list[str]:
    c = r.msg.cseq
    return _one(c.method if c else None)


def _from(r: SipRecord) -> list[str]:
    f = r.msg.from_
    return _one(f.uri if f else None)


def _to(r: SipRecord) -> list[str]:
    t = r.msg.to
    return _one(t.uri if t else None)


def _from_tag(r: SipRecord) -> list[str]:
    f = r.msg.from_
    return _one(f.tag if f else None)


def _to_tag(r: SipRecord) -> list[str]:
    t = r.msg.to
    return _one(t.tag if t else None)


def _branch(r: SipRecord) -> list[str]:
    return [v.branch for v in r.msg.vias if v.branch is not None]


def _contact(r: SipRecord) -> list[str]:
    return [c.uri for c in r.msg.contacts]


def _rack(r: SipRecord) -> list[str]:
    ra = r.msg.rack
    return _one(f"{ra.rseq} {ra.cseq} {ra.method}" if ra else None)


def _media(r: SipRecord) -> list[str]:
    return [str(md.m) for md in r.sdp.media] if r.sdp else []


def _conn(r: SipRecord) -> list[str]:
    c = r.sdp.connection if r.sdp else None
    return _one(c.address if c else None)


def _media_attrs(r: SipRecord) -> list[str]:
    if not r.sdp:
        return []
    return [ln.value for md in r.sdp.media for ln in md.lines if ln.type == "a"]


def _attr_names(r: SipRecord) -> list[str]:
    # tshark gives a field name only for attributes with a value (not for a=msrp-cema).
    if not r.sdp:
        return []
    return [a.name for md in r.sdp.media for a in md.attributes if a.value is not None]


FIELDS: dict[str, Getter] = {
    "sip.Method": lambda r: _one(r.msg.start.method if r.msg.is_request else None),  # type: ignore[union-attr]
    "sip.Status-Code": lambda r: _one(r.msg.status),
    "sip.r-uri": lambda r: _one(r.msg.start.uri if r.msg.is_request else None),  # type: ignore[union-attr]
    "sip.Call-ID": lambda r: _one(r.msg.call_id),
    "sip.CSeq.seq": _cseq_seq,
    "sip.CSeq.method": _cseq_method,
    "sip.from.addr": _from,
    "sip.from.tag": _from_tag,
    "sip.to.addr": _to,
    "sip.to.tag": _to_tag,
    "sip.Via.branch": _branch,
    "sip.contact.uri": _contact,
    "sip.RSeq": lambda r: _one(r.msg.rseq),
    "sip.RAck": _rack,
    "sip.Content-Length": lambda r: _one(r.msg.content_length),
    "sip.resend": lambda r: ["1" if r.retransmission else "0"],
    "sdp.media": _media,
    "sdp.connection_info.address": _conn,
    "sdp.media_attr": _media_attrs,
    "sdp.media_attribute.field": _attr_names,
}


def tshark_fields(tshark: str, pcap: Path) -> dict[int, dict[str, str]]:
    cmd = [tshark, "-r", str(pcap), "-Y", "sip", "-T", "fields", "-E", "separator=/t"]
    cmd += ["-E", "aggregator=|", "-E", "occurrence=a", "-e", "frame.number"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    rows: dict[int, dict[str, str]] = {}
    for line in out.splitlines():
        cols = line.split("\t")
        rows[int(cols[0])] = dict(zip(FIELDS, cols[1:], strict=True))
    return rows


def our_fields(pcap: Path) -> dict[int, dict[str, str]]:
    tracker, _ = track_capture(pcap)
    per_frame: dict[int, list[SipRecord]] = defaultdict(list)
    for r in tracker.records:
        per_frame[r.frame].append(r)
    rows: dict[int, dict[str, str]] = {}
    for frame, recs in per_frame.items():
        row = {}
        for name, get in FIELDS.items():
            vals: list[str] = []
            for r in recs:
                with contextlib.suppress(DissectError):
                    vals += get(r)
            row[name] = "|".join(vals)
        rows[frame] = row
    return rows


@pytest.mark.tshark
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


@pytest.mark.tshark
def test_vector_matches_tshark(tshark: str, vectors: Path) -> None:
    pcap = vectors / "sip" / "sip_sdp_keymgmt.pcap"
    theirs = tshark_fields(tshark, pcap)
    ours = our_fields(pcap)
    assert sorted(theirs) == [1]
    assert ours == theirs


@pytest.mark.tshark
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


@pytest.mark.tshark
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
