"""mikeyshark.capture against Wireshark's tools: tshark reads the same files (frame count and
timestamps); files converted by editcap or merged by mergecap read as they should."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from scapy.layers.l2 import Ether
from scapy.utils import PcapWriter

from mikeyshark.capture import CaptureReader
from tests.support.pcapfiles import (
    T0,
    pcap,
    raw_ip,
    two_sections,
    udp_frame,
)
from tests.support.tools import require_tool

pytestmark = pytest.mark.tshark


def test_pcap_written_by_scapy_matches_tshark(tmp_path: Path, tshark: str) -> None:
    p = tmp_path / "s.pcap"
    w = PcapWriter(str(p), linktype=1, nano=True, sync=True)
    for i in range(5):
        pkt = Ether(udp_frame(i))
        pkt.time = Decimal(T0) + Decimal(i) + Decimal("0.000000123")  # type: ignore[assignment]
        w.write(pkt)
    w.close()
    ours = [(f.number, f.ts_ns) for f in CaptureReader(p)]
    out = subprocess.run(
        [
            tshark,
            "-n",
            "-r",
            str(p),
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "frame.time_epoch",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    theirs = []
    for line in out.splitlines():
        num, epoch = line.split("\t")
        s, frac = epoch.split(".")
        theirs.append((int(num), int(s) * 10**9 + int(frac.ljust(9, "0"))))
    assert ours == theirs
    assert ours[0] == (1, T0 * 10**9 + 123)


def test_pcapng_two_sections_agree_with_tshark(tmp_path: Path, tshark: str) -> None:
    data, expect = two_sections()
    p = tmp_path / "two.pcapng"
    p.write_bytes(data)
    out = subprocess.run(
        [
            tshark,
            "-n",
            "-r",
            str(p),
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.cap_len",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4]
    assert [int(r[2]) for r in rows] == [len(e[3]) for e in expect]
    # tshark prints nine decimals; compare at that precision
    theirs = [int(r[1].split(".")[0]) * 10**9 + int(r[1].split(".")[1].ljust(9, "0")) for r in rows]
    assert theirs == [f.ts_ns for f in CaptureReader(p)]


@pytest.fixture(scope="session")
def editcap() -> str:
    return require_tool("editcap")


@pytest.mark.parametrize("fmt", ["pcapng", "nsecpcap", "modpcap"])
def test_files_converted_by_editcap(tmp_path: Path, editcap: str, fmt: str) -> None:
    recs = [(T0 + i, 1000 * i + 7, udp_frame(i)) for i in range(5)]
    src = tmp_path / "in.pcap"
    src.write_bytes(pcap(recs))
    out = tmp_path / f"out.{fmt}"
    subprocess.run([editcap, "-F", fmt, str(src), str(out)], check=True, capture_output=True)
    r = CaptureReader(out)
    got = [(f.number, f.ts_ns, f.linktype, f.data) for f in r]
    assert got == [(i + 1, s * 10**9 + us * 1000, 1, d) for i, (s, us, d) in enumerate(recs)]
    assert r.problems == []


def test_mergecap_interfaces_with_different_link_types(tmp_path: Path) -> None:
    mergecap = require_tool("mergecap")
    a = tmp_path / "eth.pcap"
    b = tmp_path / "raw.pcap"
    a.write_bytes(pcap([(T0, 0, udp_frame(0)), (T0 + 2, 0, udp_frame(2))]))
    b.write_bytes(pcap([(T0 + 1, 5, raw_ip(1)), (T0 + 3, 9, raw_ip(3))], nano=True, linktype=101))
    m = tmp_path / "merged.pcapng"
    subprocess.run([mergecap, "-w", str(m), str(a), str(b)], check=True, capture_output=True)
    got = [(f.number, f.ts_ns, f.linktype, f.data) for f in CaptureReader(m)]
    assert got == [
        (1, T0 * 10**9, 1, udp_frame(0)),
        (2, (T0 + 1) * 10**9 + 5, 101, raw_ip(1)),
        (3, (T0 + 2) * 10**9, 1, udp_frame(2)),
        (4, (T0 + 3) * 10**9 + 9, 101, raw_ip(3)),
    ]
