"""The MIKEY base ticket (ticket type 1) of the mikeyshark profile (docs/profile.md).

Ticket data = one byte naming the first payload, then the chain
``TR(issue) TR(start) TR(end) RAND IDRi IDRr IDRkms KEMAC``. The KEMAC holds the MPK and one
TGK per crypto session, AES-CM-128 encrypted and HMAC-SHA-256 authenticated with keys derived
(PRF-HMAC-SHA-256) from the KMS master key, or in mode 3 from the initiator's key shared with
the KMS. A ticket counts as opened only when its MAC verifies.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap

from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.mikey import constants as C
from mikeyshark.dissectors.mikey import crypto
from mikeyshark.dissectors.mikey.message import build_chain, parse_chain
from mikeyshark.dissectors.mikey.payloads import (
    Idr,
    Kemac,
    KeyData,
    Payload,
    Rand,
    Tr,
    build_key_data,
    parse_key_data,
)

LAYER = "mikey.ticket"
KEMAC_ENCR_ALG = 1  # AES-CM-128
KEMAC_MAC_ALG = 2  # HMAC-SHA-256-256
TICKET_PRF = 1  # PRF-HMAC-SHA-256, whatever the carrying HDR says
KEY_TYPE_MPK = 4
KEY_TYPE_TGK = 0


class TicketError(Exception):
    """Why a ticket did not open. ``code``: malformed | bad-mac | bad-key-data."""

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(reason)

    def __reduce__(self) -> tuple[type[TicketError], tuple[str, str]]:
        # pickled by its constructor's arguments, not ``args`` (see DissectError)
        return (type(self), (self.code, self.reason))


@dataclass(frozen=True, slots=True)
class BaseTicket:
    """The plaintext content of a base ticket. Timestamps are 64-bit NTP values."""

    t_issue: int
    t_start: int
    t_end: int
    rand: bytes
    initiator: bytes
    responder: bytes
    kms_uri: bytes
    mpk: bytes
    tgks: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ParsedTicket:
    """A ticket's structure, readable without any key."""

    payloads: tuple[Payload, ...]
    t_issue: int
    t_start: int
    t_end: int
    rand: bytes
    initiator: bytes | None
    responder: bytes | None
    kms_uri: bytes | None
    kemac: Kemac


@dataclass(frozen=True, slots=True)
class OpenedTicket:
    ticket: BaseTicket
    key_data: tuple[KeyData, ...]
    keys: crypto.TransportKeys


def ticket_keys(key: bytes, csb_id: int, rand: bytes) -> crypto.TransportKeys:
    return crypto.transport_keys(
        key, csb_id, rand, prf_func=TICKET_PRF, encr_alg=KEMAC_ENCR_ALG, mac_alg=KEMAC_MAC_ALG
    )


def protect_ticket(key: bytes, csb_id: int, t: BaseTicket) -> bytes:
    """Ticket data of a base ticket, encrypted and MACed with ``key`` (KMS or mode-3 key)."""
    keys = ticket_keys(key, csb_id, t.rand)
    chain = [KeyData(KEY_TYPE_MPK, t.mpk)] + [KeyData(KEY_TYPE_TGK, g) for g in t.tgks]
    encr = crypto.kemac_encrypt(KEMAC_ENCR_ALG, keys, csb_id, t.t_issue, build_key_data(chain))
    mac_len = C.MAC_LEN[KEMAC_MAC_ALG]
    payloads: list[Payload] = [
        Tr(1, 0, t.t_issue),
        Tr(2, 0, t.t_start),
        Tr(3, 0, t.t_end),
        Rand(t.rand),
        Idr(1, 1, t.initiator),
        Idr(2, 1, t.responder),
        Idr(3, 1, t.kms_uri),
        Kemac(KEMAC_ENCR_ALG, encr, KEMAC_MAC_ALG, bytes(mac_len)),
    ]
    body = bytes([Tr.PTYPE]) + build_chain(payloads)
    covered = body[:-mac_len]
    return covered + crypto.mac(KEMAC_MAC_ALG, keys.auth_key, covered)


def parse_ticket(data: bytes) -> ParsedTicket:
    """Structure of base-ticket data; :class:`TicketError` ``malformed`` when it is not one."""
    if not data:
        raise TicketError("malformed", "ticket data is empty")
    try:
        payloads = parse_chain(data, data[0], 1, LAYER)
    except DissectError as e:
        raise TicketError("malformed", str(e)) from e
    trs = {p.role: p for p in payloads if isinstance(p, Tr)}
    rand = next((p for p in payloads if isinstance(p, Rand)), None)
    kemac = payloads[-1] if payloads else None
    missing = [n for n, r in (("issue", 1), ("start", 2), ("end", 3)) if r not in trs]
    if missing or rand is None or not isinstance(kemac, Kemac):
        what = [f"TR({m})" for m in missing] + ([] if rand else ["RAND"])
        what += [] if isinstance(kemac, Kemac) else ["final KEMAC"]
        raise TicketError("malformed", f"base ticket lacks {', '.join(what)}")
    idr = {p.role: p.data for p in payloads if isinstance(p, Idr)}
    return ParsedTicket(
        payloads,
        trs[1].value,
        trs[2].value,
        trs[3].value,
        rand.value,
        idr.get(1),
        idr.get(2),
        idr.get(3),
        kemac,
    )


def open_ticket(key: bytes, csb_id: int, data: bytes) -> OpenedTicket:
    """Verify the ticket MAC with ``key`` and decrypt its key data.

    ``csb_id`` is the CSB ID of the message carrying the ticket. A wrong key and a tampered
    ticket both fail the MAC (``bad-mac``): the MAC cannot tell them apart.
    """
    pt = parse_ticket(data)
    k = pt.kemac
    if k.mac_alg not in crypto.MAC_HASH or k.encr_alg not in C.ENCR_KEY_LEN:
        raise TicketError(
            "malformed",
            f"ticket KEMAC uses {C.ENCR_ALG.label(k.encr_alg)} / {C.MAC_ALG.label(k.mac_alg)}",
        )
    keys = crypto.transport_keys(
        key, csb_id, pt.rand, prf_func=TICKET_PRF, encr_alg=k.encr_alg, mac_alg=k.mac_alg
    )
    if not crypto.mac_ok(k.mac_alg, keys.auth_key, data[: len(data) - len(k.mac)], k.mac):
        raise TicketError("bad-mac", "ticket MAC does not verify (wrong key or altered ticket)")
    try:
        plain = crypto.kemac_decrypt(k.encr_alg, keys, csb_id, pt.t_issue, k.encr_data)
        kd = parse_key_data(plain, "mikey.ticket.keydata")
    except (DissectError, ValueError, InvalidUnwrap) as e:
        raise TicketError(
            "bad-key-data", f"ticket MAC verifies but key data is bad: {e or 'AES-KW unwrap fails'}"
        ) from e
    mpk = next((x.key for x in kd if x.key_type == KEY_TYPE_MPK), None)
    if mpk is None:
        raise TicketError("bad-key-data", "ticket key data holds no MPK (key type 4)")
    tgks = tuple(x.key for x in kd if x.key_type == KEY_TYPE_TGK)
    ticket = BaseTicket(
        pt.t_issue,
        pt.t_start,
        pt.t_end,
        pt.rand,
        pt.initiator or b"",
        pt.responder or b"",
        pt.kms_uri or b"",
        mpk,
        tgks,
    )
    return OpenedTicket(ticket, kd, keys)
