"""SIGTERM stops a run as Ctrl-C does: exit 143 (128 + 15), its temporary files removed.

The capture comes on standard input and the pipe is held open: the signal is sent once the
run has made its spool and waits in a read of its standard input (``/proc/PID/syscall``), so
it arrives while the run is reading, whatever the machine's speed or load.
"""

from __future__ import annotations

import os
import platform
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # Ethernet
FRAME = bytes(60)
RECORD = struct.pack("<IIII", 1_700_000_000, 0, len(FRAME), len(FRAME)) + FRAME


# read(2)'s number, where /proc/PID/syscall tells the call a process waits in
READ = {"x86_64": "0", "aarch64": "63"}.get(platform.machine())


def _reading_stdin(pid: int) -> bool:
    """Whether the process waits in a read of file descriptor 0 (where that cannot be told,
    True: the spool alone then shows the run is under way)."""
    if READ is None:
        return True
    try:
        with open(f"/proc/{pid}/syscall") as f:
            return f.read().split()[:2] == [READ, "0x0"]
    except OSError:
        return True


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
        # the spool of the calls judged as they end made, and the run waiting for frames
        while not (any(tmp.iterdir()) and _reading_stdin(proc.pid)):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no spool was made, or no read of stdin"
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
