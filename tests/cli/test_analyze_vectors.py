"""The independent vectors (tests/vectors, produced outside this code base; see its README)
through `mikeyshark analyze`."""

from __future__ import annotations

import json
from pathlib import Path

from mikeyshark.cli import main


def test_rfc3830_psk_init_in_sdp_is_not_a_transfer_init(vectors: Path, tmp_path: Path) -> None:
    """sip_sdp_keymgmt.pcap: one INVITE with TCP/TLS/MSRP and TCP/TLS/BFCP m-lines whose
    a=key-mgmt:mikey holds an RFC 3830 PSK-init (data type 0), no answer, no media."""
    out = tmp_path / "r.json"
    code = main(
        ["analyze", str(vectors / "sip" / "sip_sdp_keymgmt.pcap"), "--json", str(out), "--quiet"]
    )
    assert code == 1
    (call,) = json.loads(out.read_text())["calls"]
    assert [m["proto"] for m in call["media"]] == ["TCP/TLS/MSRP", "TCP/TLS/BFCP"]
    assert [m["protocol"] for m in call["media"]] == ["msrp", "bfcp"]
    assert call["media"][0]["mikey"]["data_type"] == "Pre-shared"
    got = {c["rule"]: c for c in call["checks"]}
    assert got["OFFER-PROTO"]["status"] == "pass"
    assert got["OFFER-KEYMGMT"]["status"] == "pass"
    assert got["OFFER-TRANSFER-INIT"]["status"] == "fail"
    assert got["OFFER-TRANSFER-INIT"]["frames"] == [1]
    assert "not TRANSFER_INIT" in got["OFFER-TRANSFER-INIT"]["message"]
    # no answer, no TCP in the capture: never a pass
    for rule in ("ANSWER-TRANSFER-RESP", "ANSWER-SETUP", "TCP-DIRECTION", "TLS-KEY", "ORDER"):
        assert got[rule]["status"] == "not-observed", rule
    # without a focus Contact or a [conference] policy the direction is unknown
    assert call["scenario"] == "unknown"
    assert got["GEN-AUTH"]["status"] == "not-applicable"
