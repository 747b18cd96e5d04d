"""JSON (validated against the shipped JSON Schema), JUnit (parsed back), terminal summary."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from mikeyshark.checks.evaluate import Context, evaluate_call
from mikeyshark.cli import main
from mikeyshark.model import Problem
from mikeyshark.report import json_report, junit
from mikeyshark.report.model import CaptureInfo, KeyRow, Report
from mikeyshark.report.terminal import print_summary
from tests.support.paths import PCAPS
from tests.support.report_samples import TEK, clean_call


def _report(reveal: bool = False) -> Report:
    good = clean_call()
    bad = clean_call()
    bad.call_id = "bad-call@example.org"
    bad.media[0].tls.client = bad.media[0].tcp.server  # type: ignore[union-attr]
    ctx = Context()
    evaluate_call(good, ctx)
    bad.media[0].init.rand = bytes(16)  # type: ignore[union-attr]  # not a replay of `good`
    evaluate_call(bad, ctx)
    cap = CaptureInfo("sample.pcap", 20, [Problem("sip", "Content-Length 99 > body", 7)])
    return Report(
        "0.1.0",
        [cap],
        [good, bad],
        [KeyRow("KMS master key", "kms.example.org", bytes(32))],
        reveal_keys=reveal,
    )


def test_json_validates_against_the_schema() -> None:
    doc = json.loads(json_report.dumps(_report()))
    jsonschema.validate(doc, json_report.schema())
    assert doc["tool"] == {"name": "mikeyshark", "version": "0.1.0"}
    assert doc["captures"][0]["errors"][0]["frame"] == 7
    assert doc["captures"][0]["errors"][0]["layer"] == "sip"
    good, bad = doc["calls"]
    assert good["verdict"] == "pass"
    assert bad["verdict"] == "fail"
    assert [c["rule"] for c in bad["checks"] if c["status"] == "fail"] == ["TLS-CLIENT"]
    media = good["media"][0]
    assert media["protocol"] == "msrp"
    assert media["proto"] == "TCP/TLS/MSRP"
    assert media["mikey"]["csb_id"] == 0x01020304
    assert media["tcp"] == {
        "client": "10.0.1.20:50001",
        "server": "10.0.0.5:43120",
        "syn_frame": 3,
        "bound_by": "sdp",
    }
    assert media["tls"]["psk_identity"] == "mikey:01020304:01"
    assert media["messages"][0]["from"] == "10.0.0.5:43120"
    assert media["messages"][0]["body"] == "hello"


def test_json_hides_the_tek_unless_revealed() -> None:
    hidden = json_report.dumps(_report())
    assert TEK.hex() not in hidden
    doc = json.loads(hidden)
    assert doc["calls"][0]["media"][0]["key"]["tek"] is None
    import hashlib

    fp = hashlib.sha256(TEK).hexdigest()[:8]
    assert doc["calls"][0]["media"][0]["key"]["tek_fingerprint"] == fp
    shown = json.loads(json_report.dumps(_report(reveal=True)))
    assert shown["calls"][0]["media"][0]["key"]["tek"] == TEK.hex()
    jsonschema.validate(shown, json_report.schema())


def test_schema_rejects_what_the_contract_forbids() -> None:
    doc = json.loads(json_report.dumps(_report()))
    doc["calls"][0]["verdict"] = "ok"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, json_report.schema())
    doc = json.loads(json_report.dumps(_report()))
    doc["calls"][0]["checks"][0]["status"] = "passed"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, json_report.schema())
    doc = json.loads(json_report.dumps(_report()))
    del doc["calls"][0]["media"][0]["tls"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, json_report.schema())


def test_junit_parses_back_one_case_per_rule_per_call() -> None:
    text = junit.junit_xml(_report())
    root = ET.fromstring(text.encode())
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 2
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 2 * 26
    assert root.get("tests") == "52"
    failures = root.findall("./testsuite/testcase/failure")
    assert len(failures) == 1
    failed_case = next(c for c in cases if c.find("failure") is not None)
    assert failed_case.get("name") == "TLS-CLIENT"
    assert (
        failed_case.get("classname") == "mikeyshark.msrp-dial-in.bad-call@example_org"
    )  # dots would nest packages
    assert "10.0.0.5:43120" in (failures[0].get("message") or "")
    skipped = root.findall("./testsuite/testcase/skipped")
    # GEN-AUTH, KMS-RESOLVE and BFCP-IDS do not apply to an MSRP call without a policy.
    assert len(skipped) == 2 * 3
    assert suites[1].get("failures") == "1"


def test_terminal_summary_names_the_failing_rule() -> None:
    buf = io.StringIO()
    print_summary(_report(), Console(file=buf, width=200, color_system=None))
    out = buf.getvalue()
    assert "sample.pcap: 20 frames" in out
    assert "frame 7" in out
    assert "FAIL bad-call@example.org TLS-CLIENT" in out
    assert "msrp-dial-in" in out


def test_conference_json_validates(tmp_path: Path) -> None:
    pcaps = PCAPS
    out = tmp_path / "conf.json"
    args = ["analyze", str(pcaps / "conference.pcap"), "--keys", str(pcaps / "demo-keys.toml")]
    assert main([*args, "--json", str(out), "--quiet"]) == 0
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, json_report.schema())
    assert [c["scenario"] for c in doc["calls"]] == [
        "msrp+bfcp-dial-in",
        "msrp+bfcp-dial-in",
        "msrp+bfcp-dial-out",
    ]
    bad = dict(doc["calls"][0], scenario="msrp-dial-sideways")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(doc, calls=[bad]), json_report.schema())
