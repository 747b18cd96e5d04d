"""JSON (validated against the shipped JSON Schema), JUnit (parsed back), terminal summary."""

from __future__ import annotations

import enum
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from rich.console import Console

from mikeyshark.checks.evaluate import Context, evaluate_call
from mikeyshark.checks.rules import RULES
from mikeyshark.cli import main
from mikeyshark.evidence import CaptureInfo, CheckResult, MediaMessage, Status
from mikeyshark.model import Problem, Severity
from mikeyshark.report import json_report, junit
from mikeyshark.report.model import KeyRow, Report
from mikeyshark.report.output import _umask, open_text
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

    # the same fingerprint as the dissect view and keys resolve show
    fp = "sha256:" + hashlib.sha256(TEK).hexdigest()[:8]
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
    assert len(cases) == 2 * len(RULES)
    assert root.get("tests") == str(2 * len(RULES))
    failures = root.findall("./testsuite/testcase/failure")
    assert len(failures) == 1
    failed_case = next(c for c in cases if c.find("failure") is not None)
    assert failed_case.get("name") == "TLS-CLIENT"
    assert (
        failed_case.get("classname") == "mikeyshark.msrp-dial-in.bad-call@example_org"
    )  # dots would nest packages
    assert "10.0.0.5:43120" in (failures[0].get("message") or "")
    skipped = root.findall("./testsuite/testcase/skipped")
    # GEN-AUTH, KMS-RESOLVE and BFCP-IDS do not apply to an MSRP call without a policy; the 11
    # Mp rules are not observed (no Mp leg at the UE): skipped too.
    assert len(skipped) == 2 * (3 + 11)
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


def test_json_summary_counts_the_calls() -> None:
    report = _report()
    third = clean_call()
    third.call_id = "third@example.org"
    third.media[0].tls.client = third.media[0].tcp.server  # type: ignore[union-attr]
    third.media[0].init.rand = bytes([1] * 16)  # type: ignore[union-attr]
    evaluate_call(third, Context())
    report.calls = [*report.calls, third]
    doc = json.loads(json_report.dumps(report))
    jsonschema.validate(doc, json_report.schema())
    # two calls fail TLS-CLIENT (the TLS client is the MRFP), one passes; one capture problem
    assert doc["summary"] == {
        "calls": 3,
        "verdicts": {"pass": 1, "fail": 2, "incomplete": 0},
        "scenarios": {"msrp-dial-in": {"pass": 1, "fail": 2, "incomplete": 0}},
        "failing_rules": [{"rule": "TLS-CLIENT", "calls": 2}],
        "captures": [{"path": "sample.pcap", "frames": 20, "problems": 1}],
    }
    assert list(doc) == ["tool", "captures", "calls", "unbound_media", "summary"]


def test_json_stream_is_what_json_dumps_writes_for_the_whole_document() -> None:
    report = _report()
    # text a writer could mangle: non-ASCII, quotes, backslashes, control characters
    report.calls[1].call_id = 'b\u00e9d "call" \\ \x1b[31m\n@example.org'
    text = json_report.dumps(report)
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
    empty = json_report.dumps(Report("0.1.0"))
    assert empty == json.dumps(json.loads(empty), indent=2, ensure_ascii=False) + "\n"
    assert json.loads(empty)["calls"] == []


def test_json_and_junit_are_written_call_by_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the second call is turned into text, the first is already in the stream."""
    report = _report()
    out = io.StringIO()
    seen: list[str] = []

    def spy(real: Any) -> Any:
        def wrapped(call: Any, *args: Any) -> Any:
            seen.append(out.getvalue())
            return real(call, *args)

        return wrapped

    monkeypatch.setattr(json_report, "call_json", spy(json_report.call_json))
    json_report.write(report, out)
    assert len(seen) == 2
    assert '"call_id": "bad-call@example.org"' not in seen[1]
    assert seen[1].count('"call_id": ') == 1  # the good call, written whole
    assert seen[1].endswith("}")
    seen.clear()
    out = io.StringIO()
    monkeypatch.setattr(junit, "_suite", spy(junit._suite))
    junit.write(report, out)
    assert len(seen) == 2
    assert seen[1].count("</testsuite>") == 1


def test_junit_is_well_formed_for_any_wire_text() -> None:
    report = _report()
    hostile = "evil\x00\x1b[2J\ud800\ufffe<&>\"'@example.org"
    report.calls[1].call_id = hostile
    text = junit.junit_xml(report)
    root = ET.fromstring(text.encode("utf-8"))
    props = {
        p.get("name"): p.get("value") for p in root.findall("./testsuite[2]/properties/property")
    }
    assert props["call_id"] == "evil\\x00\\x1b[2J\\ud800\\ufffe<&>\"'@example.org"
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name=')


def test_a_report_file_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("the previous report\n")
    with pytest.raises(RuntimeError), open_text(str(target)) as f:
        f.write("half a rep")
        raise RuntimeError("disk full")
    assert target.read_text() == "the previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    with open_text(str(target)) as f:
        f.write("the new report\n")
    assert target.read_text() == "the new report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_an_unwritable_report_does_not_stop_the_others(tmp_path: Path) -> None:
    args = ["analyze", str(PCAPS / "msrp-dial-in.pcap"), "--keys", str(PCAPS / "demo-keys.toml")]
    html, junit_out = tmp_path / "r.html", tmp_path / "r.xml"
    missing = tmp_path / "no-such-dir" / "r.json"
    code = main([*args, "--json", str(missing), "--html", str(html), "--junit", str(junit_out)])
    assert code == 2
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert ET.parse(junit_out).getroot().get("tests") == str(len(RULES))
    assert not missing.parent.exists()


class _Colour(enum.StrEnum):
    RED = "r\u00e9d"


class _Level(enum.IntEnum):
    HIGH = 7


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_json_pieces_are_what_the_standard_library_writes(level: int) -> None:
    # The report's own encoder against json.dumps(indent=2): every kind of value a report
    # holds or could hold (enums, tuples, non-string keys, escapes, empty containers).
    doc: dict[Any, Any] = {
        "numbers": [0, -1, 10**30, 2.5, -0.0, 1e300, float("nan"), float("inf"), -float("inf")],
        "flags": [True, False, None],
        "empty": [{}, [], ()],
        "nested": {"a": [{"b": [[[]]]}], "c": {"d": {}}, "t": (1, (2, "3"))},
        "text": 'quote" backslash\\ nul\x00 line\n tab\t é 漢 \U0001f600',
        3: "int key",
        2.5: "float key",
        None: "None key",
        True: "bool key",
        _Colour.RED: [_Colour.RED, _Level.HIGH],
    }
    want = json.dumps(doc, indent=2, ensure_ascii=False).replace("\n", "\n" + "  " * level)
    assert json_report._dump(doc, level) == want


def test_a_spooled_entry_is_the_json_of_the_call() -> None:
    """call_parts writes the messages straight from their fields: the text must be the one
    json.dumps(indent=2) gives for call_json, whatever the fields hold."""
    call = clean_call()
    evaluate_call(call, Context())
    call.checks.append(CheckResult("ODD", Status.INFO, (True, 3), 'a "quoted"\n é', Severity.INFO))
    first = call.media[0].messages[0]
    odd: list[dict[Any, Any]] = [
        {"nested": {"list": [1, (2, "3")], "empty": {}, "none": []}, "raw": b"\x01\xff"},
        {"level": _Level.HIGH, "colour": _Colour.RED, "where": first.src, "ratio": 0.5},
        {3: "an int key", "3": "the same key once made text"},
        {"frame": 99, "from": "fields that name the keys added after them"},
        {},
    ]
    base = first.fields
    call.media[0].messages += [
        MediaMessage(7 + i, 0, first.src, first.dst, "odd", {**base, **f})
        for i, f in enumerate(odd)
    ]
    head, media, tail = json_report.call_parts(call, False)
    want = json.dumps(json_report.call_json(call, False), indent=2, ensure_ascii=False)
    assert head + media + tail == want.replace("\n", "\n    ")
    assert media.startswith("[\n")
    assert json.loads(media)[0]["messages"][-5]["raw"] == "01ff"
    checks = json.loads(head + media + tail)["checks"]
    assert len(checks) == len(RULES) + 1 and checks[-1]["frames"] == [True, 3]


def _checks_text(checks: list[CheckResult], level: int) -> str:
    out: list[str] = []
    json_report._Checks(checks).encode("\n" + "  " * level, out)
    return "".join(out)


def test_checks_of_one_rule_and_status_share_their_text_not_their_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the text around a check's frames and message is kept by rule, status, severity and
    # indentation: checks that share them still show their own frames and message, at
    # their own depth, and the kept texts stay within their budget
    monkeypatch.setattr(json_report, "_CHECK_TEXT", {})
    monkeypatch.setattr(json_report, "MAX_CHECK_TEXTS", 2)
    one = CheckResult("TLS-KEY", Status.PASS, (7,), "first", Severity.ERROR)
    two = CheckResult("TLS-KEY", Status.PASS, (), 'second "one"', Severity.ERROR)
    three = CheckResult("TLS-KEY", Status.PASS, (True,), "a bool frame", Severity.ERROR)
    for level in (2, 3, 2, 1):
        for checks in ([one, two], [two, one, three], [one]):
            want = [json_report._check(c) for c in checks]
            text = _checks_text(checks, level)
            assert text == json.dumps(want, indent=2).replace("\n", "\n" + "  " * level)
            assert len(json_report._CHECK_TEXT) <= 2
    assert json.loads(_checks_text([three], 0))[0]["frames"] == [True]
