"""IPsec ESP (RFC 4303) as used on the IMS Gm interface (3GPP TS 33.203).

:func:`parse` / :func:`build` split an ESP packet into SPI, sequence number and the opaque
rest; :func:`parse_null` / :func:`build_null` read and write the payload, padding, pad length,
next header and ICV of an ESP-NULL packet (RFC 2410) whose ICV length is known.
:func:`find_null` is the heuristic used when no key is configured: it tries the ICV lengths
of the integrity algorithms Gm uses (RFC 2404 HMAC-SHA-1-96, RFC 2403 HMAC-MD5-96, RFC 3566
AES-XCBC-MAC-96: 12 octets; RFC 4868 HMAC-SHA-256-128: 16; none: 0) and accepts a layout
whose trailer and inner transport header agree with each other.

With a security association (:class:`EspSa`) :func:`open_packet` verifies the ICV and
decrypts NULL, AES-CBC (RFC 3602) and AES-GCM (RFC 4106) packets.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as chmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mikeyshark.dissectors.buffer import Reader, Writer
from mikeyshark.dissectors.consts import Const, ValueTable
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.ip import IP_PROTO

LAYER = "esp"
PROTO_ESP = IP_PROTO["ESP"]
NAT_T_PORT = 4500  # RFC 3948 UDP encapsulation

INTEGRITY = ValueTable(
    "esp.integrity",
    [
        Const(0, "none", "RFC 4303 section 3.2 (combined-mode or no integrity)"),
        Const(1, "hmac-md5-96", "RFC 2403"),
        Const(2, "hmac-sha1-96", "RFC 2404"),
        Const(5, "aes-xcbc-mac-96", "RFC 3566"),
        Const(12, "hmac-sha256-128", "RFC 4868"),
    ],
)
ENCRYPTION = ValueTable(
    "esp.encryption",
    [
        Const(11, "null", "RFC 2410"),
        Const(12, "aes-cbc", "RFC 3602"),
        Const(20, "aes-gcm", "RFC 4106 (16-octet ICV)"),
    ],
)
ENCRYPTION_NAMES = frozenset(c.name for c in ENCRYPTION)
INTEGRITY_NAMES = frozenset(c.name for c in INTEGRITY)
# key octets each algorithm takes (RFC 3602; RFC 4106 with its 4-octet salt; RFC 2403, 2404,
# 3566, 4868)
KEY_LENGTHS: dict[str, tuple[int, ...]] = {
    "null": (0,),
    "aes-cbc": (16, 24, 32),
    "aes-gcm": (20, 28, 36),
    "none": (0,),
    "hmac-md5-96": (16,),
    "hmac-sha1-96": (20,),
    "aes-xcbc-mac-96": (16,),
    "hmac-sha256-128": (32,),
}
# octets of ICV each integrity algorithm appends
ICV_LEN = {"none": 0, "hmac-md5-96": 12, "hmac-sha1-96": 12, "aes-xcbc-mac-96": 12}
ICV_LEN["hmac-sha256-128"] = 16
GCM_ICV_LEN = 16
# ICV lengths the NULL heuristic tries, most common on Gm first
NULL_ICV_LENGTHS = (12, 16, 0)
# next headers of an ESP payload we can read: TCP, UDP, IPv4 and IPv6 (tunnel mode)
_INNER = frozenset({4, 6, 17, 41})


@dataclass(frozen=True, slots=True)
class EspPacket:
    spi: int
    sequence: int
    body: bytes  # IV (if any), payload, padding, pad length, next header, ICV


@dataclass(frozen=True, slots=True)
class EspNull:
    """The plaintext parts of an ESP packet with NULL encryption."""

    spi: int
    sequence: int
    payload: bytes
    padding: bytes
    next_header: int
    icv: bytes


@dataclass(frozen=True, slots=True)
class EspSa:
    """One security association, as the user gives it in the key file."""

    spi: int
    encryption: str  # a name from ENCRYPTION
    integrity: str  # a name from INTEGRITY
    encryption_key: bytes = b""  # for aes-gcm: the key followed by the 4-octet salt
    integrity_key: bytes = b""


def parse(data: bytes) -> EspPacket:
    r = Reader(data, LAYER)
    spi = r.u32("spi")
    seq = r.u32("sequence")
    return EspPacket(spi, seq, r.rest())


def build(p: EspPacket) -> bytes:
    return Writer().u32(p.spi).u32(p.sequence).raw(p.body).getvalue()


def parse_null(data: bytes, icv_len: int) -> EspNull:
    """Read an ESP-NULL packet whose ICV is ``icv_len`` octets."""
    r = Reader(data, LAYER)
    spi = r.u32("spi")
    seq = r.u32("sequence")
    end = len(data) - icv_len
    if end < 10:
        raise DissectError(LAYER, 8, f"no room for the trailer before a {icv_len}-octet ICV", "icv")
    pad_len = data[end - 2]
    nh = data[end - 1]
    stop = end - 2 - pad_len
    if stop < 8:
        raise DissectError(LAYER, end - 2, f"pad length {pad_len} passes the payload", "pad_len")
    return EspNull(spi, seq, data[8:stop], data[stop : end - 2], nh, data[end:])


def build_null(p: EspNull) -> bytes:
    w = Writer().u32(p.spi).u32(p.sequence).raw(p.payload).raw(p.padding)
    return w.u8(len(p.padding)).u8(p.next_header).raw(p.icv).getvalue()


def default_padding(n: int) -> bytes:
    """RFC 4303 2.4: padding octets 1, 2, 3, ... unless the algorithm says otherwise."""
    return bytes(range(1, n + 1))


def plausible_inner(next_header: int, payload: bytes) -> bool:
    """Whether ``payload`` looks like a whole packet of protocol ``next_header``."""
    n = len(payload)
    if next_header == 17:
        return n >= 8 and struct.unpack_from("!H", payload, 4)[0] == n
    if next_header == 6:
        return n >= 20 and 20 <= (payload[12] >> 4) * 4 <= n
    if next_header == 4:
        return n >= 20 and payload[0] >> 4 == 4 and struct.unpack_from("!H", payload, 2)[0] == n
    if next_header == 41:
        return (
            n >= 40 and payload[0] >> 4 == 6 and struct.unpack_from("!H", payload, 4)[0] + 40 == n
        )
    return False


def find_null(data: bytes, start: int, end: int) -> tuple[int, int, int, int] | None:
    """Heuristic ESP-NULL: (ICV length, next header, payload start, payload end) of the
    packet at ``data[start:end]``, or None when no ICV length gives a consistent layout
    (then the packet is encrypted, or not ESP-NULL with a known ICV length)."""
    for icv in NULL_ICV_LENGTHS:
        t = end - icv
        if t - start < 10:
            continue
        pad_len = data[t - 2]
        nh = data[t - 1]
        stop = t - 2 - pad_len
        if nh not in _INNER or stop < start + 8:
            continue
        if data[stop : t - 2] != default_padding(pad_len):
            continue
        if plausible_inner(nh, data[start + 8 : stop]):
            return icv, nh, start + 8, stop
    return None


# -- integrity and confidentiality with a known SA ---------------------------------------------


def _aes_ecb(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def aes_xcbc_mac_96(key: bytes, data: bytes) -> bytes:
    """RFC 3566 section 4: AES-XCBC-MAC truncated to 96 bits (built on AES from cryptography)."""
    k1 = _aes_ecb(key, b"\x01" * 16)
    k2 = _aes_ecb(key, b"\x02" * 16)
    k3 = _aes_ecb(key, b"\x03" * 16)
    if data and len(data) % 16 == 0:
        body, last, mask = data[:-16], data[-16:], k2
    else:
        cut = len(data) - len(data) % 16
        body, last, mask = data[:cut], data[cut:] + b"\x80" + bytes(15 - len(data) % 16), k3
    cbc = Cipher(algorithms.AES(k1), modes.CBC(bytes(16))).encryptor()
    e = (cbc.update(body) + cbc.finalize())[-16:] if body else bytes(16)
    final = bytes(a ^ b ^ c for a, b, c in zip(e, last, mask, strict=True))
    return _aes_ecb(k1, final)[:12]


def compute_icv(integrity: str, key: bytes, data: bytes) -> bytes:
    """The ICV of ``data`` (ESP header through the end of the trailer or ciphertext)."""
    if integrity == "none":
        return b""
    if integrity == "aes-xcbc-mac-96":
        return aes_xcbc_mac_96(key, data)
    algo: hashes.HashAlgorithm
    if integrity == "hmac-md5-96":
        algo, n = hashes.MD5(), 12
    elif integrity == "hmac-sha1-96":
        algo, n = hashes.SHA1(), 12
    elif integrity == "hmac-sha256-128":
        algo, n = hashes.SHA256(), 16
    else:
        raise DissectError(LAYER, 0, f"unknown integrity algorithm {integrity!r}", "integrity")
    h = chmac.HMAC(key, algo)
    h.update(data)
    return h.finalize()[:n]


def open_packet(sa: EspSa, data: bytes) -> tuple[int, bytes]:
    """(next header, inner packet) of an ESP packet protected with ``sa``; DissectError
    when the ICV does not verify, the packet does not decrypt, or its trailer is impossible."""
    if len(data) < 8:
        raise DissectError(LAYER, 0, f"needs 8 bytes, {len(data)} present", "spi")
    if sa.encryption == "aes-gcm":
        key, salt = sa.encryption_key[:-4], sa.encryption_key[-4:]
        if len(data) < 8 + 8 + GCM_ICV_LEN:
            raise DissectError(LAYER, 8, "too short for IV and ICV", "iv")
        iv = data[8:16]
        try:
            plain = AESGCM(key).decrypt(salt + iv, data[16:], data[:8])
        except InvalidTag:
            raise DissectError(
                LAYER, len(data) - GCM_ICV_LEN, "AES-GCM tag does not verify", "icv"
            ) from None
        return _trailer(plain, 16)
    icv_len = ICV_LEN.get(sa.integrity)
    if icv_len is None:
        raise DissectError(LAYER, 0, f"unknown integrity algorithm {sa.integrity!r}", "integrity")
    if len(data) < 8 + icv_len + 2:
        raise DissectError(LAYER, 8, f"too short for a {icv_len}-octet ICV", "icv")
    end = len(data) - icv_len
    if icv_len:
        want = compute_icv(sa.integrity, sa.integrity_key, data[:end])
        if not hmac.compare_digest(want, data[end:]):
            raise DissectError(LAYER, end, f"{sa.integrity} ICV does not verify", "icv")
    if sa.encryption == "null":
        return _trailer(data[8:end], 8)
    if sa.encryption == "aes-cbc":
        ct = data[24:end]
        if len(data) < 24 or len(ct) % 16 or not ct:
            raise DissectError(
                LAYER, 24, f"ciphertext of {len(ct)} bytes is not whole blocks", "data"
            )
        dec = Cipher(algorithms.AES(sa.encryption_key), modes.CBC(data[8:24])).decryptor()
        return _trailer(dec.update(ct) + dec.finalize(), 24)
    raise DissectError(LAYER, 0, f"unknown encryption algorithm {sa.encryption!r}", "encryption")


def _trailer(plain: bytes, base: int) -> tuple[int, bytes]:
    if len(plain) < 2:
        raise DissectError(LAYER, base, "no room for pad length and next header", "pad_len")
    pad_len, nh = plain[-2], plain[-1]
    stop = len(plain) - 2 - pad_len
    if stop < 0:
        raise DissectError(
            LAYER, base + len(plain) - 2, f"pad length {pad_len} passes the payload", "pad_len"
        )
    return nh, plain[:stop]


def seal_packet(sa: EspSa, sequence: int, next_header: int, inner: bytes, iv: bytes = b"") -> bytes:
    """Build a protected ESP packet (the inverse of :func:`open_packet`; tests, synthesis).
    ``iv``: 16 octets for AES-CBC, 8 for AES-GCM."""
    head = struct.pack("!II", sa.spi, sequence)
    block = {"aes-cbc": 16}.get(sa.encryption, 4)
    pad = (-(len(inner) + 2)) % block
    plain = inner + default_padding(pad) + bytes((pad, next_header))
    if sa.encryption == "aes-gcm":
        key, salt = sa.encryption_key[:-4], sa.encryption_key[-4:]
        return head + iv + AESGCM(key).encrypt(salt + iv, plain, head)
    if sa.encryption == "aes-cbc":
        enc = Cipher(algorithms.AES(sa.encryption_key), modes.CBC(iv)).encryptor()
        body = head + iv + enc.update(plain) + enc.finalize()
    else:
        body = head + plain
    return body + compute_icv(sa.integrity, sa.integrity_key, body)
