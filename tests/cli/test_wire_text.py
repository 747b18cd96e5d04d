"""The review's Latin-1 Call-ID (one byte 0xE9 in place of the first): every report is
written, valid UTF-8, with the byte shown as \\xe9 (it made --json FILE, --html and --junit
fail after the analysis, leaving an empty JUnit file, and --json - write invalid UTF-8)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.support.paths import ROOT

CRASHER = ROOT / "tests" / "fuzz" / "corpus" / "review-latin1-call-id"


def test_latin1_call_id_in_every_report(tmp_path: Path) -> None:
    pcap, keys = CRASHER.with_suffix(".pcap"), CRASHER.with_suffix(".toml")
    out = {k: tmp_path / f"r.{k}" for k in ("json", "html", "xml")}
    cmd = [sys.executable, "-m", "mikeyshark", "analyze", str(pcap), "--keys", str(keys)]
    files = ["--json", str(out["json"]), "--html", str(out["html"]), "--junit", str(out["xml"])]
    done = subprocess.run([*cmd, *files], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (call,) = json.loads(out["json"].read_text(encoding="utf-8"))["calls"]
    # the Call-ID synth gave this call, its first character replaced by the byte 0xE9
    assert call["call_id"] == "\\xe95by1a2rogubbb8a@198.51.100.11"
    assert "\\xe95by1a2rogubbb8a@198.51.100.11" in out["html"].read_text(encoding="utf-8")
    suite = ET.fromstring(out["xml"].read_text(encoding="utf-8")).find("testsuite")
    assert suite is not None and "\\xe95by1a2rogubbb8a" in suite.get("name", "")
    # the terminal summary and --json - are UTF-8 too
    assert "\\xe95by1a2" in done.stdout.decode("utf-8")
    piped = subprocess.run([*cmd, "--json", "-"], capture_output=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout.decode("utf-8"))["calls"][0]["call_id"].startswith("\\xe9")
