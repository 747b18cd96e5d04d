"""Judge one call against the rules (docs/rules.md).

Each evaluator looks at one m-line of a correlated call (``MediaRecord``) and says pass,
fail, not-observed or not-applicable, with the frames that show it and a sentence a test
engineer can act on. ``evaluate_call`` combines the m-lines of a call into one result per
rule: one failing m-line fails the rule; missing evidence is never a pass.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from mikeyshark.checks.rules import RULES, RULES_BY_ID, Leg, Need, Rule
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.h248.mp import DEFAULT_PROFILE as DEFAULT_MP_PROFILE
from mikeyshark.dissectors.h248.mp import EVENT_KEYS, MpProfile
from mikeyshark.dissectors.mikey.constants import DATA_TYPE
from mikeyshark.dissectors.mikey.transfer import TLS_PROT_TYPE
from mikeyshark.dissectors.msrp import MsrpUri
from mikeyshark.dissectors.secret import fingerprint
from mikeyshark.dissectors.sip import kms_uid
from mikeyshark.dissectors.tls.constants import ALERT_DESCRIPTION, CIPHER_SUITE, CIPHER_SUITES, Kx
from mikeyshark.evidence import (
    CallRecord,
    CheckResult,
    MediaRecord,
    MpCommand,
    MpTermination,
    SdpMedia,
    Status,
)
from mikeyshark.model import Endpoint, Problem, Severity, internal_problem
from mikeyshark.procedure import (
    Direction,
    Event,
    Protocol,
    Side,
    flow_for,
    side_role,
    tls_client_side,
)

TRANSFER_INIT = DATA_TYPE["TRANSFER_INIT"]
TRANSFER_RESP = DATA_TYPE["TRANSFER_RESP"]

ReplayKey = tuple[int, bytes, bytes]


@dataclass(slots=True)
class Policy:
    """The key file's `[conference]` table."""

    uri: str
    authorized: tuple[str, ...]


@dataclass(slots=True)
class Context:
    """What the rules need beyond one call: key-file policy and what other calls showed."""

    policy: Policy | None = None
    tls_prot_type: int = TLS_PROT_TYPE
    bfcp_tls_client: str = Side.ANSWERER.value
    mp: MpProfile = DEFAULT_MP_PROFILE  # the Mp item names (the key file's [profile.mp])
    # TRANSFER_INITs already seen, in capture order: (csb_id, T, RAND) -> (call_id, frame)
    seen_inits: dict[ReplayKey, tuple[str, int]] = field(default_factory=dict)


# Never changed once made, but not frozen: a call makes some 50 (a rule's outcome on each
# m-line), and a frozen dataclass sets each field through object.__setattr__, several times
# slower. Hashed and compared by value as a frozen one is.
@dataclass(slots=True, unsafe_hash=True)
class Outcome:
    status: Status
    message: str
    frames: tuple[int, ...] = ()
    severity: Severity | None = None  # a failure's, when not the rule's own
    unseen_leg: bool = False  # not-observed: the capture point does not see the rule's leg


def _ok(message: str, *frames: int | None) -> Outcome:
    return Outcome(Status.PASS, message, _frames(frames))


def _fail(message: str, *frames: int | None) -> Outcome:
    return Outcome(Status.FAIL, message, _frames(frames))


def _unseen(message: str, *frames: int | None) -> Outcome:
    return Outcome(Status.NOT_OBSERVED, message, _frames(frames))


def _na(message: str) -> Outcome:
    return Outcome(Status.NOT_APPLICABLE, message)


def _frames(frames: Sequence[int | None]) -> tuple[int, ...]:
    if len(frames) == 1:  # (most outcomes)
        f = frames[0]
        return () if f is None else (f,)
    return tuple(sorted({f for f in frames if f is not None}))


Evaluator = Callable[[CallRecord, MediaRecord, Context], Outcome]
_EVALUATORS: dict[str, Evaluator] = {}

T = TypeVar("T")


def _given(evidence: T | None) -> T:
    """Evidence the rule's ``needs`` made sure of before its evaluator runs."""
    if evidence is None:
        raise AssertionError("a rule's evaluator ran without the evidence its needs name")
    return evidence


def _missing_init(m: MediaRecord) -> str | None:
    if m.init is None:
        return "no MIKEY message in the offer"
    if not m.init.parsed:
        return f"the offer's MIKEY message could not be parsed: {m.init.error}"
    return None


def _missing_plaintext(m: MediaRecord) -> str | None:
    if m.plaintext_frames:
        return None  # in the clear: visible without keys
    if m.tls is None:
        return "no TLS session on this m-line's connection: no media to read"
    if not m.tls.decrypted:
        return "the TLS session was not decrypted, the media content is not visible"
    return None


# Need -> why the m-line lacks it (None: present). A rule lists its needs in its row.
NEEDS: dict[Need, Callable[[MediaRecord], str | None]] = {
    Need.OFFER: lambda m: "no SDP offer captured" if m.offer is None else None,
    Need.ANSWER: lambda m: "no SDP answer captured" if m.answer is None else None,
    Need.INIT: _missing_init,
    Need.KEY: lambda m: (
        "no key file with a KMS master key or PSK to open the ticket"
        if m.key is None or not m.key.keys_configured
        else None
    ),
    Need.RESP: lambda m: (
        "no TRANSFER_RESP in the answer"
        if m.resp is None or not m.resp.parsed or m.resp.data_type != TRANSFER_RESP
        else None
    ),
    Need.TCP: lambda m: (
        "no TCP connection for this m-line in the capture" if m.tcp is None else None
    ),
    Need.TLS: lambda m: (
        "no TLS handshake on this m-line's connection"
        if m.tls is None or m.tls.client_hello_frame is None
        else None
    ),
    Need.PLAINTEXT: _missing_plaintext,
    Need.MP: lambda m: "no Mp termination carries this m-line's SDP" if m.mp is None else None,
}


def _rule(rule_id: str) -> Callable[[Evaluator], Evaluator]:
    def register(fn: Evaluator) -> Evaluator:
        _EVALUATORS[rule_id] = fn
        return fn

    return register


def _side_name(call: CallRecord, side: Side) -> str:
    if call.direction is None:
        return side.value
    return f"{side_role(side, call.direction, media=True).value}, the {side.value}"


def _the_side(call: CallRecord, side: Side) -> str:
    """ "the answerer (MRFP)", for prose."""
    if call.direction is None:
        return f"the {side.value}"
    return f"the {side.value} ({side_role(side, call.direction, media=True).value})"


def _sdp_ep(sdp: SdpMedia | None) -> str:
    return "?" if sdp is None else _ep_text(sdp.address, sdp.port)


def _ep_text(address: str | None, port: int) -> str:
    return str(Endpoint(address, port)) if address else f"?:{port}"


# --- the offer ---------------------------------------------------------------------------


@_rule("GEN-AUTH")
def _gen_auth(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    if ctx.policy is None:
        return _na("no [conference] policy in the key file (7.2.1.1.1 needs one to judge)")
    if call.direction is None:
        return _unseen("could not tell which side is the conference (no isfocus, no policy URI)")
    if m.init is None or not m.init.parsed:
        return _unseen("no MIKEY-TICKET exchange in the offer to take the UE's identity from")
    # The identity the ticket vouches for: the UE initiates in dial-in and is the
    # responder the conference called in dial-out (RESP-IDENTITY judges what it answered).
    if call.direction is Direction.DIAL_IN:
        who, ident = "initiator (IDRi)", m.init.idr_i
    else:
        who, ident = "responder (IDRr)", m.init.idr_r
    frame = m.init.frame
    if not ident:
        return _fail(f"the MIKEY-TICKET exchange names no UE identity as {who}", frame)
    allowed = {kms_uid(u) for u in ctx.policy.authorized}
    if kms_uid(ident) in allowed:
        return _ok(f"UE identity {ident} ({who}) is authorized for {ctx.policy.uri}", frame)
    return _fail(
        f"UE identity {ident} ({who}) is not in the authorized list of {ctx.policy.uri} "
        f"({', '.join(ctx.policy.authorized) or 'empty'}); the focus must refuse it "
        "(TR 29.828 7.2.1.1.1)",
        frame,
    )


@_rule("OFFER-PROTO")
def _offer_proto(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    offer = _given(m.offer)
    want = f"TCP/TLS/{m.protocol.value.upper()}"
    if offer.proto.upper() == want:
        return _ok(f"offer m-line {m.index} uses {offer.proto}", offer.frame)
    return _fail(
        f"offer m-line {m.index} uses '{offer.proto}', not {want}: the media would not be "
        "protected by TLS (TR 29.828 step 1)",
        offer.frame,
    )


@_rule("OFFER-KEYMGMT")
def _offer_keymgmt(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    offer = _given(m.offer)
    if offer.key_mgmt is None:
        other = ", ".join(offer.key_mgmt_protocols)
        extra = f" (only a=key-mgmt:{other})" if other else ""
        return _fail(
            f"offer m-line {m.index} has no a=key-mgmt:mikey at media or session level{extra} "
            "(RFC 4567; TR 29.828 step 1)",
            offer.frame,
        )
    if m.init is None or not m.init.parsed:
        reason = m.init.error if m.init is not None and m.init.error else "unparseable"
        return _fail(
            f"a=key-mgmt:mikey in the offer does not decode to a MIKEY message: {reason}",
            offer.frame,
        )
    return _ok(
        f"offer carries a=key-mgmt:mikey ({offer.key_mgmt_level} level) with a "
        f"{m.init.data_type_name or 'MIKEY'} message",
        offer.frame,
    )


@_rule("OFFER-TRANSFER-INIT")
def _offer_transfer_init(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    init = _given(m.init)
    name = init.data_type_name or f"data type {init.data_type}"
    if init.data_type != TRANSFER_INIT:
        return _fail(
            f"the offer's MIKEY message is {name}, not TRANSFER_INIT (data type "
            f"{TRANSFER_INIT}, RFC 6043)",
            init.frame,
        )
    if not init.has_ticket:
        return _fail("the offer's TRANSFER_INIT carries no TICKET payload", init.frame)
    return _ok("the offer carries a TRANSFER_INIT with a TICKET payload", init.frame)


@_rule("OFFER-IDS")
def _offer_ids(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    init = _given(m.init)
    if call.from_uri is None or call.to_uri is None:
        return _unseen("the INVITE's From/To were not captured")
    want_i, want_r = kms_uid(call.from_uri), kms_uid(call.to_uri)
    got_i, got_r = init.idr_i, init.idr_r
    bad = []
    if got_i is None:
        bad.append(f"no initiator identity (IDRi), the INVITE's From gives {want_i}")
    elif kms_uid(got_i) != want_i:
        bad.append(f"initiator IDRi is {got_i}, the INVITE's From gives {want_i}")
    if got_r is None:
        bad.append(f"no responder identity (IDRr), the INVITE's To gives {want_r}")
    elif kms_uid(got_r) != want_r:
        bad.append(f"responder IDRr is {got_r}, the INVITE's To gives {want_r}")
    if bad:
        return _fail(
            "; ".join(bad) + " (the KMS UIDs must come from From and To, TR 29.828 step 1)",
            call.invite_frame,
            init.frame,
        )
    return _ok(f"IDRi {got_i} and IDRr {got_r} match From and To", init.frame)


@_rule("OFFER-ONE-CS")
def _offer_one_cs(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    init = _given(m.init)
    what = init.data_type_name or "the MIKEY message"
    if init.cs_count == 1:
        return _ok(f"{what} holds one crypto session", init.frame)
    return _fail(
        f"{what} holds {init.cs_count} crypto sessions; TS 33.328 Annex H.3 allows "
        "exactly one for the TLS session",
        init.frame,
    )


@_rule("OFFER-PROT-TLS")
def _offer_prot_tls(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    init = _given(m.init)
    if not init.prot_types:
        return _fail("the MIKEY message's CS ID map names no crypto session", init.frame)
    bad = [p for p in init.prot_types if p != ctx.tls_prot_type]
    if bad:
        return _fail(
            f"crypto session protocol type is {bad[0]}, not TLS ({ctx.tls_prot_type}) "
            "(TR 29.828 step 1: 'The protocol type in the Crypto Session shall be set to TLS')",
            init.frame,
        )
    return _ok(f"crypto session protocol type is TLS ({ctx.tls_prot_type})", init.frame)


@_rule("OFFER-SETUP")
def _offer_setup(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    offer = _given(m.offer)
    if offer.setup == "actpass":
        return _ok("offer has a=setup:actpass", offer.frame)
    have = f"a=setup:{offer.setup}" if offer.setup else "no a=setup (RFC 4145: active)"
    return _fail(f"offer has {have}; the flow needs a=setup:actpass", offer.frame)


# --- the ticket and the MIKEY MACs ------------------------------------------------------


@_rule("TICKET-OPEN")
def _ticket_open(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    init, key = _given(m.init), _given(m.key)
    if not init.has_ticket:
        return _unseen("the offer's MIKEY message carries no ticket", init.frame)
    if key.ticket_opened:
        issuer = "issued by a KMS" if key.mode == "kms" else "built by the initiator (mode 3)"
        kind, _, name = (key.opened_by or "").partition(" ")
        which = f"the key file's [[{kind}]] {name}" if name else "a configured key"
        return _ok(f"ticket opened with {which}; its MAC verifies; {issuer}", init.frame)
    why = key.ticket_error or "no configured key gives a valid ticket MAC"
    return _fail(f"ticket does not open: {why}", init.frame)


@_rule("TICKET-VALID")
def _ticket_valid(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    init, key = _given(m.init), _given(m.key)
    if not key.ticket_opened:
        return _unseen("the ticket did not open, its validity is unknown", init.frame)
    # the offer that carried the ticket: the INVITE, or a re-INVITE that re-keys
    t = init.ts_ns if init.ts_ns is not None else call.invite_ts_ns
    at = init.frame if init.ts_ns is not None else call.invite_frame
    if t is None:
        return _unseen("no INVITE captured to compare the validity with")
    lo, hi = key.valid_from_ns, key.valid_to_ns
    if lo is None or hi is None:
        return _fail("the ticket carries no validity period (TR start/end)", init.frame)
    if lo <= t <= hi:
        return _ok("the ticket is valid at the INVITE's time", at)
    return _fail(
        f"the INVITE (at {_iso(t)}) is outside the ticket's validity {_iso(lo)} .. {_iso(hi)}",
        at,
        init.frame,
    )


def _iso(ns: int) -> str:
    return datetime.datetime.fromtimestamp(ns / 1e9, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@_rule("INIT-MAC")
def _init_mac(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    init, key = _given(m.init), _given(m.key)
    if key.init_mac_ok is None:
        return _unseen("no MPK from the ticket to verify TRANSFER_INIT's V payload", init.frame)
    if key.init_mac_ok:
        return _ok("TRANSFER_INIT's V payload verifies with the ticket's MPK", init.frame)
    return _fail(
        "TRANSFER_INIT's V payload does not verify with the MPK from the ticket "
        "(docs/profile.md, TRANSFER_INIT and TRANSFER_RESP)",
        init.frame,
    )


# --- the answer ---------------------------------------------------------------------------


@_rule("ANSWER-TRANSFER-RESP")
def _answer_transfer_resp(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    if call.answer_frame is None or m.answer is None:
        return _unseen("no 200 OK or reliable 18x with an SDP answer captured")
    if m.offer is not None and m.answer.proto.upper() != m.offer.proto.upper():
        return _fail(
            f"the answer's m-line {m.index} uses '{m.answer.proto}', the offer '{m.offer.proto}'",
            m.answer.frame,
        )
    if m.answer.port == 0:
        return _fail(f"the answer rejects m-line {m.index} (port 0)", m.answer.frame)
    if m.answer.key_mgmt is None:
        return _fail(
            f"the answer ({call.answer_status}) has no a=key-mgmt:mikey for m-line {m.index}; "
            "the TRANSFER_RESP is missing (TR 29.828 step 9/8)",
            m.answer.frame,
        )
    if m.resp is None or not m.resp.parsed:
        why = m.resp.error if m.resp is not None else "not decodable"
        return _fail(f"the answer's a=key-mgmt:mikey is not a MIKEY message: {why}", m.answer.frame)
    if m.resp.data_type != TRANSFER_RESP:
        return _fail(
            f"the answer's MIKEY message is {m.resp.data_type_name or m.resp.data_type}, "
            "not TRANSFER_RESP",
            m.answer.frame,
        )
    return _ok(
        f"{call.answer_status} carries the SDP answer ({m.answer.proto}) with a TRANSFER_RESP",
        m.answer.frame,
    )


@_rule("RESP-MAC")
def _resp_mac(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    resp = _given(m.resp)
    if m.init is not None and m.init.parsed and resp.csb_id != m.init.csb_id:
        return _fail(
            f"TRANSFER_RESP's CSB ID {resp.csb_id:#010x} does not answer TRANSFER_INIT's "
            f"{_hex32(m.init.csb_id)}",
            m.init.frame,
            resp.frame,
        )
    if m.key is None or m.key.resp_mac_ok is None:
        return _unseen("no MPK from the ticket to verify TRANSFER_RESP's V payload", resp.frame)
    if m.key.resp_mac_ok:
        return _ok("TRANSFER_RESP's V payload verifies with the MPK", resp.frame)
    return _fail(
        "TRANSFER_RESP's V payload does not verify with the MPK (MAC over the message and "
        "TRANSFER_INIT's T; docs/profile.md, TRANSFER_INIT and TRANSFER_RESP)",
        resp.frame,
    )


def _hex32(v: int | None) -> str:
    return "none" if v is None else f"{v:#010x}"


@_rule("RESP-IDENTITY")
def _resp_identity(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    resp = _given(m.resp)
    if call.to_uri is None:
        return _unseen("the INVITE's To was not captured")
    want = kms_uid(call.to_uri)
    got = resp.idr_r
    if got is not None and kms_uid(got) == want:
        return _ok(f"TRANSFER_RESP's responder {got} is the one called ({want})", resp.frame)
    return _fail(
        f"TRANSFER_RESP's responder identity is {got!r}, but the offerer called {want!r}; "
        "the offerer must reject it (TR 29.828 step 10 / 9-11)",
        resp.frame,
    )


@_rule("ANSWER-SETUP")
def _answer_setup(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    answer = _given(m.answer)
    if answer.setup == "active":
        return _ok("answer has a=setup:active: the answerer opens TCP", answer.frame)
    have = f"a=setup:{answer.setup}" if answer.setup else "no a=setup (RFC 4145: passive)"
    return _fail(
        f"answer has {have}; the flow needs a=setup:active so that "
        f"{_the_side(call, Side.ANSWERER)} opens TCP (TR 29.828 steps 4-6 / 8)",
        answer.frame,
    )


# --- TCP and TLS ------------------------------------------------------------------------


def negotiated_active(offer: SdpMedia | None, answer: SdpMedia | None) -> Side:
    """The side whose a=setup makes it open TCP (RFC 4145; absent: offer active)."""
    a = answer.setup if answer is not None else None
    o = offer.setup if offer is not None else None
    if a == "active":
        return Side.ANSWERER
    if a == "passive":
        return Side.OFFERER
    if o == "passive":
        return Side.ANSWERER
    return Side.OFFERER


def _sdp_of(m: MediaRecord, side: Side) -> SdpMedia | None:
    return m.offer if side is Side.OFFERER else m.answer


def _tcp_client_side(m: MediaRecord) -> Side | None:
    """The side that opened the connection: as correlation bound it, else by address."""
    if m.tcp is None:
        return None
    if m.tcp.client_side is not None:
        return m.tcp.client_side
    for side in (Side.OFFERER, Side.ANSWERER):
        sdp = _sdp_of(m, side)
        if sdp is not None and sdp.address == m.tcp.client.ip:
            other = _sdp_of(m, Side.ANSWERER if side is Side.OFFERER else Side.OFFERER)
            if other is None or other.address != sdp.address:
                return side
    return None


@_rule("TCP-DIRECTION")
def _tcp_direction(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    tcp = _given(m.tcp)
    if m.offer is None or m.answer is None:
        return _unseen("offer or answer missing: the expected TCP direction is unknown")
    active = negotiated_active(m.offer, m.answer)
    passive = Side.OFFERER if active is Side.ANSWERER else Side.ANSWERER
    target = _sdp_of(m, passive)
    assert target is not None
    want_ip, want_port = target.address, target.port
    via = "c=/m="
    if m.protocol is Protocol.MSRP and not target.cema and target.path:
        # Without MSRP-CEMA the a=path URI is the address to connect to (RFC 4975).
        ep = _msrp_path_endpoint(target.path[-1])
        if ep is not None:
            want_ip, want_port = ep
            via = "a=path"
    frame = tcp.syn_frame
    opener = _tcp_client_side(m)
    if opener is not None and opener is not active:
        return _fail(
            f"TCP SYN came from {tcp.client} ({_side_name(call, opener)}), but the "
            f"negotiated a=setup makes {_the_side(call, active)} the active side (RFC 4145; "
            "TR 29.828 step 7 / 12)",
            frame,
            m.answer.frame,
        )
    if tcp.server.ip != want_ip or tcp.server.port != want_port:
        return _fail(
            f"TCP connection from {tcp.client} goes to {tcp.server}, not to the SDP "
            f"address of {_the_side(call, passive)}, {_ep_text(want_ip, want_port)} ({via})",
            frame,
        )
    return _ok(
        f"TCP opened by {tcp.client} ({_side_name(call, active)}) towards "
        f"{tcp.server} ({via} of {_the_side(call, passive)})",
        frame,
    )


def _msrp_path_endpoint(uri: str) -> tuple[str, int] | None:
    try:
        return MsrpUri.parse(uri).endpoint()
    except DissectError:
        return None


def _tls_client_side(m: MediaRecord) -> Side | None:
    if m.tls is None or m.tls.client is None or m.tcp is None:
        return None
    opener = _tcp_client_side(m)
    if opener is None:
        return None
    if m.tls.client == m.tcp.client:
        return opener
    return Side.OFFERER if opener is Side.ANSWERER else Side.ANSWERER


@_rule("TLS-CLIENT")
def _tls_client(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    if m.tls is None or m.tls.client is None:
        return _unseen("no TLS ClientHello on this m-line's connection")
    want = tls_client_side(m.protocol, call.direction, ctx.bfcp_tls_client)
    got = _tls_client_side(m)
    frame = m.tls.client_hello_frame
    if got is None:
        return _unseen(
            f"TLS ClientHello from {m.tls.client}, which matches neither SDP side", frame
        )
    why = (
        "in BFCP the SDP answerer starts TLS (TR 29.828 7.2.1.3.2 NOTE 2)"
        if m.protocol is Protocol.BFCP and want is Side.ANSWERER
        else "the key file's [profile] bfcp_tls_client makes the offerer the TLS client"
        if m.protocol is Protocol.BFCP
        else "in MSRP the side that opens TCP (a=setup:active, the answerer) starts TLS "
        "(TR 29.828 step 8 / 13)"
    )
    if got is want:
        return _ok(f"TLS ClientHello came from {m.tls.client} ({_side_name(call, got)})", frame)
    return _fail(
        f"TLS ClientHello came from {m.tls.client} ({_side_name(call, got)}); {why}", frame
    )


@_rule("TLS-PSK-SUITE")
def _tls_psk_suite(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    tls = _given(m.tls)
    if tls.cipher_suite is None or tls.psk_suite is None:
        return _unseen("no ServerHello: the suite was not negotiated in the capture")
    if tls.certificate_frame is not None:
        return _fail(
            f"the server sent a Certificate ({tls.cipher_suite}); PSK-only TLS sends none",
            tls.certificate_frame,
        )
    if tls.psk_suite:
        return _ok(f"negotiated {tls.cipher_suite}, a pure PSK suite", tls.client_hello_frame)
    return _fail(
        f"negotiated {tls.cipher_suite}, which is not a pure PSK suite (RFC 4279, 5487, "
        "6655, 7905)",
        tls.client_hello_frame,
    )


def _certificate_suite(name: str | None) -> bool:
    """A suite that authenticates with certificates alone: no PSK in its key exchange."""
    try:
        suite = CIPHER_SUITES.get(CIPHER_SUITE[name]) if name else None
    except KeyError:
        return False  # a suite we do not know: not claimed either way
    return suite is not None and suite.kx not in _PSK_KX


_PSK_KX = frozenset({Kx.PSK, Kx.DHE_PSK, Kx.ECDHE_PSK, Kx.RSA_PSK, Kx.TLS13})


@_rule("TLS-KEY")
def _tls_key(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    tls = _given(m.tls)
    if tls.key_verified is None and _certificate_suite(tls.cipher_suite):
        # a certificate suite has no PSK to check (TLS-PSK-SUITE fails it)
        return _na(f"{tls.cipher_suite} uses no PSK")
    if tls.key_verified is None:
        if m.key is None or m.key.tek_candidates == 0:
            return _unseen("no TEK candidate (ticket not opened, no [[tek]] in the key file)")
        return _unseen("the handshake carried nothing a PSK can be verified against")
    key = m.key
    mp_psk = m.mp.psk if m.mp is not None else None
    if tls.key_verified and key is not None and mp_psk is not None and key.tek == mp_psk:
        if key.ticket_teks and mp_psk not in key.ticket_teks:
            return _fail(
                "the TLS handshake verifies only with the PSK the MRFC gave on Mp, which is "
                "not a TEK of the ticket: the MRFP did not use PSK = TEK (TS 33.328)",
                *tls.frames[:4],
            )
        if not key.ticket_teks:
            return _ok(
                f"the TLS handshake verifies with the PSK the MRFC gave on Mp ("
                f"{tls.oracle or 'oracle'}); no key opened the ticket to derive the TEK itself",
                tls.client_hello_frame,
            )
    if tls.key_verified:
        return _ok(
            f"the TLS handshake verifies with PSK = TEK ({tls.oracle or 'oracle'})",
            tls.client_hello_frame,
        )
    n = m.key.tek_candidates if m.key is not None else 0
    return _fail(
        f"none of the {n} TEK candidate(s) of the crypto session verifies the TLS handshake: "
        "the peers did not use PSK = TEK (TS 33.328; docs/profile.md, TEK, PSK and identities)",
        *tls.frames[:4],
    )


_GOOD_VERSIONS = ("TLS 1.2", "TLS 1.3")
_WARN_VERSIONS = ("TLS 1.0", "TLS 1.1")


@_rule("TLS-VERSION")
def _tls_version(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    tls = _given(m.tls)
    v = tls.version
    if v is None:
        return _unseen("no ServerHello: the version was not negotiated in the capture")
    if v in _GOOD_VERSIONS:
        return _ok(f"{v} negotiated", tls.client_hello_frame)
    if v in _WARN_VERSIONS:
        # a warning: reported, never the reason a call fails (docs/rules.md, Statuses)
        return Outcome(
            Status.WARNING,
            f"{v} negotiated; TLS 1.2 or later expected",
            _frames([tls.client_hello_frame]),
            Severity.WARNING,
        )
    return _fail(f"{v} negotiated; TLS 1.2 or later expected", tls.client_hello_frame)


@_rule("MEDIA-ENCRYPTED")
def _media_encrypted(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    name = m.protocol.value.upper()
    if m.plaintext_frames:
        # (its frames are the check's, which every report shows)
        return _fail(
            f"{name} in the clear on the m-line's TCP connection", *m.plaintext_frames[:20]
        )
    if m.tcp is None or not m.data_frames:
        return _unseen("no payload on this m-line's TCP connection in the capture")
    if m.tls is None:
        return _fail(
            f"the connection carries data that is neither TLS nor {name}", *m.data_frames[:5]
        )
    return _ok("every payload byte on the connection is TLS", m.data_frames[0])


@_rule("MSRP-PATHS")
def _msrp_paths(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    if m.media_problems:
        found = "; ".join(r for _, r in m.media_problems[:3])
        return _fail(f"MSRP: {found}", *(f for f, _ in m.media_problems[:10]))
    if not m.messages:
        return _unseen("no MSRP message inside the TLS session")
    if m.offer is None or m.answer is None:
        return _unseen("offer or answer missing: the a=path values are unknown")
    bad: list[tuple[int, str]] = []
    # the messages repeat the same few URIs: each one's key is worked out once
    keys: dict[str, tuple[str, int | None, str | None]] = {}
    sides: dict[Endpoint, Side | None] = {}  # by sender: a connection has two
    for msg in m.messages:
        f = msg.fields
        # Requests name the paths; a response only echoes its request's (RFC 4975 7.2).
        if f.get("method") is None:
            continue
        src = msg.src
        if src in sides:
            side = sides[src]
        else:
            side = sides[src] = _sender_side(m, src)
        if side is None:
            continue
        own = _sdp_of(m, side)
        peer = _sdp_of(m, _other(side))
        for header, sdp, whose in (("from_path", own, "sender's"), ("to_path", peer, "peer's")):
            uris = [str(x) for x in _as_seq(f.get(header))]
            if not uris or sdp is None or not sdp.path:
                continue
            # The endpoints are the last URIs: relays prepend themselves (RFC 4976), and an
            # endpoint's own a=path ends with its own URI (RFC 4975 8.1).
            end, want = uris[-1], sdp.path[-1]
            if _uri_key(end, keys) != _uri_key(want, keys):
                name = "From-Path" if header == "from_path" else "To-Path"
                bad.append((msg.frame, f"{name} {end} is not the {whose} a=path {want}"))
    if bad:
        distinct = list(dict.fromkeys(r for _, r in bad))
        more = f" ({len(bad)} header(s) in all)" if len(bad) > len(distinct[:2]) else ""
        return _fail(
            "; ".join(distinct[:2]) + more + " (RFC 4975: To-Path/From-Path must match a=path)",
            *(fr for fr, _ in bad[:20]),
        )
    return _ok(
        f"{len(m.messages)} MSRP message(s) parse; paths match a=path; every SEND got its 200",
        m.messages[0].frame,
    )


def _other(side: Side) -> Side:
    return Side.ANSWERER if side is Side.OFFERER else Side.OFFERER


def _sender_side(m: MediaRecord, ep: Endpoint) -> Side | None:
    if m.tcp is not None:
        opener = _tcp_client_side(m)
        if opener is not None:
            if ep == m.tcp.client:
                return opener
            if ep == m.tcp.server:
                return _other(opener)
    for side in (Side.OFFERER, Side.ANSWERER):
        sdp = _sdp_of(m, side)
        if sdp is not None and sdp.address == ep.ip:
            return side
    return None


def _uri_key(
    uri: str, known: dict[str, tuple[str, int | None, str | None]] | None = None
) -> tuple[str, int | None, str | None]:
    """What the path rules compare of ``uri`` (``known``: the keys worked out already)."""
    key = known.get(uri) if known is not None else None
    if key is None:
        try:
            key = MsrpUri.parse(uri).key
        except DissectError:
            key = (uri, None, "")
        if known is not None:
            known[uri] = key
    return key


def _as_seq(v: object) -> tuple[object, ...]:
    if isinstance(v, list | tuple):
        return tuple(v)
    if isinstance(v, str):
        return tuple(v.split())
    return ()


@_rule("BFCP-IDS")
def _bfcp_ids(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    if m.media_problems:
        return _fail(f"BFCP: {m.media_problems[0][1]}", *(f for f, _ in m.media_problems[:10]))
    if not m.messages:
        return _unseen("no BFCP message inside the TLS session")
    server = _floor_server_sdp(call, m)
    if server is None:
        return _unseen("the conference's SDP (with a=confid/a=userid) was not captured")
    bad: list[tuple[int, str]] = []
    floors = {str(x) for x in server.floorids}
    for msg in m.messages:
        f = msg.fields
        conf = f.get("conference_id")
        user = f.get("user_id")
        if server.confid is not None and conf is not None and str(conf) != server.confid:
            bad.append((msg.frame, f"Conference ID {conf} is not a=confid:{server.confid}"))
        if server.userid is not None and user is not None and str(user) != server.userid:
            bad.append((msg.frame, f"User ID {user} is not a=userid:{server.userid}"))
        for fid in _floor_ids(f.get("attributes")):
            if floors and str(fid) not in floors:
                bad.append((msg.frame, f"floor {fid} is not among a=floorid {sorted(floors)}"))
    if bad:
        return _fail(
            "; ".join(r for _, r in bad[:3]) + " (RFC 8856; the floor control server's SDP)",
            *(fr for fr, _ in bad[:20]),
        )
    return _ok(
        f"{len(m.messages)} BFCP message(s): Conference ID {server.confid}, User ID "
        f"{server.userid}, floors as in a=floorid",
        m.messages[0].frame,
    )


def _floor_server_sdp(call: CallRecord, m: MediaRecord) -> SdpMedia | None:
    if call.direction is Direction.DIAL_IN:
        return m.answer
    if call.direction is Direction.DIAL_OUT:
        return m.offer
    return None


def _floor_ids(attributes: object) -> list[object]:
    out: list[object] = []
    if isinstance(attributes, list):
        for a in attributes:
            if isinstance(a, dict) and str(a.get("name", "")).upper() in ("FLOOR-ID", "FLOOR_ID"):
                out.append(a.get("value"))
    return out


# --- across steps and calls ---------------------------------------------------------------


@_rule("ORDER")
def _order(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    if call.invite_frame is None:
        return _unseen("no INVITE captured")
    if m.tcp is None or m.tcp.syn_frame is None:
        return _unseen("no TCP SYN for this m-line in the capture")
    flow = flow_for(m.protocol, call.direction) if call.direction is not None else None
    syn = m.tcp.syn_frame
    if syn < call.invite_frame:
        return _fail(
            f"TCP SYN (frame {syn}) precedes the INVITE with the offer (frame "
            f"{call.invite_frame}); nobody knew the address yet",
            syn,
            call.invite_frame,
        )
    if (
        m.tls is not None
        and m.tls.client_hello_frame is not None
        and m.tls.client_hello_frame < syn
    ):
        return _fail("TLS ClientHello precedes the TCP SYN", m.tls.client_hello_frame, syn)
    if call.direction is Direction.DIAL_OUT:
        assert flow is not None
        if call.answer_frame is None:
            return _unseen("no SDP answer captured to order the dial-out SYN after")
        if syn < call.answer_frame:
            return _fail(
                f"UE-B's TCP SYN (frame {syn}, step {flow.steps[Event.TCP]}) comes before its SDP "
                f"answer (frame {call.answer_frame}, step {flow.steps[Event.ANSWER]}); in dial-out "
                "the MRFP learns the UE's key only from the answer",
                syn,
                call.answer_frame,
            )
    return _ok(
        "INVITE, TCP, TLS (and the answer) come in an order the flow allows", call.invite_frame, syn
    )


@_rule("REPLAY")
def _replay(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    init = _given(m.init)
    key = replay_key(m)
    if key is None:
        return _unseen("the MIKEY message has no T or RAND payload", init.frame)
    first = ctx.seen_inits.get(key)
    if first is not None and first[0] != call.call_id:
        return _fail(
            f"this TRANSFER_INIT (CSB ID {key[0]:#010x}, same T and RAND) was already sent in "
            f"call {first[0]} (frame {first[1]}): a replay",
            first[1],
            init.frame,
        )
    return _ok("this exchange (CSB ID, T, RAND) is not seen in another call", init.frame)


def replay_key(m: MediaRecord) -> ReplayKey | None:
    if m.init is None or m.init.csb_id is None or m.init.t_value is None or m.init.rand is None:
        return None
    return (m.init.csb_id, m.init.t_value, m.init.rand)


@_rule("KMS-RESOLVE")
def _kms_resolve(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    if m.kms is None:
        return _na("no RESOLVE_INIT/RESOLVE_RESP with the KMS in this capture")
    frames = (m.kms.init_frame, m.kms.resp_frame)
    if m.kms.error:
        return _fail(f"KMS leg: {m.kms.error}", *frames)
    named = m.key.ticket_idr_r if m.key is not None and m.key.ticket_idr_r else None
    named = named or (m.init.idr_r if m.init is not None else None)
    if (
        named is not None
        and m.kms.resolver is not None
        and kms_uid(m.kms.resolver) != kms_uid(named)
    ):
        return _fail(
            f"the ticket was resolved by {m.kms.resolver}, but it names {named} as "
            "responder (docs/profile.md, The KMS leg)",
            *frames,
        )
    if m.kms.resp_frame is None:
        return _unseen("RESOLVE_INIT seen, no RESOLVE_RESP", *frames)
    if m.kms.keys_match is None:
        return _unseen("RESOLVE_RESP could not be opened with the configured keys", *frames)
    if not m.kms.keys_match:
        return _fail("RESOLVE_RESP's keys differ from the ticket's MPK/TGK", *frames)
    return _ok(f"resolved by {m.kms.resolver}; RESOLVE_RESP's keys equal the ticket's", *frames)


# --- the Mp leg (docs/mp-profile.md) ------------------------------------------------------


def _ue_sdp(call: CallRecord, m: MediaRecord) -> SdpMedia | None:
    """The UE's SDP for the m-line: the offer in dial-in, the answer in dial-out."""
    if call.direction is Direction.DIAL_IN:
        return m.offer
    if call.direction is Direction.DIAL_OUT:
        return m.answer
    return None


def _conf_sdp(call: CallRecord, m: MediaRecord) -> SdpMedia | None:
    """The conference's SDP for the m-line: the answer in dial-in, the offer in dial-out."""
    if call.direction is Direction.DIAL_IN:
        return m.answer
    if call.direction is Direction.DIAL_OUT:
        return m.offer
    return None


def _at(c: MpCommand) -> str:
    return f"{c.name} (frame {c.frame})"


def _sdp_differences(got: SdpMedia, want: SdpMedia, protocol: Protocol) -> list[str]:
    """What of ``got`` (Local or Remote) differs from ``want`` (an SDP of the call)."""
    out: list[str] = []
    if got.address != want.address:
        out.append(f"c= address {got.address or '$'} (the SDP says {want.address})")
    if got.port != want.port:
        out.append(f"m= port {got.port or '$'} (the SDP says {want.port})")
    if got.proto.upper() != want.proto.upper():
        out.append(f"proto {got.proto} (the SDP says {want.proto})")
    if protocol is Protocol.MSRP and want.path:
        if not got.path:
            out.append(f"no a=path (the SDP says {want.path[-1]})")
        elif _uri_key(got.path[-1]) != _uri_key(want.path[-1]):
            out.append(f"a=path {got.path[-1]} (the SDP says {want.path[-1]})")
    if protocol is Protocol.BFCP:
        for attr in ("confid", "userid"):
            w, g = getattr(want, attr), getattr(got, attr)
            if w is not None and g is not None and g != w:
                out.append(f"a={attr}:{g} (the SDP says {w})")
    return out


def _mrfp_side(call: CallRecord) -> Side:
    return Side.ANSWERER if call.direction is Direction.DIAL_IN else Side.OFFERER


@_rule("MP-PRESENT")
def _mp_present(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    if m.mp is None:
        ue = _ue_sdp(call, m)
        where = f" ({ue.proto} at {_sdp_ep(ue)})" if ue is not None else ""
        frames = [x.frame for x in (m.offer, m.answer) if x is not None]
        return _fail(
            f"no Mp termination carries m-line {m.index}'s SDP{where}, though the capture "
            "holds Mp traffic: the MRFC did not reserve and configure the MRFP for it "
            "(TR 29.828 steps 4-6 / 2-4, 9-11)",
            *frames,
        )
    t = m.mp
    how = (
        "its Remote carries the UE's c= address and m= port"
        if t.bound_by == "remote"
        else "its Reply's Local carries the conference's c= address and m= port"
    )
    first = t.commands[0].frame if t.commands else None
    return _ok(
        f"termination {t.termination or '(refused)'} in context {t.context} carries m-line "
        f"{m.index}'s SDP: {how}",
        first,
    )


@_rule("MP-PSK")
def _mp_psk(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    t = _given(m.mp)
    c = t.configure
    if c is None or c.psk is None:
        where = f" in {_at(c)}" if c is not None else ""
        return _fail(
            f"no PSK ({ctx.mp.psk}) was given to the MRFP{where}: it cannot run TLS-PSK with "
            "the UE (TS 23.333 Pre-Shared Key; TR 29.828 steps 4-6 / 9-11)",
            *(x.frame for x in t.commands),
        )
    got = fingerprint(c.psk)
    key = m.key
    teks = key.ticket_teks if key is not None else ()
    if key is not None and teks:
        proven = key.recovered and key.tek in teks
        tek = key.tek if proven and key.tek is not None else teks[0]
        how = "proven by the TLS handshake" if proven else "derived from the ticket"
        if c.psk == tek:
            return _ok(f"the PSK given in {_at(c)} is the TEK ({got}, {how})", c.frame)
        return _fail(
            f"the PSK given in {_at(c)} ({got}) is not the TEK of the crypto session "
            f"({fingerprint(tek)}, {how}): the MRFP cannot complete TLS with the UE",
            c.frame,
        )
    if key is not None and key.recovered and key.tek is not None:
        if key.tek != c.psk:
            return _fail(
                f"the TLS handshake verifies with another key ({fingerprint(key.tek)}) than "
                f"the PSK given in {_at(c)} ({got})",
                c.frame,
            )
        senders = {msg.src for msg in m.messages}
        if m.tls is not None and m.tls.decrypted and len(senders) > 1:
            return _ok(
                f"the PSK given in {_at(c)} ({got}) opens the TLS session both ways: both "
                "peers use it (no key opened the ticket to derive the TEK itself)",
                c.frame,
            )
        return _unseen(
            f"the TLS handshake proves only that one peer used the PSK given in {_at(c)}; "
            "a key file that opens the ticket (--keys) would tell whether it is the TEK",
            c.frame,
        )
    return _unseen(
        "the TEK is not known: no key opens the ticket (--keys), and the TLS handshake "
        "proved no candidate",
        c.frame,
    )


@_rule("MP-REMOTE")
def _mp_remote(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    t = _given(m.mp)
    c = next((x for x in reversed(t.commands) if x.remote is not None), None)
    if c is None or c.remote is None:
        return _fail(
            "no Remote was given to the MRFP: it does not know the UE's address, port and "
            "proto (TS 23.333 Remote descriptor; TR 29.828 steps 4-6 / 9-11)",
            *(x.frame for x in t.commands),
        )
    ue = _ue_sdp(call, m)
    if ue is None:
        return _unseen("the UE's SDP for this m-line was not captured", c.frame)
    diffs = _sdp_differences(c.remote, ue, m.protocol)
    if diffs:
        return _fail(
            f"the Remote of {_at(c)} is not the UE's SDP of frame {ue.frame}: " + "; ".join(diffs),
            c.frame,
            ue.frame,
        )
    return _ok(
        f"the Remote of {_at(c)} carries the UE's {ue.proto} at {_sdp_ep(ue)}"
        + (" and its a=path" if m.protocol is Protocol.MSRP and ue.path else ""),
        c.frame,
    )


@_rule("MP-LOCAL")
def _mp_local(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    t = _given(m.mp)
    replies = [c for c in t.commands if c.reply_local is not None and c.reply_local.address]
    if not replies:
        return _fail(
            "no Reply returned the MRFP's Local with its address and port: the MRFC had no "
            "values of its own to put in its SDP",
            *(x.frame for x in t.commands),
        )
    conf = _conf_sdp(call, m)
    if conf is None:
        return _unseen("the conference's SDP for this m-line was not captured")
    bad: list[tuple[MpCommand, list[str]]] = []
    for c in replies:
        assert c.reply_local is not None
        diffs = _sdp_differences(c.reply_local, conf, m.protocol)
        if diffs:
            bad.append((c, diffs))
    if bad:
        c, diffs = bad[0]
        return _fail(
            f"the Local of the MRFP's Reply to {_at(c)} (frame {c.reply_frame}) is not what "
            f"the MRFC put in its SDP (frame {conf.frame}): " + "; ".join(diffs),
            c.reply_frame,
            conf.frame,
        )
    frames = [c.reply_frame for c in replies]
    return _ok(
        f"the MRFP's Local ({_sdp_ep(replies[-1].reply_local)}) is the conference's SDP of "
        f"frame {conf.frame}",
        *frames,
    )


@_rule("MP-ROLE")
def _mp_role(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    t = _given(m.mp)
    if call.direction is None:
        return _unseen("could not tell dial-in from dial-out: the MRFP's roles are unknown")
    c = t.configure
    if c is None:
        return _fail(
            "no command gave the MRFP its Remote and roles", *(x.frame for x in t.commands)
        )
    mrfp = _mrfp_side(call)
    flow = flow_for(m.protocol, call.direction)
    active = flow.opens_tcp is mrfp
    want_setup = "active" if active else "passive"
    tls_client = tls_client_side(m.protocol, call.direction, ctx.bfcp_tls_client) is mrfp
    want_role = "client" if tls_client else "server"
    setup = c.local.setup if c.local is not None else None
    bad = []
    if setup != want_setup:
        have = f"a=setup:{setup}" if setup else "no a=setup"
        bad.append(
            f"its Local has {have}, not a=setup:{want_setup} (the MRFP "
            f"{'opens' if active else 'accepts'} the TCP connection)"
        )
    if c.role != want_role:
        have = f"TLS role {c.role}" if c.role else f"no TLS role ({ctx.mp.role})"
        bad.append(f"it gives {have}, not {want_role}")
    if bad:
        return _fail(
            f"{_at(c)} does not give the MRFP the roles of {call.scenario}: "
            + "; ".join(bad)
            + " (docs/rules.md, the four flows)",
            c.frame,
        )
    told = f"{_at(c)} makes the MRFP a=setup:{setup} and TLS {want_role}"
    if m.tcp is None or t.connection_joined is not True:
        return _unseen(
            f"{told}; the TCP connection its Local and Remote describe is not in the capture",
            c.frame,
        )
    local = t.reply_locals[-1] if t.reply_locals else None
    mrfp_ip = local.address if local is not None else None
    opened = m.tcp.client.ip == mrfp_ip
    if opened != active:
        return _fail(
            f"{told}, but the TCP connection was opened by {m.tcp.client}",
            c.frame,
            m.tcp.syn_frame,
        )
    if m.tls is None or m.tls.client is None:
        return _unseen(f"{told}; it opened TCP so, and no TLS ClientHello is in the capture")
    hello = m.tls.client.ip == mrfp_ip
    if hello != tls_client:
        return _fail(
            f"{told}, but the TLS ClientHello came from {m.tls.client}",
            c.frame,
            m.tls.client_hello_frame,
        )
    return _ok(f"{told}, and it acted so", c.frame, m.tcp.syn_frame, m.tls.client_hello_frame)


@_rule("MP-ORDER")
def _mp_order(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    t = _given(m.mp)
    if call.direction is None:
        return _unseen("could not tell dial-in from dial-out: the order is unknown")
    flow = flow_for(m.protocol, call.direction)
    local = t.reply_locals[-1] if t.reply_locals else None
    syn = m.tcp.syn_frame if m.tcp is not None else None
    late: list[str] = []
    frames: list[int | None] = []
    if call.direction is Direction.DIAL_IN:
        c = t.configure
        if c is None or c.reply_frame is None:
            return _unseen("no final Reply to the command that configured the MRFP")
        step = flow.steps[Event.MP]
        last = max(c.frame or 0, c.reply_frame)
        mrfp_opened = m.tcp is not None and local is not None and m.tcp.client.ip == local.address
        for before, what in (
            (call.answer_frame, "the MRFC's SDP answer"),
            (syn if mrfp_opened else None, "the MRFP's TCP SYN"),
        ):
            if before is not None and last > before:
                late.append(f"{what} (frame {before})")
                frames.append(before)
        if late:
            return _fail(
                f"{_at(c)} and its Reply (frame {c.reply_frame}, step {step}) come after "
                + " and ".join(late)
                + ": the MRFP must be configured first (TR 29.828 steps 4-6 before 7-10)",
                c.frame,
                c.reply_frame,
                *frames,
            )
        return _ok(
            f"{_at(c)} and its Reply (frame {c.reply_frame}) precede the answer and the MRFP's SYN",
            c.frame,
            c.reply_frame,
        )
    r, c = t.reserve, t.configure
    if r is None or r.reply_frame is None:
        return _unseen("no final Reply to the command that reserved the termination")
    if call.invite_frame is not None and max(r.frame or 0, r.reply_frame) > call.invite_frame:
        return _fail(
            f"the reserve {_at(r)} and its Reply (frame {r.reply_frame}) come after the "
            f"offer (frame {call.invite_frame}): the offer's address and port must come from "
            f"the MRFP (TR 29.828 steps {flow.steps[Event.MP]} before "
            f"{flow.steps[Event.INVITE]})",
            r.frame,
            r.reply_frame,
            call.invite_frame,
        )
    if c is None or c.reply_frame is None:
        return _unseen("no final Reply to the command that configured the MRFP")
    if syn is not None and max(c.frame or 0, c.reply_frame) > syn:
        return _fail(
            f"the configure {_at(c)} and its Reply (frame {c.reply_frame}, steps "
            f"{flow.steps[Event.MP_CONFIGURE]}) come after UE-B's TCP SYN (frame {syn}, step "
            f"{flow.steps[Event.TCP]}): the MRFP did not have the PSK when UE-B connected",
            c.frame,
            c.reply_frame,
            syn,
        )
    return _ok(
        f"the reserve (frame {r.frame}) precedes the offer, the configure (frame {c.frame}) "
        "precedes UE-B's SYN",
        r.frame,
        c.frame,
    )


@_rule("MP-EVENTS")
def _mp_events(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    t = _given(m.mp)
    c = t.configure
    if c is None or c.psk is None:
        return _unseen("no command gave the PSK, with which the events are requested")
    names = {k: str(getattr(ctx.mp, k)) for k in EVENT_KEYS}
    missing = [names[k] for k in EVENT_KEYS if k not in c.events]
    if missing:
        return _fail(
            f"{_at(c)} gives the PSK without asking for {' and '.join(missing)}: the MRFC "
            "would not learn that TCP or TLS establishment failed (TS 23.333)",
            c.frame,
        )
    return _ok(f"{_at(c)} asks for {' and '.join(names.values())} with the PSK", c.frame)


def _failure_note(m: MediaRecord, t: MpTermination) -> list[str]:
    """Each failure the MRFP reported, with what the media shows of it."""
    out = []
    for o in t.observed:
        if o.key == "tls_fail_event":
            fatal = [(f, d) for f, d in (m.tls.alerts if m.tls is not None else ()) if d != 0]
            cause = (
                f"cause {o.cause}, {ALERT_DESCRIPTION.label(o.cause)}" if o.cause else "no cause"
            )
            seen = (
                f"the TLS alert {ALERT_DESCRIPTION.label(fatal[0][1])} is in frame {fatal[0][0]}"
                if fatal
                else "no TLS alert is in the capture"
            )
            out.append(
                f"the MRFP reported TLS establishment failure in frame {o.frame} ({cause}); {seen}"
            )
        else:
            seen = (
                "no TCP connection of this m-line is in the capture"
                if m.tcp is None
                else f"its TCP connection is {m.tcp.client} -> {m.tcp.server}"
            )
            out.append(f"the MRFP reported TCP establishment failure in frame {o.frame}; {seen}")
    return out


@_rule("MP-REPLY")
def _mp_reply(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    t = _given(m.mp)
    bad: list[str] = []
    frames: list[int | None] = []
    for tx in t.transactions:
        if tx.error is not None:
            bad.append(
                f"{tx.command} (transaction {tx.transaction_id}) was answered with Error {tx.error}"
            )
            frames += [tx.request_frame, tx.reply_frame]
        elif tx.reply_frame is None:
            pending = " (Pending only: a Pending is not the Reply)" if tx.pending_frames else ""
            bad.append(f"{tx.command} (transaction {tx.transaction_id}) got no Reply{pending}")
            frames += [tx.request_frame, *tx.pending_frames]
    notes = _failure_note(m, t)
    frames += [o.frame for o in t.observed]
    if bad:
        return _fail("; ".join(bad + notes), *frames)
    n = len(t.transactions)
    text = f"{n} transaction{'s' if n != 1 else ''}, each answered by a Reply without Error"
    return _ok("; ".join([text, *notes]), *(tx.reply_frame for tx in t.transactions), *frames)


@_rule("MP-PSKID")
def _mp_pskid(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    t = _given(m.mp)
    c = next((x for x in t.commands if x.pskid is not None), None)
    if c is None or c.pskid is None:
        return _na(f"no PSK identity ({ctx.mp.pskid}) was given on Mp: it is optional")
    if m.tcp is None or t.connection_joined is not True:
        return _unseen(
            "the TCP connection the termination's Local and Remote describe is not in the capture",
            c.frame,
        )
    if m.tls is None or m.tls.psk_identity is None:
        return _unseen("the TLS client sent no PSK identity in the capture", c.frame)
    if c.pskid == m.tls.psk_identity:
        return _ok(
            f"{_at(c)} gives the PSK identity {c.pskid!r} the TLS client sent",
            c.frame,
            m.tls.client_hello_frame,
        )
    return _fail(
        f"{_at(c)} gives the PSK identity {c.pskid!r}, the TLS client sent {m.tls.psk_identity!r}",
        c.frame,
        m.tls.client_hello_frame,
    )


@_rule("MP-CLEARTEXT")
def _mp_cleartext(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    t = _given(m.mp)
    given = [c for c in t.commands if c.psk is not None]
    if not given:
        return _ok("no PSK crossed Mp")
    ipsec = {tx.transaction_id for tx in t.transactions if tx.ipsec}
    clear = [c for c in given if c.transaction_id not in ipsec]
    if not clear:
        return _ok("the PSK crossed Mp inside IPsec (ESP)", *(c.frame for c in given))
    c = clear[0]
    psk = c.psk
    assert psk is not None
    return Outcome(
        Status.WARNING,
        f"the PSK ({fingerprint(psk)}) crossed Mp in the clear ({t.transport.upper()}, "
        f"{_at(c)}): readable on the MRFC-MRFP path; protect Mp (IPsec)",
        _frames([x.frame for x in clear]),
    )


@_rule("MP-BFCP-DIALOUT")
def _mp_bfcp_dialout(call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    if call.direction is None:
        return _unseen("could not tell dial-in from dial-out")
    if call.direction is Direction.DIAL_IN:
        return _na("not a dial-out call")
    t = m.mp
    if t is None:
        return _unseen(NEEDS[Need.MP](m) or "")
    r = t.reserve
    if r is None:
        return Outcome(Status.INFO, "no command reserved the termination before the configure")
    what = ", ".join(r.carried) or "nothing"
    return Outcome(
        Status.INFO,
        f"the termination was reserved by {_at(r)} with {what}; TR 29.828 specifies no "
        "procedure for this step of BFCP dial-out (7.2.1.3.2 NOTE 1)",
        _frames([r.frame]),
    )


# --- combining ----------------------------------------------------------------------------


def judge_media(rule: Rule, call: CallRecord, m: MediaRecord, ctx: Context) -> Outcome:
    """One rule on one m-line: not-applicable for another protocol than the row's, not-observed
    for the first of its needs the m-line lacks, else what its evaluator says."""
    if rule.protocol is not None and m.protocol is not rule.protocol:
        return _not_this_protocol(rule.protocol)
    if rule.leg is Leg.MP and not call.mp_leg:
        return _NO_MP_LEG
    for need in rule.needs:
        if (why := NEEDS[need](m)) is not None:
            return _unseen(why)
    return _EVALUATORS[rule.id](call, m, ctx)


# Outcomes are frozen: the ones many rules give alike are made once
_NO_MP_LEG = Outcome(
    Status.NOT_OBSERVED,
    "no Mp (H.248) traffic in this capture: the Mp leg is seen beside the MRF",
    unseen_leg=True,
)


@functools.cache
def _not_this_protocol(protocol: Protocol) -> Outcome:
    name = protocol.value.upper()
    # the article of an initialism goes by the sound of its first letter
    return _na(f"not {'an' if name[0] in 'AEFHILMNORSX' else 'a'} {name} m-line")


def evaluate_media(
    call: CallRecord, m: MediaRecord, ctx: Context, rules: Sequence[Rule] = RULES
) -> dict[str, Outcome]:
    return {rule.id: judge_media(rule, call, m, ctx) for rule in rules}


def evaluate_call(
    call: CallRecord, ctx: Context, rules: Sequence[Rule] = RULES
) -> list[CheckResult]:
    """One result per rule for the call; remembers its TRANSFER_INITs for REPLAY (the
    evaluators read the call, the m-line and the context, and change none of them)."""
    media = call.media
    results: list[CheckResult] = []
    for rule in rules:
        if len(media) == 2:  # (most calls: an MSRP and a BFCP m-line) without a list
            ma, mb = media
            a, b = judge_media(rule, call, ma, ctx), judge_media(rule, call, mb, ctx)
            if a.status is b.status:
                results.append(_combine_two(rule, (ma, a), (mb, b)))
            else:
                results.append(_combine(rule, [(ma, a), (mb, b)], many=True))
            continue
        outs = [(m, judge_media(rule, call, m, ctx)) for m in media]
        if not outs:
            results.append(
                CheckResult(
                    rule.id,
                    Status.NOT_OBSERVED,
                    (),
                    "no MSRP/BFCP m-line in the call",
                    rule.severity,
                )
            )
            continue
        results.append(_combine(rule, outs, many=len(outs) > 1))
    remember(call.call_id, exchanges(call), ctx)
    call.checks = results
    return results


# A rule's m-lines combine into the first status of this order that any of them has.
STATUS_ORDER = (
    Status.FAIL,
    Status.WARNING,
    Status.NOT_OBSERVED,
    Status.INFO,
    Status.PASS,
    Status.NOT_APPLICABLE,
)


def not_judged(call: CallRecord, e: BaseException, path: str) -> Problem:
    """The fault barrier of a call's judgement: every rule not observed, and the problem
    that says why (for the call's and the capture's problems)."""
    call.checks = [
        CheckResult(r.id, Status.NOT_OBSERVED, (), "not judged: internal error", r.severity)
        for r in RULES
    ]
    return internal_problem(e, f"the rules of call {call.call_id}", None, path)


# a TRANSFER_INIT a call sent, as REPLAY tells them apart: (CSB ID, T, RAND), and its frame
Exchange = tuple[ReplayKey, int]


def exchanges(call: CallRecord) -> tuple[Exchange, ...]:
    """The call's TRANSFER_INITs that REPLAY can compare."""
    return tuple(
        (key, m.init.frame)
        for m in call.media
        if (key := replay_key(m)) is not None and m.init is not None
    )


def remember(call_id: str, sent: Iterable[Exchange], ctx: Context) -> None:
    """Note the TRANSFER_INITs call ``call_id`` sent, for REPLAY in the calls after it."""
    for key, frame in sent:
        ctx.seen_inits.setdefault(key, (call_id, frame))


def replayed(call_id: str, sent: Iterable[Exchange], ctx: Context) -> bool:
    """Whether a TRANSFER_INIT of the call was seen in another call already: when not, a
    call judged without the calls before it (``ctx.seen_inits`` empty) was judged alike."""
    return any(
        (first := ctx.seen_inits.get(key)) is not None and first[0] != call_id for key, _ in sent
    )


def revise(call: CallRecord, ctx: Context, rule_id: str) -> None:
    """Judge one rule of a judged call again with ``ctx`` (REPLAY, once the calls before it
    are known) and put its result in place; it reads no more than that rule's m-line facts."""
    rule = RULES_BY_ID[rule_id]
    outs = [(m, judge_media(rule, call, m, ctx)) for m in call.media]
    if outs:
        new = _combine(rule, outs, many=len(outs) > 1)
        call.checks = [new if c.rule == rule_id else c for c in call.checks]


def _combine(rule: Rule, outs: list[tuple[MediaRecord, Outcome]], *, many: bool) -> CheckResult:
    if len(outs) == 2 and outs[0][1].status is outs[1][1].status:
        return _combine_two(rule, outs[0], outs[1])
    first = outs[0][1]
    worst = first.status
    chosen = outs
    for _, o in outs:
        if o.status is not worst:  # m-lines differ: the worst status, its m-lines
            worst = min({o.status for _, o in outs}, key=_WORST_FIRST.__getitem__)
            chosen = [(m, o) for m, o in outs if o.status is worst]
            first = chosen[0][1]
            break
    message = first.message
    if len(chosen) == 1:  # (most rules: every m-line alike, one m-line or the same outcome)
        frames = tuple(sorted(set(first.frames)))
        unseen = first.unseen_leg
    else:
        if many and any(o.message != message for _, o in chosen):
            message = "; ".join(
                f"m-line {m.index} ({m.protocol.value}): {o.message}" for m, o in chosen
            )
        frames = tuple(sorted({f for _, o in chosen for f in o.frames}))
        unseen = all(o.unseen_leg for _, o in chosen)
    # a failure is as severe as the most severe of its m-lines' failures
    severity = rule.severity
    if worst in _SEVERE:
        severities = {o.severity or rule.severity for _, o in chosen}
        severity = min(severities, key=_SEVERITY_ORDER.index)
    return CheckResult(rule.id, worst, frames, message, severity, unseen)


_SEVERE = frozenset({Status.FAIL, Status.WARNING, Status.INFO})  # the statuses of a severity


def _combine_two(
    rule: Rule, one: tuple[MediaRecord, Outcome], two: tuple[MediaRecord, Outcome]
) -> CheckResult:
    """:func:`_combine` of two m-lines of the same status (a call's MSRP and BFCP m-lines,
    most rules), unrolled."""
    (ma, a), (mb, b) = one, two
    message = a.message
    if b.message != message:
        message = (
            f"m-line {ma.index} ({ma.protocol.value}): {message}; "
            f"m-line {mb.index} ({mb.protocol.value}): {b.message}"
        )
    frames = tuple(sorted({*a.frames, *b.frames})) if a.frames or b.frames else ()
    severity = rule.severity
    if a.status in _SEVERE:
        sa, sb = a.severity or severity, b.severity or severity
        severity = sa if sa is sb else min(sa, sb, key=_SEVERITY_ORDER.index)
    return CheckResult(rule.id, a.status, frames, message, severity, a.unseen_leg and b.unseen_leg)


_SEVERITY_ORDER = (Severity.ERROR, Severity.WARNING, Severity.INFO)
# which m-line's outcome a rule's result takes: the worst
_WORST_FIRST = {s: i for i, s in enumerate(STATUS_ORDER)}


def check_registry_complete() -> None:
    """Every rule has exactly one evaluator (checked by the tests)."""
    missing = {r.id for r in RULES} - set(_EVALUATORS)
    extra = set(_EVALUATORS) - {r.id for r in RULES}
    if missing or extra:
        raise AssertionError(f"evaluators missing {sorted(missing)}, unknown {sorted(extra)}")
