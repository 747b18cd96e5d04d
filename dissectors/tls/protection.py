"""Record protection and unprotection for the TLS-PSK suites (RFC 5246 6.2, 7366, 8446 5).

One :class:`RecordProtection` per direction holds the keys and the 64-bit sequence number.
``protect`` and ``unprotect`` are exact mirrors, so the synthesizer and the decryptor share
the code.  A record that fails authentication raises DissectError (layer ``tls``, field
``record``) and still consumes its sequence number, as a receiver would.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4, TripleDES
from cryptography.hazmat.primitives import hmac
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.tls.constants import CT_APPLICATION_DATA, TLS10, TLS12, CipherSuite, Mode
from mikeyshark.dissectors.tls.keyschedule import hash_algorithm, tls13_traffic_keys
from mikeyshark.dissectors.tls.records import parse_inner_plaintext

LAYER = "tls"
Rng = Callable[[int], bytes]


def _fail(reason: str, code: str = "tls.record.length") -> DissectError:
    return DissectError(LAYER, 0, reason, "record", code)


class RecordProtection(Protocol):
    seq: int

    def protect(self, content_type: int, version: int, plaintext: bytes) -> tuple[int, bytes]:
        """(outer content type, fragment) of the next record."""
        ...

    def unprotect(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        """(inner content type, plaintext) of the next record."""
        ...


class Plaintext:
    """The null protection in force before ChangeCipherSpec."""

    def __init__(self) -> None:
        self.seq = 0

    def protect(self, content_type: int, version: int, plaintext: bytes) -> tuple[int, bytes]:
        return content_type, plaintext

    def unprotect(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        return content_type, fragment


def _aead(suite: CipherSuite, key: bytes) -> AESGCM | AESCCM | ChaCha20Poly1305:
    if suite.mode is Mode.GCM:
        return AESGCM(key)
    if suite.mode in (Mode.CCM, Mode.CCM_8):
        return AESCCM(key, tag_length=suite.tag_len)
    if suite.mode is Mode.CHACHA20_POLY1305:
        return ChaCha20Poly1305(key)
    raise ValueError(f"{suite.name} is not an AEAD suite")


def _xor_nonce(iv: bytes, seq: int) -> bytes:
    return (int.from_bytes(iv, "big") ^ seq).to_bytes(len(iv), "big")


class Tls12Aead:
    """GCM/CCM (salt || 8-byte explicit nonce) and ChaCha20-Poly1305 (RFC 7905, iv XOR seq)."""

    def __init__(self, suite: CipherSuite, key: bytes, iv: bytes) -> None:
        self.suite = suite
        self.aead = _aead(suite, key)
        self.iv = iv
        self.tag_len = suite.tag_len
        self.explicit = suite.mode is not Mode.CHACHA20_POLY1305
        self.seq = 0

    @staticmethod
    def _aad(seq: int, content_type: int, version: int, n: int) -> bytes:
        return (
            seq.to_bytes(8, "big")
            + bytes((content_type,))
            + version.to_bytes(2, "big")
            + n.to_bytes(2, "big")
        )

    def protect(self, content_type: int, version: int, plaintext: bytes) -> tuple[int, bytes]:
        aad = self._aad(self.seq, content_type, version, len(plaintext))
        if self.explicit:
            # The explicit nonce is the sequence number, as OpenSSL and most stacks send it.
            explicit = self.seq.to_bytes(8, "big")
            out = explicit + self.aead.encrypt(self.iv + explicit, plaintext, aad)
        else:
            out = self.aead.encrypt(_xor_nonce(self.iv, self.seq), plaintext, aad)
        self.seq += 1
        return content_type, out

    def unprotect(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        seq = self.seq
        self.seq += 1
        if self.explicit:
            if len(fragment) < 8 + self.tag_len:
                raise _fail(f"{len(fragment)} bytes: shorter than nonce and tag")
            nonce, body = self.iv + fragment[:8], fragment[8:]
        else:
            if len(fragment) < self.tag_len:
                raise _fail(f"{len(fragment)} bytes: shorter than the tag")
            nonce, body = _xor_nonce(self.iv, seq), fragment
        aad = self._aad(seq, content_type, version, len(body) - self.tag_len)
        try:
            return content_type, self.aead.decrypt(nonce, body, aad)
        except InvalidTag:
            raise _fail(
                "bad AEAD tag (wrong key, altered or misordered record)", "tls.record.bad_mac"
            ) from None


class Tls12MacCipher:
    """CBC (MAC-then-encrypt or encrypt-then-MAC; explicit or TLS 1.0 implicit IV),
    RC4 and NULL: everything authenticated by HMAC."""

    def __init__(
        self,
        suite: CipherSuite,
        version: int,
        key: bytes,
        mac_key: bytes,
        iv: bytes,
        etm: bool,
        rng: Rng = os.urandom,
    ) -> None:
        self.suite = suite
        self.version = version
        self.key = key
        self.mac_key = mac_key
        self.mac = suite.mac or "SHA1"
        self.mac_len = suite.mac_len
        self.block = suite.block_len
        self.implicit_iv = version <= TLS10
        self.iv = iv  # TLS 1.0 chained IV
        self.etm = etm and suite.mode is Mode.CBC
        self.rng = rng
        self.seq = 0
        self._stream_enc: CipherContext | None = None
        self._stream_dec: CipherContext | None = None
        self._cbc_dec: CipherContext | None = None  # see unprotect (explicit IVs)
        self._keyed: hmac.HMAC | None = None  # the MAC key's HMAC, copied for each record
        if suite.mode is Mode.STREAM:
            self._stream_enc = Cipher(ARC4(key), None).encryptor()
            self._stream_dec = Cipher(ARC4(key), None).decryptor()

    def _block_cipher(self, iv: bytes) -> Cipher[modes.CBC]:
        alg = TripleDES(self.key) if self.suite.cipher == "3DES" else algorithms.AES(self.key)
        return Cipher(alg, modes.CBC(iv))

    def _mac(self, seq: int, content_type: int, version: int, data: bytes) -> bytes:
        header = (
            seq.to_bytes(8, "big")
            + bytes((content_type,))
            + version.to_bytes(2, "big")
            + len(data).to_bytes(2, "big")
        )
        keyed = self._keyed
        if keyed is None:  # the key schedule once per direction: each record copies it
            keyed = self._keyed = hmac.HMAC(self.mac_key, hash_algorithm(self.mac))
        h = keyed.copy()
        h.update(header + data)
        return h.finalize()

    def protect(self, content_type: int, version: int, plaintext: bytes) -> tuple[int, bytes]:
        seq = self.seq
        self.seq += 1
        mode = self.suite.mode
        if mode is Mode.NULL:
            return content_type, plaintext + self._mac(seq, content_type, version, plaintext)
        if mode is Mode.STREAM:
            assert self._stream_enc is not None
            data = plaintext + self._mac(seq, content_type, version, plaintext)
            return content_type, self._stream_enc.update(data)
        inner = (
            plaintext if self.etm else plaintext + self._mac(seq, content_type, version, plaintext)
        )
        pad = self.block - (len(inner) + 1) % self.block
        inner += bytes((pad,)) * (pad + 1)
        if self.implicit_iv:
            iv, prefix = self.iv, b""
        else:
            iv = self.rng(self.block)
            prefix = iv
        enc = self._block_cipher(iv).encryptor()
        ct = enc.update(inner) + enc.finalize()
        if self.implicit_iv:
            self.iv = ct[-self.block :]
        out = prefix + ct
        if self.etm:
            out += self._mac(seq, content_type, version, out)
        return content_type, out

    def unprotect(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        seq = self.seq
        self.seq += 1
        mode = self.suite.mode
        if mode is Mode.STREAM:
            assert self._stream_dec is not None
            fragment = self._stream_dec.update(fragment)
        if mode in (Mode.NULL, Mode.STREAM):
            if len(fragment) < self.mac_len:
                raise _fail(f"{len(fragment)} bytes: shorter than the MAC")
            data, mac = fragment[: -self.mac_len], fragment[-self.mac_len :]
            if self._mac(seq, content_type, version, data) != mac:
                raise _fail("bad record MAC", "tls.record.bad_mac")
            return content_type, data
        b = self.block
        if self.etm:
            if len(fragment) < self.mac_len + b:
                raise _fail(f"{len(fragment)} bytes: too short for encrypt-then-MAC")
            body, mac = fragment[: -self.mac_len], fragment[-self.mac_len :]
            if self._mac(seq, content_type, version, body) != mac:
                if self.implicit_iv and len(body) % b == 0:
                    self.iv = body[-b:]
                raise _fail("bad record MAC (encrypt-then-MAC)", "tls.record.bad_mac")
        else:
            body = fragment
        if self.implicit_iv:
            iv, ct = self.iv, body
        else:
            iv, ct = body[:b], body[b:]
        if not ct or len(ct) % b:
            raise _fail(f"ciphertext length {len(ct)} is not a positive multiple of {b}")
        if self.implicit_iv:
            self.iv = ct[-b:]
            dec = self._block_cipher(iv).decryptor()
            inner = dec.update(ct) + dec.finalize()
        else:
            # One CBC decryptor for every record: fed the record's explicit IV and then its
            # ciphertext, its first block out is noise and the rest is the plaintext (CBC
            # chains each block to the one before, here the IV), whatever came before.
            if self._cbc_dec is None:
                self._cbc_dec = self._block_cipher(bytes(b)).decryptor()
            inner = self._cbc_dec.update(body)[b:]
        pad = inner[-1]
        if pad + 1 > len(inner) or inner[-pad - 1 :] != bytes((pad,)) * (pad + 1):
            raise _fail("bad CBC padding (wrong key or altered record)", "tls.record.bad_padding")
        inner = inner[: -pad - 1]
        if self.etm:
            return content_type, inner
        if len(inner) < self.mac_len:
            raise _fail("record shorter than its MAC")
        data, mac = inner[: -self.mac_len], inner[-self.mac_len :]
        if self._mac(seq, content_type, version, data) != mac:
            raise _fail("bad record MAC", "tls.record.bad_mac")
        return content_type, data


class Tls13Aead:
    """TLS 1.3 record protection: nonce = iv XOR seq, AAD = outer header, inner content type."""

    def __init__(self, suite: CipherSuite, key: bytes, iv: bytes, padding: int = 0) -> None:
        self.aead = _aead(suite, key)
        self.iv = iv
        self.tag_len = suite.tag_len
        self.padding = padding
        self.seq = 0

    def protect(self, content_type: int, version: int, plaintext: bytes) -> tuple[int, bytes]:
        inner = plaintext + bytes((content_type,)) + bytes(self.padding)
        n = len(inner) + self.tag_len
        aad = bytes((CT_APPLICATION_DATA,)) + TLS12.to_bytes(2, "big") + n.to_bytes(2, "big")
        out = self.aead.encrypt(_xor_nonce(self.iv, self.seq), inner, aad)
        self.seq += 1
        return CT_APPLICATION_DATA, out

    def unprotect(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        seq = self.seq
        self.seq += 1
        aad = bytes((content_type,)) + version.to_bytes(2, "big") + len(fragment).to_bytes(2, "big")
        try:
            inner = self.aead.decrypt(_xor_nonce(self.iv, seq), fragment, aad)
        except InvalidTag:
            raise _fail(
                "bad AEAD tag (wrong key, altered or misordered record)", "tls.record.bad_mac"
            ) from None
        return parse_inner_plaintext(inner)


def tls12_protection(
    suite: CipherSuite,
    version: int,
    key: bytes,
    mac_key: bytes,
    iv: bytes,
    etm: bool = False,
    rng: Rng = os.urandom,
) -> Tls12Aead | Tls12MacCipher:
    """The protection of one direction of a TLS 1.0-1.2 connection."""
    if suite.aead:
        if version < TLS12:
            # a ServerHello can pair any version with any suite: bad input, not a bug
            raise DissectError(LAYER, 0, f"{suite.name} needs TLS 1.2", "version")
        return Tls12Aead(suite, key, iv)
    return Tls12MacCipher(suite, version, key, mac_key, iv, etm, rng)


def tls13_aead(suite: CipherSuite, secret: bytes) -> Tls13Aead:
    """The record protection a TLS 1.3 traffic secret gives (RFC 8446 7.3)."""
    key, iv = tls13_traffic_keys(suite.prf, secret, suite.key_len)
    return Tls13Aead(suite, key, iv)
