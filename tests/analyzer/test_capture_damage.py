"""Damaged captures: every good frame is read, the damage is located (file, frame, offset)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mikeyshark.capture import CaptureReader
from tests.support.pcapfiles import T0, block, epb, idb, pcap, shb, two_sections, udp_frame


def frames_and_problems(p: Path) -> tuple[list[tuple[int, bytes]], CaptureReader]:
    r = CaptureReader(p)
    return [(f.number, f.data) for f in r], r


def test_pcap_cut_in_the_middle_of_a_record(tmp_path: Path) -> None:
    full = pcap([(T0, i, udp_frame(i)) for i in range(3)])
    third = 24 + 2 * 16 + len(udp_frame(0)) + len(udp_frame(1))  # where record 3 starts
    p = tmp_path / "cut.pcap"
    p.write_bytes(full[: third + 16 + 10])  # header of record 3 and 10 of its bytes
    frames, r = frames_and_problems(p)
    assert frames == [(1, udp_frame(0)), (2, udp_frame(1))]
    [prob] = r.problems
    assert (prob.file, prob.frame, prob.offset, prob.field) == (str(p), 3, third, "record")
    assert f"header says {len(udp_frame(2))} bytes, 10 left" in prob.reason


def test_pcap_cut_in_a_record_header(tmp_path: Path) -> None:
    full = pcap([(T0, i, udp_frame(i)) for i in range(2)])
    second = 24 + 16 + len(udp_frame(0))
    p = tmp_path / "cut.pcap"
    p.write_bytes(full[: second + 7])
    frames, r = frames_and_problems(p)
    assert frames == [(1, udp_frame(0))]
    [prob] = r.problems
    assert (prob.frame, prob.offset) == (2, second)
    assert "7 of 16 bytes" in prob.reason


def test_pcap_record_with_impossible_length_and_nothing_plausible_after(tmp_path: Path) -> None:
    good = pcap([(T0, 0, udp_frame(0))])
    bad = struct.pack("<IIII", T0, 1, 0x7FFF0000, 60) + b"x" * 60
    p = tmp_path / "lie.pcap"
    p.write_bytes(good + bad)
    frames, r = frames_and_problems(p)
    assert frames == [(1, udp_frame(0))]
    [prob] = r.problems
    assert (prob.frame, prob.offset, prob.field) == (2, len(good), "incl_len")
    assert "reading stops" in prob.reason


@pytest.mark.parametrize("bo", ["<", ">"])
def test_pcap_damaged_record_in_the_middle_is_skipped(tmp_path: Path, bo: str) -> None:
    fs = [udp_frame(i) for i in range(5)]
    data = bytearray(pcap([(T0 + i, 1000 * i, f) for i, f in enumerate(fs)], bo=bo))
    third = 24 + 2 * 16 + len(fs[0]) + len(fs[1])
    struct.pack_into(bo + "I", data, third + 8, 0x7FFF0000)  # its incl_len is destroyed
    p = tmp_path / "mid.pcap"
    p.write_bytes(bytes(data))
    frames, r = frames_and_problems(p)
    assert frames == [(1, fs[0]), (2, fs[1]), (4, fs[3]), (5, fs[4])]
    [prob] = r.problems
    assert (prob.frame, prob.offset, prob.field) == (3, third, "incl_len")
    fourth = third + 16 + len(fs[2])
    assert f"resumes at the next plausible record (offset {fourth})" in prob.reason


def test_not_a_capture_and_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "text.pcap"
    p.write_bytes(b"hello world, not a capture")
    frames, r = frames_and_problems(p)
    assert frames == [] and r.problems[0].field == "magic" and "68656c6c" in r.problems[0].reason
    e = tmp_path / "empty.pcap"
    e.write_bytes(b"")
    frames, r = frames_and_problems(e)
    assert frames == [] and r.problems[0].offset == 0


def test_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    frames, r = frames_and_problems(tmp_path / "nope.pcap")
    assert frames == [] and "cannot open" in r.problems[0].reason


def _ng(frames: list[bytes]) -> list[bytes]:
    return [epb(0, (T0 + i) * 10**6, f) for i, f in enumerate(frames)]


def test_pcapng_block_with_lying_length_is_skipped_and_reading_goes_on(tmp_path: Path) -> None:
    fs = [udp_frame(i) for i in range(4)]
    blocks = _ng(fs)
    head = shb() + idb(1)
    b3 = bytearray(blocks[2])
    struct.pack_into("<I", b3, 4, len(b3) + 40)  # leading length lies; trailer is right
    p = tmp_path / "lie.pcapng"
    p.write_bytes(head + blocks[0] + blocks[1] + bytes(b3) + blocks[3])
    frames, r = frames_and_problems(p)
    assert frames == [(1, fs[0]), (2, fs[1]), (4, fs[3])]
    [prob] = r.problems
    at = len(head) + len(blocks[0]) + len(blocks[1])
    assert (prob.file, prob.frame, prob.offset, prob.field) == (
        str(p),
        3,
        at + 4,
        "block_total_length",
    )
    assert "disagree" in prob.reason


def test_pcapng_length_beyond_end_of_file_but_blocks_follow(tmp_path: Path) -> None:
    fs = [udp_frame(i) for i in range(3)]
    blocks = _ng(fs)
    head = shb() + idb(1)
    b2 = bytearray(blocks[1])
    struct.pack_into("<I", b2, 4, 1 << 20)  # more than the whole file
    p = tmp_path / "lie2.pcapng"
    p.write_bytes(head + blocks[0] + bytes(b2) + blocks[2])
    frames, r = frames_and_problems(p)
    assert frames == [(1, fs[0]), (3, fs[2])]
    [prob] = r.problems
    assert (prob.frame, prob.offset) == (2, len(head) + len(blocks[0]) + 4)
    assert "claims 1048576 bytes" in prob.reason


def test_pcapng_cut_mid_block(tmp_path: Path) -> None:
    fs = [udp_frame(i) for i in range(3)]
    blocks = _ng(fs)
    head = shb() + idb(1)
    p = tmp_path / "cut.pcapng"
    data = head + blocks[0] + blocks[1] + blocks[2][:30]
    p.write_bytes(data)
    frames, r = frames_and_problems(p)
    assert frames == [(1, fs[0]), (2, fs[1])]
    [prob] = r.problems
    assert (prob.frame, prob.offset) == (3, len(head) + len(blocks[0]) + len(blocks[1]))
    assert "truncated block" in prob.reason and "30 left" in prob.reason


def test_pcapng_packet_for_undescribed_interface(tmp_path: Path) -> None:
    fs = [udp_frame(i) for i in range(3)]
    p = tmp_path / "iface.pcapng"
    p.write_bytes(shb() + idb(1) + epb(0, 1, fs[0]) + epb(7, 2, fs[1]) + epb(0, 3, fs[2]))
    frames, r = frames_and_problems(p)
    assert frames == [(1, fs[0]), (3, fs[2])]
    [prob] = r.problems
    assert (prob.frame, prob.field) == (2, "interface_id") and "interface 7" in prob.reason


def test_pcapng_captured_length_overrunning_its_block(tmp_path: Path) -> None:
    f = udp_frame(0)
    body = struct.pack("<IIIII", 0, 0, 1, len(f) + 500, len(f)) + f
    p = tmp_path / "caplen.pcapng"
    p.write_bytes(shb() + idb(1) + block(6, body) + epb(0, 2, f))
    frames, r = frames_and_problems(p)
    assert frames == [(2, f)]
    assert (r.problems[0].frame, r.problems[0].field) == (1, "caplen")


_NG, _ = two_sections()
_PCAP = pcap([(T0, i, udp_frame(i)) for i in range(4)])


@settings(max_examples=200, deadline=None)
@given(
    which=st.booleans(),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 10_000),
)
def test_mutated_captures_never_raise(which: bool, edits: list[tuple[int, int]], cut: int) -> None:
    b = bytearray(_NG if which else _PCAP)
    for pos, val in edits:
        if pos < len(b):
            b[pos] = val
    r = CaptureReader(io.BytesIO(bytes(b[:cut])), name="fuzz")
    frames = list(r)
    assert [f.number for f in frames] == sorted({f.number for f in frames})
    assert all(p.file == "fuzz" and p.offset is not None for p in r.problems)
    if cut >= len(b) and not edits:
        assert len(frames) == 4 and r.problems == []
