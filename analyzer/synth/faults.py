"""The synthetic faults: one per rule, each changing only what it names.

Which rule a fault must make fail is the rule table's to say (``Rule.fault``,
:mod:`mikeyshark.checks.rules`); here is what the synthesizer knows about its own faults:
``may_not_pass`` are the rules that necessarily depend on what the fault breaks (they may come
out ``fail`` or ``not-observed``, never because the synthesizer changed anything else).
"""

from __future__ import annotations

from dataclasses import dataclass

from mikeyshark.checks.rules import FAULTS as RULE_OF_FAULT
from mikeyshark.checks.rules import RULES

# Where a synthesized capture is taken: at the UEs' access, or beside the MRF (Mp in view).
CAPTURE_POINTS = ("ue", "mrf")

# What the analyzer can no longer see or check once the TEK cannot be found or confirmed.
_NEEDS_TEK = frozenset({"TLS-KEY", "MSRP-PATHS", "BFCP-IDS"})
_NEEDS_TICKET = (
    frozenset({"TICKET-VALID", "INIT-MAC", "RESP-MAC", "RESP-IDENTITY", "KMS-RESOLVE", "MP-PSK"})
    | _NEEDS_TEK
)
# What a capture at the MRF can no longer tie to the m-line's connection (docs/rules.md:
# "rules that need that binding may be not-observed").
_NEEDS_MP_BINDING = frozenset({"MP-ROLE", "MP-PSKID"})
_MRF = frozenset({"mrf"})


@dataclass(frozen=True, slots=True)
class Fault:
    name: str
    summary: str
    may_not_pass: frozenset[str] = frozenset()
    capture_points: frozenset[str] = frozenset(CAPTURE_POINTS)  # where it can be seen
    # the status it gives its rule: "fail", or "warning" for what the rules only warn
    # about (TLS 1.0/1.1: reported, never failing the call)
    trips: str = "fail"
    not_applicable: frozenset[str] = frozenset()  # rules it leaves nothing to judge for

    @property
    def rule(self) -> str:
        """The rule the fault must make fail."""
        return RULE_OF_FAULT[self.name].id

    @property
    def protocols(self) -> frozenset[str]:
        """The media a call needs for the fault to apply: its rule's protocol, else any."""
        only = RULE_OF_FAULT[self.name].protocol
        return frozenset({only.value}) if only is not None else frozenset({"msrp", "bfcp"})


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault(
            "unauthorized-user",
            "the UE is sip:mallory@example.org, not in the conference's authorized list",
        ),
        Fault(
            "plain-transport",
            "offer and answer m-lines say TCP/MSRP or TCP/BFCP (the media still runs TLS-PSK)",
            frozenset({"ANSWER-TRANSFER-RESP", "MSRP-PATHS"}),
        ),
        Fault(
            "no-key-mgmt",
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
            "TRANSFER_INIT's HDR data type is 0 (RFC 3830 PSK init); MAC recomputed",
        ),
        Fault(
            "id-mismatch",
            "TRANSFER_INIT and its ticket name the conference side as sip:mrfc@conf.example.org",
            # the MRFC resolves the ticket as the conference, not as the responder it names
            frozenset({"KMS-RESOLVE"}),
        ),
        Fault(
            "two-crypto-sessions",
            "TRANSFER_INIT's HDR and ticket hold two TLS crypto sessions",
        ),
        Fault(
            "srtp-prot-type",
            "the crypto session and SP payload have Prot type 0 (SRTP)",
        ),
        Fault("setup-active-offer", "the offer says a=setup:active"),
        Fault(
            "bad-ticket-mac",
            "one bit of the ticket's KEMAC MAC is flipped",
            frozenset({"GEN-AUTH"}) | _NEEDS_TICKET,
        ),
        Fault(
            "expired-ticket",
            "the ticket's validity ended ten minutes before the INVITE",
        ),
        Fault("bad-init-mac", "one bit of TRANSFER_INIT's V MAC is flipped"),
        Fault(
            "no-transfer-resp",
            "the answer has no a=key-mgmt line",
            frozenset({"RESP-MAC", "RESP-IDENTITY"}),
        ),
        Fault(
            "bad-resp-mac",
            "one bit of TRANSFER_RESP's V MAC is flipped",
            frozenset({"RESP-IDENTITY"}),
        ),
        Fault(
            "resp-id-mismatch",
            "TRANSFER_RESP's IDRr is another identity than the one called; MAC recomputed",
        ),
        Fault(
            "setup-passive-answer",
            "the answer says a=setup:passive (the answerer still connects)",
            frozenset({"TCP-DIRECTION"}),
        ),
        Fault(
            "offerer-connects",
            "the answer says active but the offerer's side opens TCP (TLS client unchanged)",
            frozenset({"MP-ROLE"}),  # at the MRF: the MRFP does not do what Mp told it
        ),
        Fault("tls-by-offerer", "the offerer's side sends the ClientHello", frozenset({"MP-ROLE"})),
        Fault(
            "certificate-suite",
            "TLS is ECDHE-ECDSA-AES128-GCM-SHA256 with an Ed25519 certificate, not a PSK suite",
            (_NEEDS_TEK - {"TLS-KEY"}) | frozenset({"MEDIA-ENCRYPTED", "MP-PSKID"}),
            # a certificate suite has no PSK to check
            not_applicable=frozenset({"TLS-KEY"}),
        ),
        Fault(
            "psk-mismatch",
            "TLS runs with a PSK that is not the crypto session's TEK (at the MRF: the one "
            "the MRFC gave on Mp)",
            _NEEDS_TEK | frozenset({"MP-PSK"}),
        ),
        Fault("tls10", "TLS 1.0 is negotiated", trips="warning"),
        Fault(
            "plaintext-media",
            "MSRP/BFCP runs in the clear on the m-line's TCP connection",
            frozenset({"TLS-CLIENT", "TLS-PSK-SUITE", "TLS-KEY", "TLS-VERSION"})
            | _NEEDS_MP_BINDING,
        ),
        Fault(
            "msrp-wrong-path",
            "MSRP SENDs carry a To-Path session id that is not in the peer's a=path",
        ),
        Fault(
            "bfcp-wrong-confid",
            "BFCP messages carry a Conference ID other than a=confid",
        ),
        Fault(
            "early-connect",
            "dial-in: the MRFP connects before the INVITE; dial-out: UE-B before its answer",
            frozenset({"MP-ORDER"}),  # at the MRF: before the MRFP was configured
        ),
        Fault(
            "replayed-init",
            "a second call from the same UE reuses the first call's TRANSFER_INIT byte for byte",
        ),
        # The Mp leg (docs/mp-profile.md), in view only of a capture at the MRF.
        Fault(
            "mp-missing",
            "the MRFC gives the MRFP no command for the call's m-lines (the media still runs)",
            frozenset(
                {
                    "MP-PSK",
                    "MP-REMOTE",
                    "MP-LOCAL",
                    "MP-ROLE",
                    "MP-ORDER",
                    "MP-EVENTS",
                    "MP-REPLY",
                    "MP-PSKID",
                    "MP-CLEARTEXT",
                    "MP-BFCP-DIALOUT",
                }
            ),
            _MRF,
        ),
        Fault(
            "mp-wrong-psk",
            "the PSK given on Mp is the TEK with its last bit flipped; the MRFP uses it, the "
            "handshake ends in an alert and the MRFP notifies tlsfail",
            _NEEDS_TEK,
            _MRF,
        ),
        Fault(
            "mp-wrong-remote",
            "the Remote given to the MRFP has the UE's m= port plus 2 (the media is unchanged)",
            _NEEDS_MP_BINDING,
            _MRF,
        ),
        Fault(
            "mp-local-mismatch",
            "the MRFP's Reply Local has another port than the conference puts in its SDP",
            _NEEDS_MP_BINDING,
            _MRF,
        ),
        Fault(
            "mp-role-swapped",
            "the TLS role given to the MRFP is the other one, and the MRFP obeys it",
            frozenset({"TLS-CLIENT"}),
            _MRF,
        ),
        Fault(
            "mp-late-configure",
            "dial-in: the Add comes after the SDP answer (and the MRFP connects after it); "
            "dial-out: the Modify comes after UE-B's SYN",
            capture_points=_MRF,
        ),
        Fault(
            "mp-no-events",
            "the command that gives the PSK asks for no failure events",
            capture_points=_MRF,
        ),
        Fault(
            "mp-error-reply",
            "the MRFP answers the first Add with Error 510; the MRFC sends it again",
            capture_points=_MRF,
        ),
        Fault(
            "mp-pskid-mismatch",
            "the PSK identity given on Mp names crypto session 2 (the TLS client sends 1's)",
            capture_points=_MRF,
        ),
    )
}


def applicable(fault: str, protocols: frozenset[str] | set[str]) -> bool:
    """Whether ``fault`` can be applied to a call whose protected media are ``protocols``."""
    return bool(FAULTS[fault].protocols & protocols)


def expected_status(
    faults: frozenset[str],
    capture_point: str = "ue",
    *,
    kms_leg: bool = False,
    bfcp_dial_out: bool = False,
) -> dict[str, str]:
    """Rule -> expected status for a call with ``faults`` applied, captured at
    ``capture_point`` (``kms_leg``: with the answerer's KMS leg in the capture;
    ``bfcp_dial_out``: a dial-out call with BFCP).

    ``pass`` or ``fail`` where the outcome is fixed, ``any`` where a rule depends on what a
    fault broke (``fail`` or ``not-observed`` are both right then).
    """
    # What no fault can trip (the KMS leg) is left to the scenario, and a rule left out is
    # expected not-applicable.
    status = {r.id: "pass" for r in RULES if r.fault is not None}
    if capture_point == "mrf":
        status["MP-CLEARTEXT"] = "warning"  # the synthesizer's Mp leg is plain UDP or TCP
        if bfcp_dial_out:
            status["MP-BFCP-DIALOUT"] = "info"
    else:
        for r in RULES:
            if r.leg is not None:
                status[r.id] = "not-observed"
    if kms_leg:
        status["KMS-RESOLVE"] = "pass"
    for name in faults:
        for rule in FAULTS[name].may_not_pass:
            if rule in status:  # a rule the capture point cannot judge stays as it is
                status[rule] = "any"
    for name in faults:
        for rule in FAULTS[name].not_applicable:
            status[rule] = "not-applicable"
        status[FAULTS[name].rule] = FAULTS[name].trips
    return status
