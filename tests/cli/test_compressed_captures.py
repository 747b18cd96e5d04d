"""analyze and dissect give the same output for a capture and for the same capture compressed
(by Python's gzip, bz2 and lzma encoders), from a file and from standard input."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mikeyshark.cli import main
from tests.support.paths import DEMO_KEYS, PCAPS

ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
}
SHIPPED = ["conference.pcap", "msrp-dial-in.pcap", "msrp-dial-out.pcap", "bfcp-dial-in.pcap"]


def _analyze(path: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    rc = main(["analyze", path, "--keys", str(DEMO_KEYS), "--json", "-"])
    out, _ = capsys.readouterr()
    assert rc == 0
    doc: dict[str, Any] = json.loads(out.replace(path, "CAPTURE"))
    return doc


@pytest.mark.parametrize("ext", sorted(ENCODERS))
@pytest.mark.parametrize("name", SHIPPED)
def test_analyze_json_of_a_compressed_capture_is_the_originals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, ext: str
) -> None:
    packed = tmp_path / f"{name}.{ext}"
    packed.write_bytes(ENCODERS[ext]((PCAPS / name).read_bytes()))
    want = _analyze(str(PCAPS / name), capsys)
    assert want["calls"]  # the comparison is about calls, not two empty reports
    assert _analyze(str(packed), capsys) == want


def test_dissect_of_a_gzipped_capture_is_the_originals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packed = tmp_path / "c.pcap.gz"
    packed.write_bytes(gzip.compress((PCAPS / "conference.pcap").read_bytes()))
    keys = ["--keys", str(DEMO_KEYS)]
    assert main(["dissect", str(PCAPS / "conference.pcap"), *keys]) == 0
    want, _ = capsys.readouterr()
    assert main(["dissect", str(packed), *keys]) == 0
    got, _ = capsys.readouterr()
    assert got == want and len(want.splitlines()) >= 202


@pytest.mark.parametrize("verb", ["analyze", "dissect"])
def test_compressed_capture_on_standard_input(verb: str) -> None:
    raw = (PCAPS / "msrp-dial-in.pcap").read_bytes()
    cmd = [sys.executable, "-m", "mikeyshark", verb, "-", "--json"]
    if verb == "analyze":
        cmd.append("-")
    want = subprocess.run(cmd, input=raw, capture_output=True, timeout=120, check=True).stdout
    got = subprocess.run(
        cmd, input=lzma.compress(raw), capture_output=True, timeout=120, check=True
    ).stdout
    assert got == want
    # not two empty outputs: the call (analyze) or its 44 frames (dissect)
    assert b'"scenario": "msrp-dial-in"' in want if verb == "analyze" else want.count(b"\n") == 44
