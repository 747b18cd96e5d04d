"""SIGTERM stops a run as Ctrl-C does: exit 143 (128 + 15), its temporary files removed.

The capture comes on standard input and the pipe is held open, so the run is surely still
reading (with its spool already made) when the signal arrives, whatever the machine's speed.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # Ethernet
FRAME = bytes(60)
RECORD = struct.pack("<IIII", 1_700_000_000, 0, len(FRAME), len(FRAME)) + FRAME


def test_sigterm_ends_the_run_with_143_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mikeyshark", "analyze", "-", "--json", str(tmp_path / "r.json")],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert proc.stdin is not None and proc.stderr is not None
    try:
        proc.stdin.write(PCAP_HEADER + RECORD)
        proc.stdin.flush()
        deadline = time.monotonic() + 60
        while not any(tmp.iterdir()):  # the spool of the calls judged as they end
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no spool was made"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stderr.close()
    assert list(tmp.iterdir()) == []
