"""The combinator of checks/evaluate.py: a rule row's needs, protocol and severity are data.

The rows are edited here (dataclasses.replace) to show that the judgement follows the row:
an absent need gives not-observed before the evaluator runs, the row's protocol gives
not-applicable, and a failure carries the row's severity unless its outcome says otherwise.
The sentences are the analyzer's documented ones, stated by hand.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from mikeyshark.checks import evaluate
from mikeyshark.checks.evaluate import NEEDS, Context, evaluate_call
from mikeyshark.checks.rules import RULES, RULES_BY_ID, Need, Rule
from mikeyshark.evidence import CallRecord, CheckResult, MediaRecord, Status
from mikeyshark.model import Severity
from mikeyshark.procedure import Protocol
from tests.support.report_samples import clean_call


def _judge(call: CallRecord, *rows: Rule) -> dict[str, CheckResult]:
    return {c.rule: c for c in evaluate_call(call, Context(), rules=rows)}


def _refuse(call: CallRecord, m: MediaRecord, ctx: Context) -> evaluate.Outcome:
    raise AssertionError("the evaluator ran although a need was missing")


def test_a_missing_need_is_not_observed_without_running_the_evaluator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    call = clean_call()
    call.media[0].init = None
    monkeypatch.setitem(evaluate._EVALUATORS, "OFFER-IDS", _refuse)
    got = _judge(call, RULES_BY_ID["OFFER-IDS"])["OFFER-IDS"]
    assert (got.status, got.message, got.frames) == (
        Status.NOT_OBSERVED,
        "no MIKEY message in the offer",
        (),
    )


def test_the_needs_of_the_row_decide_not_the_evaluator() -> None:
    # OFFER-SETUP's own evidence (the offer) is there and passes; made to need the TLS
    # handshake, which this call lacks, it is not observed with that need's sentence.
    call = clean_call()
    call.media[0].tls = None
    row = RULES_BY_ID["OFFER-SETUP"]
    assert _judge(call, row)["OFFER-SETUP"].status is Status.PASS
    got = _judge(call, replace(row, needs=(Need.OFFER, Need.TLS)))["OFFER-SETUP"]
    assert (got.status, got.message) == (
        Status.NOT_OBSERVED,
        "no TLS handshake on this m-line's connection",
    )


def test_needs_are_checked_in_the_rows_order() -> None:
    call = clean_call()
    call.media[0].init = None
    call.media[0].key = None
    row = replace(RULES_BY_ID["TICKET-OPEN"], needs=(Need.KEY, Need.INIT))
    assert _judge(call, row)["TICKET-OPEN"].message == (
        "no key file with a KMS master key or PSK to open the ticket"
    )


def test_the_rows_protocol_makes_other_m_lines_not_applicable() -> None:
    call = clean_call(Protocol.MSRP)
    row = replace(RULES_BY_ID["OFFER-SETUP"], protocol=Protocol.BFCP)
    got = _judge(call, row)["OFFER-SETUP"]
    assert (got.status, got.message) == (Status.NOT_APPLICABLE, "not a BFCP m-line")
    got = _judge(call, RULES_BY_ID["BFCP-IDS"])["BFCP-IDS"]
    assert (got.status, got.message) == (Status.NOT_APPLICABLE, "not a BFCP m-line")
    got = _judge(clean_call(Protocol.BFCP), RULES_BY_ID["MSRP-PATHS"])["MSRP-PATHS"]
    assert (got.status, got.message) == (Status.NOT_APPLICABLE, "not an MSRP m-line")


def test_a_failure_has_the_rows_severity() -> None:
    call = clean_call()
    assert call.media[0].tls is not None
    call.media[0].tls.key_verified = False  # TLS-KEY fails
    row = RULES_BY_ID["TLS-KEY"]
    assert _judge(call, row)["TLS-KEY"].severity is Severity.ERROR
    got = _judge(call, replace(row, severity=Severity.WARNING))["TLS-KEY"]
    assert (got.status, got.severity) == (Status.FAIL, Severity.WARNING)


def test_an_outcome_may_be_a_warning() -> None:
    call = clean_call()
    assert call.media[0].tls is not None
    call.media[0].tls.version = "TLS 1.1"
    got = _judge(call, RULES_BY_ID["TLS-VERSION"])["TLS-VERSION"]
    # the severity is a field: the sentence no longer carries it; the status says warning
    # (CONFORMANCE.md, Readings), which never makes the call fail
    assert (got.status, got.severity, got.message) == (
        Status.WARNING,
        Severity.WARNING,
        "TLS 1.1 negotiated; TLS 1.2 or later expected",
    )
    call.media[0].tls.version = "SSL 3.0"
    assert _judge(call, RULES_BY_ID["TLS-VERSION"])["TLS-VERSION"].severity is Severity.ERROR


def test_every_need_has_its_sentence_and_every_row_its_evaluator() -> None:
    assert set(NEEDS) == set(Need)
    evaluate.check_registry_complete()
    # the rows as the rules documentation states them
    needs = {r.id: tuple(n.value for n in r.needs) for r in RULES if r.needs}
    assert needs["TICKET-OPEN"] == ("init", "key")
    assert needs["MSRP-PATHS"] == ("plaintext",)
    assert "GEN-AUTH" not in needs and "ORDER" not in needs


def test_m_lines_of_one_status_combine_their_messages_frames_and_severities(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # two m-lines fail alike: one result that names each m-line's sentence, every frame of
    # both once and in order, the more severe of their severities, and a leg unseen only
    # when it is unseen on both
    call = clean_call()
    msrp_line = call.media[0]
    bfcp_line = replace(msrp_line, index=1, protocol=Protocol.BFCP)
    call.media.append(bfcp_line)
    said = {
        0: evaluate.Outcome(Status.FAIL, "first", (9, 3), Severity.WARNING, unseen_leg=True),
        1: evaluate.Outcome(Status.FAIL, "second", (3, 5)),
    }
    monkeypatch.setitem(evaluate._EVALUATORS, "OFFER-SETUP", lambda c, m, x: said[m.index])
    row = replace(RULES_BY_ID["OFFER-SETUP"], needs=(), severity=Severity.INFO)
    assert _judge(call, row)["OFFER-SETUP"] == CheckResult(
        "OFFER-SETUP",
        Status.FAIL,
        (3, 5, 9),
        "m-line 0 (msrp): first; m-line 1 (bfcp): second",
        Severity.WARNING,
        False,
    )
    said[1] = evaluate.Outcome(Status.FAIL, "first", (), unseen_leg=True)
    assert _judge(call, row)["OFFER-SETUP"] == CheckResult(
        "OFFER-SETUP", Status.FAIL, (3, 9), "first", Severity.WARNING, True
    )
    said[1] = evaluate.Outcome(Status.PASS, "fine", (1,))  # the worse status alone
    assert _judge(call, row)["OFFER-SETUP"] == CheckResult(
        "OFFER-SETUP", Status.FAIL, (3, 9), "first", Severity.WARNING, True
    )
