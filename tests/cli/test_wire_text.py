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


def test_escape_call_id_is_shown_in_the_summary_and_junit(tmp_path: Path) -> None:
    """The review's esc.pcap (defects 7 and 8): the Call-ID begins with an SGR colour and an
    OSC 8 hyperlink; the summary printed 12 raw ESC[31m and the JUnit file was not XML."""
    crasher = CRASHER.with_name("review-escape-call-id")
    pcap, keys = crasher.with_suffix(".pcap"), crasher.with_suffix(".toml")
    junit = tmp_path / "r.xml"
    cmd = [sys.executable, "-m", "mikeyshark", "analyze", str(pcap), "--keys", str(keys)]
    done = subprocess.run([*cmd, "--junit", str(junit)], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    shown = "\\x1b[31m\\x1b]8;;x\\x1b\\"  # the 13 bytes, each control as \xNN
    out = done.stdout.decode("utf-8")
    assert "\x1b" not in out and "\x1b" not in done.stderr.decode("utf-8")
    assert shown in out
    suite = ET.fromstring(junit.read_text(encoding="utf-8")).find("testsuite")
    assert suite is not None and shown in suite.get("name", "")
