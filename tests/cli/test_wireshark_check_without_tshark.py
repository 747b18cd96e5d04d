"""--wireshark-check without tshark: a note on every call, not an error; the analysis and its
exit status are what they are without the check, and the JSON stays valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mikeyshark.cli import main
from mikeyshark.report import json_report
from tests.support.paths import DEMO_KEYS, PCAPS


def test_no_tshark_is_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to run there
    out = tmp_path / "r.json"
    pcap = str(PCAPS / "msrp-dial-in.pcap")
    args = ["analyze", pcap, "--keys", str(DEMO_KEYS), "--wireshark-check", "--json", str(out)]
    assert main(args) == 0
    doc: dict[str, Any] = json.loads(out.read_text())
    jsonschema.validate(doc, json_report.schema())
    ((call),) = doc["calls"]
    assert call["verdict"] == "pass"
    assert call["wireshark_check"] == {
        "status": "not run",
        "tshark": None,
        "compared": {},
        "differences": [],
        "note": "tshark is not installed (apt-get install tshark)",
    }
    assert "WIRESHARK not run" in capsys.readouterr().out


def test_without_the_option_the_json_has_no_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    pcap = str(PCAPS / "msrp-dial-in.pcap")
    assert main(["analyze", pcap, "--keys", str(DEMO_KEYS), "--json", str(out), "--quiet"]) == 0
    assert "wireshark_check" not in json.loads(out.read_text())["calls"][0]
