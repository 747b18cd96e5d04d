"""dissectors.tls against the independent tls_psk vectors (OpenSSL 3.0 / tlslite-ng sessions):
premaster, master secret, key block, every record, TLS 1.3 binder and secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mikeyshark.dissectors.tls import keyschedule as ks
from mikeyshark.dissectors.tls.constants import (
    CIPHER_SUITES,
    CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
    TLS12,
)
from mikeyshark.dissectors.tls.protection import Tls13Aead, tls12_protection
from mikeyshark.dissectors.tls.records import (
    HandshakeBuffer,
    Record,
    parse_client_hello,
    parse_handshake,
    parse_offered_psks,
    parse_psk_key_exchange,
    parse_records,
    parse_server_hello,
    truncated_client_hello,
)

TLS12_STEMS = ["psk_aes128_cbc_sha", "psk_aes128_gcm_sha256"]


def _load(vectors: Path, stem: str) -> dict[str, Any]:
    return dict(json.loads((vectors / "tls_psk" / f"{stem}.json").read_text()))


def _handshakes(records: list[Record]) -> list[bytes]:
    """Plaintext handshake messages (before ChangeCipherSpec)."""
    hb = HandshakeBuffer()
    out: list[bytes] = []
    for r in records:
        if r.content_type == CT_CHANGE_CIPHER_SPEC:
            break
        if r.content_type == CT_HANDSHAKE:
            out += hb.add(r.fragment)
    return out


def _after_ccs(records: list[Record]) -> list[Record]:
    i = next(i for i, r in enumerate(records) if r.content_type == CT_CHANGE_CIPHER_SPEC)
    return records[i + 1 :]


@pytest.mark.parametrize("stem", TLS12_STEMS)
def test_tls12_schedule_and_records(vectors: Path, stem: str) -> None:
    v = _load(vectors, stem)
    psk = bytes.fromhex(v["psk_hex"])
    c2s = parse_records(bytes.fromhex(v["c2s_stream_hex"]))
    s2c = parse_records(bytes.fromhex(v["s2c_stream_hex"]))
    cm, sm = _handshakes(c2s), _handshakes(s2c)
    assert [m[0] for m in cm] == [1, 16]
    ch = parse_client_hello(cm[0][4:])
    sh = parse_server_hello(sm[0][4:])
    assert ch.random.hex() == v["client_random"]
    assert sh.random.hex() == v["server_random"]
    assert sh.cipher_suite == int(v["suite"], 16)
    assert parse_psk_key_exchange(cm[1][4:]).identity.decode() == v["psk_identity"]
    suite = CIPHER_SUITES[sh.cipher_suite]

    pms = ks.psk_premaster(psk)
    assert pms.hex() == v["premaster"]
    assert v["extended_master_secret"] is True
    # session hash: CH, SH, SHD, CKE (the NewSessionTicket comes after the client Finished)
    transcript = cm[0] + b"".join(m for m in sm if m[0] != 4) + cm[1]
    ms = ks.extended_master_secret(TLS12, suite.prf, pms, ks.digest(suite.prf, transcript))
    assert ms.hex() == v["master_secret"]
    kb = ks.key_block(TLS12, suite, ms, ch.random, sh.random)
    assert kb.client_mac_key.hex() == v["client_write_MAC_key"]
    assert kb.server_mac_key.hex() == v["server_write_MAC_key"]
    assert kb.client_key.hex() == v["client_write_key"]
    assert kb.server_key.hex() == v["server_write_key"]
    assert kb.client_iv.hex() == v["client_write_IV_salt"]
    assert kb.server_iv.hex() == v["server_write_IV_salt"]

    etm = v["encrypt_then_mac"]
    for recs, key, mac, iv, expected in (
        (c2s, kb.client_key, kb.client_mac_key, kb.client_iv, v["decrypted_c2s"]),
        (s2c, kb.server_key, kb.server_mac_key, kb.server_iv, v["decrypted_s2c"]),
    ):
        prot = tls12_protection(suite, TLS12, key, mac, iv, etm)
        got = [prot.unprotect(r.content_type, r.version, r.fragment) for r in _after_ccs(recs)]
        assert [[t, p.hex()] for t, p in got] == expected

    # Finished verify_data (the first decrypted record of each side)
    cfin = bytes.fromhex(v["decrypted_c2s"][0][1])
    sfin = bytes.fromhex(v["decrypted_s2c"][0][1])
    h = ks.digest(suite.prf, transcript)
    assert ks.finished_verify_data(TLS12, suite.prf, ms, True, h) == cfin[4:]
    nst = [m for m in sm if m[0] == 4]
    h2 = ks.digest(suite.prf, transcript + cfin + b"".join(nst))
    assert ks.finished_verify_data(TLS12, suite.prf, ms, False, h2) == sfin[4:]


@pytest.mark.parametrize("stem", TLS12_STEMS)
def test_openssl_keylog_master_secret(vectors: Path, stem: str) -> None:
    v = _load(vectors, stem)
    line = (vectors / "tls_psk" / f"{stem}.keylog").read_text().splitlines()[1].split()
    assert line[0] == "CLIENT_RANDOM" and line[1] == v["client_random"]
    assert line[2] == v["master_secret"]


def test_tls13_binder_and_secrets(vectors: Path) -> None:
    v = _load(vectors, "tls13_psk_ke_aes128gcm")
    psk = bytes.fromhex(v["psk_hex"])
    c2s = parse_records(bytes.fromhex(v["c2s_stream_hex"]))
    s2c = parse_records(bytes.fromhex(v["s2c_stream_hex"]))
    ch_msg = c2s[0].fragment
    ch = parse_client_hello(parse_handshake(ch_msg).body)
    offered = parse_offered_psks(ch.extensions[-1].data if ch.extensions else b"")
    assert offered.identities[0].identity.decode() == v["psk_identity"]
    truncated = truncated_client_hello(ch_msg)
    binder = ks.psk_binder("SHA256", psk, ks.digest("SHA256", truncated))
    assert binder == offered.binders[0]
    assert ks.early_secret("SHA256", psk).hex() == v["early_secret"]

    sh_msg = s2c[0].fragment
    suite = CIPHER_SUITES[parse_server_hello(parse_handshake(sh_msg).body).cipher_suite]
    t = ks.tls13_handshake_secrets("SHA256", psk, None, ch_msg + sh_msg)
    assert t.client_hs.hex() == v["c_hs_traffic"]
    assert t.server_hs.hex() == v["s_hs_traffic"]

    # server flight: EncryptedExtensions, Finished under s_hs; then application data
    enc_s = [r for r in s2c[1:] if r.content_type == 23]
    prot = Tls13Aead(suite, *ks.tls13_traffic_keys("SHA256", t.server_hs, suite.key_len))
    hb = HandshakeBuffer()
    msgs: list[bytes] = []
    used = 0
    for r in enc_s:
        ct, plain = prot.unprotect(r.content_type, r.version, r.fragment)
        used += 1
        msgs += hb.add(plain)
        if msgs and msgs[-1][0] == 20:
            break
    assert [m[0] for m in msgs] == [8, 20]
    fin_hash = ks.digest("SHA256", ch_msg + sh_msg + msgs[0])
    assert msgs[1][4:] == ks.tls13_finished("SHA256", t.server_hs, fin_hash)
    t = ks.tls13_application_secrets("SHA256", t, ch_msg + sh_msg + b"".join(msgs))
    assert t.client_ap.hex() == v["c_ap_traffic"]
    assert t.server_ap.hex() == v["s_ap_traffic"]

    sap = Tls13Aead(suite, *ks.tls13_traffic_keys("SHA256", t.server_ap, suite.key_len))
    got = [sap.unprotect(r.content_type, r.version, r.fragment) for r in enc_s[used:]]
    assert [[ct, p.hex()] for ct, p in got] == v["decrypted_s2c"]
    # client: CCS, Finished under c_hs, then application data under c_ap
    enc_c = [r for r in c2s[1:] if r.content_type == 23]
    chs = Tls13Aead(suite, *ks.tls13_traffic_keys("SHA256", t.client_hs, suite.key_len))
    ct, cfin = chs.unprotect(enc_c[0].content_type, enc_c[0].version, enc_c[0].fragment)
    assert ct == 22 and cfin[0] == 20
    assert cfin[4:] == ks.tls13_finished(
        "SHA256", t.client_hs, ks.digest("SHA256", ch_msg + sh_msg + b"".join(msgs))
    )
    cap = Tls13Aead(suite, *ks.tls13_traffic_keys("SHA256", t.client_ap, suite.key_len))
    got = [cap.unprotect(r.content_type, r.version, r.fragment) for r in enc_c[1:]]
    assert [[ct, p.hex()] for ct, p in got] == v["decrypted_c2s"]


def test_mikey_tek_is_the_psk(vectors: Path) -> None:
    m = json.loads((vectors / "tls_psk" / "psk_from_mikey_tek.json").read_text())
    for stem in [*TLS12_STEMS, "tls13_psk_ke_aes128gcm"]:
        assert _load(vectors, stem)["psk_hex"] == m["TEK"]
