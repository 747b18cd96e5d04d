"""The synthetic faults of CONFORMANCE.md: one per rule, each changing only what it names.

``rule`` is the rule the fault must make fail; ``may_not_pass`` are the rules that necessarily
depend on what the fault breaks (they may come out ``fail`` or ``not-observed``, never because
the synthesizer changed anything else). ``protocols`` limits a fault to the scenarios whose
media it concerns.
"""

from __future__ import annotations

from dataclasses import dataclass

# Rules in CONFORMANCE.md order; a rule identifier never changes.
RULES: tuple[str, ...] = (
    "GEN-AUTH",
    "OFFER-PROTO",
    "OFFER-KEYMGMT",
    "OFFER-TRANSFER-INIT",
    "OFFER-IDS",
    "OFFER-ONE-CS",
    "OFFER-PROT-TLS",
    "OFFER-SETUP",
    "TICKET-OPEN",
    "TICKET-VALID",
    "INIT-MAC",
    "ANSWER-TRANSFER-RESP",
    "RESP-MAC",
    "RESP-IDENTITY",
    "ANSWER-SETUP",
    "TCP-DIRECTION",
    "TLS-CLIENT",
    "TLS-PSK-SUITE",
    "TLS-KEY",
    "TLS-VERSION",
    "MEDIA-ENCRYPTED",
    "MSRP-PATHS",
    "BFCP-IDS",
    "ORDER",
    "REPLAY",
)

# What the analyzer can no longer see or check once the TEK cannot be found or confirmed.
_NEEDS_TEK = frozenset({"TLS-KEY", "MSRP-PATHS", "BFCP-IDS"})
_NEEDS_TICKET = frozenset({"TICKET-VALID", "INIT-MAC", "RESP-MAC", "RESP-IDENTITY"}) | _NEEDS_TEK


@dataclass(frozen=True, slots=True)
class Fault:
    name: str
    rule: str
    summary: str
    may_not_pass: frozenset[str] = frozenset()
    protocols: frozenset[str] = frozenset({"msrp", "bfcp"})


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault(
            "unauthorized-user",
            "GEN-AUTH",
            "the UE is sip:mallory@example.org, not in the conference's authorized list",
        ),
        Fault(
            "plain-transport",
            "OFFER-PROTO",
            "offer and answer m-lines say TCP/MSRP or TCP/BFCP (the media still runs TLS-PSK)",
            frozenset({"ANSWER-TRANSFER-RESP", "MSRP-PATHS"}),
        ),
        Fault(
            "no-key-mgmt",
            "OFFER-KEYMGMT",
            "the offer has no a=key-mgmt line",
            frozenset(
                {
                    "OFFER-TRANSFER-INIT",
                    "OFFER-IDS",
                    "OFFER-ONE-CS",
                    "OFFER-PROT-TLS",
                    "TICKET-OPEN",
                    "REPLAY",
                    "GEN-AUTH",
                }
            )
            | _NEEDS_TICKET,
        ),
        Fault(
            "wrong-data-type",
            "OFFER-TRANSFER-INIT",
            "TRANSFER_INIT's HDR data type is 0 (RFC 3830 PSK init); MAC recomputed",
        ),
        Fault(
            "id-mismatch",
            "OFFER-IDS",
            "TRANSFER_INIT and its ticket name the conference side as sip:mrfc@conf.example.org",
        ),
        Fault(
            "two-crypto-sessions",
            "OFFER-ONE-CS",
            "TRANSFER_INIT's HDR and ticket hold two TLS crypto sessions",
        ),
        Fault(
            "srtp-prot-type",
            "OFFER-PROT-TLS",
            "the crypto session and SP payload have Prot type 0 (SRTP)",
        ),
        Fault("setup-active-offer", "OFFER-SETUP", "the offer says a=setup:active"),
        Fault(
            "bad-ticket-mac",
            "TICKET-OPEN",
            "one bit of the ticket's KEMAC MAC is flipped",
            frozenset({"GEN-AUTH"}) | _NEEDS_TICKET,
        ),
        Fault(
            "expired-ticket",
            "TICKET-VALID",
            "the ticket's validity ended ten minutes before the INVITE",
        ),
        Fault("bad-init-mac", "INIT-MAC", "one bit of TRANSFER_INIT's V MAC is flipped"),
        Fault(
            "no-transfer-resp",
            "ANSWER-TRANSFER-RESP",
            "the answer has no a=key-mgmt line",
            frozenset({"RESP-MAC", "RESP-IDENTITY"}),
        ),
        Fault(
            "bad-resp-mac",
            "RESP-MAC",
            "one bit of TRANSFER_RESP's V MAC is flipped",
            frozenset({"RESP-IDENTITY"}),
        ),
        Fault(
            "resp-id-mismatch",
            "RESP-IDENTITY",
            "TRANSFER_RESP's IDRr is another identity than the one called; MAC recomputed",
        ),
        Fault(
            "setup-passive-answer",
            "ANSWER-SETUP",
            "the answer says a=setup:passive (the answerer still connects)",
            frozenset({"TCP-DIRECTION"}),
        ),
        Fault(
            "offerer-connects",
            "TCP-DIRECTION",
            "the answer says active but the offerer's side opens TCP (TLS client unchanged)",
        ),
        Fault("tls-by-offerer", "TLS-CLIENT", "the offerer's side sends the ClientHello"),
        Fault(
            "certificate-suite",
            "TLS-PSK-SUITE",
            "TLS is ECDHE-ECDSA-AES128-GCM-SHA256 with an Ed25519 certificate, not a PSK suite",
            frozenset({"TLS-KEY"}) | _NEEDS_TEK | frozenset({"MEDIA-ENCRYPTED"}),
        ),
        Fault(
            "psk-mismatch",
            "TLS-KEY",
            "TLS runs with a PSK that is not the crypto session's TEK",
            _NEEDS_TEK,
        ),
        Fault("tls10", "TLS-VERSION", "TLS 1.0 is negotiated"),
        Fault(
            "plaintext-media",
            "MEDIA-ENCRYPTED",
            "MSRP/BFCP runs in the clear on the m-line's TCP connection",
            frozenset({"TLS-CLIENT", "TLS-PSK-SUITE", "TLS-KEY", "TLS-VERSION"}),
        ),
        Fault(
            "msrp-wrong-path",
            "MSRP-PATHS",
            "MSRP SENDs carry a To-Path session id that is not in the peer's a=path",
            protocols=frozenset({"msrp"}),
        ),
        Fault(
            "bfcp-wrong-confid",
            "BFCP-IDS",
            "BFCP messages carry a Conference ID other than a=confid",
            protocols=frozenset({"bfcp"}),
        ),
        Fault(
            "early-connect",
            "ORDER",
            "dial-in: the MRFP connects before the INVITE; dial-out: UE-B before its answer",
        ),
        Fault(
            "replayed-init",
            "REPLAY",
            "a second call from the same UE reuses the first call's TRANSFER_INIT byte for byte",
        ),
    )
}


def applicable(fault: str, protocols: frozenset[str] | set[str]) -> bool:
    """Whether ``fault`` can be applied to a call whose protected media are ``protocols``."""
    return bool(FAULTS[fault].protocols & protocols)


def expected_status(faults: frozenset[str]) -> dict[str, str]:
    """Rule -> expected status for a call with ``faults`` applied.

    ``pass`` or ``fail`` where the outcome is fixed, ``any`` where a rule depends on what a
    fault broke (``fail`` or ``not-observed`` are both right then).
    """
    status = dict.fromkeys(RULES, "pass")
    for name in faults:
        for rule in FAULTS[name].may_not_pass:
            status[rule] = "any"
    for name in faults:
        status[FAULTS[name].rule] = "fail"
    return status
