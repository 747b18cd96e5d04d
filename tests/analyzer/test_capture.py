"""mikeyshark.capture: pcap and pcapng variants, written here byte by byte (or by scapy).

The pcapng files are assembled with struct from the format description
(draft-ietf-opsawg-pcapng), independently of the reader; tshark, editcap and mergecap
read them in tests/interop/test_capture_wireshark.py.
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
from scapy.layers.l2 import Ether
from scapy.utils import PcapNgWriter

from mikeyshark.capture import CaptureReader, iter_frames, read_all
from mikeyshark.model import Frame, Problem
from tests.support.pcapfiles import (
    T0,
    block,
    epb,
    idb,
    pad,
    pcap,
    shb,
    two_sections,
    udp_frame,
)

# -- classic pcap, assembled by hand -------------------------------------------------------------


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


# -- pcapng, assembled by hand -------------------------------------------------------------------


def test_pcapng_two_sections_interfaces_linktypes_and_resolutions(tmp_path: Path) -> None:
    data, expect = two_sections()
    p = tmp_path / "two.pcapng"
    p.write_bytes(data)
    r = CaptureReader(p)
    assert [(f.number, f.ts_ns, f.linktype, f.data) for f in r] == expect
    assert r.problems == [] and r.format == "pcapng"


def test_pcapng_simple_packet_block_uses_interface_zero(tmp_path: Path) -> None:
    f = udp_frame(9)
    spb = block(3, struct.pack("<I", len(f)) + pad(f))
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
