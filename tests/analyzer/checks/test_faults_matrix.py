"""The fault matrix: every scenario with every fault (docs/rules.md), synthesized and analyzed,
at both capture points where the fault can be seen (the UEs' access, and beside the MRF).

The expected outcome of each rule comes from the synthesizer's statement of what it broke
(``CallFacts.expected``: the fault's rule must fail, the rules it necessarily depends on may
fail or be not-observed, every other rule must pass), not from the analyzer. At the UE the
Mp rules are not-observed and KMS-RESOLVE not-applicable (no Mp, no KMS leg in view); at the
MRF the MRFC's KMS leg of a dial-in call is in view, MP-CLEARTEXT warns (the synthesizer's
Mp is plain UDP) and MP-BFCP-DIALOUT informs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest

from mikeyshark.checks.rules import FAULTS as RULE_FAULTS
from mikeyshark.checks.rules import RULES
from mikeyshark.evidence import CallRecord, Status, Verdict
from mikeyshark.model import Frame
from mikeyshark.synth import FAULTS, synthesize
from mikeyshark.synth.faults import applicable
from tests.support.analyze import analyze_frames, analyze_synth

SCENARIOS = ("msrp-dial-in", "msrp-dial-out", "bfcp-dial-in", "bfcp-dial-out")
POINTS = ("ue", "mrf")


def _synthesizable(fault: str) -> bool:
    """The synthesizer refuses a fault it cannot build yet (its TLS engine spoke PSK suites
    only, so certificate-suite came later); such a fault is made below by editing a capture."""
    try:
        synthesize("msrp-dial-in", faults=[fault], seed=0)
    except ValueError:
        return False
    return True


UNSYNTHESIZABLE = {f for f in ("certificate-suite",) if not _synthesizable(f)}

CASES = [
    (s, f, point)
    for s in SCENARIOS
    for f in sorted(FAULTS)
    for point in POINTS
    if f not in UNSYNTHESIZABLE
    and applicable(f, {s.split("-")[0]})
    and point in FAULTS[f].capture_points
]


def _check(report_calls: Sequence[CallRecord], facts: tuple) -> None:  # type: ignore[type-arg]
    assert len(report_calls) == len(facts)
    by_id = {c.call_id: c for c in report_calls}
    for f in facts:
        call = by_id[f.call_id]
        got = {c.rule: c.status for c in call.checks}
        for rule in RULES:
            want = f.expected.get(rule.id, "not-applicable")
            status = got[rule.id]
            if want == "any":
                # whatever the broken evidence gives, but the rule still concerns the call
                assert status is not Status.NOT_APPLICABLE, rule.id
            else:
                assert status.value == want, (rule.id, status, call.checks)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_clean_scenario_passes_every_rule(scenario: str, tmp_path: Path) -> None:
    result = synthesize(scenario, seed=11)
    report = analyze_synth(result, tmp_path / "clean.pcap")
    assert len(report.calls) == 1
    call = report.calls[0]
    msrp = scenario.startswith("msrp")
    other = "BFCP-IDS" if msrp else "MSRP-PATHS"
    for check in call.checks:
        if check.rule in (other, "KMS-RESOLVE") or (check.rule == "MP-BFCP-DIALOUT" and msrp):
            assert check.status is Status.NOT_APPLICABLE, check
        elif check.rule.startswith("MP-"):
            # no Mp in a capture at the UE: not observed, and no bearing on the verdict
            assert check.status is Status.NOT_OBSERVED and check.unseen_leg, check
        else:
            assert check.status is Status.PASS, check
    assert call.verdict is Verdict.PASS
    assert call.scenario == scenario
    assert report.compliant()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_clean_scenario_at_the_mrf_passes_every_rule(scenario: str, tmp_path: Path) -> None:
    result = synthesize(scenario, seed=11, capture_point="mrf")
    report = analyze_synth(result, tmp_path / "clean.pcap")
    (call,) = report.calls
    msrp = scenario.startswith("msrp")
    dial_in = scenario.endswith("dial-in")
    other = "BFCP-IDS" if msrp else "MSRP-PATHS"
    for check in call.checks:
        if check.rule == other or (check.rule == "KMS-RESOLVE" and not dial_in):
            assert check.status is Status.NOT_APPLICABLE, check
        elif check.rule == "MP-BFCP-DIALOUT":
            want = Status.NOT_APPLICABLE if msrp or dial_in else Status.INFO
            assert check.status is want, check
        elif check.rule == "MP-CLEARTEXT":
            assert check.status is Status.WARNING, check
            assert "crossed Mp in the clear (UDP, " in check.message
        else:
            assert check.status is Status.PASS, check
    # a warning and an info never make the verdict fail
    assert call.verdict is Verdict.PASS
    assert report.compliant()


@pytest.mark.parametrize(("scenario", "fault", "point"), CASES)
def test_fault_trips_its_rule(scenario: str, fault: str, point: str, tmp_path: Path) -> None:
    result = synthesize(scenario, faults=[fault], seed=5, capture_point=point)
    report = analyze_synth(result, tmp_path / "fault.pcap")
    _check(report.calls, result.calls)
    rule = RULE_FAULTS[fault].id
    trips = Status(FAULTS[fault].trips)
    faulty = [
        c for c in report.calls if any(r.rule == rule and r.status is trips for r in c.checks)
    ]
    assert faulty, f"{fault} did not make {rule} {trips.value}"
    # a warning is reported and never makes the call fail (CONFORMANCE.md, Readings)
    assert report.compliant() is (trips is Status.WARNING)


def _certificate_suite(frames: tuple[Frame, ...]) -> list[Frame]:
    """Rewrite the ServerHello's cipher suite to TLS_RSA_WITH_AES_128_GCM_SHA256 (0x009C)."""
    out = list(frames)
    for i, fr in enumerate(out):
        data = fr.data
        # Ethernet(14) + IPv4 header + TCP header: find a TLS 1.2 handshake record holding a
        # ServerHello (handshake type 2) at the start of the TCP payload.
        ihl = (data[14] & 0x0F) * 4
        if data[23] != 6:
            continue
        tcp = 14 + ihl
        payload = tcp + (data[tcp + 12] >> 4) * 4
        rec = data[payload : payload + 6]
        if len(rec) == 6 and rec[0] == 0x16 and rec[1] == 3 and rec[5] == 2:
            sid_len = data[payload + 5 + 4 + 2 + 32]
            at = payload + 5 + 4 + 2 + 32 + 1 + sid_len
            patched = data[:at] + b"\x00\x9c" + data[at + 2 :]
            out[i] = dataclasses.replace(fr, data=patched)
            return out
    raise AssertionError("no ServerHello found")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_certificate_suite_trips_tls_psk_suite(scenario: str, tmp_path: Path) -> None:
    result = synthesize(scenario, seed=5)
    report = analyze_frames(
        _certificate_suite(result.frames), result.keyfile_text, tmp_path / "c.pcap"
    )
    call = report.calls[0]
    got = {c.rule: c for c in call.checks}
    assert got["TLS-PSK-SUITE"].status is Status.FAIL
    # 0x009C is TLS_RSA_WITH_AES_128_GCM_SHA256 (RFC 5288), now named by the suite table
    assert "TLS_RSA_WITH_AES_128_GCM_SHA256" in got["TLS-PSK-SUITE"].message
    allowed = {"TLS-PSK-SUITE"} | FAULTS["certificate-suite"].may_not_pass
    assert {r for r, c in got.items() if c.status is Status.FAIL} <= allowed


# each Mp fault once more with the Mp leg over TCP (TPKT framing), the four flows taken in turn
MP_TCP_CASES = [
    (SCENARIOS[i % len(SCENARIOS)], f)
    for i, f in enumerate(sorted(f for f in FAULTS if f.startswith("mp-")))
]


@pytest.mark.parametrize(("scenario", "fault"), MP_TCP_CASES)
def test_mp_fault_over_tcp_trips_its_rule(scenario: str, fault: str, tmp_path: Path) -> None:
    assert applicable(fault, {scenario.split("-")[0]})
    result = synthesize(scenario, faults=[fault], seed=5, capture_point="mrf", mp_transport="tcp")
    report = analyze_synth(result, tmp_path / "fault.pcap")
    _check(report.calls, result.calls)
    (call,) = report.calls
    got = {c.rule: c for c in call.checks}
    assert got[RULE_FAULTS[fault].id].status is Status.FAIL
    if fault != "mp-missing":  # (no PSK crosses Mp at all then)
        assert "crossed Mp in the clear (TCP, " in got["MP-CLEARTEXT"].message


def test_every_rule_is_tripped_by_a_synthesized_capture() -> None:
    tripped = {FAULTS[f].rule for _, f, _ in CASES} | {"TLS-PSK-SUITE"}
    # KMS-RESOLVE has no synthetic fault; it is tripped on hand-built evidence in
    # tests/analyzer/checks/test_rules.py. MP-CLEARTEXT warns of every plain Mp leg and
    # MP-BFCP-DIALOUT informs: neither can fail.
    assert tripped == {r.id for r in RULES} - {"KMS-RESOLVE", "MP-CLEARTEXT", "MP-BFCP-DIALOUT"}
    # the Mp faults are synthesized at the MRF only, every other fault at both points
    for _, f, point in CASES:
        assert point == "mrf" or not f.startswith("mp-")
    mp_faults = {f for f in FAULTS if f.startswith("mp-")}
    assert {f for _, f in MP_TCP_CASES} == mp_faults
    assert {s for s, _ in MP_TCP_CASES} == set(SCENARIOS)


def test_mp_faults_are_refused_at_the_ue() -> None:
    with pytest.raises(ValueError, match="only in a capture at the mrf"):
        synthesize("msrp-dial-in", faults=["mp-wrong-psk"])


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("variant", ["mode3", "reliable_183"])
def test_variants_of_the_clean_flows_pass(scenario: str, variant: str, tmp_path: Path) -> None:
    """The initiator building the ticket itself (mode 3), and the answer in a reliable 183
    acknowledged by PRACK, are both compliant."""
    result = synthesize(
        scenario, seed=6, mode3=variant == "mode3", reliable_183=variant == "reliable_183"
    )
    report = analyze_synth(result, tmp_path / "v.pcap")
    (call,) = report.calls
    assert call.verdict is Verdict.PASS, [c for c in call.checks if c.status is Status.FAIL]
    ticket = next(c for c in call.checks if c.rule == "TICKET-OPEN")
    if variant == "mode3":
        assert "[[psk]]" in ticket.message
        assert "built by the initiator (mode 3)" in ticket.message
        assert call.answer_status == 200
    else:
        assert "issued by a KMS" in ticket.message
        assert call.answer_status == 183
