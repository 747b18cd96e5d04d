"""mikeyshark.capture: pcap and pcapng variants, written here byte by byte (or by scapy).

The pcapng files are assembled with struct from the format description
(draft-ietf-opsawg-pcapng), independently of the reader; tshark reads the same files
to cross-check frame count and timestamps.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import PcapNgWriter, PcapWriter

from mikeyshark.capture import CaptureReader, iter_frames, read_all
from mikeyshark.model import Frame, Problem
from tests.conftest import require_tool

T0 = 1_700_000_000


def udp_frame(i: int) -> bytes:
    return bytes(
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="192.0.2.1", dst="192.0.2.2")
        / UDP(sport=5060, dport=5060 + i)
        / Raw(b"frame %d" % i)
    )


def raw_ip(i: int) -> bytes:
    return bytes(IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=1, dport=2) / Raw(b"r%d" % i))


# -- classic pcap, assembled by hand -------------------------------------------------------------


def pcap(
    records: list[tuple[int, int, bytes]], *, bo: str = "<", nano: bool = False, linktype: int = 1
) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(bo + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for sec, frac, data in records:
        out += struct.pack(bo + "IIII", sec, frac, len(data), len(data) + 4) + data
    return out


@pytest.mark.parametrize("bo", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_byte_orders_and_resolutions(tmp_path: Path, bo: str, nano: bool) -> None:
    recs = [(T0, 123456, udp_frame(0)), (T0 + 1, 999999, udp_frame(1))]
    p = tmp_path / "a.pcap"
    p.write_bytes(pcap(recs, bo=bo, nano=nano))
    r = CaptureReader(p)
    frames = list(r)
    unit = 1 if nano else 1000
    assert [(f.number, f.ts_ns, f.linktype, f.data, f.wirelen) for f in frames] == [
        (1, T0 * 10**9 + 123456 * unit, 1, udp_frame(0), len(udp_frame(0)) + 4),
        (2, (T0 + 1) * 10**9 + 999999 * unit, 1, udp_frame(1), len(udp_frame(1)) + 4),
    ]
    assert r.problems == [] and r.frames_read == 2
    assert r.format == ("pcap-ns" if nano else "pcap")


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


# -- pcapng, assembled by hand -------------------------------------------------------------------


def _pad(b: bytes) -> bytes:
    return b + bytes(-len(b) % 4)


def block(btype: int, body: bytes, bo: str = "<") -> bytes:
    body = _pad(body)
    n = 12 + len(body)
    return struct.pack(bo + "II", btype, n) + body + struct.pack(bo + "I", n)


def shb(bo: str = "<") -> bytes:
    return block(0x0A0D0D0A, struct.pack(bo + "IHHq", 0x1A2B3C4D, 1, 0, -1), bo)


def idb(linktype: int, bo: str = "<", tsresol: int | None = None, tsoffset: int = 0) -> bytes:
    opts = b""
    if tsresol is not None:
        opts += struct.pack(bo + "HH", 9, 1) + bytes([tsresol, 0, 0, 0])
    if tsoffset:
        opts += struct.pack(bo + "HHq", 14, 8, tsoffset)
    if opts:
        opts += struct.pack(bo + "HH", 0, 0)
    return block(1, struct.pack(bo + "HHI", linktype, 0, 262144) + opts, bo)


def epb(iface: int, ticks: int, data: bytes, bo: str = "<") -> bytes:
    hdr = struct.pack(bo + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data))
    return block(6, hdr + _pad(data), bo)


def two_sections() -> tuple[bytes, list[tuple[int, int, int, bytes]]]:
    """Section 1 (little-endian): Ethernet in microseconds and raw IPv4 in nanoseconds.
    Section 2 (big-endian): raw IP with a binary resolution (2^-20 s) and if_tsoffset."""
    f1, f2, f3, f4 = udp_frame(1), raw_ip(2), raw_ip(3), udp_frame(4)
    data = (
        shb("<")
        + idb(1, "<")
        + idb(101, "<", tsresol=9)
        + epb(0, T0 * 10**6 + 123456, f1, "<")
        + epb(1, T0 * 10**9 + 123456789, f2, "<")
        + block(5, struct.pack("<III", 0, 0, 0), "<")  # an ISB: skipped
        + shb(">")
        + idb(228, ">", tsresol=0x80 | 20, tsoffset=100)
        + idb(1, ">", tsresol=3)
        + epb(0, (T0 << 20) + (1 << 19), f3, ">")
        + epb(1, T0 * 1000 + 7, f4, ">")
    )
    expect = [
        (1, T0 * 10**9 + 123456000, 1, f1),
        (2, T0 * 10**9 + 123456789, 101, f2),
        (3, (T0 + 100) * 10**9 + 500_000_000, 228, f3),
        (4, T0 * 10**9 + 7_000_000, 1, f4),
    ]
    return data, expect


def test_pcapng_two_sections_interfaces_linktypes_and_resolutions(tmp_path: Path) -> None:
    data, expect = two_sections()
    p = tmp_path / "two.pcapng"
    p.write_bytes(data)
    r = CaptureReader(p)
    assert [(f.number, f.ts_ns, f.linktype, f.data) for f in r] == expect
    assert r.problems == [] and r.format == "pcapng"


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


def test_pcapng_simple_packet_block_uses_interface_zero(tmp_path: Path) -> None:
    f = udp_frame(9)
    spb = block(3, struct.pack("<I", len(f)) + _pad(f))
    p = tmp_path / "spb.pcapng"
    p.write_bytes(shb() + idb(1) + spb)
    [fr] = CaptureReader(p)
    assert (fr.number, fr.linktype, fr.data, fr.ts_ns) == (1, 1, f, 0)


def test_pcapng_written_by_scapy(tmp_path: Path) -> None:
    p = tmp_path / "scapy.pcapng"
    w = PcapNgWriter(str(p))
    for i in range(3):
        pkt = Ether(udp_frame(i))
        pkt.time = Decimal(T0 + i) + Decimal("0.25")  # type: ignore[assignment]
        w.write(pkt)
    w.close()
    frames = list(CaptureReader(p))
    assert [(f.number, f.ts_ns, f.data) for f in frames] == [
        (i + 1, (T0 + i) * 10**9 + 250_000_000, udp_frame(i)) for i in range(3)
    ]


def test_iter_frames_numbers_across_files(tmp_path: Path) -> None:
    a = tmp_path / "a.pcap"
    b = tmp_path / "b.pcapng"
    a.write_bytes(pcap([(T0, 0, udp_frame(0)), (T0, 1, udp_frame(1))]))
    data, _ = two_sections()
    b.write_bytes(data)
    assert [f.number for f in iter_frames(a, b)] == [1, 2, 3, 4, 5, 6]
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(a.read_bytes()[:-5])
    probs: list[Problem] = []
    # the cut record is not a frame: the next file goes on from number 2
    assert [f.number for f in iter_frames(cut, b, problems=probs)] == [1, 2, 3, 4, 5]
    assert [(p.file, p.frame) for p in probs] == [(str(cut), 2)]
    frames, problems = read_all([a, b])
    assert [f.data for f in frames][:2] == [udp_frame(0), udp_frame(1)] and problems == []


def test_file_object_source(tmp_path: Path) -> None:
    buf = io.BytesIO(pcap([(T0, 5, udp_frame(3))]))
    r = CaptureReader(buf, name="mem")
    [f] = r
    assert (f.number, f.data, r.name) == (1, udp_frame(3), "mem")


def test_stdin_is_read_with_dash(tmp_path: Path) -> None:
    data, expect = two_sections()
    code = (
        "from mikeyshark.capture import CaptureReader\n"
        "r = CaptureReader('-')\n"
        "for f in r: print(f.number, f.ts_ns, f.linktype, len(f.data))\n"
        "print(r.name, len(r.problems))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=data, capture_output=True, check=True, timeout=60
    ).stdout.decode()
    assert out.splitlines() == [f"{n} {ts} {lt} {len(d)}" for n, ts, lt, d in expect] + [
        "<stdin> 0"
    ]


def test_large_records_cross_chunk_boundaries(tmp_path: Path) -> None:
    # records larger than and straddling the reader's 1 MiB chunks
    recs = [(T0, i, bytes([i % 251]) * (200_000 + i)) for i in range(12)]
    p = tmp_path / "big.pcap"
    p.write_bytes(pcap(recs, linktype=101))
    frames = list(CaptureReader(p))
    assert [f.data for f in frames] == [r[2] for r in recs]


def test_pipe_frames_come_through_before_end_of_input() -> None:
    # a live `tcpdump -w - | mikeyshark ...`: the first frame must not wait for more input
    r_fd, w_fd = os.pipe()
    data = pcap([(T0, 0, udp_frame(0)), (T0, 1, udp_frame(1))])
    first_len = 24 + 16 + len(udp_frame(0))
    with os.fdopen(r_fd, "rb") as rf:
        it = iter(CaptureReader(rf, name="pipe"))
        got: list[Frame] = []
        os.write(w_fd, data[:first_len])
        th = threading.Thread(target=lambda: got.append(next(it)), daemon=True)
        th.start()
        th.join(timeout=10)
        assert not th.is_alive(), "the reader waited for more input than one record"
        os.write(w_fd, data[first_len:])
        os.close(w_fd)
        assert [f.data for f in got] == [udp_frame(0)]
        assert [f.number for f in it] == [2]


# -- files written by Wireshark's own tools ------------------------------------------------------


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


def test_pcap_link_type_field_with_fcs_bits(tmp_path: Path) -> None:
    # draft-ietf-opsawg-pcap: FCS length in the top 3 bits, F bit below; link type in the low 16
    p = tmp_path / "fcs.pcap"
    p.write_bytes(pcap([(T0, 0, udp_frame(0))], linktype=(2 << 29) | (1 << 28) | 1))
    [f] = CaptureReader(p)
    assert f.linktype == 1


def test_pcapng_obsolete_packet_block_and_unknown_blocks(tmp_path: Path) -> None:
    f = udp_frame(5)
    ticks = T0 * 10**6 + 42
    pb = block(2, struct.pack("<HHIIII", 0, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(f), len(f)) + f)
    custom = block(0x00000BAD, struct.pack("<I", 32473) + b"vendor data")  # skipped
    p = tmp_path / "pb.pcapng"
    p.write_bytes(shb() + idb(1) + custom + pb)
    r = CaptureReader(p)
    assert [(fr.number, fr.ts_ns, fr.data) for fr in r] == [(1, ticks * 1000, f)]
    assert r.problems == []


def test_pcapng_picosecond_resolution_truncates_to_nanoseconds(tmp_path: Path) -> None:
    f = udp_frame(1)
    p = tmp_path / "ps.pcapng"
    # 64-bit picosecond ticks cannot reach 1970 + 53 years; if_tsoffset carries the seconds
    p.write_bytes(shb() + idb(1, tsresol=12, tsoffset=T0) + epb(0, 123_456_789_012, f))
    [fr] = CaptureReader(p)
    assert fr.ts_ns == T0 * 10**9 + 123_456_789
