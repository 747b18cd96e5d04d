"""Correlation beyond the simple case: a connection found by its key when addresses were
rewritten, a forked early dialog, a re-INVITE, and hand-built key-management corner cases."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from mikeyshark.correlate import lines_to_tree, mikey_info
from mikeyshark.model import Frame
from mikeyshark.synth import synthesize
from tests.support.analyze import analyze_frames

MRFP = "203.0.113.30"
NAT = "100.64.0.9"
MS = 1_000_000


def _sip(f: Frame) -> bytes:
    p = Ether(f.data)
    return bytes(p[UDP].payload) if UDP in p else b""


def _with_sip(f: Frame, payload: bytes, ts_ns: int) -> Frame:
    p = Ether(f.data)
    p[UDP].remove_payload()
    p = p / payload
    del p[IP].len, p[IP].chksum, p[UDP].len, p[UDP].chksum
    data = bytes(p)
    return dataclasses.replace(f, data=data, wirelen=len(data), ts_ns=ts_ns)


def _fix_length(msg: bytes) -> bytes:
    head, _, body = msg.partition(b"\r\n\r\n")
    head = re.sub(rb"Content-Length: *\d+", b"Content-Length: %d" % len(body), head)
    return head + b"\r\n\r\n" + body


def _renumber(frames: list[Frame]) -> list[Frame]:
    frames.sort(key=lambda f: f.ts_ns)
    return [dataclasses.replace(f, number=n) for n, f in enumerate(frames, 1)]


def test_rewritten_media_address_is_bound_by_key(tmp_path: Path) -> None:
    """A NAT in front of the MRFP: its TCP packets come from an address no SDP names."""
    result = synthesize("msrp-dial-in", seed=8)
    frames = []
    for f in result.frames:
        p = Ether(f.data)
        if TCP in p and MRFP in (p[IP].src, p[IP].dst):
            if p[IP].src == MRFP:
                p[IP].src = NAT
            else:
                p[IP].dst = NAT
            del p[IP].chksum, p[TCP].chksum
            f = dataclasses.replace(f, data=bytes(p))
        frames.append(f)
    report = analyze_frames(frames, result.keyfile_text, tmp_path / "nat.pcap")
    (call,) = report.calls
    m = call.media[0]
    assert m.tcp is not None
    assert m.tcp.bound_by == "key"
    assert m.tcp.client.ip == NAT
    got = {c.rule: c.status.value for c in call.checks}
    assert got["TLS-KEY"] == "pass"
    assert got["MSRP-PATHS"] == "pass"
    assert len(m.messages) > 4


def test_forked_early_dialog_does_not_replace_the_confirmed_answer(tmp_path: Path) -> None:
    """A second fork answers in an unreliable 183 without a TRANSFER_RESP and then goes
    away; the call's answer is the 200 OK of the dialog that was confirmed."""
    result = synthesize("msrp-dial-in", seed=8)
    frames = list(result.frames)
    ok = next(f for f in frames if _sip(f).startswith(b"SIP/2.0 200") and b" INVITE\r\n" in _sip(f))
    fork = _sip(ok).replace(b"SIP/2.0 200 OK", b"SIP/2.0 183 Session Progress", 1)
    fork = re.sub(rb"(To: [^\r\n]*;tag=)[^\r\n;]+", rb"\1forkedB", fork, count=1)
    fork = re.sub(rb"a=key-mgmt:[^\r\n]*\r\n", b"", fork)
    frames.append(_with_sip(ok, _fix_length(fork), ok.ts_ns - 10 * MS))
    report = analyze_frames(_renumber(frames), result.keyfile_text, tmp_path / "fork.pcap")
    (call,) = report.calls
    assert call.answer_status == 200
    got = {c.rule: c.status.value for c in call.checks}
    assert got["ANSWER-TRANSFER-RESP"] == "pass"
    assert call.verdict.value == "pass"
    labels = [e.label for e in call.events]
    assert "183 Session Progress" in labels


def test_re_invite_keeps_the_initial_exchange_and_is_not_a_replay(tmp_path: Path) -> None:
    """A re-INVITE repeating the offer (same MIKEY) inside the dialog."""
    result = synthesize("bfcp-dial-in", seed=8)
    frames = list(result.frames)
    invite = next(f for f in frames if _sip(f).startswith(b"INVITE "))
    ok = next(f for f in frames if _sip(f).startswith(b"SIP/2.0 200") and b" INVITE\r\n" in _sip(f))
    bye = next(f for f in frames if _sip(f).startswith(b"BYE "))
    to_tagged = re.search(rb"To: [^\r\n]*", _sip(ok))
    assert to_tagged is not None

    def again(msg: bytes) -> bytes:
        msg = re.sub(rb"CSeq: 1 INVITE", b"CSeq: 2 INVITE", msg)
        msg = re.sub(rb"To: [^\r\n]*", to_tagged.group(0), msg, count=1)
        return msg.replace(b"branch=z9hG4bK", b"branch=z9hG4bKreinv", 1)

    frames.append(_with_sip(invite, again(_sip(invite)), bye.ts_ns - 300 * MS))
    frames.append(_with_sip(ok, again(_sip(ok)), bye.ts_ns - 200 * MS))
    report = analyze_frames(_renumber(frames), result.keyfile_text, tmp_path / "reinvite.pcap")
    (call,) = report.calls
    assert call.invite_frame == 1
    got = {c.rule: c.status.value for c in call.checks}
    assert got["REPLAY"] == "pass"
    assert call.verdict.value == "pass"
    # the ladder names the second INVITE, sent inside the dialog (To has a tag), a re-INVITE
    invites = [e.label for e in call.events if e.label.startswith(("INVITE", "re-INVITE"))]
    assert invites == ["INVITE (offer)", "re-INVITE"]


def test_key_mgmt_that_is_not_base64_or_not_mikey_is_reported() -> None:
    info, data = mikey_info(7, "!!!not base64", reveal=False)
    assert not info.parsed
    assert data is None
    assert info.error is not None and "base64" in info.error
    info, data = mikey_info(7, "AQID", reveal=False)  # three bytes: a truncated HDR
    assert not info.parsed
    assert data == b"\x01\x02\x03"
    assert info.frame == 7


def test_payload_tree_nests_by_depth() -> None:
    tree = lines_to_tree([(0, "MIKEY X"), (1, "HDR"), (2, "CSB ID: 0x1"), (1, "RAND: ab")])
    assert tree is not None
    assert tree.label == "MIKEY X"
    assert [c.label for c in tree.children] == ["HDR", "RAND"]
    assert tree.children[0].children[0].label == "CSB ID"
    assert tree.children[0].children[0].value == "0x1"
    assert tree.children[1].value == "ab"
