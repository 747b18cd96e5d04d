"""mikeyshark.keys.resolve_exchange / resolve_kms_leg and `mikeyshark keys resolve`.

Exchanges are built with mikeyshark.dissectors.mikey's profile builders (their bytes are pinned
in tests/dissectors/mikey/test_profile.py); every key the resolver must find is recomputed here
from hmac.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mikeyshark.cli import main
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.mikey import Randr, Ticket, build, parse
from mikeyshark.dissectors.mikey.payloads import SrtpIdEntry, SrtpIdMap
from mikeyshark.dissectors.mikey.ticket import BaseTicket, TicketError, open_ticket, protect_ticket
from mikeyshark.dissectors.mikey.transfer import (
    build_resolve_init,
    build_resolve_resp,
    build_transfer_init,
    build_transfer_resp,
)
from mikeyshark.keyfile import KeyFile
from mikeyshark.keys import resolve_exchange, resolve_kms_leg

KMS_KEY = bytes(range(32))
ALICE_KEY = bytes(range(100, 116))
CONF_KEY = bytes(range(200, 216))
MPK = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")
TGK = bytes.fromhex("b0b1b2b3b4b5b6b7b8b9babbbcbdbebf")
CSB = 0x0A0B0C0D
NTP0 = 0xE7C1A2B300000000  # 2023-03-19 15:03:15 UTC
UNIX0_NS = (0xE7C1A2B3 - 2_208_988_800) * 10**9
RAND = bytes(range(0x10, 0x20))
ALICE = b"sip:alice@example.org"
CONF = b"sip:conf1@conf.example.org"
KMS = b"kms.example.org"

KEYS = f"""
[[kms]]
uri = "other.example.org"
master_key = "{bytes(32).hex()}"

[[kms]]
uri = "kms.example.org"
master_key = "{KMS_KEY.hex()}"

[[psk]]
identity = "sip:alice@example.org"
key = "{ALICE_KEY.hex()}"

[[psk]]
identity = "sip:conf1@conf.example.org"
key = "{CONF_KEY.hex()}"
"""


def prf256(key: bytes, label: bytes, n: int) -> bytes:
    out, a = b"", label
    while len(out) < n:
        a = hmac.new(key, a, hashlib.sha256).digest()
        out += hmac.new(key, a + label, hashlib.sha256).digest()
    return out[:n]


def tek(rand: bytes, n: int = 16) -> bytes:
    return prf256(TGK, struct.pack("!IBI", 0x2AD01C64, 1, CSB) + rand, n)


def exchange(key: bytes = KMS_KEY, valid_s: int = 3600, csb: int = CSB) -> tuple[bytes, bytes]:
    bt = BaseTicket(NTP0, NTP0, NTP0 + (valid_s << 32), bytes(16), ALICE, CONF, KMS, MPK, (TGK,))
    td = protect_ticket(key, csb, bt)
    init = build_transfer_init(
        csb_id=csb,
        t_ntp=NTP0 + (1 << 32),
        rand=RAND,
        initiator=ALICE,
        responder=CONF,
        kms_uri=KMS,
        ticket_data=td,
        mpk=MPK,
    )
    resp = build_transfer_resp(init=init, t_ntp=NTP0 + (2 << 32), responder=CONF, mpk=MPK)
    return init, resp


def keyfile(text: str = KEYS) -> KeyFile:
    return KeyFile.parse(text, "k.toml")


def flip(b: bytes, i: int) -> bytes:
    x = bytearray(b)
    x[i] ^= 0x01
    return bytes(x)


def test_kms_issued_ticket_opens_and_everything_verifies() -> None:
    init, resp = exchange()
    r = resolve_exchange(init, resp, keyfile())
    assert r.failures == []
    assert (r.ticket_opened, r.opened_by, r.mode) == (True, "kms kms.example.org", "kms")
    assert r.ticket is not None and (r.ticket.mpk, r.ticket.tgks) == (MPK, (TGK,))
    assert (r.init_mac_ok, r.resp_mac_ok, r.same_csb, r.csb_id) == (True, True, True, CSB)
    assert r.valid_at is True and r.checked_at_ns == UNIX0_NS + 10**9
    assert r.validity is not None and r.validity.end_ns == UNIX0_NS + 3600 * 10**9
    (cs,) = r.crypto_sessions
    assert (cs.cs_id, cs.prot_type, cs.is_tls, cs.tgk) == (1, 2, True, TGK)
    first = r.tek_candidates[0]
    assert (first.key, first.cs_id, first.confirmed_by) == (tek(RAND), 1, None)
    assert first.derivation == "PRF-HMAC-SHA-256(TGK, TEK label cs 1, RAND, 16)"
    assert r.tek_candidates[1].key == tek(RAND, 32)
    # the attempts say the first KMS key failed and the one IDRkms names was tried first
    assert r.attempts == ["kms kms.example.org: ticket MAC verifies"]


def test_messages_parsed_by_the_caller_are_not_parsed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # correlate parses both messages for the report, then resolves with what it parsed
    init, resp = exchange()
    parsed = (parse(init), parse(resp))

    def no_parse(data: bytes) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr("mikeyshark.keys.parse", no_parse)
    r = resolve_exchange(init, resp, keyfile(), parsed=parsed)
    assert r.init is parsed[0] and r.resp is parsed[1]
    assert (r.init_mac_ok, r.resp_mac_ok, r.same_csb) == (True, True, True)
    assert r.tek_candidates[0].key == tek(RAND)


def test_an_srtp_id_map_names_srtp_whatever_the_sp_payload_says() -> None:
    """CONFORMANCE.md's reading of OFFER-PROT-TLS: the crypto session's Prot type is the one
    of the HDR's CS ID map; an SRTP-ID map is SRTP's (RFC 3830 6.1.1), even when the SP payload
    (here TLS, 2) says otherwise."""
    msg = parse(exchange()[0])
    srtp = replace(msg.hdr, cs_map=SrtpIdMap((SrtpIdEntry(0, 0x01020304, 0),)))
    init = build(replace(msg, hdr=srtp))
    assert init[9] == 0  # the CS ID map type of the HDR on the wire: SRTP-ID (RFC 3830 6.1)
    (cs,) = resolve_exchange(init, None, keyfile()).crypto_sessions
    assert (cs.cs_id, cs.prot_type, cs.is_tls) == (1, 0, False)


def test_mode3_ticket_built_by_initiator_opens_with_its_psk() -> None:
    init, resp = exchange(key=ALICE_KEY)
    r = resolve_exchange(init, resp, keyfile())
    assert (r.ticket_opened, r.opened_by, r.mode) == (True, "psk sip:alice@example.org", "mode-3")
    assert r.failures == []
    assert len(r.attempts) == 3  # both KMS keys failed first


def test_wrong_kms_key() -> None:
    init, resp = exchange(key=bytes([7]) * 32)
    r = resolve_exchange(init, resp, keyfile())
    assert not r.ticket_opened
    assert r.error is not None and r.error.code == "ticket-not-opened"
    assert "ticket MAC fails with all 4" in r.error.reason
    assert r.init_mac_ok is None and r.tek_candidates == []


def test_flipped_ticket_mac_bit() -> None:
    init, resp = exchange()
    tk = parse(init).find(Ticket)
    assert tk is not None
    pos = init.index(tk.data) + len(tk.data) - 1
    r = resolve_exchange(flip(init, pos), resp, keyfile())
    assert [f.code for f in r.failures] == ["ticket-not-opened"]


def test_flipped_init_v_bit() -> None:
    init, resp = exchange()
    r = resolve_exchange(flip(init, len(init) - 1), resp, keyfile())
    # TRANSFER_RESP's V folds in TRANSFER_INIT's T, not its V: only the init fails
    assert (r.ticket_opened, r.init_mac_ok, r.resp_mac_ok) == (True, False, True)
    assert [f.code for f in r.failures] == ["init-bad-mac"]
    r2 = resolve_exchange(init, flip(resp, len(resp) - 1), keyfile())
    assert (r2.init_mac_ok, r2.resp_mac_ok) == (True, False)
    assert [f.code for f in r2.failures] == ["resp-bad-mac"]


def test_wrong_csb_id_in_response() -> None:
    init, resp = exchange()
    other = bytearray(resp)
    other[4:8] = (CSB + 1).to_bytes(4, "big")
    r = resolve_exchange(init, bytes(other), keyfile())
    assert r.same_csb is False
    f = r.failure("csb-mismatch")
    assert f is not None
    assert f.reason == "TRANSFER_RESP CSB ID 0x0a0b0c0e differs from TRANSFER_INIT's 0x0a0b0c0d"


def test_wrong_csb_id_in_init_does_not_open_the_ticket() -> None:
    init, _ = exchange()
    other = bytearray(init)
    other[4:8] = (CSB + 1).to_bytes(4, "big")
    r = resolve_exchange(bytes(other), None, keyfile())
    # the ticket keys are derived with the CSB ID in their label (docs/profile.md, The base
    # ticket): the right KMS key no longer verifies the MAC, and neither does any other
    # configured key
    assert (r.ticket_opened, [f.code for f in r.failures]) == (False, ["ticket-not-opened"])
    assert len(r.attempts) == 4
    assert all(
        a.endswith(": ticket MAC does not verify (wrong key or altered ticket)") for a in r.attempts
    )


def test_expired_and_not_yet_valid() -> None:
    init, resp = exchange(valid_s=60)
    r = resolve_exchange(init, resp, keyfile(), at_time_ns=UNIX0_NS + 61 * 10**9)
    assert r.ticket_opened and r.valid_at is False
    assert [f.code for f in r.failures] == ["expired"]
    r2 = resolve_exchange(init, resp, keyfile(), at_time_ns=UNIX0_NS - 1)
    assert [f.code for f in r2.failures] == ["not-yet-valid"]
    r3 = resolve_exchange(init, resp, keyfile(), at_time_ns=UNIX0_NS + 60 * 10**9)
    assert r3.failures == []


def test_no_keys_and_not_a_ticket_message(vectors: Path) -> None:
    init, _ = exchange()
    r = resolve_exchange(init, None, keyfile(""))
    assert [f.code for f in r.failures] == ["no-keys"]
    v = json.loads((vectors / "mikey" / "mikey_psk_init.json").read_text())
    psk_init = bytes.fromhex(v["encr_null"]["message_hex"])
    r2 = resolve_exchange(psk_init, None, keyfile())
    assert [f.code for f in r2.failures] == ["not-ticket-message", "no-ticket"]


def test_malformed_inputs() -> None:
    init, resp = exchange()
    with pytest.raises(DissectError):
        resolve_exchange(init[:-1], None, keyfile())
    r = resolve_exchange(init, resp[:-3], keyfile())
    assert r.failure("resp-malformed") is not None
    assert r.ticket_opened and r.init_mac_ok


def test_tek_candidates_order_with_randr_and_tek_entry() -> None:
    init, _ = exchange()
    im = parse(init)
    resp_raw = build_transfer_resp(init=init, t_ntp=NTP0, responder=CONF, mpk=MPK)
    rm = parse(resp_raw)
    randr = b"\x55" * 16
    with_randr = build(type(rm)(rm.hdr, (*rm.payloads[:2], Randr(2, randr), rm.payloads[2])))
    text = KEYS + '\n[[tek]]\nkey = "00112233445566778899aabbccddeeff"\nidentity = "x"\n'
    r = resolve_exchange(init, with_randr, keyfile(text))
    got = [(c.key, c.derivation) for c in r.tek_candidates]
    assert got[:4] == [
        (tek(RAND), "PRF-HMAC-SHA-256(TGK, TEK label cs 1, RAND, 16)"),
        (tek(RAND, 32), "PRF-HMAC-SHA-256(TGK, TEK label cs 1, RAND, 32)"),
        (tek(RAND + randr), "PRF-HMAC-SHA-256(TGK, TEK label cs 1, RAND||RANDRr, 16)"),
        (tek(RAND + randr, 32), "PRF-HMAC-SHA-256(TGK, TEK label cs 1, RAND||RANDRr, 32)"),
    ]
    assert got[4] == (tek(randr), "PRF-HMAC-SHA-256(TGK, TEK label cs 1, RANDRr, 16)")
    # then the other PRF: MIKEY-1, computed with HMAC-SHA-1 here
    lab = struct.pack("!IBI", 0x2AD01C64, 1, CSB) + RAND
    a1 = hmac.new(TGK, lab, hashlib.sha1).digest()
    mikey1 = hmac.new(TGK, a1 + lab, hashlib.sha1).digest()[:16]
    assert got[6] == (mikey1, "MIKEY-1(TGK, TEK label cs 1, RAND, 16)")
    assert got[-1] == (bytes.fromhex("00112233445566778899aabbccddeeff"), "key file [[tek]] x")
    assert len(got) == 13
    assert im.hdr.prf_func == 1


def test_open_ticket_truncated_at_every_byte_is_malformed() -> None:
    init, _ = exchange()
    tk = parse(init).find(Ticket)
    assert tk is not None
    for cut in range(len(tk.data)):
        with pytest.raises(TicketError) as e:
            open_ticket(KMS_KEY, CSB, tk.data[:cut])
        assert e.value.code in ("malformed", "bad-mac")
        if cut < len(tk.data) - 32:
            assert e.value.code == "malformed"


# --- KMS leg ------------------------------------------------------------------------------


def kms_leg(psk: bytes = CONF_KEY) -> tuple[bytes, bytes]:
    init, _ = exchange()
    tk = parse(init).find(Ticket)
    assert tk is not None
    rinit = build_resolve_init(
        csb_id=CSB, t_ntp=NTP0, rand=bytes(16), responder=CONF, kms_uri=KMS, ticket=tk, psk=psk
    )
    rresp = build_resolve_resp(
        resolve_init=rinit, t_ntp=NTP0 + (1 << 32), kms_uri=KMS, psk=psk, mpk=MPK, tgks=[TGK]
    )
    return rinit, rresp


def test_kms_leg_opens_with_the_responders_psk() -> None:
    rinit, rresp = kms_leg()
    r = resolve_kms_leg(rinit, rresp, keyfile())
    assert r.failures == []
    assert (r.opened_by, r.init_mac_ok, r.resp_mac_ok) == (
        "psk sip:conf1@conf.example.org",
        True,
        True,
    )
    assert (r.mpk, r.tgks, r.iv_t_from) == (MPK, (TGK,), "RESOLVE_RESP T")


def test_resolve_init_alone_opens_its_ticket_and_checks_v_with_the_psk() -> None:
    rinit, _ = kms_leg()
    r = resolve_exchange(rinit, None, keyfile())
    assert (r.ticket_opened, r.init_mac_ok, r.failures) == (True, True, [])
    assert "RESOLVE_INIT_PSK V verifies with psk sip:conf1@conf.example.org" in r.notes
    bad, _ = kms_leg(psk=bytes(16))
    r2 = resolve_exchange(bad, None, keyfile())
    assert [f.code for f in r2.failures] == ["init-bad-mac"]


def test_kms_leg_failures() -> None:
    rinit, rresp = kms_leg(psk=bytes(16))
    r = resolve_kms_leg(rinit, rresp, keyfile())
    assert r.error is not None and r.error.code == "init-bad-mac"
    assert resolve_kms_leg(None, rresp, keyfile()).failures[0].code == "needs-init"
    good_init, good_resp = kms_leg()
    bad = resolve_kms_leg(good_init, flip(good_resp, len(good_resp) - 1), keyfile())
    assert [f.code for f in bad.failures] == ["resp-bad-mac"]


# --- command line ---------------------------------------------------------------------------


def _cli(tmp_path: Path, *args: str, keys: str = KEYS) -> list[str]:
    kp = tmp_path / "keys.toml"
    kp.write_text(keys)
    return ["keys", "resolve", *args, "--keys", str(kp)]


def test_cli_resolves_and_hides_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    init, resp = exchange()
    b64 = base64.b64encode(init).decode()
    rc = main(_cli(tmp_path, b64, "--resp", base64.b64encode(resp).decode()))
    out = capsys.readouterr().out
    assert rc == 0
    assert "Multimedia Internet KEYing: TRANSFER_INIT" in out
    assert "Multimedia Internet KEYing: TRANSFER_RESP" in out
    assert "opened by kms kms.example.org: issued by the KMS" in out
    assert f"MPK: sha256:{hashlib.sha256(MPK).hexdigest()[:8]} (16 bytes)" in out
    assert f"sha256:{hashlib.sha256(tek(RAND)).hexdigest()[:8]}" in out
    assert "TRANSFER_INIT V: verifies with the MPK" in out
    for secret in (MPK, TGK, tek(RAND), KMS_KEY):
        assert secret.hex() not in out
    assert main([*_cli(tmp_path, b64), "--reveal-keys"]) == 0
    out = capsys.readouterr().out
    assert tek(RAND).hex() in out and MPK.hex() in out


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    init, _ = exchange(key=bytes([9]) * 32)
    assert main(_cli(tmp_path, base64.b64encode(init).decode())) == 1
    assert "FAIL ticket-not-opened: no configured key opens the ticket" in capsys.readouterr().out
    assert main(_cli(tmp_path, "not base64!")) == 2
    assert "MIKEY_BASE64 is not base64" in capsys.readouterr().err
    assert main(_cli(tmp_path, base64.b64encode(init[:20]).decode())) == 2
    assert "mikey" in capsys.readouterr().err
    assert main(_cli(tmp_path, base64.b64encode(init).decode(), keys="[[kms]]\nuri = 1\n")) == 2
    assert "keys.toml:2: [[kms]] #1 uri must be a non-empty string" in capsys.readouterr().err


def test_cli_kms_leg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rinit, rresp = kms_leg()
    args = _cli(
        tmp_path, base64.b64encode(rinit).decode(), "--resp", base64.b64encode(rresp).decode()
    )
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "RESOLVE_INIT V verifies with psk sip:conf1@conf.example.org" in out
    assert "Multimedia Internet KEYing: RESOLVE_RESP" in out


# --- robustness: any damage is a typed failure, never another exception ---------------------

_INIT, _RESP = exchange()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_damaged_exchanges_give_typed_failures(data: st.DataObject) -> None:
    which = data.draw(st.sampled_from(["init", "resp"]))
    raw = _INIT if which == "init" else _RESP
    pos = data.draw(st.integers(0, len(raw) - 1))
    new = data.draw(st.integers(0, 255))
    damaged = raw[:pos] + bytes([new]) + raw[pos + 1 :]
    try:
        if which == "init":
            r = resolve_exchange(damaged, _RESP, keyfile())
        else:
            r = resolve_exchange(_INIT, damaged, keyfile())
    except DissectError:
        assert which == "init"
        return
    if damaged != raw:
        assert r.failures or r.notes, (which, pos, new)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 255))
def test_damaged_ticket_data_only_raises_ticket_error(pos: int, new: int) -> None:
    tk = parse(_INIT).find(Ticket)
    assert tk is not None
    td = bytearray(tk.data)
    td[pos % len(td)] = new
    try:
        open_ticket(KMS_KEY, CSB, bytes(td))
    except TicketError as e:
        assert e.code in ("malformed", "bad-mac", "bad-key-data")
