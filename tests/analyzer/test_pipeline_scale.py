"""Memory follows open flows and calls, not frames: five times the noise, the same peak.

The noise is the benchmark's (bench/foundation.py): RTP, bulk TCP of which half is
certificate TLS, DNS, IPv6, ARP and SIP audio calls over UDP, one frame per millisecond of
capture time so that finished calls age out within the capture. The smaller capture is long
enough for the flow layer's per-connection retransmission history (64 KiB per direction of
each of the ~40 open connections) to fill: that is bounded state, not growth.
"""

from __future__ import annotations

import struct
import sys
import tracemalloc
from pathlib import Path

from mikeyshark.keyfile import KeyFile
from mikeyshark.pipeline import analyze_capture
from tests.support.paths import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import foundation

T0 = 1_767_268_800


def _write(path: Path, count: int) -> None:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    for i, fr in enumerate(foundation.frames(count, seed=3, tcp_body=1000, dns=0.05, tls=0.5)):
        out.append(struct.pack("<IIII", T0 + i // 1000, (i % 1000) * 1000, len(fr), len(fr)))
        out.append(fr)
    path.write_bytes(b"".join(out))


def _peak(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        res = analyze_capture(str(path), KeyFile())
        return tracemalloc.get_traced_memory()[1], res.info.frames
    finally:
        tracemalloc.stop()


def test_five_times_the_frames_the_same_peak_memory(tmp_path: Path) -> None:
    small, large = tmp_path / "small.pcap", tmp_path / "large.pcap"
    _write(small, 20_000)
    _write(large, 100_000)
    peak_small, n_small = _peak(small)
    peak_large, n_large = _peak(large)
    assert (n_small, n_large) == (20_000, 100_000)
    # the SIP calls of the noise are audio only: held unparsed, then released; the HTTPS
    # and opaque TCP connections keep no bytes
    assert peak_large < peak_small * 1.2, (peak_small, peak_large)
