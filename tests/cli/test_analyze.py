"""`mikeyshark analyze` end to end: outputs, exit codes, several captures, keys and exports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from mikeyshark.checks.rules import RULES
from mikeyshark.cli import main
from mikeyshark.report import json_report
from mikeyshark.synth import synthesize, write_capture
from tests.support.analyze import synth_capture


def test_clean_capture_exits_0_and_writes_every_report(tmp_path: Path) -> None:
    pcap, keys = synth_capture(tmp_path, "bfcp-dial-out")
    out = {k: tmp_path / f"r.{k}" for k in ("json", "html", "xml")}
    code = main(
        [
            "analyze",
            str(pcap),
            "--keys",
            str(keys),
            "--json",
            str(out["json"]),
            "--html",
            str(out["html"]),
            "--junit",
            str(out["xml"]),
            "--quiet",
        ]
    )
    assert code == 0
    doc = json.loads(out["json"].read_text())
    jsonschema.validate(doc, json_report.schema())
    assert [c["scenario"] for c in doc["calls"]] == ["bfcp-dial-out"]
    assert doc["calls"][0]["verdict"] == "pass"
    assert doc["calls"][0]["media"][0]["key"]["recovered"] is True
    assert doc["calls"][0]["media"][0]["tls"]["decrypted"] is True
    assert ET.parse(out["xml"]).getroot().get("failures") == "0"
    assert out["html"].read_text().startswith("<!DOCTYPE html>")


def test_failing_rule_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pcap, keys = synth_capture(tmp_path, "msrp-dial-out", "tls-by-offerer")
    (call,) = synthesize("msrp-dial-out", faults=["tls-by-offerer"], seed=4).calls
    assert main(["analyze", str(pcap), "--keys", str(keys)]) == 1
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    # the fault: the MRFP, which offered in dial-out, sent the ClientHello
    assert f"FAIL {call.call_id} TLS-CLIENT: TLS ClientHello came from 203.0.113.30:" in out
    assert "(MRFP, the offerer)" in out


def test_json_to_stdout_keeps_the_summary_off_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pcap, keys = synth_capture(tmp_path, "msrp-dial-in")
    assert main(["analyze", str(pcap), "--keys", str(keys), "--json", "-"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["captures"][0]["path"] == str(pcap)
    # The summary goes to stderr: the capture's frame count (what the synthesizer wrote) and
    # the call's table row, scenario and verdict of a clean synthesized call.
    frames = len(synthesize("msrp-dial-in", seed=4).frames)
    err = " ".join(captured.err.split())  # the console wraps long lines
    assert f"{frames} frames in" in err
    # every rule passes but the two not applicable to a UE-side MSRP call: BFCP-IDS, KMS-RESOLVE;
    # the Mp rules are not counted (no Mp leg in view at the UE)
    counted = [r for r in RULES if r.leg is None]
    assert f"│ 1 │ msrp-dial-in │ pass │ {len(counted) - 2}/0/0 │ - │" in err


def test_usage_and_unreadable_input_exit_2(tmp_path: Path) -> None:
    pcap, _keys = synth_capture(tmp_path, "msrp-dial-in")
    junk = tmp_path / "notes.txt"
    junk.write_text("this is not a capture\n")
    assert main(["analyze", str(junk), "--quiet"]) == 2
    assert main(["analyze", str(tmp_path / "missing.pcap"), "--quiet"]) == 2
    assert main(["analyze", str(pcap), "--keys", str(tmp_path / "nokeys.toml"), "--quiet"]) == 2
    bad_keys = tmp_path / "bad.toml"
    bad_keys.write_text("[[kms]]\nuri = 'x'\nmaster_key = 'zz'\n")
    assert main(["analyze", str(pcap), "--keys", str(bad_keys), "--quiet"]) == 2
    assert main(["analyze", str(pcap), "--psk", "nothex", "--quiet"]) == 2
    assert main(["analyze", str(pcap), "--jobs", "0", "--quiet"]) == 2
    with pytest.raises(SystemExit) as e:
        main(["analyze"])
    assert e.value.code == 2


def test_psk_on_the_command_line_decrypts_without_a_key_file(tmp_path: Path) -> None:
    result = synthesize("msrp-dial-in", seed=4)
    pcap = tmp_path / "c.pcap"
    write_capture(result, pcap)
    tek = result.calls[0].media[0].tek
    out = tmp_path / "r.json"
    code = main(
        ["analyze", str(pcap), "--psk", f"{tek.hex()}:given", "--json", str(out), "--quiet"]
    )
    doc = json.loads(out.read_text())
    checks = {c["rule"]: c["status"] for c in doc["calls"][0]["checks"]}
    assert checks["TLS-KEY"] == "pass"
    assert checks["TICKET-OPEN"] == "not-observed"
    assert checks["MSRP-PATHS"] == "pass"
    assert doc["calls"][0]["verdict"] == "incomplete"
    assert code == 0  # nothing failed; the ticket could not be judged without KMS keys


def test_keys_only_with_reveal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = synthesize("bfcp-dial-in", seed=4)
    pcap = tmp_path / "c.pcap"
    write_capture(result, pcap)
    keys = tmp_path / "k.toml"
    keys.write_text(result.keyfile_text)
    tek = result.calls[0].media[0].tek.hex()
    files = [tmp_path / n for n in ("r.json", "r.html", "r.xml")]
    args = ["analyze", str(pcap), "--keys", str(keys), "--json", str(files[0])]
    args += ["--html", str(files[1]), "--junit", str(files[2])]
    assert main(args) == 0
    shown = capsys.readouterr()
    for text in [f.read_text() for f in files] + [shown.out, shown.err]:
        assert tek not in text
    assert main([*args, "--reveal-keys", "--quiet"]) == 0
    assert json.loads(files[0].read_text())["calls"][0]["media"][0]["key"]["tek"] == tek
    assert tek in files[1].read_text()


def test_several_captures_in_parallel_match_one_by_one(tmp_path: Path) -> None:
    caps = [
        synth_capture(tmp_path, s, seed=i)[0]
        for i, s in enumerate(("msrp-dial-in", "bfcp-dial-out", "msrp-dial-out"))
    ]
    # One key file for all: the captures were made with different keys, so use each one's.
    docs = []
    for extra in ([], ["--jobs", "3"]):
        out = tmp_path / f"all{len(extra)}.json"
        codes = []
        merged: list[dict[str, object]] = []
        for cap in caps:
            codes.append(
                main(
                    [
                        "analyze",
                        str(cap),
                        "--keys",
                        str(cap.with_suffix(".toml")),
                        "--json",
                        str(out),
                        "--quiet",
                        *extra,
                    ]
                )
            )
            merged += json.loads(out.read_text())["calls"]
        docs.append((codes, merged))
    assert docs[0] == docs[1]
    # and several captures in one run, in parallel, keep their order
    out = tmp_path / "par.json"
    keys = caps[0].with_suffix(".toml")
    assert (
        main(
            [
                "analyze",
                *map(str, caps),
                "--keys",
                str(keys),
                "--jobs",
                "2",
                "--json",
                str(out),
                "--quiet",
            ]
        )
        == 1
    )
    doc = json.loads(out.read_text())
    assert [c["path"] for c in doc["captures"]] == [str(c) for c in caps]
    assert [c["capture"] for c in doc["calls"]] == [str(c) for c in caps]
    # the other captures' tickets do not open with the first capture's KMS key
    assert [c["verdict"] for c in doc["calls"]] == ["pass", "fail", "fail"]


def test_progress_bar_appears_only_after_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console
    from rich.progress import Progress

    from mikeyshark.commands import analyze as cmd

    now = [100.0]
    monkeypatch.setattr("mikeyshark.commands.analyze.time.monotonic", lambda: now[0])
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    bar = cmd._LazyProgress(console, "big.pcap")

    def shown() -> Progress | None:
        # read afresh each time: mypy would carry an `is None` narrowing across bar(...) calls
        return bar.bar

    bar(2000, 1_000, 10_000)
    assert shown() is None  # quick captures show no bar
    now[0] = 102.0
    bar(8000, 4_000, 10_000)
    progress = shown()
    assert progress is not None
    task = progress.tasks[0]
    assert task.completed == 4_000
    assert task.total == 10_000
    assert task.fields == {"frames": 8000, "rate": 4000}  # 8000 frames in 2 s
    bar.close()


def test_strict_counts_incomplete_calls_and_empty_captures_as_findings(tmp_path: Path) -> None:
    # Without keys no ticket opens and no TLS key is proven: the rules that need a key are
    # not-observed, so the call is incomplete: exit 0 by the exit codes (docs/cli.md) (no rule
    # failed), 1 with --strict.
    cap = "pcaps/msrp-dial-in.pcap"
    assert main(["analyze", cap, "--quiet"]) == 0
    assert main(["analyze", cap, "--quiet", "--strict"]) == 1
    assert main(["analyze", cap, "--quiet", "--strict", "--keys", "pcaps/demo-keys.toml"]) == 0
    # a capture holding no call at all verifies nothing
    empty = tmp_path / "nocall.pcap"
    empty.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    assert main(["analyze", str(empty), "--quiet"]) == 0
    assert main(["analyze", str(empty), "--quiet", "--strict"]) == 1
