"""The conformance rules, as data: one ``Rule`` per identifier.

Each row names the steps of the flow it covers (the flows themselves are
:mod:`mikeyshark.procedure`) and the synthetic fault that must trip it. Which other rules
necessarily depend on what a fault breaks is the synthesizer's table
(``analyzer/synth/faults.py``), in one place; the fault-matrix tests hold the analyzer to it.
The evaluators in ``evaluate.py`` only judge.
"""

from __future__ import annotations

from dataclasses import dataclass

# The procedure's vocabulary, re-exported for the tests that still import it from here.
from mikeyshark.procedure import (
    EV_ANSWER,
    EV_INVITE,
    EV_MEDIA,
    EV_MP,
    EV_RESOLVE,
    EV_TCP,
    EV_TICKET,
    EV_TLS,
    EV_VERIFY,
    FLOWS,
    SCENARIOS,
    Direction,
    Flow,
    Protocol,
    Role,
    Side,
    flow_for,
    side_role,
    tls_client_side,
)


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

# the names of this module, and (for one step) the ones it re-exports
__all__ = [
    "EV_ANSWER",
    "EV_INVITE",
    "EV_MEDIA",
    "EV_MP",
    "EV_RESOLVE",
    "EV_TCP",
    "EV_TICKET",
    "EV_TLS",
    "EV_VERIFY",
    "FAULTS",
    "FLOWS",
    "RULES",
    "RULES_BY_ID",
    "SCENARIOS",
    "Direction",
    "Flow",
    "Protocol",
    "Role",
    "Rule",
    "Side",
    "flow_for",
    "side_role",
    "tls_client_side",
]
