"""The cipher suite names of dissectors.tls equal tshark's (`tshark -G values`)."""

from __future__ import annotations

import subprocess

import pytest

from mikeyshark.dissectors.tls.constants import CIPHER_SUITES

pytestmark = pytest.mark.tshark


def test_suite_names_match_tshark(tshark: str) -> None:
    out = subprocess.run(
        [tshark, "-G", "values"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    names = {}
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) >= 4 and cols[0] == "V" and cols[1] == "tls.handshake.ciphersuite":
            names[int(cols[2])] = cols[3]
    for code, suite in CIPHER_SUITES.items():
        assert names[code] == suite.name, hex(code)
