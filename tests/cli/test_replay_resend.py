"""`mikeyshark replay --pcap FILE --iface IF`: what it refuses (the resend itself, recorded by
tcpdump, is in tests/interop/test_replay_resend_tcpdump.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mikeyshark.synth import synthesize, write_capture

pytestmark = pytest.mark.timeout(60)


def test_resend_needs_an_interface() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mikeyshark", "replay", "--pcap", "x.pcap"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and "--iface" in out.stderr


@pytest.mark.parametrize(
    ("content", "iface", "why"),
    [
        (b"junk\n", "lo", "not a readable capture"),
        (None, "nope0", "no interface 'nope0'"),
    ],
)
def test_resend_bad_input_is_a_usage_error(
    tmp_path: Path, content: bytes | None, iface: str, why: str
) -> None:
    src = tmp_path / "in.pcap"
    if content is None:
        write_capture(synthesize("bfcp-dial-in", seed=1), src)
    else:
        src.write_bytes(content)
    out = subprocess.run(
        [sys.executable, "-m", "mikeyshark", "replay", "--pcap", str(src), "--iface", iface],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and why in out.stderr
