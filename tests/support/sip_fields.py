"""The SIP/SDP fields compared with tshark's: field name -> how to read it from our SIP records."""

from __future__ import annotations

import contextlib
import subprocess
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from mikeyshark.calls import SipRecord, track_capture
from mikeyshark.dissectors.errors import DissectError

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
