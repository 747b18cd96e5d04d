"""Builders and checks for the MIKEY-TICKET exchanges of the profile (docs/profile.md).

Each builder takes the profile's inputs and returns the exact bytes; the matching checks
recompute a V payload from the MPK (or a pre-shared key) and the initiating message.
"""

from __future__ import annotations

from dataclasses import dataclass

from mikeyshark.dissectors.mikey import constants as C
from mikeyshark.dissectors.mikey import crypto
from mikeyshark.dissectors.mikey.message import MikeyMessage, build, parse
from mikeyshark.dissectors.mikey.payloads import (
    GenericIdEntry,
    GenericIdMap,
    Hdr,
    Idr,
    Kemac,
    KeyData,
    Payload,
    Rand,
    Sp,
    T,
    Ticket,
    V,
    build_key_data,
)

DT_TRANSFER_INIT = C.DATA_TYPE["TRANSFER_INIT"]
DT_TRANSFER_RESP = C.DATA_TYPE["TRANSFER_RESP"]
DT_RESOLVE_INIT = C.DATA_TYPE["RESOLVE_INIT_PSK"]
DT_RESOLVE_RESP = C.DATA_TYPE["RESOLVE_RESP"]
TLS_PROT_TYPE = C.PROT_TYPE["TLS"]
V_ALG = 2  # HMAC-SHA-256-256
PRF_FUNC = 1  # PRF-HMAC-SHA-256
ID_URI = 1


def profile_cs_map(
    prot_type: int = TLS_PROT_TYPE, cs_id: int = 1, policy_no: int = 0
) -> GenericIdMap:
    """The crypto session: one GENERIC-ID entry, S = 0, #P = 1, empty session data and SPI."""
    return GenericIdMap((GenericIdEntry(cs_id, prot_type, False, (policy_no,)),))


def v_auth_key(key: bytes, csb_id: int, rand: bytes) -> bytes:
    """The V key: ``PRF256(key, 0x2D22AC75 || 0xFF || csb_id || RAND, 32)``."""
    # transport_keys(...).auth_key alone: its encryption and salt keys are not needed here
    label = crypto.label(C.CONST_TRANSPORT_AUTH.value, C.TRANSPORT_CS_ID, csb_id, rand)
    return crypto.prf(PRF_FUNC, key, label, C.MAC_LEN[V_ALG])


def _with_v(msg: MikeyMessage, auth_key: bytes, init_t: bytes | None) -> bytes:
    """The message with its final V filled in: MAC over everything up to V's data."""
    n = C.MAC_LEN[V_ALG]
    covered = build(msg)[:-n]
    tag = (
        crypto.v_init(V_ALG, auth_key, covered)
        if init_t is None
        else crypto.v_resp(V_ALG, auth_key, covered, init_t)
    )
    return covered + tag


def build_transfer_init(
    *,
    csb_id: int,
    t_ntp: int,
    rand: bytes,
    initiator: bytes,
    responder: bytes,
    kms_uri: bytes,
    ticket_data: bytes,
    mpk: bytes,
    prot_type: int = TLS_PROT_TYPE,
    cs_id: int = 1,
) -> bytes:
    """``HDR(14, V=1, PRF 1) T RAND IDRi IDRr IDRkms SP TICKET V``."""
    hdr = Hdr(DT_TRANSFER_INIT, csb_id, profile_cs_map(prot_type, cs_id), True, PRF_FUNC)
    payloads: list[Payload] = [
        T(0, t_ntp),
        Rand(rand),
        Idr(1, ID_URI, initiator),
        Idr(2, ID_URI, responder),
        Idr(3, ID_URI, kms_uri),
        Sp(0, prot_type),
        Ticket(1, C.BASE_TICKET_SUBTYPE, C.BASE_TICKET_VERSION, ticket_data),
        V(V_ALG, bytes(C.MAC_LEN[V_ALG])),
    ]
    msg = MikeyMessage(hdr, tuple(payloads))
    return _with_v(msg, v_auth_key(mpk, csb_id, rand), None)


def _t_and_rand(msg: MikeyMessage, what: str) -> tuple[T, Rand]:
    t, r = msg.find(T), msg.find(Rand)
    if t is None or r is None:
        raise ValueError(f"{what} lacks its T or RAND payload")
    return t, r


def build_transfer_resp(*, init: bytes, t_ntp: int, responder: bytes, mpk: bytes) -> bytes:
    """``HDR(15, V=0, PRF 1, same CSB ID and map) T IDRr V`` answering ``init``."""
    im = parse(init)
    it, ir = _t_and_rand(im, "TRANSFER_INIT")
    hdr = Hdr(DT_TRANSFER_RESP, im.hdr.csb_id, im.hdr.cs_map, False, PRF_FUNC)
    payloads: list[Payload] = [
        T(0, t_ntp),
        Idr(2, ID_URI, responder),
        V(V_ALG, bytes(C.MAC_LEN[V_ALG])),
    ]
    msg = MikeyMessage(hdr, tuple(payloads))
    return _with_v(msg, v_auth_key(mpk, im.hdr.csb_id, ir.value), it.value_bytes)


def build_resolve_init(
    *,
    csb_id: int,
    t_ntp: int,
    rand: bytes,
    responder: bytes,
    kms_uri: bytes,
    ticket: Ticket,
    psk: bytes,
    cs_map: GenericIdMap | None = None,
) -> bytes:
    """``HDR(16) T RAND IDRr IDRkms TICKET V``, V keyed from the responder's KMS key.

    ``csb_id`` and ``cs_map`` are those of the TRANSFER_INIT the ticket came in: the ticket
    is protected with that CSB ID.
    """
    hdr = Hdr(DT_RESOLVE_INIT, csb_id, cs_map or profile_cs_map(), True, PRF_FUNC)
    payloads: list[Payload] = [
        T(0, t_ntp),
        Rand(rand),
        Idr(2, ID_URI, responder),
        Idr(3, ID_URI, kms_uri),
        ticket,
        V(V_ALG, bytes(C.MAC_LEN[V_ALG])),
    ]
    return _with_v(MikeyMessage(hdr, tuple(payloads)), v_auth_key(psk, csb_id, rand), None)


def build_resolve_resp(
    *, resolve_init: bytes, t_ntp: int, kms_uri: bytes, psk: bytes, mpk: bytes, tgks: list[bytes]
) -> bytes:
    """``HDR(18) T IDRkms KEMAC V`` (docs/profile.md, the KMS leg).

    Our reading of the KMS leg where it is silent: the KEMAC is AES-CM-128 with transport keys from
    ``psk`` and RESOLVE_INIT's CSB ID and RAND, its IV from that CSB ID and this message's T
    (RFC 3830: the T of the message carrying the KEMAC); the KEMAC MAC is NULL because V,
    computed like TRANSFER_RESP's (folding in RESOLVE_INIT's T), covers the whole message.
    """
    im = parse(resolve_init)
    it, ir = _t_and_rand(im, "RESOLVE_INIT")
    csb = im.hdr.csb_id
    keys = crypto.transport_keys(psk, csb, ir.value, prf_func=PRF_FUNC, encr_alg=1, mac_alg=V_ALG)
    chain = [KeyData(4, mpk)] + [KeyData(0, g) for g in tgks]
    encr = crypto.kemac_encrypt(1, keys, csb, t_ntp, build_key_data(chain))
    hdr = Hdr(DT_RESOLVE_RESP, csb, im.hdr.cs_map, False, PRF_FUNC)
    payloads: list[Payload] = [
        T(0, t_ntp),
        Idr(3, ID_URI, kms_uri),
        Kemac(1, encr, 0, b""),
        V(V_ALG, bytes(C.MAC_LEN[V_ALG])),
    ]
    return _with_v(MikeyMessage(hdr, tuple(payloads)), keys.auth_key, it.value_bytes)


@dataclass(frozen=True, slots=True)
class VCheck:
    ok: bool
    reason: str


def check_v(raw: bytes, msg: MikeyMessage, auth_key: bytes, init_t: bytes | None) -> VCheck:
    """Does the final V payload of ``raw`` verify with ``auth_key``?

    ``init_t`` is the initiating message's T value for a response, ``None`` for an initial
    message.
    """
    v = msg.payloads[-1] if msg.payloads else None
    if not isinstance(v, V):
        return VCheck(False, "message does not end with a V payload")
    if v.auth_alg not in crypto.MAC_HASH:
        return VCheck(False, f"V auth alg {C.MAC_ALG.label(v.auth_alg)} cannot be checked")
    covered = raw[: len(raw) - len(v.data)] + (init_t or b"")
    if crypto.mac_ok(v.auth_alg, auth_key, covered, v.data):
        return VCheck(True, "V verifies")
    return VCheck(False, "V does not verify (wrong key or altered message)")
