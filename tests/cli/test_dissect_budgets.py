"""`mikeyshark dissect` streams with bounded memory on the hostile inputs of the reliability
review: a TCP stream that holds an unfinished message while the rest of the capture goes by,
and SIP dialogs that never end. Peak memory and CPU time are measured here, per child process
(os.wait4), against the same run without the hostile part or at a quarter of the size; the
ceilings are generous (what the review measured grew 14-fold and quadratically)."""

from __future__ import annotations

import os
import re
import select
import struct
import subprocess
import sys
import time
from pathlib import Path

from mikeyshark.synth import synthesize, write_capture
from tests.support.hostile import PCAP_HEADER, hole_frames, record

MIKEYSHARK = str(Path(sys.executable).parent / "mikeyshark")


def _write(path: Path, frames: list[bytes]) -> Path:
    path.write_bytes(PCAP_HEADER + b"".join(record(f) for f in frames))
    return path


# Run from a small interpreter: a child's peak RSS counts what it had before exec, and a
# child forked from the test process starts as big as the test process.
_MEASURE = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, ru = os.wait4(proc.pid, 0)
print(os.waitstatus_to_exitcode(status), ru.ru_maxrss, ru.ru_utime + ru.ru_stime)
"""


def _measure(*args: str) -> tuple[int, float]:
    """(peak RSS in KiB, CPU seconds) of one `mikeyshark` run (or of the command ``args``
    when it starts with the interpreter)."""
    cmd = list(args) if args[0] == sys.executable else [MIKEYSHARK, *args]
    out = subprocess.run(
        [sys.executable, "-S", "-c", _MEASURE, *cmd],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0] == "0"
    return int(out[1]), float(out[2])


def test_an_unfinished_message_holds_no_frame_back(tmp_path: Path) -> None:
    with_hole = _write(tmp_path / "hole.pcap", hole_frames(60_000))
    without = _write(tmp_path / "plain.pcap", hole_frames(60_000, with_hole=False))
    rss_hole, cpu_hole = _measure("dissect", str(with_hole))
    rss_plain, cpu_plain = _measure("dissect", str(without))
    # before: 550 MB against 40 MB at 300,000 frames (the held frames grew with the capture)
    assert rss_hole < rss_plain + 5_000, (rss_hole, rss_plain)
    assert cpu_hole < 2 * cpu_plain + 1.0, (cpu_hole, cpu_plain)


def test_rows_come_out_before_the_capture_ends() -> None:
    """`tcpdump -w - | mikeyshark dissect -`: the first rows are printed while the input is
    still open (before: nothing until the end, once a stream held an unfinished message)."""
    frames = hole_frames(2_000)
    proc = subprocess.Popen(
        [MIKEYSHARK, "dissect", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(PCAP_HEADER + b"".join(record(f) for f in frames))
        proc.stdin.flush()
        got = b""
        deadline = time.monotonic() + 60
        while b"\n" not in got and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                got += os.read(proc.stdout.fileno(), 65536)
        first = got.split(b"\n")[0].decode()
        assert re.match(
            r"\s+1\s+0\.000000\s+10\.0\.0\.1 → 10\.0\.0\.2\s+TCP 54 40000 → 5000", first
        )
        assert proc.poll() is None  # still reading: the input is not closed yet
    finally:
        proc.stdin.close()
        rest = proc.stdout.read()  # (the child would block on a full pipe otherwise)
        proc.wait(timeout=60)
        proc.stdout.close()
    assert proc.returncode == 0
    assert (got + rest).count(b"\n") == len(frames)


def _dialogs(tmp_path: Path, n: int) -> tuple[Path, Path]:
    """The review's reproducer of defect 10: the INVITE/100/200/ACK of one call repeated
    ``n`` times, each with its own Call-ID, a new one every millisecond, none ended."""
    one, keys = tmp_path / "one.pcap", tmp_path / "one.toml"
    if not one.exists():
        r = synthesize("msrp-dial-in", seed=1)
        write_capture(r, one)
        keys.write_text(r.keyfile_text)
    data = one.read_bytes()
    records, pos = [], 24
    while pos < len(data):
        incl = struct.unpack("<I", data[pos + 8 : pos + 12])[0]
        body = data[pos + 16 : pos + 16 + incl]
        if b"SIP/2.0" in body and not re.search(rb"CSeq: \d+ BYE", body):
            records.append(body)
        pos += 16 + incl
    m = re.search(rb"Call-ID: (\S+)", records[0])
    assert m is not None
    cid = m.group(1)
    out = tmp_path / f"dialogs-{n}.pcap"
    with open(out, "wb") as f:
        f.write(data[:24])
        for k in range(n):
            for j, body in enumerate(records):
                body = body.replace(cid, b"%08d" % k + cid[8:])
                t = k * 1000 + j * 50
                f.write(
                    struct.pack(
                        "<IIII", 1_700_000_000 + t // 10**6, t % 10**6, len(body), len(body)
                    )
                )
                f.write(body)
    return out, keys


# `mikeyshark dissect` with room for 64 open calls (the default is 1,024: this shows the
# budget at work on a capture that runs in seconds)
_SMALL_BUDGET = """
import sys
import mikeyshark.view.stream
mikeyshark.view.stream.MAX_CALLS = 64
from mikeyshark.cli import main
sys.exit(main(["dissect", *sys.argv[1:]]))
"""


def test_never_ending_dialogs_cost_flat_memory_and_linear_time(tmp_path: Path) -> None:
    small, keys = _dialogs(tmp_path, 200)
    large, _ = _dialogs(tmp_path, 800)
    run = [sys.executable, "-c", _SMALL_BUDGET]
    rss_small, cpu_small = _measure(*run, str(small), "--keys", str(keys))
    rss_large, cpu_large = _measure(*run, str(large), "--keys", str(keys))
    # before: +24 MB per 1,000 dialogs, and time O(frames x dialogs)
    assert rss_large < rss_small + 4_000, (rss_small, rss_large)
    assert cpu_large < 6 * cpu_small, (cpu_small, cpu_large)


def test_never_ending_dialogs_work_grows_linearly(tmp_path: Path) -> None:
    """The same, counted in function calls in this process (no clock): four times the
    dialogs, about four times the calls (before, every SIP frame walked every media session
    seen so far)."""
    import cProfile
    import pstats

    import mikeyshark

    def calls(pcap: Path, keys: Path) -> int:
        prof = cProfile.Profile()
        prof.enable()
        for _ in mikeyshark.dissect(pcap, keys=keys):
            pass
        prof.disable()
        return int(pstats.Stats(prof).total_calls)  # type: ignore[attr-defined]

    small, keys = _dialogs(tmp_path, 100)
    large, _ = _dialogs(tmp_path, 400)
    assert calls(large, keys) < 4.4 * calls(small, keys)
