"""`mikeyshark replay --pcap FILE --iface lo --speed X` puts the capture's frames back on the wire,
byte for byte and with their spacing divided by X;
tcpdump records them."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from scapy.utils import rdpcap

from mikeyshark.synth import synthesize, write_capture

pytestmark = pytest.mark.live


def test_resend_on_loopback(tcpdump: str, tmp_path: Path) -> None:
    src, got = tmp_path / "src.pcap", tmp_path / "got.pcap"
    r = synthesize("bfcp-dial-in", seed=1)
    write_capture(r, src)
    filt = "host 203.0.113.30 or host 192.0.2.10"
    cap = subprocess.Popen(
        [tcpdump, "-i", "lo", "--immediate-mode", "-U", "-w", str(got), filt],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(1.0)
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "mikeyshark",
                "replay",
                "--pcap",
                str(src),
                "--iface",
                "lo",
                "--speed",
                "10",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"{len(r.frames)} frames sent on lo"
        time.sleep(0.5)
    finally:
        cap.terminate()
        cap.wait(timeout=10)
        assert cap.stderr is not None
        cap.stderr.close()
    frames = rdpcap(str(got))
    assert [bytes(f) for f in frames] == [f.data for f in r.frames]
    span_src = (r.frames[-1].ts_ns - r.frames[0].ts_ns) / 1e9
    span_got = float(frames[-1].time - frames[0].time)
    assert span_src / 10 * 0.8 < span_got < span_src / 10 + 1.0
