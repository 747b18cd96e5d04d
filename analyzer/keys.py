"""MIKEY-TICKET key resolution: what the key file's secrets open (docs/profile.md).

The key file (:mod:`mikeyshark.keyfile`) names the secrets we hold: KMS master keys, keys
users share with the KMS, and TLS PSKs known directly. :func:`resolve_exchange` opens a
TRANSFER_INIT's ticket with them, checks both V payloads with the ticket's MPK and lists the
TEK candidates of each crypto session, the profile's TEK first. A TEK is only a *candidate*
here: the TLS handshake is its oracle. What a MAC proves here (ticket, V) is said in each
step's status.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap

from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.mikey import constants as C
from mikeyshark.dissectors.mikey import crypto, transfer
from mikeyshark.dissectors.mikey.message import MikeyMessage, parse
from mikeyshark.dissectors.mikey.payloads import (
    GenericIdMap,
    Kemac,
    KeyData,
    Rand,
    Sp,
    SrtpIdMap,
    T,
    Ticket,
    ntp64_to_unix_ns,
    parse_key_data,
)
from mikeyshark.dissectors.mikey.ticket import BaseTicket, TicketError, open_ticket
from mikeyshark.keyfile import KeyFile, TekKey


class KeyResolutionError(Exception):
    """A step of key resolution that failed; ``code`` names the step's failure.

    Codes: malformed, not-ticket-message, no-ticket, no-keys, ticket-not-opened,
    bad-key-data, expired, not-yet-valid, init-bad-mac, resp-bad-mac, csb-mismatch,
    resp-malformed, kemac-not-opened, needs-init.
    """

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"{code}: {reason}")


@dataclass(frozen=True, slots=True)
class TekCandidate:
    key: bytes
    cs_id: int
    derivation: str
    confirmed_by: str | None = None  # set by the oracle that proves it (the TLS handshake)
    from_ticket: bool = True  # derived from the ticket's keys (not a key file's [[tek]])


@dataclass(frozen=True, slots=True)
class CryptoSession:
    cs_id: int
    prot_type: int
    is_tls: bool
    tgk: bytes | None = None
    tek: bytes | None = None  # when the key data delivers a TEK rather than a TGK


@dataclass(frozen=True, slots=True)
class Validity:
    issued_ntp: int
    start_ntp: int
    end_ntp: int

    @property
    def start_ns(self) -> int:
        return ntp64_to_unix_ns(self.start_ntp)

    @property
    def end_ns(self) -> int:
        return ntp64_to_unix_ns(self.end_ntp)

    def covers(self, unix_ns: int) -> bool:
        return self.start_ns <= unix_ns <= self.end_ns


@dataclass(slots=True)
class Resolution:
    init: MikeyMessage
    resp: MikeyMessage | None = None
    csb_id: int = 0
    same_csb: bool | None = None
    ticket_opened: bool = False
    opened_by: str | None = None  # "kms <uri>" or "psk <identity>"
    mode: str | None = None  # "kms" | "mode-3"
    ticket: BaseTicket | None = None
    validity: Validity | None = None
    valid_at: bool | None = None
    checked_at_ns: int | None = None
    init_mac_ok: bool | None = None
    resp_mac_ok: bool | None = None
    crypto_sessions: list[CryptoSession] = field(default_factory=list)
    tek_candidates: list[TekCandidate] = field(default_factory=list)
    failures: list[KeyResolutionError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)

    @property
    def error(self) -> KeyResolutionError | None:
        return self.failures[0] if self.failures else None

    @property
    def mpk(self) -> bytes | None:
        return self.ticket.mpk if self.ticket else None

    def fail(self, code: str, reason: str) -> None:
        self.failures.append(KeyResolutionError(code, reason))

    def failure(self, code: str) -> KeyResolutionError | None:
        return next((f for f in self.failures if f.code == code), None)


def _candidate_keys(init: MikeyMessage, keys: KeyFile) -> list[tuple[str, str, bytes]]:
    """(mode, name, key) in trial order: the KMS IDRkms names first, then the other KMS keys,
    then pre-shared keys, the one IDRpsk or IDRi names first (mode 3)."""
    idr_kms, idr_psk, idr_i = init.idr(3), init.idr(4), init.idr(1)
    kms_uri = idr_kms.data.decode("utf-8", "replace") if idr_kms else None
    named = {p.data.decode("utf-8", "replace") for p in (idr_psk, idr_i) if p is not None}
    # (stable: the named ones first, each part in the key file's order)
    kms = [k for k in keys.kms if k.uri == kms_uri] + [k for k in keys.kms if k.uri != kms_uri]
    psk = [k for k in keys.psk if k.identity in named] + [
        k for k in keys.psk if k.identity not in named
    ]
    return [("kms", f"kms {k.uri}", k.master_key) for k in kms] + [
        ("mode-3", f"psk {k.identity}", k.key) for k in psk
    ]


def _sessions(msg: MikeyMessage) -> list[tuple[int, int]]:
    """(cs_id, Prot type) of each crypto session: as the HDR's CS ID map says (an SRTP-ID map
    is SRTP's, RFC 3830 6.1.1); the SP payload only for a map that names none."""
    m = msg.hdr.cs_map
    if isinstance(m, GenericIdMap):
        return [(e.cs_id, e.prot_type) for e in m.entries]
    if isinstance(m, SrtpIdMap):
        return [(cs, C.SRTP_PROT_TYPE) for cs in msg.hdr.cs_ids()]
    sp = msg.find(Sp)
    prot = sp.prot_type if sp is not None else 0
    return [(cs, prot) for cs in msg.hdr.cs_ids()]


def tek_candidates(
    msg: MikeyMessage,
    resp: MikeyMessage | None,
    sessions: list[CryptoSession],
    extra: tuple[TekKey, ...] = (),
) -> list[TekCandidate]:
    """TLS sessions first; the first candidate is the profile's TEK (docs/profile.md, TEK,
    PSK and identities), then the other derivations worth a try."""
    rand = msg.find(Rand)
    r_init = rand.value if rand else b""
    randr_r = resp.randr(2) if resp else None
    randr_kms = msg.randr(3) or (resp.randr(3) if resp else None)
    rands: list[tuple[str, bytes]] = [("RAND", r_init)]
    if randr_r:
        rands.append(("RAND||RANDRr", r_init + randr_r.value))
    if randr_kms:
        rands.append(("RAND||RANDRkms", r_init + randr_kms.value))
        rands.append(("RANDRkms", randr_kms.value))
    if randr_r:
        rands.append(("RANDRr", randr_r.value))
    hdr_prf = msg.hdr.prf_func if msg.hdr.prf_func in (0, 1) else 1
    csb = msg.hdr.csb_id
    out: list[TekCandidate] = []
    seen: set[tuple[bytes, int]] = set()

    def add(c: TekCandidate) -> None:
        if (c.key, c.cs_id) not in seen:
            seen.add((c.key, c.cs_id))
            out.append(c)

    for cs in sorted(sessions, key=lambda s: not s.is_tls):
        if cs.tek is not None:
            add(TekCandidate(cs.tek, cs.cs_id, "TEK delivered in key data"))
        if cs.tgk is None:
            continue
        for prf_func in (hdr_prf, 1 - hdr_prf):
            for rname, r in rands:
                # a shorter output of the PRF is the start of a longer one (RFC 3830 4.1.2:
                # the same blocks, cut): the 16-byte TEK is the 32-byte one's first half
                full = crypto.derive_tek(cs.tgk, cs.cs_id, csb, r, 32, prf_func)
                for n in (16, 32):
                    key = full[:n]
                    add(
                        TekCandidate(
                            key,
                            cs.cs_id,
                            f"{C.PRF_FUNC.label(prf_func)}(TGK, TEK "
                            f"label cs {cs.cs_id}, {rname}, {n})",
                        )
                    )
    tls_cs = next((s.cs_id for s in sessions if s.is_tls), sessions[0].cs_id if sessions else 0)
    for t in extra:
        add(
            TekCandidate(
                t.key, tls_cs, f"key file [[tek]] {t.identity or ''}".rstrip(), from_ticket=False
            )
        )
    return out


def resolve_exchange(
    init: bytes,
    resp: bytes | None,
    keys: KeyFile,
    at_time_ns: int | None = None,
    *,
    parsed: tuple[MikeyMessage, MikeyMessage | None] | None = None,
) -> Resolution:
    """Open the ticket of TRANSFER_INIT ``init``, check V payloads, list TEK candidates.

    Raises :class:`DissectError` when ``init`` is not a MIKEY message; every later problem
    is a :class:`KeyResolutionError` in ``Resolution.failures`` (first one: ``error``).
    ``parsed``: ``init`` and ``resp`` (when given) as the caller parsed them already.
    """
    msg = parsed[0] if parsed is not None else parse(init)
    res = Resolution(msg, csb_id=msg.hdr.csb_id)
    res.notes += [f"unknown value: {u}" for u in msg.unknowns()]
    if not msg.is_ticket_message():
        res.fail("not-ticket-message", f"data type {msg.data_type_name} carries no ticket")
    tls = keys.tls_prot_type
    sess = _sessions(msg)

    resp_msg: MikeyMessage | None = None
    if resp is not None:
        try:
            resp_msg = parsed[1] if parsed is not None and parsed[1] is not None else parse(resp)
        except DissectError as e:
            res.fail("resp-malformed", f"TRANSFER_RESP: {e}")
        else:
            res.resp = resp_msg
            res.same_csb = resp_msg.hdr.csb_id == msg.hdr.csb_id
            if not res.same_csb:
                res.fail(
                    "csb-mismatch",
                    f"TRANSFER_RESP CSB ID 0x{resp_msg.hdr.csb_id:08x} "
                    f"differs from TRANSFER_INIT's 0x{msg.hdr.csb_id:08x}",
                )

    tgks: tuple[bytes, ...] = ()
    key_data: tuple[KeyData, ...] = ()
    tk = msg.find(Ticket)
    if tk is None:
        res.fail("no-ticket", "message has no TICKET payload")
    else:
        opened = _open(res, msg, tk, keys)
        if opened is not None:
            tgks, key_data = opened
    tek_by_index = [k.key for k in key_data if k.key_type in (2, 3)]
    res.crypto_sessions = [
        CryptoSession(
            cs_id,
            prot,
            prot == tls,
            tgks[i] if i < len(tgks) else None,
            tek_by_index[i] if i < len(tek_by_index) else None,
        )
        for i, (cs_id, prot) in enumerate(sess)
    ]
    if res.ticket_opened and len(tgks) != len(sess):
        res.notes.append(f"ticket holds {len(tgks)} TGKs for {len(sess)} crypto sessions")

    if res.ticket is not None:
        _check_validity(res, msg, at_time_ns)
        _check_v(res, init, msg, resp, resp_msg, res.ticket.mpk, keys)
    res.tek_candidates = tek_candidates(msg, resp_msg, res.crypto_sessions, keys.tek)
    return res


def _open(
    res: Resolution, msg: MikeyMessage, tk: Ticket, keys: KeyFile
) -> tuple[tuple[bytes, ...], tuple[KeyData, ...]] | None:
    cands = _candidate_keys(msg, keys)
    if not cands:
        res.fail("no-keys", "the key file has no [[kms]] or [[psk]] key to open the ticket with")
        return None
    if tk.ticket_type not in C.TICKET_TYPE:
        res.notes.append(f"ticket type {tk.ticket_type} is not the profile's base ticket")
    bad_data: TicketError | None = None
    for mode, name, key in cands:
        try:
            o = open_ticket(key, msg.hdr.csb_id, tk.data)
        except TicketError as e:
            res.attempts.append(f"{name}: {e.reason}")
            if e.code == "malformed":
                res.fail("malformed", f"ticket: {e.reason}")
                return None
            if e.code == "bad-key-data":
                bad_data = e
            continue
        res.attempts.append(f"{name}: ticket MAC verifies")
        res.ticket_opened, res.opened_by, res.mode, res.ticket = True, name, mode, o.ticket
        idr_kms = msg.idr(3)
        if idr_kms is not None and idr_kms.data != o.ticket.kms_uri:
            res.notes.append("IDRkms of the message differs from the ticket's")
        return o.ticket.tgks, o.key_data
    if bad_data is not None:
        res.fail("bad-key-data", bad_data.reason)
    else:
        res.fail(
            "ticket-not-opened",
            f"no configured key opens the ticket (ticket MAC fails "
            f"with all {len(cands)}: {', '.join(n for _, n, _ in cands)})",
        )
    return None


def _check_validity(res: Resolution, msg: MikeyMessage, at_time_ns: int | None) -> None:
    t = res.ticket
    assert t is not None
    res.validity = Validity(t.t_issue, t.t_start, t.t_end)
    if at_time_ns is None:
        mt = msg.find(T)
        if mt is None or mt.ts_type not in (0, 1):
            res.notes.append("no time to check the ticket's validity against")
            return
        at_time_ns = ntp64_to_unix_ns(mt.value)
    res.checked_at_ns = at_time_ns
    res.valid_at = res.validity.covers(at_time_ns)
    if at_time_ns > res.validity.end_ns:
        res.fail("expired", "ticket validity ended before the time checked")
    elif at_time_ns < res.validity.start_ns:
        res.fail("not-yet-valid", "ticket validity starts after the time checked")


def _check_v(
    res: Resolution,
    init: bytes,
    msg: MikeyMessage,
    resp: bytes | None,
    resp_msg: MikeyMessage | None,
    mpk: bytes,
    keys: KeyFile,
) -> None:
    name = msg.data_type_name
    rand, t = msg.find(Rand), msg.find(T)
    if rand is None or t is None:
        res.fail("malformed", f"{name} lacks T or RAND: its V cannot be checked")
        return
    if msg.hdr.data_type == transfer.DT_RESOLVE_INIT:
        # The KMS leg (docs/profile.md): RESOLVE_INIT's V is keyed from the responder's key
        # with the KMS, not the MPK.
        for p in keys.psk:
            ak = transfer.v_auth_key(p.key, msg.hdr.csb_id, rand.value)
            if transfer.check_v(init, msg, ak, None).ok:
                res.init_mac_ok = True
                res.notes.append(f"{name} V verifies with psk {p.identity}")
                return
        res.init_mac_ok = False
        res.fail("init-bad-mac", f"{name}: V verifies with none of {len(keys.psk)} [[psk]] keys")
        return
    ak = transfer.v_auth_key(mpk, msg.hdr.csb_id, rand.value)
    v = transfer.check_v(init, msg, ak, None)
    res.init_mac_ok = v.ok
    if not v.ok:
        res.fail("init-bad-mac", f"{name}: {v.reason} with the ticket's MPK")
    if resp is not None and resp_msg is not None:
        rv = transfer.check_v(resp, resp_msg, ak, t.value_bytes)
        res.resp_mac_ok = rv.ok
        if not rv.ok:
            res.fail(
                "resp-bad-mac", f"{resp_msg.data_type_name}: {rv.reason} with the ticket's MPK"
            )


# --- KMS leg (RESOLVE_INIT / RESOLVE_RESP; docs/profile.md, the KMS leg) ------------------


@dataclass(slots=True)
class KmsLegResolution:
    resolve_init: MikeyMessage | None
    resolve_resp: MikeyMessage
    opened_by: str | None = None
    init_mac_ok: bool | None = None
    resp_mac_ok: bool | None = None
    key_data: tuple[KeyData, ...] = ()
    iv_t_from: str | None = None
    failures: list[KeyResolutionError] = field(default_factory=list)

    @property
    def mpk(self) -> bytes | None:
        return next((k.key for k in self.key_data if k.key_type == 4), None)

    @property
    def tgks(self) -> tuple[bytes, ...]:
        return tuple(k.key for k in self.key_data if k.key_type == 0)

    @property
    def error(self) -> KeyResolutionError | None:
        return self.failures[0] if self.failures else None


def resolve_kms_leg(
    resolve_init: bytes | None, resolve_resp: bytes, keys: KeyFile
) -> KmsLegResolution:
    """Open RESOLVE_RESP's KEMAC with a configured ``[[psk]]`` key.

    The transport keys come from that key, the CSB ID and RESOLVE_INIT's RAND, so
    RESOLVE_INIT is needed; the V of RESOLVE_RESP (folding in RESOLVE_INIT's T) is the oracle
    that picks the key.
    """
    rm = parse(resolve_resp)
    if resolve_init is None:
        out = KmsLegResolution(None, rm)
        out.failures.append(
            KeyResolutionError(
                "needs-init",
                "RESOLVE_RESP's keys derive from RESOLVE_INIT's RAND: RESOLVE_INIT is needed",
            )
        )
        return out
    im = parse(resolve_init)
    out = KmsLegResolution(im, rm)
    ir, it = im.find(Rand), im.find(T)
    kemac = rm.find(Kemac)
    if ir is None or it is None or kemac is None or it.ts_type not in C.TS_LEN:
        out.failures.append(
            KeyResolutionError(
                "malformed", "RESOLVE_INIT lacks T/RAND or RESOLVE_RESP lacks its KEMAC"
            )
        )
        return out
    if not keys.psk:
        out.failures.append(KeyResolutionError("no-keys", "the key file has no [[psk]] key"))
        return out
    prf_func = rm.hdr.prf_func if rm.hdr.prf_func in (0, 1) else 1
    csb = rm.hdr.csb_id
    idr_r = im.idr(2)
    named = idr_r.data.decode("utf-8", "replace") if idr_r else None
    for p in sorted(keys.psk, key=lambda k: k.identity != named):
        ak = transfer.v_auth_key(p.key, im.hdr.csb_id, ir.value)
        if not transfer.check_v(resolve_init, im, ak, None).ok:
            continue
        out.init_mac_ok = True
        out.opened_by = f"psk {p.identity}"
        tkeys = crypto.transport_keys(
            p.key,
            csb,
            ir.value,
            prf_func=prf_func,
            encr_alg=kemac.encr_alg if kemac.encr_alg in C.ENCR_KEY_LEN else 1,
            mac_alg=kemac.mac_alg if kemac.mac_alg in (1, 2) else 2,
        )
        vr = transfer.check_v(
            resolve_resp, rm, transfer.v_auth_key(p.key, csb, ir.value), it.value_bytes
        )
        out.resp_mac_ok = vr.ok
        if not vr.ok:
            out.failures.append(KeyResolutionError("resp-bad-mac", f"RESOLVE_RESP: {vr.reason}"))
            return out
        rt = rm.find(T)
        for label, tv in (
            ("RESOLVE_RESP T", rt.value if rt else None),
            ("RESOLVE_INIT T", it.value),
        ):
            if tv is None:
                continue
            try:
                plain = crypto.kemac_decrypt(kemac.encr_alg, tkeys, csb, tv, kemac.encr_data)
                out.key_data = parse_key_data(plain, "mikey.kemac.keydata")
            except (DissectError, ValueError, InvalidUnwrap):
                continue
            out.iv_t_from = label
            return out
        out.failures.append(
            KeyResolutionError(
                "kemac-not-opened",
                "RESOLVE_RESP V verifies but its KEMAC key data does not decrypt",
            )
        )
        return out
    out.init_mac_ok = False
    out.failures.append(
        KeyResolutionError(
            "init-bad-mac", f"RESOLVE_INIT's V verifies with none of {len(keys.psk)} [[psk]] keys"
        )
    )
    return out
