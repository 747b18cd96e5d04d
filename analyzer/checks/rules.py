"""The conformance rules and the four TR 29.828 call flows, as data (CONFORMANCE.md, seed/).

Everything a reader of CONFORMANCE.md would want to look up lives here in tables: the
roles per flow, the expected steps with the seed's step numbers (used to label the ladder
diagram and to check the order), and one ``Rule`` per identifier with the steps it covers
and the synthetic fault that must trip it. Which other rules necessarily depend on what a
fault breaks is the synthesizer's table (``analyzer/synth/faults.py``), in one place; the
fault-matrix tests hold the analyzer to it. The evaluators in ``evaluate.py`` only judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Protocol(StrEnum):
    MSRP = "msrp"
    BFCP = "bfcp"


class Direction(StrEnum):
    DIAL_IN = "dial-in"  # the UE calls the conference: the UE offers
    DIAL_OUT = "dial-out"  # the conference calls the UE: the conference offers


class Side(StrEnum):
    """A party of the offer/answer exchange."""

    OFFERER = "offerer"
    ANSWERER = "answerer"


class Role(StrEnum):
    """Columns of the ladder diagram, in their left-to-right order."""

    UE = "UE"
    PCSCF = "P-CSCF"
    MRFC = "MRFC"
    MRFP = "MRFP"
    KMS = "KMS"


@dataclass(frozen=True, slots=True)
class Flow:
    """One of the seed's four figures and the roles CONFORMANCE.md gives it."""

    scenario: str
    protocol: Protocol
    direction: Direction
    clause: str
    proto: str  # the SDP transport the m-line must use
    # Step numbers of the seed for the events the analyzer can see, by event kind.
    steps: dict[str, str]
    # CONFORMANCE.md "Roles in the four flows": who offers, who answers, who opens TCP
    # (the answer's a=setup:active side) and who starts TLS.
    offerer: str
    answerer: str
    opens_tcp: Side
    starts_tls: Side


# Event kinds that carry a step number in each flow (the ladder labels and ORDER use them).
EV_TICKET = "ticket"  # the offerer builds TRANSFER_INIT (not on the wire)
EV_INVITE = "invite"  # INVITE with the SDP offer
EV_RESOLVE = "resolve"  # RESOLVE_INIT / RESOLVE_RESP with the KMS (core captures only)
EV_MP = "mp"  # H.248 on Mp (not dissected)
EV_TCP = "tcp"  # TCP three-way handshake
EV_TLS = "tls"  # TLS-PSK handshake
EV_ANSWER = "answer"  # 200 OK / reliable 18x with the SDP answer and TRANSFER_RESP
EV_VERIFY = "verify"  # the offerer verifies TRANSFER_RESP (not on the wire)
EV_MEDIA = "media"  # MSRP / BFCP inside TLS

_DIAL_IN_STEPS = {
    EV_TICKET: "1",
    EV_INVITE: "2",
    EV_RESOLVE: "3",
    EV_MP: "4-6",
    EV_TCP: "7",
    EV_TLS: "8",
    EV_ANSWER: "9, 10",
    EV_VERIFY: "10",
    EV_MEDIA: "after 8",
}
_DIAL_OUT_STEPS = {
    EV_TICKET: "1",
    EV_MP: "2-4",
    EV_INVITE: "5, 6",
    EV_RESOLVE: "7",
    EV_ANSWER: "8",
    EV_VERIFY: "9-11",
    EV_TCP: "12",
    EV_TLS: "13",
    EV_MEDIA: "after 13",
}

_UE_A, _UE_B, _MRF = "UE-A", "UE-B", "conference (MRFC), media at MRFP"
_A = Side.ANSWERER

FLOWS: dict[str, Flow] = {
    f.scenario: f
    for f in (
        Flow(
            "msrp-dial-in", Protocol.MSRP, Direction.DIAL_IN, "7.2.1.2.n1", "TCP/TLS/MSRP",
            _DIAL_IN_STEPS, _UE_A, _MRF, _A, _A,
        ),
        Flow(
            "msrp-dial-out", Protocol.MSRP, Direction.DIAL_OUT, "7.2.1.2.n2", "TCP/TLS/MSRP",
            _DIAL_OUT_STEPS, _MRF, _UE_B, _A, _A,
        ),
        Flow(
            "bfcp-dial-in", Protocol.BFCP, Direction.DIAL_IN, "7.2.1.3.1", "TCP/TLS/BFCP",
            _DIAL_IN_STEPS, _UE_A, _MRF, _A, _A,
        ),
        Flow(
            "bfcp-dial-out", Protocol.BFCP, Direction.DIAL_OUT, "7.2.1.3.2", "TCP/TLS/BFCP",
            _DIAL_OUT_STEPS, _MRF, _UE_B, _A, _A,
        ),
    )
}  # fmt: skip

SCENARIOS: tuple[str, ...] = tuple(FLOWS)


def flow_for(protocol: Protocol, direction: Direction) -> Flow:
    return FLOWS[f"{protocol.value}-{direction.value}"]


def tls_client_side(
    protocol: Protocol, direction: Direction | None = None, bfcp_tls_client: str = "answerer"
) -> Side:
    """Who must send the ClientHello: the roles table, where for BFCP the seed's NOTE 2
    (the SDP answerer) yields to the key file's ``[profile] bfcp_tls_client = "offerer"``
    (TS 23.333's flow). Without a known direction both flows of the protocol agree."""
    if protocol is Protocol.BFCP and bfcp_tls_client == Side.OFFERER.value:
        return Side.OFFERER
    flows = [f for f in FLOWS.values() if f.protocol is protocol]
    if direction is not None:
        flows = [f for f in flows if f.direction is direction]
    (side,) = {f.starts_tls for f in flows}
    return side


def side_role(side: Side, direction: Direction, *, media: bool) -> Role:
    """Which ladder column a side of the call is: the UE, or the conference's MRFC / MRFP."""
    ue_side = Side.OFFERER if direction is Direction.DIAL_IN else Side.ANSWERER
    if side is ue_side:
        return Role.UE
    return Role.MRFP if media else Role.MRFC


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    steps: str  # "dial-in / dial-out" step numbers, as CONFORMANCE.md writes them
    fault: str | None  # the synthetic fault that must make it fail (analyzer/synth/faults.py
    # says which other rules necessarily depend on what that fault breaks)
    protocol: Protocol | None = None  # only for m-lines of this protocol
    clause: str = ""


def _r(
    rid: str,
    title: str,
    steps: str,
    fault: str | None,
    protocol: Protocol | None = None,
    clause: str = "",
) -> Rule:
    return Rule(rid, title, steps, fault, protocol, clause)


RULES: tuple[Rule, ...] = (
    _r(
        "GEN-AUTH",
        "the UE's KMS identity in the MIKEY-TICKET exchange is authorized for the conference",
        "7.2.1.1.1",
        "unauthorized-user",
        clause="7.2.1.1.1",
    ),
    _r(
        "OFFER-PROTO",
        "the SDP offer's m-line uses TCP/TLS/MSRP or TCP/TLS/BFCP",
        "1, 2 / 5, 6",
        "plain-transport",
    ),
    _r(
        "OFFER-KEYMGMT",
        "the offer carries a=key-mgmt:mikey that base64-decodes to a MIKEY message",
        "1, 3 / 5, 7",
        "no-key-mgmt",
    ),
    _r(
        "OFFER-TRANSFER-INIT",
        "the offer's MIKEY message is a TRANSFER_INIT with a TICKET payload",
        "1",
        "wrong-data-type",
    ),
    _r(
        "OFFER-IDS",
        "TRANSFER_INIT's initiator/responder identities are the KMS UIDs of From and To",
        "1",
        "id-mismatch",
    ),
    _r(
        "OFFER-ONE-CS",
        "TRANSFER_INIT holds exactly one crypto session",
        "1",
        "two-crypto-sessions",
    ),
    _r(
        "OFFER-PROT-TLS",
        "the crypto session's protocol type is TLS",
        "1",
        "srtp-prot-type",
    ),
    _r(
        "OFFER-SETUP",
        "the offer's m-line has a=setup:actpass",
        "1 / 5",
        "setup-active-offer",
    ),
    _r(
        "TICKET-OPEN",
        "the ticket opens with a configured key and its MAC verifies",
        "1, 3 / 1, 7",
        "bad-ticket-mac",
    ),
    _r(
        "TICKET-VALID",
        "the ticket's validity period covers the INVITE's capture time",
        "3 / 7",
        "expired-ticket",
    ),
    _r(
        "INIT-MAC",
        "TRANSFER_INIT's verification payload verifies with the ticket's MPK",
        "3 / 7",
        "bad-init-mac",
    ),
    _r(
        "ANSWER-TRANSFER-RESP",
        "a 200 OK or reliable 18x carries the SDP answer (same transport) with a TRANSFER_RESP",
        "9, 10 / 8",
        "no-transfer-resp",
    ),
    _r(
        "RESP-MAC",
        "TRANSFER_RESP verifies with the MPK and answers this TRANSFER_INIT (same CSB ID)",
        "10 / 9-11",
        "bad-resp-mac",
    ),
    _r(
        "RESP-IDENTITY",
        "TRANSFER_RESP's responder identity is the one the offerer called",
        "10 / 9-11",
        "resp-id-mismatch",
    ),
    _r(
        "ANSWER-SETUP",
        "the answer has a=setup:active (the answerer opens TCP)",
        "4-6, 9 / 8",
        "setup-passive-answer",
    ),
    _r(
        "TCP-DIRECTION",
        "TCP is opened by the a=setup active side towards the other side's SDP address and port",
        "7 / 12",
        "offerer-connects",
    ),
    _r(
        "TLS-CLIENT",
        "the TLS ClientHello comes from the side the flow names",
        "8 / 13",
        "tls-by-offerer",
    ),
    _r(
        "TLS-PSK-SUITE",
        "the negotiated cipher suite is a pure PSK suite, no certificate",
        "8 / 13",
        "certificate-suite",
    ),
    _r(
        "TLS-KEY",
        "the TLS handshake verifies with PSK = TEK of the crypto session",
        "8 / 13",
        "psk-mismatch",
    ),
    _r(
        "TLS-VERSION",
        "TLS 1.2 or later (1.0/1.1 is a warning)",
        "8 / 13",
        "tls10",
    ),
    _r(
        "MEDIA-ENCRYPTED",
        "nothing on the m-line's connection is plaintext MSRP/BFCP",
        "8 / 13",
        "plaintext-media",
    ),
    _r(
        "MSRP-PATHS",
        "decrypted MSRP parses, paths match a=path, SENDs get 200, chunks reassemble",
        "after 8 / 13",
        "msrp-wrong-path",
        protocol=Protocol.MSRP,
    ),
    _r(
        "BFCP-IDS",
        "decrypted BFCP parses; Conference ID, User ID and floor IDs match the SDP",
        "after 8 / 13",
        "bfcp-wrong-confid",
        protocol=Protocol.BFCP,
    ),
    _r(
        "ORDER",
        "the steps happen in an order the flow allows",
        "all",
        "early-connect",
    ),
    _r(
        "REPLAY",
        "a TRANSFER_INIT (same CSB ID, T and RAND) is not seen again in another call",
        "1",
        "replayed-init",
    ),
    _r(
        "KMS-RESOLVE",
        "the ticket's resolver is its named responder and RESOLVE_RESP's keys equal the ticket's",
        "3 / 7",
        None,
        clause="PROTOCOLS.md 13.7",
    ),
)

RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
FAULTS: dict[str, Rule] = {r.fault: r for r in RULES if r.fault is not None}
