"""One side of a call against a real peer: two `mikeyshark replay` processes, each running
one side (different seeds, so the answerer must open a ticket it did not make, with the key
file), face each other on loopback and complete the call."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mikeyshark.synth import synthesize

pytestmark = [pytest.mark.live, pytest.mark.timeout(90)]

EXE = [sys.executable, "-m", "mikeyshark", "replay"]


@pytest.mark.parametrize(
    ("scenario", "first", "second"),
    [
        # dial-in: the focus waits for the INVITE, the UE calls it
        (
            "msrp-dial-in",
            ["--side", "conference", "--target", "127.0.0.11:5060"],
            ["--side", "ue", "--target", "127.0.0.20:5060"],
        ),
        # dial-out: the UE waits on 5060, the focus calls it
        (
            "bfcp-dial-out",
            ["--side", "ue", "--target", "127.0.0.20:5060"],
            ["--side", "conference", "--target", "127.0.0.12:5060"],
        ),
    ],
)
def test_one_side_each(tmp_path: Path, scenario: str, first: list[str], second: list[str]) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text(synthesize(scenario, seed=9).keyfile_text)
    waiting = subprocess.Popen(
        [*EXE, scenario, "--seed", "4", "--keys", str(keys), *first],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)  # its sockets are bound before the other side starts
        calling = subprocess.run(
            [*EXE, scenario, "--seed", "5", "--keys", str(keys), *second],
            capture_output=True,
            text=True,
            timeout=60,
        )
        out, err = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert calling.returncode == 0, calling.stderr
    assert waiting.returncode == 0, err
    protocol = scenario.split("-")[0]
    count = {"msrp": 2, "bfcp": 3}[protocol]  # MSRP: the peer's messages; BFCP: transactions
    for text in (calling.stdout, out):
        assert f": {scenario} " in text and f"{protocol} {count} messages" in text


def test_one_side_needs_target_and_keys() -> None:
    out = subprocess.run([*EXE, "msrp-dial-in", "--side", "ue"], capture_output=True, text=True)
    assert out.returncode == 2 and "--target and --keys" in out.stderr
