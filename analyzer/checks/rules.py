"""The conformance rules, as data: one ``Rule`` per identifier.

Each row names the steps of the flow it covers (the flows themselves are
:mod:`mikeyshark.procedure`) and the synthetic fault that must trip it. Which other rules
necessarily depend on what a fault breaks is the synthesizer's table
(``analyzer/synth/faults.py``), in one place; the fault-matrix tests hold the analyzer to it.
The evaluators in ``evaluate.py`` only judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mikeyshark.model import Severity
from mikeyshark.procedure import Protocol


class Need(StrEnum):
    """Evidence a rule cannot be judged without: when an m-line lacks it, the rule is
    not-observed there (the evaluator does not run), with the sentence ``evaluate.py`` gives
    each need."""

    OFFER = "offer"
    ANSWER = "answer"
    INIT = "init"
    KEY = "key"
    RESP = "resp"
    TCP = "tcp"
    TLS = "tls"
    PLAINTEXT = "plaintext"
    MP = "mp"


class Leg(StrEnum):
    """A part of the flow only some capture points see. A rule about one is not-observed
    in a capture without any of it, and then leaves the call's verdict alone: a capture at
    the UE keeps the verdict it has without the Mp leg."""

    MP = "mp"  # H.248 between the MRFC and the MRFP, seen at the MRF


NEED_MEANING: dict[Need, str] = {
    Need.OFFER: "the SDP offer's m-line",
    Need.ANSWER: "the SDP answer's m-line",
    Need.INIT: "a MIKEY message in the offer that parses",
    Need.KEY: "a key file with a KMS master key or a PSK to open tickets",
    Need.RESP: "a TRANSFER_RESP in the answer",
    Need.TCP: "the m-line's TCP connection",
    Need.TLS: "a TLS handshake on that connection",
    Need.PLAINTEXT: "the media readable: in the clear, or decrypted",
    Need.MP: "an Mp termination that carries the m-line's SDP (a capture at the MRF)",
}


@dataclass(frozen=True, slots=True)
class Rule:
    """One conformance rule: what it checks, where in the flows, and how it is judged."""

    id: str
    title: str
    steps: str  # "dial-in / dial-out" step numbers of the flows it covers
    # the synthetic fault that must make it fail (analyzer/synth/faults.py implements it and
    # says which other rules necessarily depend on what it breaks)
    fault: str | None
    protocol: Protocol | None = None  # only for m-lines of this protocol (else not-applicable)
    clause: str = ""
    needs: tuple[Need, ...] = ()  # checked in this order, before the evaluator runs
    severity: Severity = Severity.ERROR  # of its failures (an outcome may say otherwise)
    leg: Leg | None = None  # the leg it is about, when only some capture points see it


RULES: tuple[Rule, ...] = (
    Rule(
        "GEN-AUTH",
        "the UE's KMS identity in the MIKEY-TICKET exchange is authorized for the conference",
        "7.2.1.1.1",
        "unauthorized-user",
        clause="7.2.1.1.1",
    ),
    Rule(
        "OFFER-PROTO",
        "the SDP offer's m-line uses TCP/TLS/MSRP or TCP/TLS/BFCP",
        "1, 2 / 5, 6",
        "plain-transport",
        needs=(Need.OFFER,),
    ),
    Rule(
        "OFFER-KEYMGMT",
        "the offer carries a=key-mgmt:mikey that base64-decodes to a MIKEY message",
        "1, 3 / 5, 7",
        "no-key-mgmt",
        needs=(Need.OFFER,),
    ),
    Rule(
        "OFFER-TRANSFER-INIT",
        "the offer's MIKEY message is a TRANSFER_INIT with a TICKET payload",
        "1",
        "wrong-data-type",
        needs=(Need.INIT,),
    ),
    Rule(
        "OFFER-IDS",
        "TRANSFER_INIT's initiator/responder identities are the KMS UIDs of From and To",
        "1",
        "id-mismatch",
        needs=(Need.INIT,),
    ),
    Rule(
        "OFFER-ONE-CS",
        "TRANSFER_INIT holds exactly one crypto session",
        "1",
        "two-crypto-sessions",
        needs=(Need.INIT,),
    ),
    Rule(
        "OFFER-PROT-TLS",
        "the crypto session's protocol type is TLS",
        "1",
        "srtp-prot-type",
        needs=(Need.INIT,),
    ),
    Rule(
        "OFFER-SETUP",
        "the offer's m-line has a=setup:actpass",
        "1 / 5",
        "setup-active-offer",
        needs=(Need.OFFER,),
    ),
    Rule(
        "TICKET-OPEN",
        "the ticket opens with a configured key and its MAC verifies",
        "1, 3 / 1, 7",
        "bad-ticket-mac",
        needs=(Need.INIT, Need.KEY),
    ),
    Rule(
        "TICKET-VALID",
        "the ticket's validity period covers the INVITE's capture time",
        "3 / 7",
        "expired-ticket",
        needs=(Need.INIT, Need.KEY),
    ),
    Rule(
        "INIT-MAC",
        "TRANSFER_INIT's verification payload verifies with the ticket's MPK",
        "3 / 7",
        "bad-init-mac",
        needs=(Need.INIT, Need.KEY),
    ),
    Rule(
        "ANSWER-TRANSFER-RESP",
        "a 200 OK or reliable 18x carries the SDP answer (same transport) with a TRANSFER_RESP",
        "9, 10 / 8",
        "no-transfer-resp",
    ),
    Rule(
        "RESP-MAC",
        "TRANSFER_RESP verifies with the MPK and answers this TRANSFER_INIT (same CSB ID)",
        "10 / 9-11",
        "bad-resp-mac",
        needs=(Need.RESP,),
    ),
    Rule(
        "RESP-IDENTITY",
        "TRANSFER_RESP's responder identity is the one the offerer called",
        "10 / 9-11",
        "resp-id-mismatch",
        needs=(Need.RESP,),
    ),
    Rule(
        "ANSWER-SETUP",
        "the answer has a=setup:active (the answerer opens TCP)",
        "4-6, 9 / 8",
        "setup-passive-answer",
        needs=(Need.ANSWER,),
    ),
    Rule(
        "TCP-DIRECTION",
        "TCP is opened by the a=setup active side towards the other side's SDP address and port",
        "7 / 12",
        "offerer-connects",
        needs=(Need.TCP,),
    ),
    Rule(
        "TLS-CLIENT",
        "the TLS ClientHello comes from the side the flow names",
        "8 / 13",
        "tls-by-offerer",
    ),
    Rule(
        "TLS-PSK-SUITE",
        "the negotiated cipher suite is a pure PSK suite, no certificate",
        "8 / 13",
        "certificate-suite",
        needs=(Need.TLS,),
    ),
    Rule(
        "TLS-KEY",
        "the TLS handshake verifies with PSK = TEK of the crypto session",
        "8 / 13",
        "psk-mismatch",
        needs=(Need.TLS,),
    ),
    Rule(
        "TLS-VERSION",
        "TLS 1.2 or later (1.0/1.1 is a warning)",
        "8 / 13",
        "tls10",
        needs=(Need.TLS,),
    ),
    Rule(
        "MEDIA-ENCRYPTED",
        "nothing on the m-line's connection is plaintext MSRP/BFCP",
        "8 / 13",
        "plaintext-media",
    ),
    Rule(
        "MSRP-PATHS",
        "decrypted MSRP parses, paths match a=path, SENDs get 200, chunks reassemble",
        "after 8 / 13",
        "msrp-wrong-path",
        protocol=Protocol.MSRP,
        needs=(Need.PLAINTEXT,),
    ),
    Rule(
        "BFCP-IDS",
        "decrypted BFCP parses; Conference ID, User ID and floor IDs match the SDP",
        "after 8 / 13",
        "bfcp-wrong-confid",
        protocol=Protocol.BFCP,
        needs=(Need.PLAINTEXT,),
    ),
    Rule(
        "ORDER",
        "the steps happen in an order the flow allows",
        "all",
        "early-connect",
    ),
    Rule(
        "REPLAY",
        "a TRANSFER_INIT (same CSB ID, T and RAND) is not seen again in another call",
        "1",
        "replayed-init",
        needs=(Need.INIT,),
    ),
    Rule(
        "KMS-RESOLVE",
        "the ticket's resolver is its named responder and RESOLVE_RESP's keys equal the ticket's",
        "3 / 7",
        None,
        clause="docs/profile.md, The KMS leg",
    ),
    # The Mp leg (docs/mp-profile.md): what the MRFC tells the MRFP, seen at the MRF.
    Rule(
        "MP-PRESENT",
        "every TCP/TLS media m-line has an Mp termination carrying its SDP (once the capture "
        "holds any Mp traffic)",
        "4-6 / 2-4, 9-11",
        "mp-missing",
        clause="docs/mp-profile.md",
        leg=Leg.MP,
    ),
    Rule(
        "MP-PSK",
        "the PSK given to the MRFP equals the TEK of the call's TLS crypto session",
        "4-6 / 9-11",
        "mp-wrong-psk",
        needs=(Need.MP,),
        leg=Leg.MP,
    ),
    Rule(
        "MP-REMOTE",
        "Remote carries the UE's address, port, proto (and a=path, or confid/userid) of the m-line",
        "4-6 / 9-11",
        "mp-wrong-remote",
        needs=(Need.MP,),
        leg=Leg.MP,
    ),
    Rule(
        "MP-LOCAL",
        "the MRFP's Reply Local equals what the MRFC put in its SDP for the m-line",
        "6 -> 9, 10 / 4 -> 5, 6",
        "mp-local-mismatch",
        needs=(Need.MP,),
        leg=Leg.MP,
    ),
    Rule(
        "MP-ROLE",
        "the TCP role (Local a=setup) and TLS role given to the MRFP agree with the flow, and "
        "the MRFP acts so",
        "4-8 / 9-13",
        "mp-role-swapped",
        needs=(Need.MP,),
        leg=Leg.MP,
    ),
    Rule(
        "MP-ORDER",
        "dial-in: the MRFP's Reply precedes the SDP answer and its SYN; dial-out: the reserve "
        "Reply precedes the offer, the configure precedes UE-B's SYN",
        "all",
        "mp-late-configure",
        needs=(Need.MP,),
        leg=Leg.MP,
    ),
    Rule(
        "MP-EVENTS",
        "the TCP and TLS establishment failure events are requested with the PSK",
        "4-6 / 9-11",
        "mp-no-events",
        needs=(Need.MP,),
        leg=Leg.MP,
    ),
    Rule(
        "MP-REPLY",
        "every Mp command gets a Reply without Error; a failure Notify is reported with the "
        "media evidence that explains it",
        "4-6 / 9-11",
        "mp-error-reply",
        needs=(Need.MP,),
        leg=Leg.MP,
    ),
    Rule(
        "MP-PSKID",
        "a PSK identity given on Mp equals the one the TLS client sent",
        "8 / 13",
        "mp-pskid-mismatch",
        needs=(Need.MP,),
        leg=Leg.MP,
    ),
    Rule(
        "MP-CLEARTEXT",
        "the PSK crossed Mp unprotected (plain UDP, TCP or SCTP, no IPsec)",
        "4-6 / 9-11",
        None,
        needs=(Need.MP,),
        severity=Severity.WARNING,
        leg=Leg.MP,
    ),
    Rule(
        "MP-BFCP-DIALOUT",
        "for BFCP dial-out, which command reserved the termination: no procedure is "
        "specified for it (7.2.1.3.2 NOTE 1)",
        "2-4",
        None,
        protocol=Protocol.BFCP,
        severity=Severity.INFO,
        leg=Leg.MP,
    ),
)

RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
FAULTS: dict[str, Rule] = {r.fault: r for r in RULES if r.fault is not None}
