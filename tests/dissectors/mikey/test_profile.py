"""Profile 1 messages built by mikeyshark.dissectors.mikey, checked byte by byte.

Every expected byte is written out here from the profile (docs/profile.md) and every key is
computed in the test from hmac/hashlib and cryptography's AES-CTR, never taken from the code
under test.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from mikeyshark.dissectors.mikey import Kemac, Ticket, build, parse, parse_key_data
from mikeyshark.dissectors.mikey.ticket import (
    BaseTicket,
    TicketError,
    open_ticket,
    parse_ticket,
    protect_ticket,
)
from mikeyshark.dissectors.mikey.transfer import (
    build_resolve_init,
    build_resolve_resp,
    build_transfer_init,
    build_transfer_resp,
)

KMS_KEY = bytes.fromhex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
MPK = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")
TGK = bytes.fromhex("b0b1b2b3b4b5b6b7b8b9babbbcbdbebf")
CSB = 0x0A0B0C0D
T_INIT = 0xE7C1A2B300000000
T_RESP = 0xE7C1A2B480000000
T_ISSUE = 0xE7C1A2B000000000
T_END = T_ISSUE + (86400 << 32)
RAND = bytes(range(0x10, 0x20))
TICKET_RAND = bytes(range(0x40, 0x50))
ALICE = b"sip:alice@example.org"
CONF = b"sip:conf1@conf.example.org"
KMS = b"kms.example.org"


def prf256(key: bytes, label: bytes, n: int) -> bytes:
    """PRF-HMAC-SHA-256 for a key of at most 32 bytes (a single 256-bit chunk)."""
    assert len(key) <= 32
    out, a = b"", label
    while len(out) < n:
        a = hmac.new(key, a, hashlib.sha256).digest()
        out += hmac.new(key, a + label, hashlib.sha256).digest()
    return out[:n]


def lab(const: int, cs: int, rand: bytes) -> bytes:
    return struct.pack("!IBI", const, cs, CSB) + rand


def aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    e = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return e.update(data) + e.finalize()


def idr(role: int, data: bytes, nxt: int) -> bytes:
    return bytes([nxt, role, 1]) + struct.pack("!H", len(data)) + data


# HDR map of the crypto session (docs/profile.md): GENERIC-ID, one entry: CS ID 1, Prot type
# 2 (TLS), S=0 #P=1, P=[0], session data length 0, SPI length 0.
GENERIC_MAP = bytes.fromhex("01 02") + bytes.fromhex("01 02 01 00 0000 00")


def expected_ticket_data() -> bytes:
    encr_key = prf256(KMS_KEY, lab(0x150533E1, 0xFF, TICKET_RAND), 16)
    salt = prf256(KMS_KEY, lab(0x29B88916, 0xFF, TICKET_RAND), 14)
    auth = prf256(KMS_KEY, lab(0x2D22AC75, 0xFF, TICKET_RAND), 32)
    x = b"\x00\x00" + struct.pack("!IQ", CSB, T_ISSUE)
    iv = bytes(a ^ b for a, b in zip(salt, x, strict=True)) + b"\x00\x00"
    # key data: MPK (type 4) announcing another key data (20), then TGK (type 0), last (0)
    plain = bytes.fromhex("14 40 0010") + MPK + bytes.fromhex("00 00 0010") + TGK
    encr = aes_ctr(encr_key, iv, plain)
    body = (
        b"\x0d"  # first payload: TR
        + bytes([13, 1, 0]) + struct.pack("!Q", T_ISSUE)
        + bytes([13, 2, 0]) + struct.pack("!Q", T_ISSUE)
        + bytes([11, 3, 0]) + struct.pack("!Q", T_END)
        + bytes([14, 16]) + TICKET_RAND
        + idr(1, ALICE, 14)
        + idr(2, CONF, 14)
        + idr(3, KMS, 1)
        + bytes([0, 1]) + struct.pack("!H", len(encr)) + encr + b"\x02"
    )  # fmt: skip
    return body + hmac.new(auth, body, hashlib.sha256).digest()


def base_ticket() -> BaseTicket:
    return BaseTicket(T_ISSUE, T_ISSUE, T_END, TICKET_RAND, ALICE, CONF, KMS, MPK, (TGK,))


def expected_transfer_init(ticket_data: bytes) -> bytes:
    auth = prf256(MPK, lab(0x2D22AC75, 0xFF, RAND), 32)
    body = (
        bytes([1, 14, 5, 0x81]) + struct.pack("!I", CSB) + GENERIC_MAP
        + bytes([11, 0]) + struct.pack("!Q", T_INIT)
        + bytes([14, 16]) + RAND
        + idr(1, ALICE, 14)
        + idr(2, CONF, 14)
        + idr(3, KMS, 10)
        + bytes([17, 0, 2]) + b"\x00\x00"  # SP: policy 0, prot TLS, no params
        + bytes([9]) + struct.pack("!HBBH", 1, 0, 1, len(ticket_data)) + ticket_data
        + bytes([0, 2])
    )  # fmt: skip
    return body + hmac.new(auth, body, hashlib.sha256).digest()


def expected_transfer_resp() -> bytes:
    auth = prf256(MPK, lab(0x2D22AC75, 0xFF, RAND), 32)
    body = (
        bytes([1, 15, 5, 0x01]) + struct.pack("!I", CSB) + GENERIC_MAP
        + bytes([14, 0]) + struct.pack("!Q", T_RESP)
        + idr(2, CONF, 9)
        + bytes([0, 2])
    )  # fmt: skip
    return body + hmac.new(auth, body + struct.pack("!Q", T_INIT), hashlib.sha256).digest()


def test_ticket_is_protected_exactly_per_13_4() -> None:
    td = protect_ticket(KMS_KEY, CSB, base_ticket())
    assert td == expected_ticket_data()


def test_ticket_opens_in_the_other_direction() -> None:
    opened = open_ticket(KMS_KEY, CSB, expected_ticket_data())
    assert opened.ticket == base_ticket()
    assert [(k.key_type, k.key) for k in opened.key_data] == [(4, MPK), (0, TGK)]
    pt = parse_ticket(expected_ticket_data())
    assert (pt.t_issue, pt.t_start, pt.t_end) == (T_ISSUE, T_ISSUE, T_END)
    assert (pt.initiator, pt.responder, pt.kms_uri) == (ALICE, CONF, KMS)


def test_transfer_init_and_resp_every_byte() -> None:
    td = expected_ticket_data()
    init = build_transfer_init(
        csb_id=CSB,
        t_ntp=T_INIT,
        rand=RAND,
        initiator=ALICE,
        responder=CONF,
        kms_uri=KMS,
        ticket_data=td,
        mpk=MPK,
    )
    assert init.hex() == expected_transfer_init(td).hex()
    resp = build_transfer_resp(init=init, t_ntp=T_RESP, responder=CONF, mpk=MPK)
    assert resp.hex() == expected_transfer_resp().hex()
    for raw in (init, resp):
        assert build(parse(raw)) == raw


def test_profile_tek_and_psk_identity_inputs() -> None:
    # docs/profile.md, TEK, PSK and identities:
    # TEK = PRF256(TGK, 0x2AD01C64 || cs_id 1 || csb_id || RAND_init, 16)
    from mikeyshark.dissectors.mikey.crypto import derive_tek

    want = prf256(TGK, lab(0x2AD01C64, 1, RAND), 16)
    assert derive_tek(TGK, 1, CSB, RAND, 16, prf_func=1) == want


PSK_R = bytes.fromhex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf")
T_RINIT = 0xE7C1A2B500000000
T_RRESP = 0xE7C1A2B600000000
RAND_R = bytes(range(0x60, 0x70))


def test_resolve_init_and_resp_every_byte() -> None:
    td = expected_ticket_data()
    tk = parse(expected_transfer_init(td)).find(Ticket)
    assert tk is not None and tk.data == td
    rinit = build_resolve_init(
        csb_id=CSB, t_ntp=T_RINIT, rand=RAND_R, responder=CONF, kms_uri=KMS, ticket=tk, psk=PSK_R
    )
    auth = prf256(PSK_R, lab(0x2D22AC75, 0xFF, RAND_R), 32)
    body = (
        bytes([1, 16, 5, 0x81]) + struct.pack("!I", CSB) + GENERIC_MAP
        + bytes([11, 0]) + struct.pack("!Q", T_RINIT)
        + bytes([14, 16]) + RAND_R
        + idr(2, CONF, 14)
        + idr(3, KMS, 17)
        + bytes([9]) + struct.pack("!HBBH", 1, 0, 1, len(td)) + td
        + bytes([0, 2])
    )  # fmt: skip
    assert rinit.hex() == (body + hmac.new(auth, body, hashlib.sha256).digest()).hex()

    rresp = build_resolve_resp(
        resolve_init=rinit, t_ntp=T_RRESP, kms_uri=KMS, psk=PSK_R, mpk=MPK, tgks=[TGK]
    )
    encr_key = prf256(PSK_R, lab(0x150533E1, 0xFF, RAND_R), 16)
    salt = prf256(PSK_R, lab(0x29B88916, 0xFF, RAND_R), 14)
    iv = bytes(a ^ b for a, b in zip(salt, b"\0\0" + struct.pack("!IQ", CSB, T_RRESP), strict=True))
    plain = bytes.fromhex("14 40 0010") + MPK + bytes.fromhex("00 00 0010") + TGK
    encr = aes_ctr(encr_key, iv + b"\0\0", plain)
    body = (
        bytes([1, 18, 5, 0x01]) + struct.pack("!I", CSB) + GENERIC_MAP
        + bytes([14, 0]) + struct.pack("!Q", T_RRESP)
        + idr(3, KMS, 1)
        + bytes([9, 1]) + struct.pack("!H", len(encr)) + encr + b"\x00"
        + bytes([0, 2])
    )  # fmt: skip
    want = body + hmac.new(auth, body + struct.pack("!Q", T_RINIT), hashlib.sha256).digest()
    assert rresp.hex() == want.hex()
    kemac = parse(rresp).find(Kemac)
    assert kemac is not None and kemac.encr_data == encr
    assert parse_key_data(plain)[1].key == TGK


@settings(max_examples=100, deadline=None)
@given(
    st.binary(min_size=1, max_size=64),
    st.integers(0, 2**32 - 1),
    st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=3),
    st.integers(0, 2**64 - 1),
)
def test_ticket_protect_open_round_trip(key: bytes, csb: int, tgks: list[bytes], t: int) -> None:
    bt = BaseTicket(t, t, t, bytes(16), ALICE, CONF, KMS, MPK, tuple(tgks))
    td = protect_ticket(key, csb, bt)
    assert open_ticket(key, csb, td).ticket == bt
    with pytest.raises(TicketError) as e:
        # (not key + b"\0": HMAC pads short keys with zeros, so that is the same key)
        open_ticket(bytes([key[0] ^ 1]) + key[1:], csb, td)
    assert e.value.code == "bad-mac"
    with pytest.raises(TicketError):
        open_ticket(key, csb ^ 1, td)
