"""A capture taken in the core sees each SIP message on two hops (UE <-> P-CSCF and
P-CSCF <-> MRFC): one offer/answer, whose other-hop copies are kept as hop copies, not a
second offer; retransmissions, forks and B2BUA legs keep their old meaning.

Expected frames follow from the order in which the test messages are written.
"""

from __future__ import annotations

from mikeyshark.calls import Call, CallTracker
from mikeyshark.dissectors import sip
from mikeyshark.model import Endpoint

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
