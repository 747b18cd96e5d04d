"""The synthesizer's contract: reproducible bytes, the key file opens the tickets, each fault
changes what it names, the CLI writes what it says."""

from __future__ import annotations

import hashlib
import hmac
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from mikeyshark.dissectors import sdp, sip
from mikeyshark.dissectors.mikey.message import parse as mikey_parse
from mikeyshark.dissectors.mikey.payloads import Ticket
from mikeyshark.dissectors.mikey.payloads import ntp64_from_unix_ns as ntp
from mikeyshark.dissectors.mikey.ticket import TicketError, open_ticket
from mikeyshark.keyfile import KeyFile
from mikeyshark.synth import FAULTS, SCENARIOS, synthesize, write_capture
from mikeyshark.synth.scenarios import SynthResult


def _sip(r: SynthResult) -> list[tuple[int, sip.SipMessage]]:
    out = []
    for f in r.frames:
        payload = f.data[42:]  # Ethernet 14 + IPv4 20 + UDP 8: our SIP is IPv4/UDP
        if f.data[23] == 17 and sip.looks_like_sip(payload):
            out.append((f.ts_ns, sip.parse(payload)))
    return out


def _tcp_payloads(r: SynthResult) -> list[bytes]:
    out = []
    for f in r.frames:
        if f.data[23] != 6:
            continue
        off = 14 + 20 + (f.data[14 + 20 + 12] >> 4) * 4
        if len(f.data) > off:
            out.append(f.data[off:])
    return out


def _syn_sources(r: SynthResult) -> list[str]:
    out = []
    for f in r.frames:
        if f.data[23] == 6 and f.data[14 + 20 + 13] == 0x02:
            out.append(".".join(str(b) for b in f.data[26:30]))
    return out


def test_same_seed_same_bytes_and_different_seed_different_keys(tmp_path: Path) -> None:
    a, b = synthesize("conference", seed=5), synthesize("conference", seed=5)
    pa, pb = tmp_path / "a.pcapng", tmp_path / "b.pcapng"
    write_capture(a, pa)
    write_capture(b, pb)
    assert pa.read_bytes() == pb.read_bytes()
    assert a.keyfile_text == b.keyfile_text
    c = synthesize("conference", seed=6)
    teks_a = {m.tek for call in a.calls for m in call.media}
    teks_c = {m.tek for call in c.calls for m in call.media}
    assert len(teks_a) == 6 and not teks_a & teks_c
    assert (
        KeyFile.parse(a.keyfile_text).kms[0].master_key
        != KeyFile.parse(c.keyfile_text).kms[0].master_key
    )
    # time starts at 2026-01-01T12:00:00Z plus the seed in minutes
    assert a.frames[0].ts_ns == 1_767_268_800_000_000_000 + 5 * 60_000_000_000


def test_pcap_classic_holds_nanosecond_stamps(tmp_path: Path) -> None:
    r = synthesize("bfcp-dial-in", seed=1)
    p = tmp_path / "x.pcap"
    write_capture(r, p)
    data = p.read_bytes()
    assert data[:4] == bytes.fromhex("4d3cb2a1")  # nanosecond pcap magic, little-endian
    assert int.from_bytes(data[20:24], "little") == 1  # LINKTYPE_ETHERNET


def _ticket_and_tek(r: SynthResult, key: bytes) -> tuple[int, int, int, bytes]:
    m = r.calls[0].media[0]
    msg = mikey_parse(m.mikey_init)
    t = msg.find(Ticket)
    assert t is not None
    opened = open_ticket(key, msg.hdr.csb_id, t.data)
    # HDR 17 bytes, T 10 bytes, then RAND: next payload, length, 16 bytes
    rand = m.mikey_init[17 + 10 + 2 : 17 + 10 + 2 + 16]
    assert msg.hdr.prf_func == 1  # PRF-HMAC-SHA-256 (docs/profile.md)
    # TEK = PRF-HMAC-SHA-256(TGK, 0x2AD01C64 || cs 1 || CSB ID || RAND, 16): one HMAC chain
    # block, computed here with hmac rather than with the derivation the synthesizer uses.
    label = struct.pack("!IBI", 0x2AD01C64, 1, msg.hdr.csb_id) + rand
    tgk = opened.ticket.tgks[0]
    a1 = hmac.new(tgk, label, hashlib.sha256).digest()
    tek = hmac.new(tgk, a1 + label, hashlib.sha256).digest()[:16]
    return opened.ticket.t_start, opened.ticket.t_end, msg.hdr.csb_id, tek


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_key_file_opens_the_ticket_and_gives_the_tek(scenario: str) -> None:
    r = synthesize(scenario, seed=11)
    kf = KeyFile.parse(r.keyfile_text)
    assert kf.conference is not None and kf.conference.uri == "sip:conf1@conf.example.org"
    start, end, csb_id, tek = _ticket_and_tek(r, kf.kms[0].master_key)
    m = r.calls[0].media[0]
    assert csb_id == m.csb_id
    assert tek == m.tek
    invite_ns = next(ts for ts, s in _sip(r) if s.method == "INVITE")
    assert start < ntp(invite_ns) < end


def test_mode3_ticket_opens_with_the_initiators_key_only() -> None:
    r = synthesize("msrp-dial-in", seed=2, mode3=True)
    kf = KeyFile.parse(r.keyfile_text)
    with pytest.raises(TicketError):
        _ticket_and_tek(r, kf.kms[0].master_key)
    psk = next(p.key for p in kf.psk if p.identity == "sip:alice@example.org")
    assert _ticket_and_tek(r, psk)[3] == r.calls[0].media[0].tek


def test_given_key_file_is_used(tmp_path: Path) -> None:
    text = '[[kms]]\nuri = "kms.example.org"\nmaster_key = "' + "ab" * 32 + '"\n'
    r = synthesize("bfcp-dial-out", seed=3, keys=text)
    assert r.keyfile_text == text
    assert _ticket_and_tek(r, bytes.fromhex("ab" * 32))[3] == r.calls[0].media[0].tek


def _offer_answer(r: SynthResult) -> tuple[sdp.SessionDescription, sdp.SessionDescription]:
    msgs = [s for _, s in _sip(r) if s.sdp_body()]
    body_o, body_a = msgs[0].sdp_body(), msgs[1].sdp_body()
    assert body_o is not None and body_a is not None
    return sdp.parse(body_o), sdp.parse(body_a)


def test_clean_call_follows_the_seed() -> None:
    r = synthesize("msrp-dial-in", seed=4)
    offer, answer = _offer_answer(r)
    assert offer.media[0].proto == "TCP/TLS/MSRP" and offer.media[0].setup == "actpass"
    assert answer.media[0].setup == "active"
    assert answer.connection is not None and answer.connection.address == "203.0.113.30"
    assert _syn_sources(r) == ["203.0.113.30"]  # the MRFP connects (step 7)
    methods = [str(s.status) if s.status else s.method for _, s in _sip(r)]
    assert methods == ["INVITE", "100", "200", "ACK", "BYE", "200"]
    expected = r.calls[0].expected
    assert all(v == "pass" or k == "BFCP-IDS" for k, v in expected.items() if k[:3] != "MP-")
    # no Mp in view at the UE (MP-BFCP-DIALOUT does not apply to MSRP)
    assert {k: v for k, v in expected.items() if k[:3] == "MP-" and v != "not-observed"} == {
        "MP-BFCP-DIALOUT": "not-applicable"
    }


def test_reliable_183_with_prack() -> None:
    r = synthesize("msrp-dial-out", seed=4, reliable_183=True)
    msgs = [s for _, s in _sip(r)]
    methods = [str(s.status) if s.status else s.method for s in msgs]
    assert methods == ["INVITE", "100", "180", "183", "PRACK", "200", "200", "ACK", "BYE", "200"]
    r183 = msgs[3]
    assert r183.get("Require") == "100rel" and r183.get("RSeq") == "1"
    assert r183.sdp_body() and b"a=key-mgmt:mikey" in (r183.sdp_body() or b"")
    assert msgs[4].get("RAck") == "1 1 INVITE"
    # the focus (offerer) counts INVITE 1, PRACK 2, BYE 3
    assert [m.get("CSeq") for m in msgs if m.status is None] == [
        "1 INVITE",
        "2 PRACK",
        "1 ACK",
        "3 BYE",
    ]


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ("setup-active-offer", lambda o, a, r: o.media[0].setup == "active"),
        ("setup-passive-answer", lambda o, a, r: a.media[0].setup == "passive"),
        ("no-key-mgmt", lambda o, a, r: o.media[0].key_mgmt() is None and a.media[0].key_mgmt()),
        ("no-transfer-resp", lambda o, a, r: a.media[0].key_mgmt() is None),
        ("plain-transport", lambda o, a, r: o.media[0].proto == "TCP/MSRP"),
        ("offerer-connects", lambda o, a, r: _syn_sources(r) == ["198.51.100.11"]),
        (
            "plaintext-media",
            lambda o, a, r: any(p.startswith(b"MSRP ") for p in _tcp_payloads(r)),
        ),
        (
            "tls10",
            lambda o, a, r: any(
                p[:1] == b"\x16" and p[9:11] == b"\x03\x01" for p in _tcp_payloads(r)
            ),
        ),
        (
            "srtp-prot-type",
            # GENERIC-ID entry right after the 10-byte HDR: CS ID, then Prot type
            lambda o, a, r: r.calls[0].media[0].mikey_init[10:12] == b"\x01\x00",
        ),
        (
            "two-crypto-sessions",
            lambda o, a, r: mikey_parse(r.calls[0].media[0].mikey_init).hdr.cs_map.n_cs == 2,
        ),
        (
            "wrong-data-type",
            lambda o, a, r: r.calls[0].media[0].mikey_init[1] == 0,
        ),
    ],
)
def test_fault_changes_what_it_names(fault: str, check: object) -> None:
    clean = synthesize("msrp-dial-in", seed=9)
    r = synthesize("msrp-dial-in", seed=9, faults=[fault])
    o, a = _offer_answer(r)
    assert callable(check) and check(o, a, r)
    assert r.calls[0].expected[FAULTS[fault].rule] == FAULTS[fault].trips
    assert FAULTS[fault].trips == ("warning" if fault == "tls10" else "fail")
    assert clean.calls[0].expected[FAULTS[fault].rule] == "pass"
    assert (
        hashlib.sha256(b"".join(f.data for f in r.frames)).digest()
        != hashlib.sha256(b"".join(f.data for f in clean.frames)).digest()
    )


def test_expired_ticket_window_ends_before_invite() -> None:
    r = synthesize("bfcp-dial-in", seed=1, faults=["expired-ticket"])
    start, end, _, _ = _ticket_and_tek(r, KeyFile.parse(r.keyfile_text).kms[0].master_key)
    invite_ns = next(ts for ts, s in _sip(r) if s.method == "INVITE")
    assert end < ntp(invite_ns) and end - start == 3600 << 32


def test_replayed_init_adds_a_second_call_with_the_same_init() -> None:
    r = synthesize("msrp-dial-in", seed=1, faults=["replayed-init"])
    assert len(r.calls) == 2
    first, second = r.calls
    assert first.call_id != second.call_id
    assert first.media[0].mikey_init == second.media[0].mikey_init
    assert first.expected["REPLAY"] == "pass" and second.expected["REPLAY"] == "fail"


def test_fault_not_applicable_is_refused() -> None:
    with pytest.raises(ValueError, match="does not apply"):
        synthesize("bfcp-dial-in", faults=["msrp-wrong-path"])
    with pytest.raises(ValueError, match="unknown fault"):
        synthesize("bfcp-dial-in", faults=["nope"])


def test_cli_list_and_write(tmp_path: Path) -> None:
    exe = [sys.executable, "-m", "mikeyshark"]
    out = subprocess.run([*exe, "synth", "--list"], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert sum(1 for ln in lines if ln.startswith("  ")) == len(SCENARIOS) + len(FAULTS)
    assert any(ln.split()[:2] == ["tls10", "TLS-VERSION"] for ln in lines)
    cap = tmp_path / "m.pcapng"
    subprocess.run(
        [*exe, "synth", "msrp-dial-out", "-o", str(cap), "--seed", "3"],
        check=True,
        capture_output=True,
    )
    r = synthesize("msrp-dial-out", seed=3)
    ref = tmp_path / "ref.pcapng"
    write_capture(r, ref)
    assert cap.read_bytes() == ref.read_bytes()
    assert (tmp_path / "m.toml").read_text() == r.keyfile_text
    bad = subprocess.run([*exe, "synth", "msrp-dial-out"], capture_output=True, text=True)
    assert bad.returncode == 2


@pytest.mark.parametrize(
    ("keys", "why"),
    [
        ("[[kms]]\nuri = 'kms.example.org'\nmaster_key = 'zz'\n", "master_key"),
        ("[[psk]]\nidentity = 'sip:alice@example.org'\nkey = '00'\n", "no [[kms]]"),
        ("not toml = = =\n", "keys"),
    ],
)
def test_cli_bad_key_file_is_a_usage_error(tmp_path: Path, keys: str, why: str) -> None:
    kf = tmp_path / "bad.toml"
    kf.write_text(keys)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mikeyshark",
            "synth",
            "msrp-dial-in",
            "-o",
            str(tmp_path / "x.pcap"),
            "--keys",
            str(kf),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and why in out.stderr
    assert not (tmp_path / "x.pcap").exists()
