"""``dissect --workers``: the packet list printed by a second process while the first follows
the signalling (mikeyshark.view.parallel) is the one-process list, stderr included."""

from __future__ import annotations

import subprocess
import sys

from mikeyshark.capture import CaptureReader
from tests.support.golden import ROOT

CAPTURE = ROOT / "pcaps/conference.pcap"
BASE = [sys.executable, "-m", "mikeyshark", "dissect", str(CAPTURE)]
BASE += ["--keys", str(ROOT / "pcaps/demo-keys.toml")]


def _run(*extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BASE, *extra], capture_output=True, text=True, check=False)


def test_two_processes_print_the_one_process_list() -> None:
    one, two = _run("--workers", "0"), _run("--workers", "1")
    assert one.returncode == two.returncode == 0
    assert two.stdout == one.stdout
    assert two.stderr == one.stderr
    assert len(one.stdout.splitlines()) == sum(1 for _ in CaptureReader(str(CAPTURE)))
    assert "MSRP" in one.stdout and "SIP/SDP" in one.stdout


def test_count_and_forms_that_stay_in_one_process() -> None:
    one = _run("--workers", "0")
    cut = _run("--workers", "1", "-c", "7")
    assert cut.returncode == 0
    assert cut.stdout.splitlines() == one.stdout.splitlines()[:7]
    # a display filter and the detail tree need SIP itself: one process, same answer
    for extra in (["-Y", "msrp"], ["-V", "-c", "20"]):
        assert _run("--workers", "1", *extra).stdout == _run("--workers", "0", *extra).stdout


def test_negative_workers_is_a_usage_error() -> None:
    bad = _run("--workers", "-1")
    assert bad.returncode == 2
    assert "--workers must be at least 0" in bad.stderr
