"""`mikeyshark analyze` on a pipe, as `| grep FAIL` and `| cat` see it: one line per failing
rule with its frames, nothing wrapped, the totals last; a hint when keys would judge more."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from mikeyshark.commands.analyze import _LazyProgress
from mikeyshark.synth import synthesize, write_capture
from tests.support.paths import PCAPS


def _piped(*args: str) -> subprocess.CompletedProcess[str]:
    """The command with stdout on a pipe read by `cat`, on an 80-column "terminal" setting."""
    cmd = [sys.executable, "-m", "mikeyshark", *args]
    env = dict(os.environ, COLUMNS="80", LINES="24")
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env) as producer:
        done = subprocess.run(
            ["cat"], stdin=producer.stdout, capture_output=True, text=True, timeout=120
        )
        code = producer.wait(timeout=120)
    return subprocess.CompletedProcess(cmd, code, done.stdout, done.stderr)


def test_every_fail_line_keeps_its_frames_and_the_totals_come_last(tmp_path: Path) -> None:
    result = synthesize("msrp-dial-in", faults=["tls-by-offerer", "id-mismatch"], seed=3)
    pcap = tmp_path / "f.pcap"
    write_capture(result, pcap)
    keys = tmp_path / "k.toml"
    keys.write_text(result.keyfile_text)
    report = tmp_path / "r.json"
    run = _piped("analyze", str(pcap), "--keys", str(keys), "--json", str(report))
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    fails = [ln for ln in lines if ln.startswith("FAIL ")]
    (call,) = json.loads(report.read_text())["calls"]
    failing = [c for c in call["checks"] if c["status"] == "fail"]
    assert {c["rule"] for c in failing} >= {"TLS-CLIENT", "OFFER-IDS"}
    assert len(fails) == len(failing)
    for line, check in zip(fails, failing, strict=True):
        frames = check["frames"]
        where = f"frame {frames[0]}" if len(frames) == 1 else f"frames {frames[0]}, "
        assert line.startswith(f"FAIL {call['call_id']} {check['rule']}: {check['message']} (")
        assert where in line
        assert len(line) > 80  # it would have been wrapped on an 80-column terminal
    assert lines[-1] == "total: 1 call: 0 pass, 1 fail, 0 incomplete (1 capture, " + (
        f"{len(result.frames)} frames, 0 problems)"
    )


def test_without_keys_a_hint_names_the_option_that_would_judge_more() -> None:
    run = _piped("analyze", str(PCAPS / "conference.pcap"))
    assert run.returncode == 0
    lines = run.stdout.splitlines()
    # TICKET-OPEN, TICKET-VALID, INIT-MAC, RESP-MAC need the ticket opened; TLS-KEY,
    # MSRP-PATHS and BFCP-IDS the TEK it carries
    assert lines[-2] == "hint: 7 rules not observed for lack of keys: --keys FILE would judge them"
    assert (
        lines[-1]
        == "total: 3 calls: 0 pass, 0 fail, 3 incomplete (1 capture, 202 frames, 0 problems)"
    )
    with_keys = _piped(
        "analyze", str(PCAPS / "conference.pcap"), "--keys", str(PCAPS / "demo-keys.toml")
    )
    assert not any(ln.startswith("hint") for ln in with_keys.stdout.splitlines())


def test_no_progress_bar_where_stderr_is_not_a_terminal() -> None:
    # a capture read for over a second, its progress told to a console writing to a file
    # (stderr redirected, a pipe, a test's capture): nothing, not even rich's blank line
    out = io.StringIO()
    console = Console(file=out)
    assert not console.is_terminal
    progress = _LazyProgress(console, "long.pcap")
    progress.start -= 5.0
    progress(1000, 50, 100)
    progress.close()
    assert out.getvalue() == ""
