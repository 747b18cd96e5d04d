"""TLS key schedules for PSK: the TLS 1.0/1.1 and 1.2 PRFs, the RFC 4279 premaster, master
and extended master secret, key block, Finished, and the TLS 1.3 HKDF schedule with the
external-PSK binder (RFC 4279, 5246, 7627, 8446).  Every primitive is `cryptography`'s.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac

from mikeyshark.dissectors.tls.constants import TLS12, CipherSuite

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "MD5": hashes.MD5,
    "SHA1": hashes.SHA1,
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
}


# One instance of each: a hash algorithm object only names the hash (nothing in it changes)
_HASH_OF = {name: cls() for name, cls in _HASHES.items()}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    return _HASHES[name]()


def digest(name: str, data: bytes) -> bytes:
    h = hashes.Hash(hash_algorithm(name))
    h.update(data)
    return h.finalize()


def hmac_digest(name: str, key: bytes, data: bytes) -> bytes:
    h = hmac.HMAC(key, _HASH_OF[name])
    h.update(data)
    return h.finalize()


def p_hash(name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    """P_hash of RFC 5246 section 5: HMAC(secret, A(i) || seed) with A(i) = HMAC(secret, A(i-1))."""
    keyed = hmac.HMAC(secret, _HASH_OF[name])  # the key schedule once: each HMAC copies it

    def mac(data: bytes) -> bytes:
        h = keyed.copy()
        h.update(data)
        return h.finalize()

    out = bytearray()
    a = seed
    while len(out) < length:
        a = mac(a)
        out += mac(a + seed)
    return bytes(out[:length])


def prf10(secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """TLS 1.0/1.1 PRF: P_MD5(S1) XOR P_SHA1(S2), the halves sharing the middle byte when odd."""
    half = (len(secret) + 1) // 2
    s1, s2 = secret[:half], secret[len(secret) - half :]
    md5 = p_hash("MD5", s1, label + seed, length)
    sha = p_hash("SHA1", s2, label + seed, length)
    return bytes(x ^ y for x, y in zip(md5, sha, strict=True))


def prf12(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    return p_hash(hash_name, secret, label + seed, length)


def prf(version: int, hash_name: str, secret: bytes, label: bytes, seed: bytes, n: int) -> bytes:
    """The PRF of ``version``: TLS 1.2 uses the suite's hash, earlier versions MD5+SHA1."""
    if version >= TLS12:
        return prf12(hash_name, secret, label, seed, n)
    return prf10(secret, label, seed, n)


def transcript_hash(version: int, hash_name: str, messages: bytes) -> bytes:
    """Hash of handshake messages for Finished and EMS: MD5||SHA1 before TLS 1.2."""
    if version >= TLS12:
        return digest(hash_name, messages)
    return digest("MD5", messages) + digest("SHA1", messages)


def psk_premaster(psk: bytes, other_secret: bytes | None = None) -> bytes:
    """RFC 4279: uint16(N) || other_secret (N zero bytes for plain PSK) || uint16(len) || psk."""
    other = bytes(len(psk)) if other_secret is None else other_secret
    return len(other).to_bytes(2, "big") + other + len(psk).to_bytes(2, "big") + psk


def master_secret(
    version: int, hash_name: str, premaster: bytes, client_random: bytes, server_random: bytes
) -> bytes:
    return prf(version, hash_name, premaster, b"master secret", client_random + server_random, 48)


def extended_master_secret(
    version: int, hash_name: str, premaster: bytes, session_hash: bytes
) -> bytes:
    """RFC 7627: session_hash = transcript hash of ClientHello .. ClientKeyExchange."""
    return prf(version, hash_name, premaster, b"extended master secret", session_hash, 48)


@dataclass(frozen=True, slots=True)
class KeyBlock:
    client_mac_key: bytes
    server_mac_key: bytes
    client_key: bytes
    server_key: bytes
    client_iv: bytes
    server_iv: bytes


def iv_length(version: int, suite: CipherSuite) -> int:
    """Key-block IV bytes: AEAD salt, or the implicit CBC IV of TLS 1.0."""
    if suite.aead:
        return suite.fixed_iv_len
    if version <= 0x0301 and suite.block_len:
        return suite.block_len
    return 0


def key_block(
    version: int, suite: CipherSuite, ms: bytes, client_random: bytes, server_random: bytes
) -> KeyBlock:
    m, k, i = suite.mac_len, suite.key_len, iv_length(version, suite)
    kb = prf(
        version, suite.prf, ms, b"key expansion", server_random + client_random, 2 * (m + k + i)
    )
    parts = []
    pos = 0
    for n in (m, m, k, k, i, i):
        parts.append(kb[pos : pos + n])
        pos += n
    return KeyBlock(*parts)


def finished_verify_data(
    version: int, hash_name: str, ms: bytes, from_client: bool, handshake_hash: bytes
) -> bytes:
    label = b"client finished" if from_client else b"server finished"
    return prf(version, hash_name, ms, label, handshake_hash, 12)


# ---------------------------------------------------------------- TLS 1.3 (RFC 8446 7.1)


def hkdf_extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    return hmac_digest(hash_name, salt, ikm)


def hkdf_expand(hash_name: str, prk: bytes, info: bytes, length: int) -> bytes:
    out = bytearray()
    t = b""
    i = 1
    while len(out) < length:
        t = hmac_digest(hash_name, prk, t + info + bytes((i,)))
        out += t
        i += 1
    return bytes(out[:length])


def hkdf_expand_label(
    hash_name: str, secret: bytes, label: bytes, context: bytes, length: int
) -> bytes:
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes((len(full),)) + full + bytes((len(context),)) + context
    return hkdf_expand(hash_name, secret, info, length)


def hash_len(hash_name: str) -> int:
    return hash_algorithm(hash_name).digest_size


def derive_secret(hash_name: str, secret: bytes, label: bytes, messages: bytes) -> bytes:
    return hkdf_expand_label(
        hash_name, secret, label, digest(hash_name, messages), hash_len(hash_name)
    )


def early_secret(hash_name: str, psk: bytes) -> bytes:
    return hkdf_extract(hash_name, bytes(hash_len(hash_name)), psk)


def binder_key(hash_name: str, psk: bytes, external: bool = True) -> bytes:
    label = b"ext binder" if external else b"res binder"
    return derive_secret(hash_name, early_secret(hash_name, psk), label, b"")


def tls13_finished(hash_name: str, base_key: bytes, transcript: bytes) -> bytes:
    """HMAC(finished_key, transcript): the Finished verify_data and the PSK binder."""
    fk = hkdf_expand_label(hash_name, base_key, b"finished", b"", hash_len(hash_name))
    return hmac_digest(hash_name, fk, transcript)


def psk_binder(
    hash_name: str, psk: bytes, truncated_ch_hash: bytes, external: bool = True
) -> bytes:
    """binder = HMAC(finished_key(binder_key), Hash(truncated ClientHello))."""
    return tls13_finished(hash_name, binder_key(hash_name, psk, external), truncated_ch_hash)


@dataclass(frozen=True, slots=True)
class Tls13Secrets:
    early: bytes
    handshake: bytes
    master: bytes
    client_hs: bytes
    server_hs: bytes
    client_ap: bytes = b""
    server_ap: bytes = b""
    exporter: bytes = b""


def tls13_handshake_secrets(
    hash_name: str, psk: bytes, dhe: bytes | None, ch_sh: bytes
) -> Tls13Secrets:
    """Early, handshake and master secrets and the handshake traffic secrets.
    ``dhe`` is the (EC)DHE shared secret, or None for psk_ke; ``ch_sh`` = CH || SH."""
    n = hash_len(hash_name)
    es = early_secret(hash_name, psk)
    hs = hkdf_extract(hash_name, derive_secret(hash_name, es, b"derived", b""), dhe or bytes(n))
    ms = hkdf_extract(hash_name, derive_secret(hash_name, hs, b"derived", b""), bytes(n))
    return Tls13Secrets(
        es,
        hs,
        ms,
        derive_secret(hash_name, hs, b"c hs traffic", ch_sh),
        derive_secret(hash_name, hs, b"s hs traffic", ch_sh),
    )


def tls13_application_secrets(
    hash_name: str, s: Tls13Secrets, ch_to_server_finished: bytes
) -> Tls13Secrets:
    t = ch_to_server_finished
    return Tls13Secrets(
        s.early,
        s.handshake,
        s.master,
        s.client_hs,
        s.server_hs,
        derive_secret(hash_name, s.master, b"c ap traffic", t),
        derive_secret(hash_name, s.master, b"s ap traffic", t),
        derive_secret(hash_name, s.master, b"exp master", t),
    )


def tls13_traffic_keys(hash_name: str, secret: bytes, key_len: int) -> tuple[bytes, bytes]:
    """(key, iv) of a traffic secret."""
    return (
        hkdf_expand_label(hash_name, secret, b"key", b"", key_len),
        hkdf_expand_label(hash_name, secret, b"iv", b"", 12),
    )


def tls13_next_traffic_secret(hash_name: str, secret: bytes) -> bytes:
    """KeyUpdate: application_traffic_secret_N+1."""
    return hkdf_expand_label(hash_name, secret, b"traffic upd", b"", hash_len(hash_name))


def tls13_key_update(hash_name: str, secrets: Tls13Secrets, client: bool) -> Tls13Secrets:
    """The secrets after a KeyUpdate sent by the client (``client``) or the server: the sender's
    application traffic secret moves to the next generation, the other side's stays (RFC 8446
    4.6.3, 7.2). The one implementation for every peer and observer of a connection."""
    if client:
        return dataclasses.replace(
            secrets, client_ap=tls13_next_traffic_secret(hash_name, secrets.client_ap)
        )
    return dataclasses.replace(
        secrets, server_ap=tls13_next_traffic_secret(hash_name, secrets.server_ap)
    )
