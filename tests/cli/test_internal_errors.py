"""A bug met during the analysis: exit status 3 (never 1, which a CI gate reads as "a rule
failed"), one line on stderr, and every report still written for every call."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from mikeyshark.checks.evaluate import evaluate_call
from mikeyshark.cli import EXIT_INTERNAL, main
from mikeyshark.model import INTERNAL
from tests.support.paths import DEMO_KEYS, PCAPS


def test_internal_error_exits_3_with_every_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    judged: list[str] = []

    def evaluate(call: Any, ctx: Any) -> Any:
        judged.append(call.call_id)
        if len(judged) == 2:
            raise AttributeError("rule bug")
        return evaluate_call(call, ctx)

    monkeypatch.setattr("mikeyshark.judge.evaluate_call", evaluate)
    out = {k: tmp_path / f"r.{k}" for k in ("json", "html", "xml")}
    rc = main(
        [
            "analyze",
            str(PCAPS / "conference.pcap"),
            "--keys",
            str(DEMO_KEYS),
            "--json",
            str(out["json"]),
            "--html",
            str(out["html"]),
            "--junit",
            str(out["xml"]),
        ]
    )
    assert rc == EXIT_INTERNAL == 3
    err = capsys.readouterr().err
    assert err.startswith(
        "mikeyshark analyze: internal error in 1 place(s), each listed as a problem with "
        f"code {INTERNAL}"
    )
    report = json.loads(out["json"].read_text())
    assert [c["call_id"] for c in report["calls"]] == judged
    (p,) = [e for e in report["captures"][0]["errors"] if e["code"] == INTERNAL]
    assert f"the rules of call {judged[1]}: AttributeError: rule bug" in p["reason"]
    suites = ET.fromstring(out["xml"].read_text()).findall("testsuite")
    assert len(suites) == 3
    assert judged[1] in out["html"].read_text()
