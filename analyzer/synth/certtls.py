"""A certificate-authenticated TLS 1.2 session for the ``certificate-suite`` fault.

What a peer that ignores the PSK profile negotiates: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
(RFC 5289) with an Ed25519 certificate (RFC 8422), X25519 key agreement. Everything is real:
the certificate and the ServerKeyExchange signature verify, the Finished messages and the
records are protected with the keys of the handshake (the TLS 1.2 PRF, key block and AEAD of
``dissectors.tls``). Keys, randoms and the certificate come from the caller's seeded random
(Ed25519 signatures are deterministic), so a fault capture is reproducible byte for byte.
Our PSK engine does not do certificates; this builds the two fixed flights of one session.
"""

from __future__ import annotations

import datetime
import random

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from mikeyshark.dissectors.buffer import Writer
from mikeyshark.dissectors.tls import keyschedule as ks
from mikeyshark.dissectors.tls.constants import (
    CIPHER_SUITE,
    CIPHER_SUITES,
    CT_ALERT,
    CT_APPLICATION_DATA,
    CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
    CURVE_TYPE_NAMED,
    EXT_EC_POINT_FORMATS,
    EXT_SIGNATURE_ALGORITHMS,
    EXT_SUPPORTED_GROUPS,
    GROUP_X25519,
    HT_CERTIFICATE,
    HT_CLIENT_KEY_EXCHANGE,
    HT_FINISHED,
    HT_SERVER_HELLO_DONE,
    HT_SERVER_KEY_EXCHANGE,
    MAX_PLAINTEXT,
    SIG_ED25519,
    TLS10,
    TLS12,
)
from mikeyshark.dissectors.tls.protection import tls12_protection
from mikeyshark.dissectors.tls.records import (
    ClientHello,
    Extension,
    ServerHello,
    build_record,
    handshake_message,
)

SUITE = CIPHER_SUITE["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]
# Same record protection and PRF as this PSK suite (AES-128-GCM, SHA-256): its table entry
# gives the key block layout; only the key exchange differs.
_SAME_PROTECTION = CIPHER_SUITE["TLS_PSK_WITH_AES_128_GCM_SHA256"]


def _self_signed(
    key: Ed25519PrivateKey, rng: random.Random, not_before: datetime.datetime
) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mrfp.conf.example.org")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(rng.getrandbits(63) + 1)
        .not_valid_before(not_before)
        .not_valid_after(not_before + datetime.timedelta(days=365))
        .sign(key, None)
    )
    return cert.public_bytes(Encoding.DER)


def _raw(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


class CertTlsSession:
    """Both ends of one session: the handshake flights, then records in either direction."""

    def __init__(self, rng: random.Random, now_s: int) -> None:
        suite = CIPHER_SUITES[_SAME_PROTECTION]
        cr, sr, session_id = rng.randbytes(32), rng.randbytes(32), rng.randbytes(32)
        signer = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
        c_dh = X25519PrivateKey.from_private_bytes(rng.randbytes(32))
        s_dh = X25519PrivateKey.from_private_bytes(rng.randbytes(32))
        day = datetime.datetime.fromtimestamp(now_s - now_s % 86400, datetime.UTC)
        cert = _self_signed(signer, rng, day - datetime.timedelta(days=30))

        groups = Writer().u16(2).u16(GROUP_X25519).getvalue()
        sigalgs = Writer().u16(2).u16(SIG_ED25519).getvalue()
        ch = ClientHello(
            TLS12,
            cr,
            b"",
            (SUITE, 0x00FF),
            b"\x00",
            (
                Extension(EXT_SUPPORTED_GROUPS, groups),
                Extension(EXT_EC_POINT_FORMATS, b"\x01\x00"),
                Extension(EXT_SIGNATURE_ALGORITHMS, sigalgs),
            ),
        ).build()
        sh = ServerHello(
            TLS12, sr, session_id, SUITE, 0, (Extension(EXT_EC_POINT_FORMATS, b"\x01\x00"),)
        ).build()
        certs = Writer().u24(len(cert)).raw(cert).getvalue()
        certificate = handshake_message(
            HT_CERTIFICATE, Writer().u24(len(certs)).raw(certs).getvalue()
        )
        params = Writer().u8(CURVE_TYPE_NAMED).u16(GROUP_X25519).u8(32).raw(_raw(s_dh)).getvalue()
        signature = signer.sign(cr + sr + params)
        ske_body = Writer().raw(params).u16(SIG_ED25519).u16(len(signature)).raw(signature)
        ske = handshake_message(HT_SERVER_KEY_EXCHANGE, ske_body.getvalue())
        shd = handshake_message(HT_SERVER_HELLO_DONE, b"")
        cke = handshake_message(HT_CLIENT_KEY_EXCHANGE, bytes([32]) + _raw(c_dh))

        ms = ks.master_secret(TLS12, suite.prf, c_dh.exchange(s_dh.public_key()), cr, sr)
        kb = ks.key_block(TLS12, suite, ms, cr, sr)
        self._write = {
            True: tls12_protection(suite, TLS12, kb.client_key, b"", kb.client_iv),
            False: tls12_protection(suite, TLS12, kb.server_key, b"", kb.server_iv),
        }
        transcript = ch + sh + certificate + ske + shd + cke
        cfin = handshake_message(
            HT_FINISHED,
            ks.finished_verify_data(
                TLS12, suite.prf, ms, True, ks.transcript_hash(TLS12, suite.prf, transcript)
            ),
        )
        sfin = handshake_message(
            HT_FINISHED,
            ks.finished_verify_data(
                TLS12, suite.prf, ms, False, ks.transcript_hash(TLS12, suite.prf, transcript + cfin)
            ),
        )
        ccs = build_record(CT_CHANGE_CIPHER_SPEC, TLS12, b"\x01")
        self.master_secret, self.client_random = ms, cr
        # (from the client, bytes) in the order they go on the wire
        self.flights: list[tuple[bool, bytes]] = [
            (True, build_record(CT_HANDSHAKE, TLS10, ch)),
            (False, build_record(CT_HANDSHAKE, TLS12, sh + certificate + ske + shd)),
            (
                True,
                build_record(CT_HANDSHAKE, TLS12, cke)
                + ccs
                + self._record(True, CT_HANDSHAKE, cfin),
            ),
            (False, ccs + self._record(False, CT_HANDSHAKE, sfin)),
        ]

    def _record(self, from_client: bool, content_type: int, data: bytes) -> bytes:
        out = b""
        for i in range(0, max(len(data), 1), MAX_PLAINTEXT):
            ct, frag = self._write[from_client].protect(
                content_type, TLS12, data[i : i + MAX_PLAINTEXT]
            )
            out += build_record(ct, TLS12, frag)
        return out

    def application_data(self, from_client: bool, data: bytes) -> bytes:
        return self._record(from_client, CT_APPLICATION_DATA, data)

    def close_notify(self, from_client: bool) -> bytes:
        return self._record(from_client, CT_ALERT, b"\x01\x00")
