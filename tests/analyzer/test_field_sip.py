"""SIP as it is seen in the field: SIP over TCP on 5060 with CRLF keep-alives mixed with
UDP, IPv6 (also inside GTP-U and ESP), 100rel/PRACK with the answer in the 183, a re-INVITE
that re-keys (a second TRANSFER_INIT, a new TLS session), CANCEL and failure responses."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from mikeyshark.checks.rules import RULES
from mikeyshark.dissectors import esp
from mikeyshark.model import Frame
from mikeyshark.report import json_report
from mikeyshark.report.html import render_html
from mikeyshark.synth import SynthResult, synthesize
from mikeyshark.synth.net import Cursor, Network, TcpConnection
from mikeyshark.synth.scenarios import (
    BASE_TIME_NS,
    UE_IPS,
    AddressPlan,
    call_specs,
    keyfile,
    make_world,
    new_call,
)
from tests.support.analyze import analyze_frames, statuses
from tests.support.tunnels import esp_frame, gtp_frame, sip_ports, ue_side

V6 = AddressPlan(
    "2001:db8:1::10",
    "2001:db8:1::20",
    "2001:db8:1::30",
    tuple(f"2001:db8:2::{i}" for i in (11, 12, 13, 14, 66)),
)


def _v6_call(scenario: str, seed: int) -> tuple[list[Frame], str]:
    w = make_world(seed, addr=V6)
    new_call(w, call_specs(scenario)[0], BASE_TIME_NS).run()
    return w.net.frames(), keyfile(w, "IPv6")


def _only_statuses(rep_statuses: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    """Per-call rule statuses without the Call-ID (it names the UE's address)."""
    return list(rep_statuses.values())


def _clean(protocol: str) -> dict[str, str]:
    """The statuses of a clean UE-side call (docs/rules.md): every rule passes but the other
    media's rules and KMS-RESOLVE (no KMS leg at the UE), which do not apply, and the Mp
    rules, not observed (no Mp leg at the UE)."""
    na = {"KMS-RESOLVE", "BFCP-IDS" if protocol == "msrp" else "MSRP-PATHS"}
    if protocol == "msrp":
        na.add("MP-BFCP-DIALOUT")
    return {
        r.id: "not-applicable" if r.id in na else "not-observed" if r.leg else "pass" for r in RULES
    }


def _sip_payload(f: Frame) -> bytes | None:
    pkt = Ether(f.data)
    u = pkt.getlayer(UDP)
    if u is None or 5060 not in (u.sport, u.dport):
        return None
    return bytes(u.payload)


def _renumber(frames: list[Frame]) -> list[Frame]:
    frames = sorted(frames, key=lambda f: f.ts_ns)
    return [Frame(n, f.ts_ns, f.linktype, f.data, f.wirelen) for n, f in enumerate(frames, 1)]


def _with_payload(f: Frame, payload: bytes, ts_ns: int | None = None) -> Frame:
    pkt = Ether(f.data)
    pkt[UDP].remove_payload()
    pkt[UDP].add_payload(Raw(payload))
    del pkt[UDP].len, pkt[UDP].chksum
    if pkt.haslayer(IP):
        del pkt[IP].len, pkt[IP].chksum
    else:
        del pkt[IPv6].plen
    data = bytes(pkt)
    return Frame(f.number, f.ts_ns if ts_ns is None else ts_ns, 1, data, len(data))


# -- IPv6 ----------------------------------------------------------------------------------


def test_ipv6_everywhere(tmp_path: Path) -> None:
    r4 = synthesize("bfcp-dial-in", seed=3)
    v4 = statuses(analyze_frames(r4.frames, r4.keyfile_text, tmp_path / "v4.pcap"))
    assert _only_statuses(v4) == [_clean("bfcp")]
    frames, keys = _v6_call("bfcp-dial-in", 3)
    assert all(f.data[12:14] == b"\x86\xdd" for f in frames)
    v6 = statuses(analyze_frames(frames, keys, tmp_path / "v6.pcap"))
    assert _only_statuses(v6) == _only_statuses(v4)
    assert next(iter(v6)).endswith("@2001:db8:2::11")
    ues = frozenset(V6.ues)
    # the same IPv6 call inside GTP-U (IPv6 transport network) ...
    n3 = [
        gtp_frame(f, uplink=ue_side(f.data[14:], ues), gnb="2001:db8:f::1", upf="2001:db8:f::2")
        for f in frames
    ]
    assert statuses(analyze_frames(n3, keys, tmp_path / "n3.pcap")) == v6
    # ... and with its SIP in ESP-NULL (HMAC-SHA-256-128), read without keys
    sa = esp.EspSa(0x33, "null", "hmac-sha256-128", b"", bytes(32))
    gm = [esp_frame(f, sa, i) if sip_ports(f) else f for i, f in enumerate(frames, 1)]
    assert statuses(analyze_frames(gm, keys, tmp_path / "gm.pcap")) == v6


# -- SIP over TCP with keep-alives, mixed with UDP -------------------------------------------


def test_sip_over_tcp_with_crlf_keepalives_mixed_with_udp(tmp_path: Path) -> None:
    """INVITE and its 200 OK over TCP 5060 (a big SDP: RFC 3261 18.1.1), preceded and
    followed by CRLF keep-alives (RFC 5626 4.4.1: ping CRLFCRLF, pong CRLF); 100 Trying,
    ACK, BYE and its 200 over UDP."""
    r = synthesize("msrp-dial-in", seed=41)
    plain = statuses(analyze_frames(r.frames, r.keyfile_text, tmp_path / "plain.pcap"))
    assert _only_statuses(plain) == [_clean("msrp")]
    net = Network(random.Random(1))
    ue = net.host("UE", UE_IPS[0])
    inv = r.frames[0]
    pcscf = net.host("P-CSCF", Ether(inv.data)[IP].dst)
    cur = Cursor(net.rng, inv.ts_ns - 50_000_000)
    conn = TcpConnection(net, cur, ue, 50123, pcscf, 5060)
    conn.connect()
    conn.send(True, b"\r\n\r\n")
    conn.send(False, b"\r\n")
    out: list[Frame] = []
    for f in r.frames:
        p = _sip_payload(f)
        if p is not None and (
            p.startswith(b"INVITE ")
            or (p.startswith(b"SIP/2.0 200") and b"INVITE" in p.split(b"CSeq:")[1][:12])
        ):
            cur.now_ns = max(cur.now_ns, f.ts_ns)
            conn.send(p.startswith(b"INVITE"), p.replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP"))
            if p.startswith(b"INVITE"):
                conn.send(True, b"\r\n\r\n")  # a keep-alive right after the INVITE
                conn.send(False, b"\r\n")
            continue
        out.append(f)
    tcp = net.frames()
    assert len(tcp) > 8
    frames = _renumber(out + tcp)
    rep = analyze_frames(frames, r.keyfile_text, tmp_path / "tcp.pcap")
    assert statuses(rep) == plain
    assert not [e for c in rep.captures for e in c.errors if e.layer == "sip"]


# -- 100rel -------------------------------------------------------------------------------------


def test_100rel_prack_answer_in_183(tmp_path: Path) -> None:
    r = synthesize("msrp-dial-in", seed=31, reliable_183=True)
    rep = analyze_frames(r.frames, r.keyfile_text, tmp_path / "183.pcap")
    c = rep.calls[0]
    assert c.verdict.value == "pass"
    first_lines = {f.number: (_sip_payload(f) or b"").split(b"\r\n")[0] for f in r.frames}
    assert first_lines[c.answer_frame or 0] == b"SIP/2.0 183 Session Progress"
    assert c.answer_status == 183
    assert any(v.startswith(b"PRACK ") for v in first_lines.values())
    assert c.outcome is not None and c.outcome.startswith("established: 200 OK")


# -- re-INVITE that re-keys -----------------------------------------------------------------


def _field(payload: bytes, name: bytes) -> bytes:
    m = re.search(rb"\r\n" + name + rb":[^\r]*", payload, re.IGNORECASE)
    assert m is not None
    return m.group(0)


def _tag(line: bytes) -> bytes:
    m = re.search(rb";tag=([^;\r>]+)", line)
    assert m is not None
    return m.group(1)


def test_reinvite_rekeys_with_new_mikey_and_tls(tmp_path: Path) -> None:
    a = synthesize("msrp-dial-in", seed=51)
    a_sip = [(f, _sip_payload(f)) for f in a.frames]
    # the first call without its BYE; the second call's SIP moved into the first's dialog
    kept = [f for f, p in a_sip if not (p and (p.startswith(b"BYE") or b"CSeq: 2 BYE" in p))]
    # the re-keying exchange a second later: a new ticket from the same KMS, valid from then
    b = synthesize(
        "msrp-dial-in", seed=52, keys=a.keyfile_text, now_ns=kept[-1].ts_ns + 1_000_000_000
    )
    a_inv = a_sip[0][1]
    a_ok = next(p for _, p in a_sip if p and p.startswith(b"SIP/2.0 200"))
    b_inv = _sip_payload(b.frames[0])
    b_ok = next(p for p in map(_sip_payload, b.frames) if p and p.startswith(b"SIP/2.0 200"))
    assert a_inv and a_ok and b_inv and b_ok
    subst = [
        (_field(b_inv, b"Call-ID"), _field(a_inv, b"Call-ID")),
        (_tag(_field(b_inv, b"From")), _tag(_field(a_inv, b"From"))),
        (_tag(_field(b_ok, b"To")), _tag(_field(a_ok, b"To"))),
        (b"CSeq: 1 INVITE", b"CSeq: 3 INVITE"),
        (b"CSeq: 1 ACK", b"CSeq: 3 ACK"),
        (b"CSeq: 2 BYE", b"CSeq: 4 BYE"),
    ]
    shift = kept[-1].ts_ns + 1_000_000_000 - b.frames[0].ts_ns
    assert shift >= 0
    to_tag = _tag(_field(a_ok, b"To"))
    moved = []
    for f in b.frames:
        p = _sip_payload(f)
        if p is not None:
            for old, new in subst:
                p = p.replace(old, new)
            if p.startswith(b"INVITE "):  # in-dialog: the To tag of the dialog
                p = re.sub(rb"(\r\nTo:[^\r]*)", rb"\1;tag=" + to_tag, p, count=1)
            moved.append(_with_payload(f, p, f.ts_ns + shift))
        else:
            moved.append(Frame(f.number, f.ts_ns + shift, f.linktype, f.data, f.wirelen))
    frames = _renumber(kept + moved)
    rep = analyze_frames(frames, a.keyfile_text, tmp_path / "reinvite.pcap")
    assert len(rep.calls) == 1
    c = rep.calls[0]
    assert len(c.media) == 2  # one m-line per offer: the INVITE's and the re-INVITE's
    m1, m2 = c.media
    # each offer's media is the one its synthesized exchange built: its own CSB, TEK and
    # TCP connection
    (fa,), (fb,) = a.calls[0].media, b.calls[0].media
    assert m1.init is not None and m2.init is not None
    assert (m1.init.csb_id, m2.init.csb_id) == (fa.csb_id, fb.csb_id)
    assert m1.init.rand != m2.init.rand
    assert m1.key is not None and m2.key is not None and m1.key.recovered and m2.key.recovered
    assert (m1.key.tek, m2.key.tek) == (fa.tek, fb.tek) and fa.tek != fb.tek
    assert m1.tcp is not None and m2.tcp is not None
    assert (str(m1.tcp.client), str(m2.tcp.client)) == (str(fa.tcp_client), str(fb.tcp_client))
    assert fa.tcp_client != fb.tcp_client
    assert m1.tls is not None and m2.tls is not None and m1.tls.decrypted and m2.tls.decrypted
    assert [(x.rule, x.message) for x in c.failing] == []
    assert c.verdict.value == "pass"


# -- CANCEL and failure responses ----------------------------------------------------------------


def _response(invite_frame: Frame, status_line: bytes, payload_of: bytes, ts: int) -> Frame:
    """A response (no body) built from the 100 Trying of the INVITE."""
    head, _, _ = payload_of.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    lines[0] = status_line
    lines = [
        line + b";tag=uas1" if line.lower().startswith(b"to:") and b"tag=" not in line else line
        for line in lines
    ]
    body = b"\r\n".join(lines) + b"\r\n\r\n"
    return _with_payload(invite_frame, body, ts)


def test_failure_and_cancel_never_reach_media(tmp_path: Path) -> None:
    r = synthesize("msrp-dial-in", seed=61)
    inv, trying = r.frames[0], r.frames[1]
    tp = _sip_payload(trying)
    ip = _sip_payload(inv)
    assert tp is not None and ip is not None
    t0 = trying.ts_ns

    busy = _response(trying, b"SIP/2.0 486 Busy Here", tp, t0 + 100_000_000)
    rep = analyze_frames(_renumber([inv, trying, busy]), r.keyfile_text, tmp_path / "busy.pcap")
    c = rep.calls[0]
    assert c.outcome == "rejected: 486 Busy Here (frame 3)"
    assert c.verdict.value == "incomplete"
    errs = [e for cap in rep.captures for e in cap.errors if e.layer == "sip"]
    assert [(e.frame, e.reason) for e in errs] == [
        (3, "the call never reached media: rejected: 486 Busy Here (frame 3)")
    ]
    doc = json.loads(json_report.dumps(rep))
    assert doc["calls"][0]["outcome"] == "rejected: 486 Busy Here (frame 3)"
    assert "rejected: 486 Busy Here (frame 3) &mdash; the call never reached media" in render_html(
        rep
    )

    # CANCEL (RFC 3261 9.1): same Call-ID, CSeq number, Via; 200 to it, 487 to the INVITE
    head = ip.partition(b"\r\n\r\n")[0].split(b"\r\n")
    cancel_lines = [b"CANCEL " + head[0].split(b" ")[1] + b" SIP/2.0"]
    for line in head[1:]:
        low = line.lower()
        if low.startswith((b"via", b"from", b"to", b"call-id", b"max-forwards")):
            cancel_lines.append(line)
        elif low.startswith(b"cseq"):
            cancel_lines.append(b"CSeq: 1 CANCEL")
    cancel = _with_payload(
        inv, b"\r\n".join(cancel_lines) + b"\r\nContent-Length: 0\r\n\r\n", t0 + 2_000_000_000
    )
    ok = _response(
        trying,
        b"SIP/2.0 200 OK",
        tp.replace(b"CSeq: 1 INVITE", b"CSeq: 1 CANCEL"),
        t0 + 2_010_000_000,
    )
    terminated = _response(trying, b"SIP/2.0 487 Request Terminated", tp, t0 + 2_020_000_000)
    frames = _renumber([inv, trying, cancel, ok, terminated])
    rep = analyze_frames(frames, r.keyfile_text, tmp_path / "cancel.pcap")
    c = rep.calls[0]
    assert c.outcome == "cancelled by the caller (frame 3), INVITE answered 487 Request Terminated"
    assert c.verdict.value == "incomplete"

    # no final response at all
    rep = analyze_frames(_renumber([inv, trying]), r.keyfile_text, tmp_path / "none.pcap")
    assert rep.calls[0].outcome == "no final response to the INVITE in the capture"


def test_answered_call_outcome(tmp_path: Path) -> None:
    r: SynthResult = synthesize("msrp-dial-in", seed=62)
    rep = analyze_frames(r.frames, r.keyfile_text, tmp_path / "ok.pcap")
    ok = next(
        f.number
        for f in r.frames
        if (_sip_payload(f) or b"").startswith(b"SIP/2.0 200 OK")
        and b"INVITE" in (_sip_payload(f) or b"").split(b"CSeq:")[1][:12]
    )
    assert rep.calls[0].outcome == f"established: 200 OK (frame {ok})"
    assert not [e for cap in rep.captures for e in cap.errors if e.layer == "sip"]
