"""Dialogs, retransmissions and offer/answer pairing (RFC 3261 13-14, RFC 3262, RFC 3311).

Expected frames, kinds and SDP values follow from how the test messages were written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mikeyshark.calls import CallTracker, OfferAnswer, _is_focus, track_capture
from mikeyshark.dissectors import sip
from mikeyshark.model import Endpoint
from tests.support.sip_captures import UE, write_calls

A = Endpoint("192.0.2.1", 5060)
B = Endpoint("192.0.2.2", 5060)
RESP_KEY = bytes(range(16))  # "AAECAwQFBgcICQoLDA0ODw" with the padding restored


def _kinds(negs: list[OfferAnswer]) -> list[tuple[str, int, int | None]]:
    return [(n.kind, n.offer.frame, n.answer.frame if n.answer else None) for n in negs]


@pytest.fixture(scope="module")
def calls_capture(tmp_path_factory: pytest.TempPathFactory) -> CallTracker:
    path = write_calls(tmp_path_factory.mktemp("calls") / "calls.pcap")
    tracker, problems = track_capture(path)
    assert problems == []
    return tracker


def test_udp_call_100rel_update_reinvite(calls_capture: CallTracker) -> None:
    call = calls_capture.calls["udp-call-1@192.0.2.1"]
    assert [r.frame for r in call.records if r.retransmission] == [2]
    (d,) = call.dialogs
    assert (d.caller_tag, d.callee_tag, d.state) == ("a1", "c1", "confirmed")
    assert (d.caller, d.callee) == (A, B)
    assert d.callee_focus and not d.caller_focus
    # INVITE answered by the reliable 183; UPDATE by its 200; re-INVITE by its 200.
    assert _kinds(call.negotiations) == [
        ("INVITE/answer", 1, 4),
        ("UPDATE/2xx", 7, 8),
        ("INVITE/answer", 11, 12),
    ]
    assert all(n.answer_reliable for n in call.negotiations)
    first = [m for m in call.media if m.negotiation is call.negotiations[0]]
    msrp, bfcp = first
    assert (msrp.protocol, msrp.proto, bfcp.protocol, bfcp.proto) == (
        "msrp",
        "TCP/TLS/MSRP",
        "bfcp",
        "TCP/TLS/BFCP",
    )
    assert (msrp.offer_address, msrp.answer_address) == (
        Endpoint(UE, 50000),
        Endpoint("192.0.2.2", 6000),
    )
    assert (bfcp.offer_address, bfcp.answer_address) == (
        Endpoint(UE, 50001),
        Endpoint("192.0.2.2", 6001),
    )
    assert (msrp.offer_setup, msrp.answer_setup, msrp.active_side()) == (
        "actpass",
        "active",
        "answerer",
    )
    assert msrp.answer_key_mgmt == RESP_KEY and bfcp.answer_key_mgmt == RESP_KEY
    assert msrp.offer_key_mgmt is not None and msrp.offer_key_mgmt[:2] == b"\x01\x00"
    assert (msrp.offer_frame, msrp.answer_frame) == (1, 4)
    assert (msrp.offerer, msrp.answerer) == (A, B)
    assert msrp.offerer_uri == "sip:alice@example.org"
    assert msrp.answerer_uri == "sip:conf1@conf.example.org"
    assert bfcp.answer_media is not None and bfcp.answer_media.confid == 4321
    # The re-INVITE turned the roles: offer active, answer passive -> the offerer connects.
    reinv = [m for m in call.media if m.negotiation is call.negotiations[2]]
    assert [m.active_side() for m in reinv] == ["offerer", "offerer"]
    assert all(m.attachments == {} for m in call.media)


def test_tcp_call_multipart_offer(calls_capture: CallTracker) -> None:
    call = calls_capture.calls["tcp-call-2"]
    assert _kinds(call.negotiations) == [("INVITE/answer", 19, 21)]
    (d,) = call.dialogs
    assert (d.caller_tag, d.callee_tag, d.state, d.callee_focus) == ("a2", "c2", "confirmed", True)
    assert [m.proto for m in call.media] == ["TCP/TLS/MSRP", "TCP/TLS/BFCP"]
    assert call.media[0].offerer == Endpoint(UE, 40000)
    assert [r.transport for r in call.records] == ["TCP"] * 5


def test_offer_in_200_answer_in_ack(calls_capture: CallTracker) -> None:
    call = calls_capture.calls["udp-call-3"]
    assert _kinds(call.negotiations) == [("2xx/ACK", 24, 25)]
    msrp = call.media[0]
    # The 200 OK's sender (bob) made the offer; the caller answered in the ACK.
    assert (msrp.offerer, msrp.answerer) == (B, A)
    assert (msrp.offerer_uri, msrp.answerer_uri) == ("sip:bob@example.net", "sip:alice@example.org")
    assert msrp.offer_key_mgmt == RESP_KEY
    assert (msrp.offer_setup, msrp.answer_setup, msrp.active_side()) == (
        "actpass",
        "active",
        "answerer",
    )


# ---- scenarios fed straight into the tracker

SDP1 = b"v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
SDP1 += b"m=message 5000 TCP/MSRP *\r\na=setup:actpass\r\n"


def sdp_from(ip: str, port: int, setup: str) -> bytes:
    return (
        f"v=0\r\no=y 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
        f"m=message {port} TCP/MSRP *\r\na=setup:{setup}\r\n"
    ).encode()


def req(method: str, cseq: str, to_tag: str | None = None, *extra: str, body: bytes = b"") -> bytes:
    to = "<sip:b@example.net>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} sip:b@example.net SIP/2.0",
        f"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-{method}-{cseq.split()[0]}",
        "From: <sip:a@example.org>;tag=fa",
        f"To: {to}",
        "Call-ID: oa",
        f"CSeq: {cseq}",
        *extra,
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def resp(status: str, cseq: str, to_tag: str | None, *extra: str, body: bytes = b"") -> bytes:
    to = "<sip:b@example.net>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"SIP/2.0 {status}",
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-x",
        "From: <sip:a@example.org>;tag=fa",
        f"To: {to}",
        "Call-ID: oa",
        f"CSeq: {cseq}",
        *extra,
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def feed(msgs: list[tuple[bytes, bool]]) -> CallTracker:
    """(bytes, sent by A?) in order; frame numbers count from 1."""
    t = CallTracker()
    for i, (raw, from_a) in enumerate(msgs, 1):
        src, dst = (A, B) if from_a else (B, A)
        t.add(sip.parse(raw), frame=i, ts_ns=i, src=src, dst=dst, transport="UDP")
    return t


def test_offer_in_reliable_183_answer_in_prack() -> None:
    t = feed(
        [
            (req("INVITE", "1 INVITE", None, "Supported: 100rel"), True),
            (
                resp(
                    "183 Session Progress",
                    "1 INVITE",
                    "tb",
                    "Require: 100rel",
                    "RSeq: 9",
                    body=sdp_from("192.0.2.2", 6000, "actpass"),
                ),
                False,
            ),
            (req("PRACK", "2 PRACK", "tb", "RAck: 9 1 INVITE", body=SDP1), True),
            (resp("200 OK", "2 PRACK", "tb"), False),
            (resp("200 OK", "1 INVITE", "tb"), False),
            (req("ACK", "1 ACK", "tb"), True),
        ]
    )
    call = t.calls["oa"]
    assert _kinds(call.negotiations) == [("18x/PRACK", 2, 3)]
    (ms,) = call.media
    assert (ms.offerer, ms.answerer) == (B, A)
    assert ms.offer_address == Endpoint("192.0.2.2", 6000)
    assert ms.answer_address == Endpoint("192.0.2.1", 5000)
    assert call.dialogs[0].state == "confirmed"


def test_offer_in_prack_answered_by_its_200() -> None:
    t = feed(
        [
            (req("INVITE", "1 INVITE", None, body=SDP1), True),
            (
                resp(
                    "183 Session Progress",
                    "1 INVITE",
                    "tb",
                    "Require: 100rel",
                    "RSeq: 1",
                    body=sdp_from("192.0.2.2", 6000, "active"),
                ),
                False,
            ),
            (req("PRACK", "2 PRACK", "tb", "RAck: 1 1 INVITE", body=SDP1), True),
            (resp("200 OK", "2 PRACK", "tb", body=sdp_from("192.0.2.2", 6002, "active")), False),
        ]
    )
    assert _kinds(t.calls["oa"].negotiations) == [("INVITE/answer", 1, 2), ("PRACK/2xx", 3, 4)]


def test_forked_early_dialogs_each_answer_the_offer() -> None:
    t = feed(
        [
            (req("INVITE", "1 INVITE", None, body=SDP1), True),
            (
                resp(
                    "183 Session Progress",
                    "1 INVITE",
                    "fork1",
                    "Require: 100rel",
                    "RSeq: 1",
                    body=sdp_from("192.0.2.7", 7000, "active"),
                ),
                False,
            ),
            (
                resp("200 OK", "1 INVITE", "fork2", body=sdp_from("192.0.2.8", 8000, "passive")),
                False,
            ),
        ]
    )
    call = t.calls["oa"]
    assert [(d.callee_tag, d.state) for d in call.dialogs] == [
        ("fork1", "early"),
        ("fork2", "confirmed"),
    ]
    assert _kinds(call.negotiations) == [("INVITE/answer", 1, 2), ("INVITE/answer", 1, 3)]
    assert [n.dialog.callee_tag if n.dialog else None for n in call.negotiations] == [
        "fork1",
        "fork2",
    ]
    assert [(m.answer_address, m.active_side()) for m in call.media] == [
        (Endpoint("192.0.2.7", 7000), "answerer"),
        (Endpoint("192.0.2.8", 8000), "offerer"),
    ]


def test_unreliable_183_answer_replaced_by_200() -> None:
    t = feed(
        [
            (req("INVITE", "1 INVITE", None, body=SDP1), True),
            (
                resp(
                    "183 Session Progress",
                    "1 INVITE",
                    "tb",
                    body=sdp_from("192.0.2.2", 1, "active"),
                ),
                False,
            ),
            (resp("200 OK", "1 INVITE", "tb", body=sdp_from("192.0.2.2", 2, "active")), False),
        ]
    )
    (n,) = t.calls["oa"].negotiations
    assert (n.answer.frame if n.answer else None, n.answer_reliable) == (3, True)
    assert t.calls["oa"].media[0].answer_address == Endpoint("192.0.2.2", 2)


def test_rejected_call_leaves_offer_unanswered() -> None:
    t = feed(
        [
            (req("INVITE", "1 INVITE", None, body=SDP1), True),
            (resp("486 Busy Here", "1 INVITE", "tb"), False),
        ]
    )
    call = t.calls["oa"]
    assert _kinds(call.negotiations) == [("INVITE/answer", 1, None)]
    assert call.dialogs[0].state == "failed"
    (ms,) = call.media
    assert ms.answer_media is None and ms.active_side() is None


def test_message_without_call_id_is_a_located_problem() -> None:
    t = CallTracker(file="x.pcap")
    raw = b"OPTIONS sip:b@example.net SIP/2.0\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    rec = t.add(sip.parse(raw), frame=5, ts_ns=0, src=A, dst=B, transport="UDP")
    assert [(p.frame, p.file, p.layer, p.field) for p in t.problems] == [
        (5, "x.pcap", "sip", "call-id")
    ]
    assert rec.problems == tuple(t.problems) and t.calls == {}


def test_bad_key_mgmt_is_a_problem_and_media_still_made() -> None:
    body = SDP1 + b"a=key-mgmt:mikey !!!\r\n"
    t = feed([(req("INVITE", "1 INVITE", None, body=body), True)])
    call = t.calls["oa"]
    assert [(p.layer, p.field, p.frame) for p in call.problems] == [("sdp", "key-mgmt", 1)]
    assert t.problems == call.problems and t.records[0].problems == tuple(call.problems)
    assert call.media[0].offer_key_mgmt is None and call.media[0].protocol == "msrp"


def test_flow_state_released(tmp_path: Path) -> None:
    from mikeyshark.calls import SipFlowHandler
    from mikeyshark.capture import CaptureReader
    from mikeyshark.flows import FlowTable

    path = write_calls(tmp_path / "c.pcap")
    h = SipFlowHandler()
    table = FlowTable(h)
    for frame in CaptureReader(path):
        table.feed(frame)
        if frame.number == 18:
            # Two segments of the INVITE are held until the third arrives.
            assert h.oldest_pending_frame() == 17
    table.finish()
    assert h.oldest_pending_frame() is None


def test_malformed_via_does_not_stop_pairing() -> None:
    bad = req("INVITE", "1 INVITE", None, body=SDP1).replace(
        b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-INVITE-1", b"Via: garbage"
    )
    t = feed(
        [
            (bad, True),
            (resp("200 OK", "1 INVITE", "tb", body=sdp_from("192.0.2.2", 6000, "active")), False),
        ]
    )
    assert _kinds(t.calls["oa"].negotiations) == [("INVITE/answer", 1, 2)]


def test_tcp_sniffing_on_the_sip_port(tmp_path: Path) -> None:
    from scapy.utils import wrpcap

    from tests.support.sip_captures import CONF, INVITE3, TcpPair

    tls = TcpPair((UE, 40010), (CONF, 5060))  # a TLS ClientHello on 5060: not SIP, no noise
    text = TcpPair((UE, 40011), (CONF, 5060))  # text junk, then SIP: junk reported, SIP found
    hello = bytes.fromhex("160301002f0100002b0303") + bytes(40)
    pkts = [
        *tls.handshake(),
        tls.seg(True, "PA", hello),
        *text.handshake(),
        text.seg(True, "PA", b"HELLO THERE\r\n" + INVITE3),
    ]
    for i, p in enumerate(pkts):
        p.time = 1.0 + i
    wrpcap(str(tmp_path / "s.pcap"), pkts)
    tracker, problems = track_capture(tmp_path / "s.pcap")
    assert [(r.frame, r.msg.call_id) for r in tracker.records] == [(8, "udp-call-3")]
    assert [(p.frame, p.layer, p.offset, p.reason) for p in problems] == [
        (8, "sip", 0, "13 bytes that are not SIP skipped")
    ]


def test_udp_keepalives_on_the_sip_port_are_not_problems(tmp_path: Path) -> None:
    from scapy.utils import wrpcap

    from tests.support.sip_captures import CONF, INVITE3, udp

    stun = bytes.fromhex("000100002112a442") + bytes(12)  # STUN Binding request header
    pkts = [udp(UE, CONF, b"\r\n\r\n"), udp(UE, CONF, stun), udp(UE, CONF, b"junk\r\n\r\n")]
    pkts.append(udp(UE, CONF, INVITE3))
    wrpcap(str(tmp_path / "k.pcap"), pkts)
    tracker, problems = track_capture(tmp_path / "k.pcap")
    assert [r.frame for r in tracker.records] == [4]
    assert [(p.frame, p.field) for p in problems] == [(3, "start-line")]


@pytest.mark.parametrize(
    ("contacts", "focus"),
    [
        # the feature tag is a header parameter of the Contact (RFC 3840 9, TS 24.147 5.3)
        (["<sip:conf1@192.0.2.20;transport=udp>;isfocus"], True),
        (["<sip:a@x>", '"Conf" <sip:conf1@x>;IsFocus;expires=60'], True),  # names: any case
        (["<sip:a@x>, <sip:b@x>;isfocus"], True),  # the second value of one header
        (["<sip:a@x>;\r\n isfocus"], True),  # on a folded line
        # inside the URI it is a URI parameter, not the feature tag
        (["<sip:conf1@x;isfocus>"], False),
        (["<sip:isfocus@x>;expires=60"], False),
        (["<sip:conf1@x;isfocus"], False),  # malformed: no focus claimed
        (["<sip:a@x>"], False),
        ([], False),
    ],
)
def test_focus_is_the_contact_feature_tag(contacts: list[str], focus: bool) -> None:
    lines = [f"Contact: {c}" for c in contacts]
    m = sip.parse(("SIP/2.0 200 OK\r\n" + "".join(f"{ln}\r\n" for ln in lines) + "\r\n").encode())
    assert _is_focus(m) is focus


def test_retransmissions_still_found_once_the_call_holds_its_budget_of_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With room for two keys: the INVITE and its 100 are kept; the 180 is not (the set is
    # full), so only a copy of a kept message is marked as a retransmission.
    monkeypatch.setattr("mikeyshark.calls.MAX_SEEN_KEYS", 2)
    invite = req("INVITE", "1 INVITE")
    trying = resp("100 Trying", "1 INVITE", None)
    ringing = resp("180 Ringing", "1 INVITE", "tb")
    t = feed([(invite, True), (trying, False), (ringing, False), (invite, True), (ringing, False)])
    call = t.calls["oa"]
    assert [r.frame for r in call.records if r.retransmission] == [4]
    assert len(call._seen) == 2


def test_the_servers_sdp_names_follow_the_answers_and_leave_with_the_call() -> None:
    # The offer listens on 192.0.2.1:5000 (SDP1); an unreliable 183 answers with port 1, the
    # 200 replaces it with port 2; a second fork answers on 192.0.2.8:8000. An audio m-line
    # names no server a TCP connection could serve.
    audio = b"m=audio 4000 RTP/AVP 0\r\n"
    t = feed(
        [
            (req("INVITE", "1 INVITE", None, body=SDP1 + audio), True),
            (
                resp("183 Progress", "1 INVITE", "tb", body=sdp_from("192.0.2.2", 1, "active")),
                False,
            ),
            (resp("200 OK", "1 INVITE", "tb", body=sdp_from("192.0.2.2", 2, "active")), False),
            (resp("200 OK", "1 INVITE", "fk", body=sdp_from("192.0.2.8", 8000, "active")), False),
        ]
    )
    assert t.media_servers == {
        Endpoint("192.0.2.1", 5000): 2,  # the offer, once per fork that answered it
        Endpoint("192.0.2.2", 2): 1,
        Endpoint("192.0.2.8", 8000): 1,
    }
    t.release(t.calls["oa"])
    assert t.media_servers == {}
