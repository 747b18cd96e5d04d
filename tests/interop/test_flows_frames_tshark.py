"""Reassembled IP datagrams appear at the same frames as in tshark."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment
from scapy.layers.l2 import Ether as _Ether
from scapy.packet import Raw

from tests.support.flows import Ether, run, sip_udp, write

pytestmark = pytest.mark.tshark


def test_reassembled_datagrams_appear_at_the_same_frames_as_in_tshark(
    tmp_path: Path, tshark: str
) -> None:
    v4 = (
        IP(src="192.0.2.1", dst="192.0.2.2", id=4242)
        / UDP(sport=5060, dport=5060)
        / Raw(b"a" * 2500)
    )
    f4 = fragment(v4, fragsize=1000)  # type: ignore[no-untyped-call]
    body = bytes(UDP(sport=5060, dport=5060, len=8 + 2000, chksum=0) / Raw(b"Z" * 2000))
    base = IPv6(src="2001:db8::1", dst="2001:db8::2")
    f6 = [
        base / IPv6ExtHdrFragment(id=7, offset=0, m=1, nh=17) / Raw(body[:1200]),
        base / IPv6ExtHdrFragment(id=7, offset=150, m=0, nh=17) / Raw(body[1200:]),
    ]
    frames = [f4[1], f6[1], f4[0], Ether() / sip_udp(1), f6[0], f4[2]]
    frames = [f if isinstance(f, bytes) or f.haslayer(_Ether) else Ether() / f for f in frames]
    path = write(tmp_path / "frags.pcap", 1, frames)
    rec, _ = run(path)
    out = subprocess.run(
        [
            tshark,
            "-n",
            "-r",
            str(path),
            "-Y",
            "udp",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "udp.length",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    theirs = [tuple(int(x) for x in line.split("\t")) for line in out.splitlines()]
    assert [(n, len(p) + 8) for n, _, _, p in rec.udp] == theirs
    assert [n for n, *_ in theirs] == [4, 5, 6]
