"""analyze --wireshark-check against tshark 4.0: Wireshark's dissectors, given the keys we
recovered, read every shipped capture as we do; and where tshark 4.0 is known to differ -
it nests a BFCP attribute that follows a text attribute padded with 3 bytes inside the group
of that text (a FloorRequestStatus whose STATUS-INFO is "Granted": 7 octets, length 9, 3 of
padding; RFC 4582 section 5.2: a grouped attribute's length counts its nested attributes'
padding) - the call is reported as disagreeing, at those frames, not as agreeing."""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mikeyshark.cli import main
from mikeyshark.dissectors import bfcp
from mikeyshark.report import json_report
from mikeyshark.synth import synthesize, write_capture
from tests.support.paths import DEMO_KEYS, PCAPS

pytestmark = pytest.mark.tshark

SHIPPED = sorted(p.name for p in PCAPS.glob("*.pcap"))


def _check(pcap: Path, keys: Path, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "r.json"
    rc = main(["analyze", str(pcap), "--keys", str(keys), "--wireshark-check", "--json", str(out)])
    assert rc == 0
    doc: dict[str, Any] = json.loads(out.read_text())
    jsonschema.validate(doc, json_report.schema())
    return doc


@pytest.mark.parametrize("name", SHIPPED)
def test_wireshark_agrees_on_every_shipped_capture(
    tmp_path: Path, tshark: str, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _check(PCAPS / name, DEMO_KEYS, tmp_path)
    assert doc["calls"]
    for call in doc["calls"]:
        w = call["wireshark_check"]
        assert (w["status"], w["differences"], w["note"]) == ("agree", [], None)
        assert w["tshark"].startswith(("4.", "5."))
        media = call["media"]
        for proto in ("msrp", "bfcp"):
            ours = sum(len(m["messages"]) for m in media if m["protocol"] == proto)
            assert w["compared"].get(f"{proto.upper()} messages", 0) == ours
        assert w["compared"]["SIP messages"] >= 6  # INVITE, 100, 200, ACK, BYE, 200 at least
        assert w["compared"]["decrypted TLS records"] > 0
    assert "WIRESHARK agrees" in capsys.readouterr().out


def test_tshark_4_nesting_of_bfcp_after_padded_text_is_a_disagreement(
    tmp_path: Path, tshark: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        bfcp,
        "floor_request_status",
        functools.partial(bfcp.floor_request_status, status_info="Granted"),
    )
    result = synthesize("bfcp-dial-in", seed=5)
    pcap, keys = tmp_path / "quirk.pcap", tmp_path / "quirk.toml"
    write_capture(result, pcap)
    keys.write_text(result.keyfile_text)
    (call,) = _check(pcap, keys, tmp_path)["calls"]
    statuses = [
        m["frame"] for m in call["media"][0]["messages"] if m["primitive"] == "FloorRequestStatus"
    ]
    assert len(statuses) == 2  # the grant and the release
    w = call["wireshark_check"]
    assert w["status"] == "disagree"
    # FLOOR-REQUEST-INFORMATION (15) holds OVERALL-REQUEST-STATUS (18: REQUEST-STATUS 5,
    # STATUS-INFO 9) and FLOOR-REQUEST-STATUS (17); tshark 4.0.17 puts 17 inside 18
    assert w["differences"] == [
        {
            "frame": f,
            "what": "BFCP FloorRequestStatus attributes",
            "ours": "15(18(5,9),17)",
            "wireshark": "15(18(5,9,17))",
        }
        for f in statuses
    ]
    # everything else agrees: the primitives, the SIP, the records
    assert w["compared"]["BFCP messages"] == len(call["media"][0]["messages"])


def test_the_check_runs_after_asyncio_left_the_thread_without_a_loop(
    tmp_path: Path, tshark: str
) -> None:
    # asyncio.run() leaves the main thread with no current event loop (as the replay
    # command does); pyshark must not depend on one
    asyncio.run(asyncio.sleep(0))
    (call,) = _check(PCAPS / "msrp-dial-in.pcap", DEMO_KEYS, tmp_path)["calls"]
    assert call["wireshark_check"]["status"] == "agree"
