"""The TR 29.828 procedure as data: the four call flows, who plays which part, and in what order.

Correlation labels the ladder diagram with these steps and roles, and the rules judge a call
against them. Nothing here looks at a capture: it is the vocabulary the stages share, so it
sits on the ground floor beside :mod:`mikeyshark.model`. Step numbers are the seed's figures
("dial-in / dial-out").
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
    SCSCF = "S-CSCF"  # the MRFC's SIP peer, seen by a capture at the MRF
    MRFC = "MRFC"
    MRFP = "MRFP"
    KMS = "KMS"


@dataclass(frozen=True, slots=True)
class Flow:
    """One of the seed's four figures and the roles in it (docs/rules.md, the four flows)."""

    scenario: str
    protocol: Protocol
    direction: Direction
    clause: str
    proto: str  # the SDP transport the m-line must use
    # Step numbers of the seed for the events the analyzer can see, by event kind.
    steps: dict[Event, str]
    # Who offers, who answers, who opens TCP
    # (the answer's a=setup:active side) and who starts TLS.
    offerer: str
    answerer: str
    opens_tcp: Side
    starts_tls: Side


class Event(StrEnum):
    """The steps of a flow the analyzer can place: each carries its step number per flow (the
    ladder's labels and the ORDER rule use them)."""

    TICKET = "ticket"  # the offerer builds TRANSFER_INIT (not on the wire)
    INVITE = "invite"  # INVITE with the SDP offer
    RESOLVE = "resolve"  # RESOLVE_INIT / RESOLVE_RESP with the KMS (core captures only)
    MP = "mp"  # H.248 on Mp: the MRFC reserves (dial-out) or reserves and configures (dial-in)
    MP_CONFIGURE = "mp-configure"  # dial-out: the MRFC configures the reserved termination
    TCP = "tcp"  # TCP three-way handshake
    TLS = "tls"  # TLS-PSK handshake
    ANSWER = "answer"  # 200 OK / reliable 18x with the SDP answer and TRANSFER_RESP
    VERIFY = "verify"  # the offerer verifies TRANSFER_RESP (not on the wire)
    MEDIA = "media"  # MSRP / BFCP inside TLS


_DIAL_IN_STEPS = {
    Event.TICKET: "1",
    Event.INVITE: "2",
    Event.RESOLVE: "3",
    Event.MP: "4-6",
    Event.MP_CONFIGURE: "4-6",
    Event.TCP: "7",
    Event.TLS: "8",
    Event.ANSWER: "9, 10",
    Event.VERIFY: "10",
    Event.MEDIA: "after 8",
}
_DIAL_OUT_STEPS = {
    Event.TICKET: "1",
    Event.MP: "2-4",
    Event.INVITE: "5, 6",
    Event.RESOLVE: "7",
    Event.ANSWER: "8",
    Event.VERIFY: "9-11",
    Event.MP_CONFIGURE: "9-11",
    Event.TCP: "12",
    Event.TLS: "13",
    Event.MEDIA: "after 13",
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
