"""A capture taken in the core sees each SIP message on two hops (UE <-> P-CSCF and
P-CSCF <-> MRFC): one offer/answer, whose other-hop copies are kept as hop copies, not a
second offer; retransmissions, forks and B2BUA legs keep their old meaning.

Expected frames follow from the order in which the test messages are written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mikeyshark.calls import Call, CallTracker
from mikeyshark.commands.analyze import build_report
from mikeyshark.dissectors import sip
from mikeyshark.keys import KeyFile
from mikeyshark.model import Endpoint
from mikeyshark.pipeline import analyze_capture
from mikeyshark.replay import ReplayError, ReplayOptions, run_replay
from mikeyshark.synth.scenarios import AddressPlan

UE = Endpoint("192.0.2.1", 5060)
PCSCF = Endpoint("192.0.2.10", 5060)
SCSCF = Endpoint("192.0.2.20", 5060)
UE_VIA = "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-ue"
P_VIA = "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK-pcscf"


def sdp(ip: str, port: int, setup: str) -> bytes:
    return (
        f"v=0\r\no=x 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
        f"m=message {port} TCP/TLS/MSRP *\r\na=setup:{setup}\r\n"
    ).encode()


OFFER = sdp("192.0.2.1", 5000, "actpass")


def msg(
    start: str,
    vias: tuple[str, ...],
    cseq: str,
    to_tag: str | None,
    *extra: str,
    body: bytes = b"",
    call_id: str = "legs",
) -> bytes:
    to = "<sip:conf@example.net>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        start,
        *vias,
        "From: <sip:a@example.org>;tag=fa",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq}",
        *extra,
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


INVITE = "INVITE sip:conf@example.net SIP/2.0"


def feed(msgs: list[tuple[bytes, Endpoint, Endpoint]]) -> CallTracker:
    t = CallTracker()
    for i, (raw, src, dst) in enumerate(msgs, 1):
        t.add(sip.parse(raw), frame=i, ts_ns=i, src=src, dst=dst, transport="UDP")
    return t


def _pairs(call: Call) -> list[tuple[int, int | None, list[int], list[int]]]:
    return [
        (
            n.offer.frame,
            n.answer.frame if n.answer else None,
            [r.frame for r in n.offer_hops],
            [r.frame for r in n.answer_hops],
        )
        for n in call.negotiations
    ]


def test_two_hops_one_offer_answer() -> None:
    answer = sdp("192.0.2.30", 6000, "active")
    t = feed(
        [
            (msg(INVITE, (UE_VIA,), "1 INVITE", None, body=OFFER), UE, PCSCF),  # 1
            (msg(INVITE, (P_VIA, UE_VIA), "1 INVITE", None, body=OFFER), PCSCF, SCSCF),  # 2
            (msg(INVITE, (P_VIA, UE_VIA), "1 INVITE", None, body=OFFER), PCSCF, SCSCF),  # 3 again
            (msg("SIP/2.0 100 Trying", (P_VIA, UE_VIA), "1 INVITE", None), SCSCF, PCSCF),  # 4
            (msg("SIP/2.0 200 OK", (P_VIA, UE_VIA), "1 INVITE", "c", body=answer), SCSCF, PCSCF),
            (msg("SIP/2.0 200 OK", (UE_VIA,), "1 INVITE", "c", body=answer), PCSCF, UE),  # 6
            (msg("ACK sip:conf@example.net SIP/2.0", (UE_VIA,), "1 ACK", "c"), UE, PCSCF),  # 7
            (msg("ACK sip:conf@x SIP/2.0", (P_VIA, UE_VIA), "1 ACK", "c"), PCSCF, SCSCF),  # 8
        ]
    )
    call = t.calls["legs"]
    # The earliest hop of each is the offer's / answer's frame; the others are hop copies.
    assert _pairs(call) == [(1, 5, [2], [6])]
    assert [r.frame for r in call.records if r.retransmission] == [3]
    assert [(r.frame, r.hop_of.frame) for r in call.records if r.hop_of] == [(2, 1), (6, 5), (8, 7)]
    (ms,) = call.media
    assert (ms.offerer, ms.answerer, ms.answer_address, ms.active_side()) == (
        UE,
        SCSCF,
        Endpoint("192.0.2.30", 6000),
        "answerer",
    )
    (d,) = call.dialogs
    assert (d.caller, d.callee, d.state) == (UE, SCSCF, "confirmed")
    # Requests sent before the dialog existed (retransmission included) belong to it.
    assert [r.frame for r in d.records] == [1, 2, 3, 5, 6, 7, 8]


def test_two_hops_reliable_183_and_prack() -> None:
    answer = sdp("192.0.2.30", 6000, "active")
    rel = ("Require: 100rel", "RSeq: 1")
    prack = "PRACK sip:conf@example.net SIP/2.0"
    t = feed(
        [
            (msg(INVITE, (UE_VIA,), "1 INVITE", None, body=OFFER), UE, PCSCF),
            (msg(INVITE, (P_VIA, UE_VIA), "1 INVITE", None, body=OFFER), PCSCF, SCSCF),
            (
                msg("SIP/2.0 183 P", (P_VIA, UE_VIA), "1 INVITE", "c", *rel, body=answer),
                SCSCF,
                PCSCF,
            ),
            (msg("SIP/2.0 183 P", (UE_VIA,), "1 INVITE", "c", *rel, body=answer), PCSCF, UE),
            (msg(prack, (UE_VIA,), "2 PRACK", "c", "RAck: 1 1 INVITE"), UE, PCSCF),
            (msg(prack, (P_VIA, UE_VIA), "2 PRACK", "c", "RAck: 1 1 INVITE"), PCSCF, SCSCF),
        ]
    )
    call = t.calls["legs"]
    assert _pairs(call) == [(1, 3, [2], [4])]
    assert call.negotiations[0].answer_reliable
    assert [r.frame for r in call.records if r.hop_of] == [2, 4, 6]


def test_via_rewritten_same_body_is_a_hop_copy() -> None:
    # Topology hiding replaced the Vias: the body still shows the message is the same.
    hidden = "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK-hidden"
    t = feed(
        [
            (msg(INVITE, (UE_VIA,), "1 INVITE", None, body=OFFER), UE, PCSCF),
            (msg(INVITE, (hidden,), "1 INVITE", None, body=OFFER), PCSCF, SCSCF),
        ]
    )
    assert _pairs(t.calls["legs"]) == [(1, None, [2], [])]


def test_b2bua_leg_stays_a_dialog_of_its_own() -> None:
    answer = sdp("192.0.2.30", 6000, "active")
    t = feed(
        [
            (msg(INVITE, (UE_VIA,), "1 INVITE", None, body=OFFER), UE, PCSCF),
            (msg(INVITE, (P_VIA,), "1 INVITE", None, body=OFFER, call_id="leg2"), PCSCF, SCSCF),
            (
                msg("SIP/2.0 200 OK", (P_VIA,), "1 INVITE", "c", body=answer, call_id="leg2"),
                SCSCF,
                PCSCF,
            ),
            (msg("SIP/2.0 200 OK", (UE_VIA,), "1 INVITE", "c", body=answer), PCSCF, UE),
        ]
    )
    assert _pairs(t.calls["legs"]) == [(1, 4, [], [])]
    assert _pairs(t.calls["leg2"]) == [(2, 3, [], [])]
    assert [r.hop_of for r in t.records] == [None] * 4


def test_forked_responses_on_two_hops() -> None:
    a1 = sdp("192.0.2.7", 7000, "active")
    a2 = sdp("192.0.2.8", 8000, "passive")
    rel = ("Require: 100rel", "RSeq: 1")
    t = feed(
        [
            (msg(INVITE, (UE_VIA,), "1 INVITE", None, body=OFFER), UE, PCSCF),  # 1
            (msg(INVITE, (P_VIA, UE_VIA), "1 INVITE", None, body=OFFER), PCSCF, SCSCF),  # 2
            (msg("SIP/2.0 183 P", (P_VIA, UE_VIA), "1 INVITE", "f1", *rel, body=a1), SCSCF, PCSCF),
            (msg("SIP/2.0 183 P", (UE_VIA,), "1 INVITE", "f1", *rel, body=a1), PCSCF, UE),  # 4
            (msg("SIP/2.0 200 OK", (P_VIA, UE_VIA), "1 INVITE", "f2", body=a2), SCSCF, PCSCF),
            (msg("SIP/2.0 200 OK", (UE_VIA,), "1 INVITE", "f2", body=a2), PCSCF, UE),  # 6
        ]
    )
    call = t.calls["legs"]
    assert [(d.callee_tag, d.state) for d in call.dialogs] == [("f1", "early"), ("f2", "confirmed")]
    # Each fork answers the one offer; each answer has its copy on the access hop.
    assert _pairs(call) == [(1, 3, [2], [4]), (1, 5, [2], [6])]
    assert [(m.answer_address, m.active_side()) for m in call.media] == [
        (Endpoint("192.0.2.7", 7000), "answerer"),
        (Endpoint("192.0.2.8", 8000), "offerer"),
    ]


# ---- live: the all-legs replay capture is judged like its access-only part


def _verdicts(cap: Path, keys: Path) -> dict[str, tuple[str, dict[str, str]]]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mikeyshark",
            "analyze",
            str(cap),
            "--keys",
            str(keys),
            "--json",
            "-",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode in (0, 1), out.stderr
    report = json.loads(out.stdout)
    return {
        c["call_id"]: (c["verdict"], {x["rule"]: x["status"] for x in c["checks"]})
        for c in report["calls"]
    }


def _plan(net: int) -> AddressPlan:
    """Loopback addresses of their own: other live runs on the machine use 127.0.0.x."""
    ues = tuple(f"127.0.{net}.{i}" for i in (11, 12, 13, 14, 66))
    return AddressPlan(f"127.0.{net}.10", f"127.0.{net}.20", f"127.0.{net}.30", ues)


@pytest.mark.live
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("scenario", "reliable", "net"), [("msrp-dial-out", True, 71), ("bfcp-dial-in", False, 72)]
)
def test_all_legs_capture_judged_like_access_capture(
    tcpdump: str, tmp_path: Path, scenario: str, reliable: bool, net: int
) -> None:
    full = tmp_path / "all.pcap"
    plan = _plan(net)
    opts = ReplayOptions(scenario, seed=5, reliable_183=reliable, addr=plan)
    try:
        result = run_replay(opts, full, all_legs=True)
    except ReplayError as e:
        # CI installs tcpdump and can capture on lo: there a capture failure is a failure
        if "capture did not start" in str(e) and not os.environ.get("CI"):
            pytest.skip(f"tcpdump cannot capture on lo here: {e}")
        raise
    keys = tmp_path / "k.toml"
    keys.write_text(result.keyfile_text, encoding="utf-8")
    # The access-only capture of the same run: what a probe at the UEs sees (replay's filter).
    access = tmp_path / "access.pcap"
    flt = " or ".join(f"host {ip}" for ip in plan.ues)
    subprocess.run([tcpdump, "-r", str(full), "-w", str(access), flt], check=True, timeout=60)
    pcscf_mrfc = f"host {plan.pcscf} and host {plan.mrfc} and udp port 5060"
    core = subprocess.run(
        [tcpdump, "-nr", str(full), pcscf_mrfc], capture_output=True, text=True, timeout=60
    )
    assert len(core.stdout.splitlines()) >= 4  # the capture really holds the second hop
    full_v, access_v = _verdicts(full, keys), _verdicts(access, keys)
    assert sorted(full_v) == sorted(c.call_id for c in result.calls)
    assert full_v == access_v
    assert {v for v, _ in full_v.values()} == {"pass"}
    # The ladder shows the other hop's INVITE and answer as copies of the first seen.
    kf = KeyFile.parse(result.keyfile_text)
    for c in build_report([analyze_capture(str(full), kf)], kf, reveal=False).calls:
        labels = {e.frame: e.label for e in c.events if e.kind == "sip"}
        assert c.invite_frame is not None and c.answer_frame is not None
        assert labels[c.invite_frame] == "INVITE (offer)"
        assert labels[c.answer_frame].endswith(" (answer)")
        for first in (c.invite_frame, c.answer_frame):
            copies = [f for f, lb in labels.items() if lb.endswith(f"[hop copy of frame {first}]")]
            assert len(copies) == 1 and copies[0] > first
