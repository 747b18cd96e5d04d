"""The capture point ``mrf``: the same calls as at the UE, seen beside the MRF, with the Mp
leg (H.248 between MRFC and MRFP) ordered as the seed's steps say (docs/mp-profile.md), and
the MRFC's KMS leg in dial-in.

Frames are read with scapy and the Mp messages by their text (the first line of each
transaction), not with the codec that wrote them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from mikeyshark.synth import synthesize
from mikeyshark.synth.scenarios import SynthResult

SCENARIOS = ("msrp-dial-in", "msrp-dial-out", "bfcp-dial-in", "bfcp-dial-out")
MRFC, MRFP, SCSCF, KMS = "192.0.2.20", "203.0.113.30", "192.0.2.15", "192.0.2.40"


@dataclass(frozen=True, slots=True)
class Seen:
    number: int
    src: str
    dst: str
    what: str  # "sip INVITE", "sip 200", "mp Add", "mp Reply Add", "syn", "http", ...


_TXN = re.compile(rb"^(Transaction|Reply) = (\d+) \{\r\n\s*Context = \S+ \{\r\n\s*(\w+)", re.M)


def _seen(r: SynthResult) -> list[Seen]:
    out = []
    for f in r.frames:
        pkt = Ether(f.data)
        ip = pkt[IP]
        if UDP in pkt and 5060 in (pkt[UDP].sport, pkt[UDP].dport):
            first = bytes(pkt[UDP].payload).split(b"\r\n", 1)[0].decode()
            word = first.split()[1] if first.startswith("SIP/2.0") else first.split()[0]
            out.append(Seen(f.number, ip.src, ip.dst, f"sip {word}"))
        elif UDP in pkt and pkt[UDP].dport == 2944:
            data = bytes(pkt[UDP].payload)
            for kind, _, command in _TXN.findall(data):
                tag = "mp " if kind == b"Transaction" else "mp Reply "
                out.append(Seen(f.number, ip.src, ip.dst, tag + command.decode()))
            if re.search(rb"^Reply = \d+ \{\r\n\s*Error = ", data, re.M):
                out.append(Seen(f.number, ip.src, ip.dst, "mp Reply Error"))
        elif TCP in pkt:
            tcp = pkt[TCP]
            if int(tcp.flags) & 0x12 == 0x02:
                out.append(Seen(f.number, ip.src, ip.dst, "syn"))
            elif tcp.dport == 80 and bytes(tcp.payload).startswith(b"POST"):
                out.append(Seen(f.number, ip.src, ip.dst, "http POST"))
    return out


def _first(seen: list[Seen], what: str) -> Seen:
    return next(s for s in seen if s.what == what)


@pytest.mark.parametrize("scenario", [*SCENARIOS, "conference"])
def test_the_same_calls_at_both_capture_points(scenario: str) -> None:
    ue = synthesize(scenario, seed=4)
    mrf = synthesize(scenario, seed=4, capture_point="mrf")
    assert [c.call_id for c in mrf.calls] == [c.call_id for c in ue.calls]
    assert [m.tek for c in mrf.calls for m in c.media] == [m.tek for c in ue.calls for m in c.media]

    # the same SIP messages, byte for byte, on another hop
    def sip_payloads(r: SynthResult) -> list[bytes]:
        return [
            bytes(p[UDP].payload)
            for p in (Ether(f.data) for f in r.frames)
            if UDP in p and 5060 in (p[UDP].sport, p[UDP].dport)
        ]

    assert sip_payloads(mrf) == sip_payloads(ue)
    hops = {(s.src, s.dst) for s in _seen(mrf) if s.what.startswith("sip ")}
    assert hops == {(SCSCF, MRFC), (MRFC, SCSCF)}
    # the UE-MRFP media: the same connections
    assert {(c.media[0].tcp_client, c.media[0].tcp_server) for c in mrf.calls} == {
        (c.media[0].tcp_client, c.media[0].tcp_server) for c in ue.calls
    }


@pytest.mark.parametrize("scenario", ["msrp-dial-in", "bfcp-dial-in"])
def test_dial_in_reserves_and_configures_before_the_mrfp_connects(scenario: str) -> None:
    seen = _seen(synthesize(scenario, seed=2, capture_point="mrf"))
    order = [s.what for s in seen]
    # the MRFP registers first (from its Mp address, to the MRFC's)
    assert order[:2] == ["mp ServiceChange", "mp Reply ServiceChange"]
    assert (seen[0].src, seen[0].dst) == (MRFP, MRFC)
    add, reply = _first(seen, "mp Add"), _first(seen, "mp Reply Add")
    assert (add.src, add.dst, reply.src, reply.dst) == (MRFC, MRFP, MRFP, MRFC)
    # steps 2, 3 (the MRFC asks the KMS), 4-6 (Add, Reply), 7 (the MRFP's SYN), 9-10 (200)
    invite, post = _first(seen, "sip INVITE"), _first(seen, "http POST")
    syn = next(s for s in seen if s.what == "syn" and s.src == MRFP and s.dst != MRFC)
    ok = _first(seen, "sip 200")
    assert invite.number < post.number < add.number < reply.number < syn.number < ok.number
    assert (post.src, post.dst) == (MRFC, KMS)
    # the call's release: BYE, its 200, then Subtract
    bye = _first(seen, "sip BYE")
    sub = _first(seen, "mp Subtract")
    assert bye.number < sub.number < _first(seen, "mp Reply Subtract").number


@pytest.mark.parametrize("scenario", ["msrp-dial-out", "bfcp-dial-out"])
def test_dial_out_reserves_before_the_offer_and_configures_before_ue_b_connects(
    scenario: str,
) -> None:
    seen = _seen(synthesize(scenario, seed=2, capture_point="mrf"))
    reserve_reply = _first(seen, "mp Reply Add")
    invite = _first(seen, "sip INVITE")
    ok = _first(seen, "sip 200")
    modify, modified = _first(seen, "mp Modify"), _first(seen, "mp Reply Modify")
    syn = next(s for s in seen if s.what == "syn" and s.dst == MRFP)
    assert reserve_reply.number < invite.number < ok.number <= modify.number
    assert modified.number < syn.number
    assert not any(s.what == "http POST" for s in seen)  # UE-B resolves, out of view


def test_over_tcp_the_mrfp_opens_one_connection_and_frames_each_message_with_tpkt() -> None:
    r = synthesize("conference", seed=2, capture_point="mrf", mp_transport="tcp")
    segments = []
    for f in r.frames:
        p = Ether(f.data)
        if TCP in p and 2944 in (p[TCP].sport, p[TCP].dport):
            segments.append(p)
    syns = [p for p in segments if int(p[TCP].flags) & 0x12 == 0x02]
    assert [(p[IP].src, p[TCP].sport, p[IP].dst, p[TCP].dport) for p in syns] == [
        (MRFP, 2944, MRFC, 2944)
    ]
    stream = {MRFC: b"", MRFP: b""}
    for p in segments:
        stream[p[IP].src] += bytes(p[TCP].payload)
    for data in stream.values():
        n = 0
        while data:
            # RFC 1006: version 3, reserved 0, length of the packet including the header
            assert data[:2] == b"\x03\x00"
            length = int.from_bytes(data[2:4], "big")
            assert data[4:].startswith(b"MEGACO/1 [")
            data = data[length:]
            n += 1
        assert n > 10
    assert not [f for f in r.frames if UDP in Ether(f.data) and Ether(f.data)[UDP].dport == 2944]


def test_ue_side_captures_have_no_mp_leg() -> None:
    r = synthesize("conference", seed=2)
    assert not [s for s in _seen(r) if s.what.startswith("mp") or s.what == "http POST"]


def test_an_unknown_capture_point_is_refused() -> None:
    with pytest.raises(ValueError, match="capture point"):
        synthesize("msrp-dial-in", capture_point="core")
