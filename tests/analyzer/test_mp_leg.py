"""The Mp leg through the pipeline: H.248 over UDP, TCP (TPKT) and SCTP gathered into
transactions and terminations, each termination bound to the call and m-line whose SDP it
carries (docs/mp-profile.md), its PSK a TEK candidate proven only by the TLS handshake.

Expected values come from the synthesizer's own facts (the TEK it derived, the addresses it
chose) or from hand-written messages, not from the code under test.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from mikeyshark.dissectors import transport
from mikeyshark.dissectors.h248 import SCTP_PPID
from mikeyshark.dissectors.h248.framing import build_tpkt
from mikeyshark.dissectors.h248.model import (
    Action,
    Command,
    LocalRemoteDescriptor,
    MediaDescriptor,
    MegacoMessage,
    StreamDescriptor,
    TransactionRequest,
)
from mikeyshark.dissectors.h248.mp import MP_ITEMS
from mikeyshark.dissectors.h248.text import build_message
from mikeyshark.evidence import CallRecord, MediaRecord, SdpMedia, Status, Verdict
from mikeyshark.keyfile import KeyFile
from mikeyshark.model import Endpoint, Frame, StreamChunk
from mikeyshark.mp import MpLeg
from mikeyshark.procedure import Direction, Protocol
from mikeyshark.synth import synthesize
from tests.support.analyze import analyze_frames, analyze_synth
from tests.support.h248_mp import MRFC, session
from tests.support.paths import VECTORS

MRFC_IP, MRFP_IP = "192.0.2.20", "203.0.113.30"


def _mp_frames(frames: tuple[Frame, ...] | list[Frame]) -> list[int]:
    """Indexes of the frames carrying UDP 2944 (the synthesizer's Mp leg)."""
    out = []
    for i, f in enumerate(frames):
        p = Ether(f.data)
        if UDP in p and p[UDP].dport == 2944:
            out.append(i)
    return out


def _renumber(frames: list[Frame]) -> list[Frame]:
    frames = sorted(frames, key=lambda f: f.ts_ns)
    return [dataclasses.replace(f, number=n) for n, f in enumerate(frames, 1)]


@pytest.mark.parametrize("scenario", ["msrp-dial-in", "bfcp-dial-out"])
def test_the_psk_given_on_mp_opens_the_media_without_a_key_file(
    scenario: str, tmp_path: Path
) -> None:
    result = synthesize(scenario, seed=3, capture_point="mrf")
    report = analyze_frames(result.frames, "", tmp_path / "nokeys.pcap")
    (call,) = report.calls
    got = {c.rule: c for c in call.checks}
    assert got["TICKET-OPEN"].status is Status.NOT_OBSERVED  # nothing opens the ticket
    m = call.media[0]
    assert m.key is not None and m.key.recovered
    assert m.key.tek == result.calls[0].media[0].tek  # the synthesizer's TEK
    assert got["TLS-KEY"].status is Status.PASS
    assert "the PSK the MRFC gave on Mp" in got["TLS-KEY"].message
    assert got["MP-PSK"].status is Status.PASS
    media_rule = "MSRP-PATHS" if scenario.startswith("msrp") else "BFCP-IDS"
    assert got[media_rule].status is Status.PASS  # the media read, decrypted with it
    assert m.messages


def test_a_conference_binds_each_termination_to_its_own_m_line(tmp_path: Path) -> None:
    result = synthesize("conference", seed=3, capture_point="mrf")
    report = analyze_synth(result, tmp_path / "conf.pcap")
    facts = {c.call_id: c for c in result.calls}
    ids = set()
    for call in report.calls:
        assert call.verdict is Verdict.PASS
        assert call.mp_leg
        for m, f in zip(call.media, facts[call.call_id].media, strict=True):
            t = m.mp
            assert t is not None and t.configure is not None
            assert t.psk == f.tek  # the TEK of this m-line's own crypto session
            assert t.configure.pskid == f.psk_identity
            assert (t.mrfc.ip, t.mrfp.ip) == (MRFC_IP, MRFP_IP)
            assert t.connection_joined is True
            ids.add(t.termination)
    assert len(ids) == 6  # two m-lines in each of three calls


def test_over_tcp_the_mrfc_is_told_by_content_not_by_who_connected(tmp_path: Path) -> None:
    """docs/mp-profile.md: the MRFP opens the Mp connection; the MRFC is the side that sends
    Add, Modify and Subtract."""
    result = synthesize("conference", seed=3, capture_point="mrf", mp_transport="tcp")
    syn = [
        Ether(f.data)
        for f in result.frames
        if TCP in Ether(f.data)
        and Ether(f.data)[TCP].dport == 2944
        and int(Ether(f.data)[TCP].flags) & 0x12 == 0x02
    ]
    assert [p[IP].src for p in syn] == [MRFP_IP]
    report = analyze_synth(result, tmp_path / "tcp.pcap")
    for call in report.calls:
        assert call.verdict is Verdict.PASS
        for m in call.media:
            assert m.mp is not None
            assert (m.mp.mrfc.ip, m.mp.mrfp.ip, m.mp.transport) == (MRFC_IP, MRFP_IP, "tcp")


def test_mp_over_sctp_with_payload_protocol_7(tmp_path: Path) -> None:
    result = synthesize("msrp-dial-in", seed=3, capture_point="mrf")
    frames = list(result.frames)
    for i in _mp_frames(frames):
        p = Ether(frames[i].data)
        payload = bytes(p[UDP].payload)
        chunk = transport.build_sctp_data(transport.SctpData(100 + i, 0, i, SCTP_PPID, payload))
        raw = transport.sctp_packet(2944, 2944, 0x1234ABCD, (chunk,))
        ip = IP(src=p[IP].src, dst=p[IP].dst, proto=132) / Raw(raw)
        data = bytes(Ether(src=p[Ether].src, dst=p[Ether].dst) / ip)
        frames[i] = dataclasses.replace(frames[i], data=data, wirelen=len(data))
    report = analyze_frames(frames, result.keyfile_text, tmp_path / "sctp.pcap")
    (call,) = report.calls
    assert call.verdict is Verdict.PASS
    assert call.media[0].mp is not None and call.media[0].mp.transport == "sctp"


def test_a_fragmented_sctp_user_message_is_reassembled(tmp_path: Path) -> None:
    result = synthesize("msrp-dial-in", seed=3, capture_point="mrf")
    frames = list(result.frames)
    add = next(i for i in _mp_frames(frames) if b"Add = $" in bytes(Ether(frames[i].data)[UDP]))
    p = Ether(frames[add].data)
    payload = bytes(p[UDP].payload)
    half = len(payload) // 2
    first = transport.SctpData(7, 0, 0, SCTP_PPID, payload[:half], transport.SCTP_DATA_BEGINNING)
    last = transport.SctpData(8, 0, 0, SCTP_PPID, payload[half:], transport.SCTP_DATA_ENDING)
    pieces = []
    for n, d in enumerate((first, last)):
        raw = transport.sctp_packet(2944, 2944, 0x1234ABCD, (transport.build_sctp_data(d),))
        ip = IP(src=p[IP].src, dst=p[IP].dst, proto=132) / Raw(raw)
        data = bytes(Ether(src=p.src, dst=p.dst) / ip)
        pieces.append(
            dataclasses.replace(
                frames[add], data=data, wirelen=len(data), ts_ns=frames[add].ts_ns + n
            )
        )
    frames[add : add + 1] = pieces
    report = analyze_frames(_renumber(frames), result.keyfile_text, tmp_path / "frag.pcap")
    (call,) = report.calls
    assert call.media[0].mp is not None
    assert call.media[0].mp.configure is not None
    assert call.media[0].mp.configure.psk == result.calls[0].media[0].tek


def test_a_retransmitted_request_and_reply_are_one_transaction(tmp_path: Path) -> None:
    result = synthesize("msrp-dial-in", seed=3, capture_point="mrf")
    frames = list(result.frames)
    mp = _mp_frames(frames)
    add = next(i for i in mp if b"Add = $" in frames[i].data)
    reply = next(i for i in mp if i > add)
    # the Add sent again 300 ms later (UDP: the MRFC's timer fired), the Reply again
    again = [
        dataclasses.replace(frames[i], ts_ns=frames[reply].ts_ns + (300 + k) * 1_000_000)
        for k, i in enumerate((add, reply))
    ]
    report = analyze_frames(_renumber(frames + again), result.keyfile_text, tmp_path / "again.pcap")
    (call,) = report.calls
    t = call.media[0].mp
    assert t is not None
    adds = [tx for tx in t.transactions if tx.command == "Add"]
    assert len(adds) == 1
    assert [f.kind for f in adds[0].frames] == ["request", "reply", "request again", "reply again"]
    assert {c.rule: c.status for c in call.checks}["MP-REPLY"] is Status.PASS


def test_binary_h248_is_recognised_and_said_so(tmp_path: Path) -> None:
    """BER messages on UDP 2945: read to command level, counted as Mp traffic, and the
    capture says its descriptors are not judged."""
    vectors = json.loads((VECTORS / "megaco" / "ber_erlang.json").read_text())
    result = synthesize("msrp-dial-in", seed=3)
    last = result.frames[-1]
    extra = []
    for k, v in enumerate(vectors[:3]):
        pkt = (
            Ether()
            / IP(src=MRFC_IP, dst=MRFP_IP)
            / UDP(sport=2945, dport=2945)
            / Raw(bytes.fromhex(v["ber"]))
        )
        data = bytes(pkt)
        extra.append(Frame(last.number + k + 1, last.ts_ns + k + 1, 1, data, len(data)))
    report = analyze_frames([*result.frames, *extra], result.keyfile_text, tmp_path / "b.pcap")
    (capture,) = report.captures
    said = [p for p in capture.errors if p.layer == "megaco"]
    assert [p.frame for p in said] == [last.number + 1]
    assert "binary H.248 (BER) is read to command level" in said[0].reason
    (call,) = report.calls
    assert call.mp_leg  # Mp traffic in the capture: a missing termination is a failure now
    assert {c.rule: c.status for c in call.checks}["MP-PRESENT"] is Status.FAIL


def test_a_tpkt_packet_split_over_segments_is_one_message() -> None:
    msg = MegacoMessage(
        1, MRFC, (TransactionRequest(77, (Action("-", (Command("Subtract", ("msrp/9",)),)),)),)
    )
    framed = build_tpkt(build_message(msg))
    leg = MpLeg()
    a, b = Endpoint(MRFC_IP, 2944), Endpoint(MRFP_IP, 2944)
    leg.on_tcp(0, True, a, b, StreamChunk(10, 1, 0, framed[:5]))
    assert leg.messages == 0
    leg.on_tcp(0, True, a, b, StreamChunk(11, 2, 5, framed[5:]))
    assert leg.messages == 1
    (term,) = leg.terms
    assert term.id == "msrp/9" and term.steps[0].txn.request_frame == 11


def _add(tid: int, ip: str, port: int) -> MegacoMessage:
    remote = session(
        "v=0",
        f"o=- 1 1 IN IP4 {ip}",
        "s=-",
        f"c=IN IP4 {ip}",
        "t=0 0",
        f"m=message {port} TCP/TLS/MSRP *",
        f"a=path:msrps://{ip}:{port}/s{tid};tcp",
    )
    media = MediaDescriptor((StreamDescriptor(1, (LocalRemoteDescriptor.of(True, [remote]),)),))
    add = Command("Add", ("$",), (media,))
    return MegacoMessage(1, MRFC, (TransactionRequest(tid, (Action("$", (add,)),)),))


def _call(ip: str, port: int, tid: int) -> CallRecord:
    offer = SdpMedia(1, 0, "message", port, "TCP/TLS/MSRP", ip,
                     path=(f"msrps://{ip}:{port}/s{tid};tcp",))  # fmt: skip
    call = CallRecord(call_id=f"c{tid}", direction=Direction.DIAL_IN)
    call.media.append(MediaRecord(0, Protocol.MSRP, offer))
    return call


def test_binding_needs_the_address_and_the_port() -> None:
    """Reading 1: two UEs may use the same port; the c= address tells their terminations
    apart, and a Remote whose port alone matches binds to no call."""
    leg = MpLeg()
    a, b = Endpoint(MRFC_IP, 2944), Endpoint(MRFP_IP, 2944)
    for n, (tid, ip) in enumerate(((1, "198.51.100.11"), (2, "198.51.100.12"))):
        leg.on_message(n + 1, n, a, b, _add(tid, ip, 49170), "udp")
    second, first, third = (
        _call("198.51.100.12", 49170, 2),
        _call("198.51.100.11", 49170, 1),
        _call("198.51.100.13", 49170, 3),
    )
    for call in (second, first, third):
        leg.bind(call)
        assert call.mp_leg
    assert second.media[0].mp is not None and second.media[0].mp.commands[0].frame == 2
    assert first.media[0].mp is not None and first.media[0].mp.commands[0].frame == 1
    assert third.media[0].mp is None


def test_renamed_items_are_judged_only_with_the_key_file_that_names_them(
    tmp_path: Path,
) -> None:
    """The key file's [profile.mp] renames each adopted item; a capture written with the
    new names passes with it, and without it the PSK, role and events are not found."""
    base = synthesize("msrp-dial-in", seed=3).keyfile_text
    renamed = base + (
        "\n[profile.mp]\n"
        'psk = "tlsbsc/psk"\n'
        'pskid = "tlsbsc/pskid"\n'
        'role = "tlsbsc/role"\n'
        'tcp_fail_event = "tcpbcc/estfail"\n'
        'tls_fail_event = "tlsbsc/estfail"\n'
    )
    result = synthesize("msrp-dial-in", seed=3, keys=renamed, capture_point="mrf")
    mp_text = b"".join(result.frames[i].data for i in _mp_frames(result.frames))
    assert b"tlsbsc/psk = " in mp_text and b"mkstls/" not in mp_text
    with_names = analyze_frames(result.frames, renamed, tmp_path / "named.pcap")
    assert with_names.calls[0].verdict is Verdict.PASS
    without = analyze_frames(result.frames, base, tmp_path / "unnamed.pcap")
    got = {c.rule: c for c in without.calls[0].checks}
    assert got["MP-PSK"].status is Status.FAIL
    assert "no PSK (mkstls/psk) was given to the MRFP" in got["MP-PSK"].message
    assert got["MP-ROLE"].status is Status.FAIL
    assert got["MP-PSKID"].status is Status.NOT_APPLICABLE  # no identity found: optional
    assert without.calls[0].verdict is Verdict.FAIL


def test_the_tls_failure_the_mrfp_notifies_carries_the_alert_seen(tmp_path: Path) -> None:
    """Reading 5: with the wrong PSK the MRFP's handshake ends in a fatal alert, and the
    cause of its tlsfail Notify is that alert's description (bad_record_mac, 20)."""
    result = synthesize("msrp-dial-out", seed=3, capture_point="mrf", faults=["mp-wrong-psk"])
    report = analyze_synth(result, tmp_path / "wrong-psk.pcap")
    (call,) = report.calls
    m = call.media[0]
    assert m.mp is not None and m.tls is not None
    (observed,) = m.mp.observed
    assert (observed.key, observed.cause) == ("tls_fail_event", 20)
    fatal = [(f, d) for f, d in m.tls.alerts if d != 0]
    assert fatal and fatal[0][1] == 20
    reply = {c.rule: c for c in call.checks}["MP-REPLY"]
    assert f"the TLS alert bad_record_mac is in frame {fatal[0][0]}" in reply.message


def test_the_readme_names_each_adopted_item_and_how_to_rename_it() -> None:
    """The README's Mp section lists every adopted name with its key-file key, and its
    [profile.mp] example is a key file that renames what it names and nothing else."""
    readme = (VECTORS.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Captures at the MRF: the Mp leg", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)` \| `([\w/]+)` \|", section, re.M))
    assert rows == {
        "psk": "mkstls/psk",
        "pskid": "mkstls/pskid",
        "role": "mkstls/role",
        "tcp_fail_event": "mkstls/tcpfail",
        "tls_fail_event": "mkstls/tlsfail",
    }
    assert rows == {i.key: i.name for i in MP_ITEMS}
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    profile = KeyFile.parse(example).mp
    assert (profile.psk, profile.role, profile.tls_fail_event) == (
        "tlsbsc/psk",
        "tlsbsc/role",
        "tlsbsc/estfail",
    )
    assert (profile.pskid, profile.tcp_fail_event) == ("mkstls/pskid", "mkstls/tcpfail")
