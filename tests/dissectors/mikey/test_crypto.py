"""KEMAC algorithms and MACs beyond the vectors: each checked against an RFC value or a
computation made here directly with hmac / cryptography."""

from __future__ import annotations

import hashlib
import hmac
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap

from mikeyshark.dissectors.mikey import crypto

PSK = bytes(range(16))
RAND = bytes(range(0x80, 0x90))
CSB = 0x01020304
T = 0xE7C1A2B312345678


def test_aes_kw_128_is_rfc3394() -> None:
    # RFC 3394 section 4.1: 128-bit key data wrapped with a 128-bit KEK
    kek = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
    keys = crypto.TransportKeys(kek, b"", b"")
    plain = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
    wrapped = crypto.kemac_encrypt(2, keys, CSB, T, plain)
    assert wrapped.hex() == "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5"
    assert crypto.kemac_decrypt(2, keys, CSB, T, wrapped) == plain
    with pytest.raises(InvalidUnwrap):
        crypto.kemac_decrypt(2, crypto.TransportKeys(bytes(16), b"", b""), CSB, T, wrapped)
    with pytest.raises(ValueError, match="multiple of 8"):
        crypto.kemac_encrypt(2, keys, CSB, T, plain[:15])


def _mikey1(key: bytes, label: bytes, n: int) -> bytes:
    out, a = b"", label
    while len(out) < n:
        a = hmac.new(key, a, hashlib.sha1).digest()
        out += hmac.new(key, a + label, hashlib.sha1).digest()
    return out[:n]


def _label(const: int) -> bytes:
    return struct.pack("!IBI", const, 0xFF, CSB) + RAND


def test_transport_keys_sizes_follow_the_algorithms() -> None:
    k = crypto.transport_keys(PSK, CSB, RAND, prf_func=0, encr_alg=3, mac_alg=2)
    assert k.encr_key == _mikey1(PSK, _label(0x150533E1), 32)
    assert k.salt_key == _mikey1(PSK, _label(0x29B88916), 14)
    assert k.auth_key == _mikey1(PSK, _label(0x2D22AC75), 32)
    k0 = crypto.transport_keys(PSK, CSB, RAND, encr_alg=2, mac_alg=0)
    assert (len(k0.encr_key), k0.salt_key, k0.auth_key) == (16, b"", b"")
    with pytest.raises(ValueError):
        crypto.transport_keys(PSK, CSB, RAND, encr_alg=9)


def test_aes_cm_256() -> None:
    k = crypto.transport_keys(PSK, CSB, RAND, encr_alg=3)
    plain = bytes(range(40))
    x = b"\x00\x00" + struct.pack("!IQ", CSB, T)
    iv = bytes(a ^ b for a, b in zip(k.salt_key, x, strict=True)) + b"\x00\x00"
    e = Cipher(algorithms.AES(k.encr_key), modes.CTR(iv)).encryptor()
    assert crypto.kemac_encrypt(3, k, CSB, T, plain) == e.update(plain) + e.finalize()


def test_macs_and_v() -> None:
    key, data = b"k" * 32, b"message"
    assert crypto.mac(1, key, data) == hmac.new(key, data, hashlib.sha1).digest()
    assert crypto.mac(2, key, data) == hmac.new(key, data, hashlib.sha256).digest()
    assert crypto.mac(0, key, data) == b""
    tag = hmac.new(key, data + b"T" * 8, hashlib.sha256).digest()
    assert crypto.v_resp(2, key, data, b"T" * 8) == tag
    assert crypto.mac_ok(2, key, data + b"T" * 8, tag)
    assert not crypto.mac_ok(2, key, data, tag)
    with pytest.raises(ValueError):
        crypto.mac(5, key, data)


def test_prf_other_derivations_use_their_constants() -> None:
    tgk = bytes(range(16))
    lab = struct.pack("!IBI", 0x1B5C7973, 3, CSB) + RAND
    assert crypto.derive_auth(tgk, 3, CSB, RAND, 20) == _mikey1(tgk, lab, 20)
    lab = struct.pack("!IBI", 0x15798CEF, 3, CSB) + RAND
    assert crypto.derive_encr(tgk, 3, CSB, RAND, 16) == _mikey1(tgk, lab, 16)
    with pytest.raises(ValueError):
        crypto.prf(2, tgk, lab, 16)


@pytest.mark.parametrize("prf_func", [0, 1])
@pytest.mark.parametrize("tgk_len", [16, 32, 48, 64])
def test_a_shorter_tek_is_the_start_of_a_longer_one(prf_func: int, tgk_len: int) -> None:
    # keys.tek_candidates derives the 32-byte TEK once and takes the 16-byte one from it
    # (RFC 3830 4.1.2: P's blocks, cut to length, XORed over the key's 256-bit pieces)
    tgk = bytes(range(1, tgk_len + 1))
    digest = hashlib.sha1 if prf_func == 0 else hashlib.sha256
    label = struct.pack("!IBI", 0x2AD01C64, 1, CSB) + RAND

    def p(key: bytes, n: int) -> bytes:
        out, a = b"", label
        while len(out) < n:
            a = hmac.new(key, a, digest).digest()
            out += hmac.new(key, a + label, digest).digest()
        return out[:n]

    for n in (16, 32):
        want = bytes(n)
        for i in range(0, tgk_len, 32):
            want = bytes(x ^ y for x, y in zip(want, p(tgk[i : i + 32], n), strict=True))
        assert crypto.derive_tek(tgk, 1, CSB, RAND, n, prf_func) == want
    full = crypto.derive_tek(tgk, 1, CSB, RAND, 32, prf_func)
    assert crypto.derive_tek(tgk, 1, CSB, RAND, 16, prf_func) == full[:16]


def test_the_v_key_is_the_transport_auth_key() -> None:
    # docs/profile.md: PRF-HMAC-SHA-256(key, 0x2D22AC75 || 0xFF || CSB ID || RAND, 32),
    # computed here with hmac, and the auth key transport_keys derives alike
    from mikeyshark.dissectors.mikey.transfer import v_auth_key

    key = bytes(range(32))
    label = struct.pack("!IBI", 0x2D22AC75, 0xFF, CSB) + RAND
    a1 = hmac.new(key, label, hashlib.sha256).digest()
    want = hmac.new(key, a1 + label, hashlib.sha256).digest()
    assert v_auth_key(key, CSB, RAND) == want
    assert crypto.transport_keys(key, CSB, RAND, prf_func=1, mac_alg=2).auth_key == want
