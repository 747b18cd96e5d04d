"""`make demo` as the Makefile writes it: every analyze line of its recipe, run as is (reports
redirected to a temporary directory), shows a conference captured at the UEs and one captured
beside the MRF, whose calls carry the Mp leg (the MRFC's commands to the MRFP) and its KMS leg."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from mikeyshark.cli import main
from tests.support.paths import ROOT

MRFC, MRFP = "192.0.2.20", "203.0.113.30"


def _demo_commands() -> list[list[str]]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", text, re.M)
    assert recipe is not None
    lines = [ln.strip() for ln in recipe.group(1).splitlines()]
    return [shlex.split(ln)[1:] for ln in lines if ln.startswith("$(BIN)/mikeyshark analyze ")]


def test_the_demo_shows_a_conference_at_the_ues_and_one_at_the_mrf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    commands = _demo_commands()
    assert [c[1] for c in commands] == ["pcaps/conference.pcap", "pcaps/conference-mrf.pcap"]
    docs = {}
    for i, args in enumerate(commands):
        html = args.index("--html") + 1
        args = [*args[:html], str(tmp_path / f"{i}.html"), *args[html + 1 :]]
        assert main([*args, "--json", str(tmp_path / f"{i}.json"), "--quiet"]) == 0
        assert (tmp_path / f"{i}.html").stat().st_size > 0
        docs[args[1]] = json.loads((tmp_path / f"{i}.json").read_text())
    capsys.readouterr()
    ue, mrf = docs["pcaps/conference.pcap"], docs["pcaps/conference-mrf.pcap"]
    # the same conference: two UEs dial in, one is dialed out, every call passes
    for doc in (ue, mrf):
        assert sorted(c["scenario"] for c in doc["calls"]) == [
            "msrp+bfcp-dial-in",
            "msrp+bfcp-dial-in",
            "msrp+bfcp-dial-out",
        ]
        assert {c["verdict"] for c in doc["calls"]} == {"pass"}
    assert all("mp" not in m for c in ue["calls"] for m in c["media"])
    # at the MRF every MSRP and BFCP m-line has its termination, given by the MRFC to the MRFP
    for call in mrf["calls"]:
        terms = [m["mp"] for m in call["media"] if m["protocol"] in ("msrp", "bfcp")]
        assert len(terms) == 2
        assert {(t["mrfc"], t["mrfp"]) for t in terms} == {(f"{MRFC}:2944", f"{MRFP}:2944")}
        status = {r["rule"]: r["status"] for r in call["checks"]}
        assert status["MP-PSK"] == status["MP-REMOTE"] == status["MP-LOCAL"] == "pass"
        dial_in = call["scenario"].endswith("dial-in")
        # the MRFC resolves the UE's ticket with the KMS in dial-in only
        assert status["KMS-RESOLVE"] == ("pass" if dial_in else "not-applicable")
