"""The Wireshark-like MIKEY tree shown by `keys resolve` and inside SDP a=key-mgmt."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

from mikeyshark.dissectors.mikey import parse
from mikeyshark.dissectors.mikey.tree import render_tree


def test_tree_of_the_psk_init_vector(vectors: Path) -> None:
    v = json.loads((vectors / "mikey" / "mikey_psk_init.json").read_text())
    lines = render_tree(parse(bytes.fromhex(v["encr_null"]["message_hex"])))
    tgk = bytes.fromhex(v["inputs"]["tgk"])
    assert lines[0] == (0, "Multimedia Internet KEYing: Pre-shared")  # as tshark
    assert (2, "CSB ID: 0x12345678") in lines
    assert (3, "SRTP-ID cs 1: policy 0, SSRC 0xdeadbeef, ROC 0") in lines
    # tshark renders this NTP value as Mar 19, 2023 15:03:15 UTC
    assert (2, "TS value: 2023-03-19 15:03:15.000000 UTC (0xe7c1a2b300000000)") in lines
    assert (2, "Session Encr. key length: 16") in lines
    assert (2, "Key data: TGK (0)") in lines
    assert (3, f"Key: sha256:{hashlib.sha256(tgk).hexdigest()[:8]} (16 bytes)") in lines
    assert all(tgk.hex() not in text for _, text in lines)
    revealed = render_tree(parse(bytes.fromhex(v["encr_null"]["message_hex"])), reveal=True)
    assert (3, f"Key: {tgk.hex()}") in revealed
    depths = [d for d, _ in lines]
    assert all(b - a <= 1 for a, b in itertools.pairwise(depths))
