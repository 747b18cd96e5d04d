"""tshark reads the same gzipped captures as mikeyshark: same frame count, same frame times."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest

from mikeyshark.capture import CaptureReader
from tests.support.paths import PCAPS

pytestmark = pytest.mark.tshark


@pytest.mark.parametrize("name", ["conference.pcap", "bfcp-dial-in.pcap"])
def test_tshark_and_mikeyshark_read_the_same_gzipped_capture(
    tmp_path: Path, tshark: str, name: str
) -> None:
    packed = tmp_path / f"{name}.gz"
    packed.write_bytes(gzip.compress((PCAPS / name).read_bytes()))
    out = subprocess.run(
        [tshark, "-n", "-r", str(packed), "-T", "fields", "-e", "frame.time_epoch"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    reader = CaptureReader(packed)
    ours = [f.ts_ns for f in reader]
    assert reader.compression == "gzip"
    assert len(ours) == len(out) > 0
    # tshark prints nanoseconds for a nanosecond pcap: the same instants, digit for digit
    assert [f"{t // 10**9}.{t % 10**9:09d}" for t in ours] == out
