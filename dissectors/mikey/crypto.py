"""MIKEY key derivation and KEMAC / V protection (RFC 3830 4.1, 4.2, 5; RFC 6043 PRF).

Every primitive comes from ``cryptography``; this module only arranges the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac, keywrap
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from mikeyshark.dissectors.mikey import constants as C

_CHUNK = 32  # both PRFs cut the input key into 256-bit pieces

_MIKEY_1 = C.PRF_FUNC["MIKEY-1"]
_PRF_HMAC_SHA256 = C.PRF_FUNC["PRF-HMAC-SHA-256"]
_ENCR_NULL = C.ENCR_ALG["NULL"]
_AES_CM = frozenset({C.ENCR_ALG["AES-CM-128"], C.ENCR_ALG["AES-CM-256"]})
_AES_KW = C.ENCR_ALG["AES-KW-128"]
_MAC_NULL = C.MAC_ALG["NULL"]
# The hash of each HMAC MAC alg: the algs other than NULL that mac() and mac_ok() compute.
MAC_HASH: dict[int, type[hashes.SHA1] | type[hashes.SHA256]] = {
    C.MAC_ALG["HMAC-SHA-1-160"]: hashes.SHA1,
    C.MAC_ALG["HMAC-SHA-256-256"]: hashes.SHA256,
}


def _hmac(algo: hashes.HashAlgorithm, key: bytes, data: bytes) -> bytes:
    h = hmac.HMAC(key, algo)
    h.update(data)
    return h.finalize()


def _p(algo: hashes.HashAlgorithm, s: bytes, label: bytes, m: int) -> bytes:
    """RFC 3830 4.1.2 P(s, label, m): A0 = label, Ai = HMAC(s, A(i-1))."""
    keyed = hmac.HMAC(s, algo)  # the key schedule once: each HMAC copies it
    out = b""
    a = label
    for _ in range(m):
        h = keyed.copy()
        h.update(a)
        a = h.finalize()
        h = keyed.copy()
        h.update(a + label)
        out += h.finalize()
    return out


def _prf(algo: hashes.HashAlgorithm, block: int, inkey: bytes, label: bytes, outlen: int) -> bytes:
    # A key whose length is a multiple of 32 ends on a full chunk (minisip takes an
    # empty last chunk there; the RFC 3830 4.1.2 text does not).
    m = -(-outlen // block)
    if len(inkey) <= _CHUNK:  # one piece (the profile's keys): nothing to XOR it with
        return _p(algo, inkey, label, m)[:outlen]
    acc = 0  # the pieces XORed, as one integer
    for i in range(0, len(inkey), _CHUNK):
        acc ^= int.from_bytes(_p(algo, inkey[i : i + _CHUNK], label, m), "big")
    return acc.to_bytes(m * block, "big")[:outlen]


_SHA1, _SHA256 = hashes.SHA1(), hashes.SHA256()  # they only name the hash: shared


def prf_mikey1(inkey: bytes, label: bytes, outlen: int) -> bytes:
    """PRF func 0, MIKEY-1 (HMAC-SHA-1)."""
    return _prf(_SHA1, 20, inkey, label, outlen)


def prf_hmac_sha256(inkey: bytes, label: bytes, outlen: int) -> bytes:
    """PRF func 1, PRF-HMAC-SHA-256 (RFC 6043): the MIKEY-1 construction with SHA-256."""
    return _prf(_SHA256, 32, inkey, label, outlen)


def prf(prf_func: int, inkey: bytes, label: bytes, outlen: int) -> bytes:
    if prf_func == _MIKEY_1:
        return prf_mikey1(inkey, label, outlen)
    if prf_func == _PRF_HMAC_SHA256:
        return prf_hmac_sha256(inkey, label, outlen)
    raise ValueError(f"unknown PRF func {prf_func}")


def label(const: int, cs_id: int, csb_id: int, rand: bytes) -> bytes:
    """``const(4) || cs_id(1) || csb_id(4) || RAND`` (RFC 3830 4.1.3 / 4.1.4)."""
    return const.to_bytes(4, "big") + bytes([cs_id]) + csb_id.to_bytes(4, "big") + rand


def derive_tek(
    tgk: bytes, cs_id: int, csb_id: int, rand: bytes, length: int = 16, prf_func: int = 0
) -> bytes:
    return prf(prf_func, tgk, label(C.CONST_TEK.value, cs_id, csb_id, rand), length)


def derive_salt(
    tgk: bytes, cs_id: int, csb_id: int, rand: bytes, length: int = 14, prf_func: int = 0
) -> bytes:
    return prf(prf_func, tgk, label(C.CONST_SALT.value, cs_id, csb_id, rand), length)


def derive_auth(
    tgk: bytes, cs_id: int, csb_id: int, rand: bytes, length: int = 20, prf_func: int = 0
) -> bytes:
    return prf(prf_func, tgk, label(C.CONST_AUTH.value, cs_id, csb_id, rand), length)


def derive_encr(
    tgk: bytes, cs_id: int, csb_id: int, rand: bytes, length: int = 16, prf_func: int = 0
) -> bytes:
    return prf(prf_func, tgk, label(C.CONST_ENCR.value, cs_id, csb_id, rand), length)


@dataclass(frozen=True, slots=True)
class TransportKeys:
    encr_key: bytes
    salt_key: bytes
    auth_key: bytes


def transport_keys(
    key: bytes,
    csb_id: int,
    rand: bytes,
    *,
    prf_func: int = 0,
    encr_alg: int = 1,
    mac_alg: int = 1,
) -> TransportKeys:
    """encr/salt/auth keys from a PSK, envelope key, MPK or KMS key (RFC 3830 4.1.4)."""
    if encr_alg not in C.ENCR_KEY_LEN or mac_alg not in C.MAC_LEN:
        raise ValueError(f"unknown encr alg {encr_alg} or MAC alg {mac_alg}")

    def k(const: int, n: int) -> bytes:
        return prf(prf_func, key, label(const, C.TRANSPORT_CS_ID, csb_id, rand), n) if n else b""

    return TransportKeys(
        encr_key=k(C.CONST_TRANSPORT_ENCR.value, C.ENCR_KEY_LEN[encr_alg]),
        salt_key=k(C.CONST_TRANSPORT_SALT.value, 14 if encr_alg in _AES_CM else 0),
        auth_key=k(C.CONST_TRANSPORT_AUTH.value, C.MAC_LEN[mac_alg]),
    )


def kemac_iv(salt_key: bytes, csb_id: int, t_value: int) -> bytes:
    """AES-CM IV: ``(salt XOR (0x0000 || csb_id || T)) || 0x0000`` (RFC 3830 4.2.3)."""
    x = (csb_id << 64) | t_value  # 0x0000 || csb_id || T, as a 112-bit number
    salt = int.from_bytes(salt_key[:14], "big")
    return (salt ^ x).to_bytes(14, "big") + bytes(2)


def _aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def kemac_encrypt(
    encr_alg: int, keys: TransportKeys, csb_id: int, t_value: int, plain: bytes
) -> bytes:
    if encr_alg == _ENCR_NULL:
        return plain
    if encr_alg in _AES_CM:
        return _aes_ctr(keys.encr_key, kemac_iv(keys.salt_key, csb_id, t_value), plain)
    if encr_alg == _AES_KW:
        if len(plain) % 8 or len(plain) < 16:
            raise ValueError("AES-KW-128 needs key data of a multiple of 8 bytes, at least 16")
        return keywrap.aes_key_wrap(keys.encr_key, plain)
    raise ValueError(f"unknown KEMAC encr alg {encr_alg}")


def kemac_decrypt(
    encr_alg: int, keys: TransportKeys, csb_id: int, t_value: int, data: bytes
) -> bytes:
    """Inverse of :func:`kemac_encrypt`; AES-KW raises ``InvalidUnwrap`` on a wrong key."""
    if encr_alg == _AES_KW:
        return keywrap.aes_key_unwrap(keys.encr_key, data)
    return kemac_encrypt(encr_alg, keys, csb_id, t_value, data)


def _mac_hash(mac_alg: int) -> hashes.HashAlgorithm:
    if mac_alg not in MAC_HASH:
        raise ValueError(f"unknown MAC alg {mac_alg}")
    return MAC_HASH[mac_alg]()


def mac(mac_alg: int, key: bytes, data: bytes) -> bytes:
    if mac_alg == _MAC_NULL:
        return b""
    return _hmac(_mac_hash(mac_alg), key, data)


def mac_ok(mac_alg: int, key: bytes, data: bytes, tag: bytes) -> bool:
    """Constant-time check of a KEMAC MAC or V payload."""
    if mac_alg == _MAC_NULL:
        return tag == b""
    h = hmac.HMAC(key, _mac_hash(mac_alg))
    h.update(data)
    try:
        h.verify(tag)
    except Exception:
        return False
    return True


def v_init(auth_alg: int, auth_key: bytes, message_through_alg: bytes) -> bytes:
    """V of an initial message: MAC over the message up to and including V's auth-alg byte."""
    return mac(auth_alg, auth_key, message_through_alg)


def v_resp(auth_alg: int, auth_key: bytes, message_through_alg: bytes, init_t: bytes) -> bytes:
    """V of a response: the same, followed by the initiator's T value (docs/profile.md)."""
    return mac(auth_alg, auth_key, message_through_alg + init_t)
