"""The Mp leg in the reports of a capture taken at the MRF: the ladder's MRFC/MRFP arrows with
the seed's step numbers, the call page's termination beside the SIP SDP, ``media[].mp`` in
the JSON (schema-valid, the PSK as a fingerprint unless revealed), the terminal's warning.
A capture at the UE keeps its reports as they were: no ``mp`` key, no warning line."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from mikeyshark.report import json_report
from mikeyshark.report.html import render_html
from mikeyshark.report.terminal import print_summary
from mikeyshark.synth import synthesize
from tests.support.analyze import analyze_synth
from tests.support.golden import CASES, OUT
from tests.support.html import ladder_rows

MRFC, MRFP = "192.0.2.20", "203.0.113.30"


@pytest.mark.parametrize(
    ("scenario", "steps"),
    [
        # the reserve-and-configure Add and its Reply are steps 4-6 of dial-in
        ("msrp-dial-in", ["4-6", "4-6", "", ""]),
        # dial-out: the reserve Add 2-4, the configure Modify 9-11, the release no step
        ("bfcp-dial-out", ["2-4", "2-4", "9-11", "9-11", "", ""]),
    ],
)
def test_the_ladder_draws_mp_arrows_between_mrfc_and_mrfp(
    scenario: str, steps: list[str], tmp_path: Path
) -> None:
    result = synthesize(scenario, seed=8, capture_point="mrf")
    report = analyze_synth(result, tmp_path / "c.pcap")
    (call,) = report.calls
    page = ladder_rows(render_html(report))
    rows = [r for r in page.rows.values() if r.id.startswith("c0-f") and r.cells[3] == "H248"]
    # (frame, time, step, protocol, source, destination, info): MRFC -> MRFP and back
    assert [r.cells[2] for r in rows] == steps
    for r in rows:
        assert {r.cells[4].split(":")[0], r.cells[5].split(":")[0]} == {MRFC, MRFP}
    assert rows[0].cells[6].startswith("MEGACO Add T=")
    assert rows[1].cells[6].startswith("MEGACO Reply T=")
    lanes = {ep.ip: role.value for ep, role in call.roles.items()}
    assert (lanes[MRFC], lanes[MRFP]) == ("MRFC", "MRFP")
    # captured at the MRF, the focus's SIP peer is the S-CSCF
    assert lanes["192.0.2.15"] == "S-CSCF"


@pytest.mark.parametrize(
    ("scenario", "fault", "arrows"),
    [
        # dial-out: the reserve Add, the configure Modify, the release Subtract, each answered
        (
            "bfcp-dial-out",
            None,
            [("MRFC", "Add"), ("MRFP", "Reply"), ("MRFC", "Modify"), ("MRFP", "Reply"),
             ("MRFC", "Subtract"), ("MRFP", "Reply")],
        ),
        # the MRFP reports the failed handshake: its Notify (no step of the seed) and the
        # MRFC's Reply travel the other way
        (
            "msrp-dial-in",
            "mp-wrong-psk",
            [("MRFC", "Add"), ("MRFP", "Reply"), ("MRFP", "Notify"), ("MRFC", "Reply"),
             ("MRFC", "Subtract"), ("MRFP", "Reply")],
        ),
    ],
)  # fmt: skip
def test_every_mp_command_and_reply_is_an_arrow_from_its_sender(
    scenario: str, fault: str | None, arrows: list[tuple[str, str]], tmp_path: Path
) -> None:
    result = synthesize(scenario, seed=8, capture_point="mrf", faults=[fault] if fault else [])
    report = analyze_synth(result, tmp_path / "c.pcap")
    rows = [
        r
        for r in ladder_rows(render_html(report)).rows.values()
        if r.id.startswith("c0-f") and r.cells[3] == "H248"
    ]
    sender = {MRFC: "MRFC", MRFP: "MRFP"}
    got = [(sender[r.cells[4].split(":")[0]], r.cells[6].split()[1]) for r in rows]
    assert got == arrows
    if fault:
        (notify,) = [r for r in rows if r.cells[6].startswith("MEGACO Notify")]
        assert "mkstls/tlsfail" in notify.cells[6] and notify.cells[2] == ""


def test_the_call_page_sets_the_termination_beside_the_sdp(tmp_path: Path) -> None:
    result = synthesize("msrp-dial-in", seed=8, capture_point="mrf", faults=["mp-wrong-remote"])
    report = analyze_synth(result, tmp_path / "c.pcap")
    html = render_html(report)
    assert "Mp termination" in html
    (call,) = report.calls
    m = call.media[0]
    assert m.offer is not None and m.mp is not None and m.mp.remote is not None
    # the one row that differs is the Remote's port: the UE's port plus 2 (the fault)
    assert m.mp.remote.port == m.offer.port + 2
    differs = html.split('<tr class="differs">')[1:]
    assert len(differs) == 1
    assert f'<td class="mono">{m.offer.port + 2}</td>' in differs[0]
    assert f'<td class="mono fail">{m.offer.port}</td>' in differs[0]


def test_json_carries_media_mp_and_hides_the_psk_unless_revealed(tmp_path: Path) -> None:
    result = synthesize("msrp-dial-out", seed=8, capture_point="mrf")
    report = analyze_synth(result, tmp_path / "c.pcap")
    tek = result.calls[0].media[0].tek
    for reveal in (False, True):
        doc = json.loads(json_report.dumps(dataclasses.replace(report, reveal_keys=reveal)))
        jsonschema.validate(doc, json_report.schema())
        mp = doc["calls"][0]["media"][0]["mp"]
        assert mp["psk"] == (tek.hex() if reveal else None)
        assert mp["psk_fingerprint"].startswith("sha256:")
        assert (mp["mrfc"], mp["mrfp"]) == (f"{MRFC}:2944", f"{MRFP}:2944")
        assert (mp["role"], mp["setup"]) == ("server", "passive")  # dial-out: UE-B connects
        assert mp["events"] == ["tcp_fail_event", "tls_fail_event"]
        assert [t["command"] for t in mp["transactions"]] == ["Add", "Modify", "Subtract"]
        assert all(t["reply_frame"] > t["request_frame"] for t in mp["transactions"])
        assert mp["pskid"] == result.calls[0].media[0].psk_identity
    text = json_report.dumps(report)
    assert tek.hex() not in text


def test_a_ue_side_report_has_no_mp_and_no_warning(tmp_path: Path) -> None:
    report = analyze_synth(synthesize("msrp-dial-in", seed=8), tmp_path / "ue.pcap")
    doc = json.loads(json_report.dumps(report))
    assert all("mp" not in m for c in doc["calls"] for m in c["media"])
    buf = io.StringIO()
    print_summary(report, Console(file=buf, width=200, color_system=None))
    assert "WARN" not in buf.getvalue() and "MP-" not in buf.getvalue()


def test_the_terminal_warns_of_the_psk_in_the_clear(tmp_path: Path) -> None:
    report = analyze_synth(
        synthesize("msrp-dial-in", seed=8, capture_point="mrf"), tmp_path / "m.pcap"
    )
    buf = io.StringIO()
    print_summary(report, Console(file=buf, width=300, color_system=None))
    out = buf.getvalue()
    (line,) = [ln for ln in out.splitlines() if ln.startswith("WARN ")]
    assert "MP-CLEARTEXT: the PSK (sha256:" in line
    assert "crossed Mp in the clear (UDP, Add (frame " in line
    assert "1 pass, 0 fail" in out


# the Mp rules of docs/rules.md
MP_RULES = {
    "MP-PRESENT", "MP-PSK", "MP-REMOTE", "MP-LOCAL", "MP-ROLE", "MP-ORDER", "MP-EVENTS",
    "MP-REPLY", "MP-PSKID", "MP-CLEARTEXT", "MP-BFCP-DIALOUT",
}  # fmt: skip


def test_ue_side_golden_reports_differ_only_by_the_not_observed_mp_rules() -> None:
    """The recorded outputs of every shipped capture without an Mp leg: each call gains the
    eleven Mp rules, not observed (MP-BFCP-DIALOUT not applicable without BFCP dial-out), no
    ``mp`` in its media, and its verdict is still the one the other rules give; the
    terminal says nothing of Mp."""
    judged = 0
    for capture in CASES:
        if capture == "pcaps/conference-mrf.pcap":
            continue
        name = Path(capture).stem
        doc = json.loads((OUT / f"{name}.analyze.json").read_text(encoding="utf-8"))
        for call in doc["calls"]:
            assert all("mp" not in m for m in call["media"])
            mp = {r["rule"]: r["status"] for r in call["checks"] if r["rule"].startswith("MP-")}
            assert set(mp) == MP_RULES, name
            dialout_bfcp = call["scenario"].endswith("dial-out") and any(
                m["protocol"] == "bfcp" for m in call["media"]
            )
            for rule, status in mp.items():
                if rule == "MP-BFCP-DIALOUT" and not dialout_bfcp:
                    assert status in ("not-applicable", "not-observed"), (name, rule)
                else:
                    assert status == "not-observed", (name, rule)
            others = {r["status"] for r in call["checks"] if not r["rule"].startswith("MP-")}
            want = (
                "fail" if "fail" in others else "incomplete" if "not-observed" in others else "pass"
            )
            assert call["verdict"] == want, name
            judged += 1
        terminal = (OUT / f"{name}.analyze.txt").read_text(encoding="utf-8")
        assert "MP-" not in terminal and "WARN" not in terminal, name
    assert judged >= 8
