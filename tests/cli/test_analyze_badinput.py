"""Bad input: a broken packet or call is reported where it is and never stops the others."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from mikeyshark.cli import main
from mikeyshark.model import Frame
from mikeyshark.synth import synthesize
from mikeyshark.synth.net import write_frames
from tests.support.analyze import analyze_frames
from tests.support.paths import ROOT


def _two_calls() -> tuple[list[Frame], str]:
    keytext = synthesize("msrp-dial-in", seed=40).keyfile_text
    a = synthesize("msrp-dial-in", seed=41, keys=keytext)
    b = synthesize("bfcp-dial-out", seed=42, keys=keytext)
    # Move the earlier call forward onto the later one (tickets are valid from their call on).
    shift = b.frames[0].ts_ns - a.frames[0].ts_ns + 50_000_000
    assert shift > 0
    frames = [*(dataclasses.replace(f, ts_ns=f.ts_ns + shift) for f in a.frames), *b.frames]
    frames.sort(key=lambda f: f.ts_ns)
    return [dataclasses.replace(f, number=n) for n, f in enumerate(frames, 1)], keytext


def _break_sdp(frames: list[Frame], first_line: bytes) -> tuple[list[Frame], int]:
    """Replace the base64 of the first a=key-mgmt in the message starting with
    ``first_line`` by bytes that are not base64, keeping every length."""
    out = list(frames)
    for i, f in enumerate(out):
        p = Ether(f.data)
        if UDP not in p:
            continue
        load = bytes(p[UDP].payload)
        if not load.startswith(first_line):
            continue
        at = load.index(b"a=key-mgmt:mikey ") + len(b"a=key-mgmt:mikey ")
        load = load[:at] + b"!!!!" + load[at + 4 :]
        p[UDP].remove_payload()
        p = p / load
        del p[IP].chksum, p[UDP].chksum
        out[i] = dataclasses.replace(f, data=bytes(p))
        return out, f.number
    raise AssertionError("message not found")


def test_one_broken_call_leaves_the_other_alone(tmp_path: Path) -> None:
    frames, keytext = _two_calls()
    broken, frame_no = _break_sdp(frames, b"INVITE sip:conf1")
    report = analyze_frames(broken, keytext, tmp_path / "b.pcap")
    by_scenario = {c.scenario: c for c in report.calls}
    bad, good = by_scenario["msrp-dial-in"], by_scenario["bfcp-dial-out"]
    assert good.verdict.value == "pass"
    assert bad.verdict.value == "fail"
    failed = {c.rule: c for c in bad.checks if c.status.value == "fail"}
    assert "OFFER-KEYMGMT" in failed
    assert "not base64" in failed["OFFER-KEYMGMT"].message
    assert failed["OFFER-KEYMGMT"].frames == (frame_no,)
    errors = report.captures[0].errors
    assert any(e.frame == frame_no and e.layer == "sdp" for e in errors)


def test_truncated_capture_reports_and_analyzes_what_is_there(tmp_path: Path) -> None:
    frames, keytext = _two_calls()
    whole = tmp_path / "whole.pcap"
    write_frames(frames, whole)
    keys = tmp_path / "k.toml"
    keys.write_text(keytext)
    cut = tmp_path / "cut.pcap"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) - 30])  # the last record loses its tail
    out = tmp_path / "r.json"
    code = main(["analyze", str(cut), "--keys", str(keys), "--json", str(out), "--quiet"])
    doc = json.loads(out.read_text())
    cap = doc["captures"][0]
    assert cap["frames"] == len(frames) - 1
    (err,) = [e for e in cap["errors"] if e["layer"] == "capture"]
    assert err["frame"] == len(frames)
    # the last record: a 16-byte pcap record header, then caplen bytes of which 30 were cut
    caplen = len(frames[-1].data)
    assert err["offset"] == len(data) - caplen - 16
    assert f"header says {caplen} bytes, {caplen - 30} left in file" in err["reason"]
    # only the last frame, a 200 OK to BYE, is lost: both calls are still judged compliant
    assert sorted((c["scenario"], c["verdict"]) for c in doc["calls"]) == [
        ("bfcp-dial-out", "pass"),
        ("msrp-dial-in", "pass"),
    ]
    assert code == 0  # docs/cli.md: 0 every call compliant (readable input, not a usage error)


def test_a_malformed_cseq_in_a_response_is_a_problem_of_its_frame(tmp_path: Path) -> None:
    """The review's defect 5: the 200 OK's CSeq with its CR turned into 'M' (a bare LF inside
    the header) made analyze crash with a DissectError traceback; it is now a problem of that
    frame (11, where tshark reads CSeq "1 INVITEM") and the call is still judged."""
    crasher = ROOT / "tests" / "fuzz" / "corpus" / "review-cseq-bare-lf"
    out = tmp_path / "r.json"
    args = [str(crasher.with_suffix(".pcap")), "--keys", str(crasher.with_suffix(".toml"))]
    assert main(["analyze", *args, "--quiet", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    errors = [(e["frame"], e["code"]) for e in report["captures"][0]["errors"]]
    assert (11, "sip.cseq") in errors
    (call,) = report["calls"]
    assert call["call_id"] == "g5by1a2rogubbb8a@198.51.100.11"
    # without a usable answer, what needs it is not observed; the offer is judged
    statuses = {c["rule"]: c["status"] for c in call["checks"]}
    assert (statuses["OFFER-TRANSFER-INIT"], statuses["ANSWER-TRANSFER-RESP"]) == (
        "pass",
        "not-observed",
    )
