"""The rules judged on hand-built call records: a clean call passes, each fault trips its rule.

This is the rule-level half of the fault matrix (the synthesized-capture half is in
test_faults_matrix.py): every rule (docs/rules.md), KMS-RESOLVE included, is tripped here
by the smallest change of evidence that breaks it, and the test names the exact set of
rules that must then fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from mikeyshark.checks.evaluate import Context, Policy, check_registry_complete, evaluate_call
from mikeyshark.checks.rules import FAULTS, RULES, RULES_BY_ID
from mikeyshark.evidence import CallRecord, KmsLeg, Status, Verdict
from mikeyshark.model import Endpoint
from mikeyshark.procedure import FLOWS, Direction, Event, Protocol, Side, tls_client_side
from mikeyshark.synth.faults import FAULTS as SYNTH_FAULTS
from tests.support.report_samples import MRFP, SEC, T0, UE, clean_call

ALL = [(p, d) for p in Protocol for d in Direction]


def statuses(call: CallRecord, ctx: Context | None = None) -> dict[str, Status]:
    return {c.rule: c.status for c in evaluate_call(call, ctx or Context())}


def failing(call: CallRecord, ctx: Context | None = None) -> set[str]:
    return {r for r, s in statuses(call, ctx).items() if s is Status.FAIL}


# The rule/fault pairs of the conformance specification, copied by hand: identifier ->
# fault that must trip it.
CONFORMANCE_FAULTS = {
    "GEN-AUTH": "unauthorized-user",
    "OFFER-PROTO": "plain-transport",
    "OFFER-KEYMGMT": "no-key-mgmt",
    "OFFER-TRANSFER-INIT": "wrong-data-type",
    "OFFER-IDS": "id-mismatch",
    "OFFER-ONE-CS": "two-crypto-sessions",
    "OFFER-PROT-TLS": "srtp-prot-type",
    "OFFER-SETUP": "setup-active-offer",
    "TICKET-OPEN": "bad-ticket-mac",
    "TICKET-VALID": "expired-ticket",
    "INIT-MAC": "bad-init-mac",
    "ANSWER-TRANSFER-RESP": "no-transfer-resp",
    "RESP-MAC": "bad-resp-mac",
    "RESP-IDENTITY": "resp-id-mismatch",
    "ANSWER-SETUP": "setup-passive-answer",
    "TCP-DIRECTION": "offerer-connects",
    "TLS-CLIENT": "tls-by-offerer",
    "TLS-PSK-SUITE": "certificate-suite",
    "TLS-KEY": "psk-mismatch",
    "TLS-VERSION": "tls10",
    "MEDIA-ENCRYPTED": "plaintext-media",
    "MSRP-PATHS": "msrp-wrong-path",
    "BFCP-IDS": "bfcp-wrong-confid",
    "ORDER": "early-connect",
    "REPLAY": "replayed-init",
    "MP-PRESENT": "mp-missing",
    "MP-PSK": "mp-wrong-psk",
    "MP-REMOTE": "mp-wrong-remote",
    "MP-LOCAL": "mp-local-mismatch",
    "MP-ROLE": "mp-role-swapped",
    "MP-ORDER": "mp-late-configure",
    "MP-EVENTS": "mp-no-events",
    "MP-REPLY": "mp-error-reply",
    "MP-PSKID": "mp-pskid-mismatch",
}
MP_RULES = {r for r in CONFORMANCE_FAULTS if r.startswith("MP-")} | {
    "MP-CLEARTEXT",
    "MP-BFCP-DIALOUT",
}


def test_rule_table_matches_conformance_md() -> None:
    assert {r.id: r.fault for r in RULES if r.fault} == CONFORMANCE_FAULTS
    assert [r.id for r in RULES if r.fault is None] == [
        "KMS-RESOLVE",
        "MP-CLEARTEXT",
        "MP-BFCP-DIALOUT",
    ]
    # a warning and an info: never a verdict's failure
    assert RULES_BY_ID["MP-CLEARTEXT"].severity == "warning"
    assert RULES_BY_ID["MP-BFCP-DIALOUT"].severity == "info"
    assert {r.id for r in RULES if r.leg is not None} == MP_RULES
    assert {f: r.id for f, r in FAULTS.items()} == {f: r for r, f in CONFORMANCE_FAULTS.items()}
    check_registry_complete()


def test_flow_tables_carry_the_seed_step_numbers() -> None:
    assert FLOWS["msrp-dial-in"].steps[Event.TCP] == "7"
    assert FLOWS["msrp-dial-in"].steps[Event.TLS] == "8"
    assert FLOWS["msrp-dial-out"].steps[Event.TCP] == "12"
    assert FLOWS["bfcp-dial-out"].steps[Event.TLS] == "13"
    assert FLOWS["bfcp-dial-in"].clause == "7.2.1.3.1"
    # the flows' roles table (docs/rules.md): the UE offers in dial-in, the conference in
    # dial-out; the answerer (a=setup:active) opens TCP and starts TLS in all four flows.
    assert FLOWS["msrp-dial-in"].offerer == "UE-A"
    assert FLOWS["bfcp-dial-out"].answerer == "UE-B"
    assert FLOWS["msrp-dial-out"].offerer.startswith("conference")
    assert {f.opens_tcp for f in FLOWS.values()} == {Side.ANSWERER}
    assert {f.starts_tls for f in FLOWS.values()} == {Side.ANSWERER}
    assert tls_client_side(Protocol.BFCP, Direction.DIAL_IN, "offerer") is Side.OFFERER
    assert tls_client_side(Protocol.MSRP, None, "offerer") is Side.ANSWERER


@pytest.mark.parametrize(("protocol", "direction"), ALL)
def test_clean_call_passes_every_rule(protocol: Protocol, direction: Direction) -> None:
    call = clean_call(protocol, direction)
    got = statuses(call)
    other = "BFCP-IDS" if protocol is Protocol.MSRP else "MSRP-PATHS"
    expected = {r.id: Status.PASS for r in RULES}
    expected.update(
        {
            "GEN-AUTH": Status.NOT_APPLICABLE,
            "KMS-RESOLVE": Status.NOT_APPLICABLE,
            other: Status.NOT_APPLICABLE,
        }
    )
    # captured at the UE: no Mp traffic, the Mp rules are not observed (the BFCP one is not
    # applicable to an MSRP m-line first) and leave the verdict alone
    expected.update({r: Status.NOT_OBSERVED for r in MP_RULES})
    if protocol is Protocol.MSRP:
        expected["MP-BFCP-DIALOUT"] = Status.NOT_APPLICABLE
    assert got == expected
    unseen = {c.rule for c in call.checks if c.unseen_leg}
    assert unseen == MP_RULES - ({"MP-BFCP-DIALOUT"} if protocol is Protocol.MSRP else set())
    assert call.verdict is Verdict.PASS


@pytest.mark.parametrize(("protocol", "direction"), ALL)
def test_clean_call_at_the_mrf_passes_every_rule(protocol: Protocol, direction: Direction) -> None:
    call = clean_call(protocol, direction, mp=True)
    got = statuses(call)
    other = "BFCP-IDS" if protocol is Protocol.MSRP else "MSRP-PATHS"
    expected = {r.id: Status.PASS for r in RULES}
    bfcp_dial_out = protocol is Protocol.BFCP and direction is Direction.DIAL_OUT
    expected.update(
        {
            "GEN-AUTH": Status.NOT_APPLICABLE,
            "KMS-RESOLVE": Status.NOT_APPLICABLE,
            other: Status.NOT_APPLICABLE,
            "MP-CLEARTEXT": Status.WARNING,
            "MP-BFCP-DIALOUT": Status.INFO if bfcp_dial_out else Status.NOT_APPLICABLE,
        }
    )
    assert got == expected
    # the PSK crossed Mp in the clear: a warning, never a failure of the verdict
    assert call.verdict is Verdict.PASS


def test_gen_auth_with_policy() -> None:
    call = clean_call()
    ok = Context(policy=Policy("sip:conf1@conf.example.org", ("sip:alice@example.org",)))
    assert statuses(call, ok)["GEN-AUTH"] is Status.PASS
    bad = Context(policy=Policy("sip:conf1@conf.example.org", ("sip:bob@example.org",)))
    results = {c.rule: c for c in evaluate_call(clean_call(), bad)}
    assert results["GEN-AUTH"].status is Status.FAIL
    assert "sip:alice@example.org" in results["GEN-AUTH"].message
    assert results["GEN-AUTH"].frames == (1,)


def test_gen_auth_dial_out_uses_the_responder() -> None:
    call = clean_call(Protocol.MSRP, Direction.DIAL_OUT)
    ok = Context(policy=Policy("sip:conf1@conf.example.org", ("sip:alice@example.org",)))
    assert statuses(call, ok)["GEN-AUTH"] is Status.PASS


Mutation = Callable[[CallRecord], None]


def _m(call: CallRecord):  # type: ignore[no-untyped-def]
    return call.media[0]


def _offer_proto(c: CallRecord) -> None:
    _m(c).offer.proto = "TCP/MSRP"
    _m(c).answer.proto = "TCP/MSRP"


def _no_keymgmt(c: CallRecord) -> None:
    _m(c).offer.key_mgmt = None
    _m(c).init = None


def _wrong_type(c: CallRecord) -> None:
    _m(c).init.data_type = 13
    _m(c).init.data_type_name = "REQUEST_RESP"


def _ids(c: CallRecord) -> None:
    _m(c).init.idr_i = "sip:mallory@example.org"


def _two_cs(c: CallRecord) -> None:
    _m(c).init.cs_count = 2
    _m(c).init.prot_types = (2, 2)


def _srtp(c: CallRecord) -> None:
    _m(c).init.prot_types = (0,)


def _setup_offer(c: CallRecord) -> None:
    _m(c).offer.setup = "active"


def _bad_ticket(c: CallRecord) -> None:
    _m(c).key.ticket_opened = False
    _m(c).key.ticket_error = "ticket MAC does not verify with kms.example.org"


def _expired(c: CallRecord) -> None:
    _m(c).key.valid_to_ns = T0 - 1800 * SEC


def _init_mac(c: CallRecord) -> None:
    _m(c).key.init_mac_ok = False


def _no_resp(c: CallRecord) -> None:
    _m(c).answer.key_mgmt = None
    _m(c).resp = None


def _resp_mac(c: CallRecord) -> None:
    _m(c).key.resp_mac_ok = False


def _resp_id(c: CallRecord) -> None:
    _m(c).resp.idr_r = "sip:other@conf.example.org"


def _answer_passive(c: CallRecord) -> None:
    _m(c).answer.setup = "passive"


def _wrong_port(c: CallRecord) -> None:
    _m(c).tcp.server = Endpoint(UE, 9999)


def _offerer_connects(c: CallRecord) -> None:
    # the offerer's UE opens TCP although the answer said active; the MRFP still starts TLS
    m = _m(c)
    m.tcp.client, m.tcp.server = Endpoint(UE, 50002), Endpoint(MRFP, 2855)
    m.tcp.client_side = None
    m.tls.client = m.tcp.server


def _tls_by_offerer(c: CallRecord) -> None:
    _m(c).tls.client = _m(c).tcp.server


def _cert_suite(c: CallRecord) -> None:
    m = _m(c)
    m.tls.cipher_suite = "TLS_RSA_WITH_AES_128_GCM_SHA256"
    m.tls.psk_suite = False
    m.tls.certificate_frame = 7


def _psk_mismatch(c: CallRecord) -> None:
    _m(c).tls.key_verified = False


def _tls10(c: CallRecord) -> None:
    _m(c).tls.version = "TLS 1.0"


def _plaintext(c: CallRecord) -> None:
    _m(c).plaintext_frames = [12]


def _msrp_path(c: CallRecord) -> None:
    _m(c).messages[0].fields["to_path"] = ["msrps://10.9.9.9:2855/zzz;tcp"]


def _bfcp_confid(c: CallRecord) -> None:
    _m(c).messages[0].fields["conference_id"] = 9999


def _early_connect(c: CallRecord) -> None:
    _m(c).tcp.syn_frame = 2  # dial-out: before the answer in frame 3


def _kms_wrong_resolver(c: CallRecord) -> None:
    _m(c).kms = KmsLeg(20, 21, "sip:mallory@example.org", True)


def _kms_wrong_keys(c: CallRecord) -> None:
    _m(c).kms = KmsLeg(20, 21, _m(c).init.idr_r, False)


def _mp(c: CallRecord):  # type: ignore[no-untyped-def]
    return _m(c).mp


def _configure(c: CallRecord):  # type: ignore[no-untyped-def]
    return _mp(c).configure


def _mp_missing(c: CallRecord) -> None:
    _m(c).mp = None  # the capture still holds Mp traffic (another UE's, a ServiceChange)


def _mp_wrong_psk(c: CallRecord) -> None:
    _configure(c).psk = bytes(range(1, 17))


def _mp_wrong_remote(c: CallRecord) -> None:
    _configure(c).remote.port = 43122


def _mp_local(c: CallRecord) -> None:
    _mp(c).commands[0].reply_local.port = 2857


def _mp_role(c: CallRecord) -> None:
    cfg = _configure(c)
    cfg.role = "server" if cfg.role == "client" else "client"


def _mp_setup(c: CallRecord) -> None:
    cfg = _configure(c)
    cfg.local.setup = "passive" if cfg.local.setup == "active" else "active"


def _mp_late(c: CallRecord) -> None:
    # dial-in: the MRFP's Reply after the SDP answer of frame 10
    _configure(c).reply_frame = 11


def _mp_late_configure(c: CallRecord) -> None:
    # dial-out: the configure after UE-B's SYN of frame 7
    cfg = _configure(c)
    cfg.frame, cfg.reply_frame = 9, 11


def _mp_no_events(c: CallRecord) -> None:
    _configure(c).events = ("tls_fail_event",)


def _mp_error(c: CallRecord) -> None:
    _mp(c).transactions[0].error = "510 Insufficient resources"


def _mp_pskid(c: CallRecord) -> None:
    _configure(c).pskid = "mikey:01020304:02"


CASES: list[tuple[str, Protocol, Direction, Mutation, set[str]]] = [
    ("OFFER-PROTO", Protocol.MSRP, Direction.DIAL_IN, _offer_proto, {"OFFER-PROTO"}),
    ("OFFER-KEYMGMT", Protocol.MSRP, Direction.DIAL_IN, _no_keymgmt, {"OFFER-KEYMGMT"}),
    ("OFFER-TRANSFER-INIT", Protocol.BFCP, Direction.DIAL_IN, _wrong_type, {"OFFER-TRANSFER-INIT"}),
    ("OFFER-IDS", Protocol.MSRP, Direction.DIAL_OUT, _ids, {"OFFER-IDS"}),
    ("OFFER-ONE-CS", Protocol.MSRP, Direction.DIAL_IN, _two_cs, {"OFFER-ONE-CS"}),
    ("OFFER-PROT-TLS", Protocol.BFCP, Direction.DIAL_OUT, _srtp, {"OFFER-PROT-TLS"}),
    ("OFFER-SETUP", Protocol.MSRP, Direction.DIAL_IN, _setup_offer, {"OFFER-SETUP"}),
    ("TICKET-OPEN", Protocol.MSRP, Direction.DIAL_IN, _bad_ticket, {"TICKET-OPEN"}),
    ("TICKET-VALID", Protocol.MSRP, Direction.DIAL_OUT, _expired, {"TICKET-VALID"}),
    ("INIT-MAC", Protocol.BFCP, Direction.DIAL_IN, _init_mac, {"INIT-MAC"}),
    ("ANSWER-TRANSFER-RESP", Protocol.MSRP, Direction.DIAL_IN, _no_resp, {"ANSWER-TRANSFER-RESP"}),
    ("RESP-MAC", Protocol.MSRP, Direction.DIAL_IN, _resp_mac, {"RESP-MAC"}),
    ("RESP-IDENTITY", Protocol.BFCP, Direction.DIAL_OUT, _resp_id, {"RESP-IDENTITY"}),
    (
        "ANSWER-SETUP",
        Protocol.MSRP,
        Direction.DIAL_IN,
        _answer_passive,
        {"ANSWER-SETUP", "TCP-DIRECTION"},
    ),
    ("TCP-DIRECTION", Protocol.MSRP, Direction.DIAL_OUT, _wrong_port, {"TCP-DIRECTION"}),
    (
        "TCP-DIRECTION",
        Protocol.MSRP,
        Direction.DIAL_IN,
        _offerer_connects,
        {"TCP-DIRECTION"},
    ),
    ("TLS-CLIENT", Protocol.BFCP, Direction.DIAL_OUT, _tls_by_offerer, {"TLS-CLIENT"}),
    ("TLS-PSK-SUITE", Protocol.MSRP, Direction.DIAL_IN, _cert_suite, {"TLS-PSK-SUITE"}),
    ("TLS-KEY", Protocol.MSRP, Direction.DIAL_IN, _psk_mismatch, {"TLS-KEY"}),
    ("TLS-VERSION", Protocol.BFCP, Direction.DIAL_IN, _tls10, set()),  # a warning: below
    ("MEDIA-ENCRYPTED", Protocol.MSRP, Direction.DIAL_IN, _plaintext, {"MEDIA-ENCRYPTED"}),
    ("MSRP-PATHS", Protocol.MSRP, Direction.DIAL_OUT, _msrp_path, {"MSRP-PATHS"}),
    ("BFCP-IDS", Protocol.BFCP, Direction.DIAL_IN, _bfcp_confid, {"BFCP-IDS"}),
    ("ORDER", Protocol.MSRP, Direction.DIAL_OUT, _early_connect, {"ORDER"}),
    ("KMS-RESOLVE", Protocol.MSRP, Direction.DIAL_IN, _kms_wrong_resolver, {"KMS-RESOLVE"}),
    ("KMS-RESOLVE", Protocol.BFCP, Direction.DIAL_OUT, _kms_wrong_keys, {"KMS-RESOLVE"}),
    ("MP-PRESENT", Protocol.MSRP, Direction.DIAL_IN, _mp_missing, {"MP-PRESENT"}),
    ("MP-PSK", Protocol.BFCP, Direction.DIAL_OUT, _mp_wrong_psk, {"MP-PSK"}),
    ("MP-REMOTE", Protocol.MSRP, Direction.DIAL_IN, _mp_wrong_remote, {"MP-REMOTE"}),
    ("MP-REMOTE", Protocol.MSRP, Direction.DIAL_OUT, _mp_wrong_remote, {"MP-REMOTE"}),
    ("MP-LOCAL", Protocol.BFCP, Direction.DIAL_IN, _mp_local, {"MP-LOCAL"}),
    # dial-out: the reserve Reply is the one that carries a Local (docs/mp-profile.md)
    ("MP-LOCAL", Protocol.MSRP, Direction.DIAL_OUT, _mp_local, {"MP-LOCAL"}),
    ("MP-ROLE", Protocol.MSRP, Direction.DIAL_IN, _mp_role, {"MP-ROLE"}),
    ("MP-ROLE", Protocol.BFCP, Direction.DIAL_OUT, _mp_setup, {"MP-ROLE"}),
    ("MP-ORDER", Protocol.MSRP, Direction.DIAL_IN, _mp_late, {"MP-ORDER"}),
    ("MP-ORDER", Protocol.BFCP, Direction.DIAL_OUT, _mp_late_configure, {"MP-ORDER"}),
    ("MP-EVENTS", Protocol.BFCP, Direction.DIAL_IN, _mp_no_events, {"MP-EVENTS"}),
    ("MP-REPLY", Protocol.MSRP, Direction.DIAL_OUT, _mp_error, {"MP-REPLY"}),
    ("MP-PSKID", Protocol.MSRP, Direction.DIAL_IN, _mp_pskid, {"MP-PSKID"}),
]


@pytest.mark.parametrize(
    ("rule", "protocol", "direction", "mutate", "expected"),
    CASES,
    ids=[f"{c[0]}-{c[1].value}-{c[2].value}-{c[3].__name__}" for c in CASES],
)
def test_each_rule_trips_on_its_evidence(
    rule: str, protocol: Protocol, direction: Direction, mutate: Mutation, expected: set[str]
) -> None:
    call = clean_call(protocol, direction, mp=rule.startswith("MP-"))
    mutate(call)
    assert failing(call) == expected
    # a warning rule (TLS-VERSION on TLS 1.0) trips as a warning, the call passing
    assert call.verdict is (Verdict.FAIL if expected else Verdict.PASS)
    if not expected:
        assert statuses(call)[rule] is Status.WARNING
    # What else fails is what the fault's dependents (the synthesizer's table) allow.
    fault = RULES_BY_ID[rule].fault
    if fault is not None:
        assert expected - {rule} <= SYNTH_FAULTS[fault].may_not_pass


def test_every_rule_is_tripped_by_a_case() -> None:
    tripped = {c[0] for c in CASES} | {"GEN-AUTH", "REPLAY"}
    # the warning and the info cannot fail (tests/analyzer/checks/test_mp_rules.py)
    assert tripped == {r.id for r in RULES} - {"MP-CLEARTEXT", "MP-BFCP-DIALOUT"}


def test_replay_fails_only_the_second_call() -> None:
    ctx = Context()
    first = clean_call()
    second = clean_call()
    second.call_id = "another-call@example.org"
    assert failing(first, ctx) == set()
    results = {c.rule: c for c in evaluate_call(second, ctx)}
    assert {r for r, c in results.items() if c.status is Status.FAIL} == {"REPLAY"}
    assert first.call_id in results["REPLAY"].message
    # A retransmitted INVITE of the same call is not a replay.
    assert failing(clean_call(), ctx) == set()


def test_kms_resolve_passes_when_the_leg_agrees() -> None:
    call = clean_call()
    call.media[0].kms = KmsLeg(20, 21, "sip:conf1@conf.example.org", True)
    assert statuses(call)["KMS-RESOLVE"] is Status.PASS


def test_missing_evidence_is_not_observed_never_pass() -> None:
    call = clean_call()
    m = call.media[0]
    m.tls = None
    m.tcp = None
    m.data_frames = []
    m.messages = []
    got = statuses(call)
    for rule in ("TLS-CLIENT", "TLS-PSK-SUITE", "TLS-KEY", "TLS-VERSION", "TCP-DIRECTION"):
        assert got[rule] is Status.NOT_OBSERVED
    assert got["MEDIA-ENCRYPTED"] is Status.NOT_OBSERVED
    assert got["MSRP-PATHS"] is Status.NOT_OBSERVED
    assert got["ORDER"] is Status.NOT_OBSERVED
    assert call.verdict is Verdict.INCOMPLETE


def test_no_keys_means_ticket_rules_not_observed() -> None:
    call = clean_call()
    call.media[0].key = replace(call.media[0].key, keys_configured=False)  # type: ignore[type-var]
    call.media[0].tls.key_verified = None  # type: ignore[union-attr]
    got = statuses(call)
    for rule in ("TICKET-OPEN", "TICKET-VALID", "INIT-MAC", "TLS-KEY"):
        assert got[rule] is Status.NOT_OBSERVED


def test_messages_name_the_sides_and_the_seed() -> None:
    call = clean_call(Protocol.BFCP, Direction.DIAL_OUT)
    _tls_by_offerer(call)
    results = {c.rule: c for c in evaluate_call(call, Context())}
    msg = results["TLS-CLIENT"].message
    assert msg == (
        "TLS ClientHello came from 10.0.1.20:2855 (MRFP, the offerer); in BFCP the SDP "
        "answerer starts TLS (TR 29.828 7.2.1.3.2 NOTE 2)"
    )
    assert results["TLS-CLIENT"].frames == (8,)


def test_bfcp_profile_switch_makes_the_offerer_the_tls_client() -> None:
    call = clean_call(Protocol.BFCP, Direction.DIAL_IN)
    assert failing(call, Context(bfcp_tls_client="offerer")) == {"TLS-CLIENT"}
    call2 = clean_call(Protocol.BFCP, Direction.DIAL_IN)
    _tls_by_offerer(call2)
    assert failing(call2, Context(bfcp_tls_client="offerer")) == set()


def test_tls10_is_a_warning_that_never_fails_the_call() -> None:
    """CONFORMANCE.md, Readings: TLS-VERSION on TLS 1.0/1.1 reports status warning."""
    call = clean_call()
    _tls10(call)
    results = {c.rule: c for c in evaluate_call(call, Context())}
    assert results["TLS-VERSION"].severity == "warning"
    assert results["TLS-VERSION"].status is Status.WARNING
    assert call.verdict is Verdict.PASS
