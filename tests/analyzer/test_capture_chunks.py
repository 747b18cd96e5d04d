"""mikeyshark.capture at the edges of what it reads at once: records split between two reads,
cut at the end, larger than the bound, and pcapng blocks of other types between packets.

The input comes through a source whose reads return a few bytes at a time (as a pipe may),
so that every record boundary falls at some read boundary; the expected frames are those
the files were assembled from (tests/support/pcapfiles.py), independently of the reader.
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO, cast

import pytest

from mikeyshark.capture import MAX_RECORD, CaptureReader, MergedReader
from tests.support.pcapfiles import T0, block, epb, idb, pad, pcap, shb, udp_frame


class Trickle(io.RawIOBase):
    """At most ``step`` bytes per read, like a pipe with little in it."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def read1(self, n: int = -1) -> bytes:
        return self._data.read(self._step if n < 0 else min(n, self._step))

    def read(self, n: int = -1) -> bytes:
        return self.read1(n)


def trickle(data: bytes, step: int) -> BinaryIO:
    return cast(BinaryIO, Trickle(data, step))


STEPS = [1, 7, 100, 999, 1 << 20]
SIZES = [0, 1, 60, 333, 1514, 5000]


def _records(count: int) -> list[tuple[int, int, bytes]]:
    return [(T0 + i, i, bytes([i % 251]) * SIZES[i % len(SIZES)]) for i in range(count)]


@pytest.mark.parametrize("step", STEPS)
def test_pcap_records_split_between_reads(step: int) -> None:
    recs = _records(40)
    r = CaptureReader(trickle(pcap(recs, nano=True), step), name="t")
    got = [(f.number, f.ts_ns, f.data, f.wirelen) for f in r]
    assert got == [
        (k + 1, sec * 10**9 + frac, data, len(data) + 4) for k, (sec, frac, data) in enumerate(recs)
    ]
    assert r.problems == [] and r.frames_read == 40 and r.next_number == 41


@pytest.mark.parametrize("step", STEPS)
def test_pcap_truncated_last_record(step: int) -> None:
    recs = _records(6)
    data = pcap(recs)
    last = len(data) - 16 - len(recs[5][2])  # where the last record starts
    r = CaptureReader(trickle(data[: last + 16 + 20], step), name="t")
    assert [f.data for f in r] == [d for _, _, d in recs[:5]]
    [prob] = r.problems
    assert (prob.frame, prob.offset, prob.field) == (6, last, "record")
    assert prob.reason == f"truncated record: header says {len(recs[5][2])} bytes, 20 left in file"


@pytest.mark.parametrize("step", STEPS)
def test_pcap_snaplen_admits_records_past_the_default_bound(step: int) -> None:
    big = bytes(range(256)) * 1600  # 409,600 bytes: past MAX_RECORD, within the snaplen
    assert len(big) > MAX_RECORD
    data = bytearray(pcap([(T0, 0, udp_frame(0)), (T0, 1, big), (T0, 2, udp_frame(2))]))
    struct.pack_into("<I", data, 16, 1 << 20)  # snaplen
    r = CaptureReader(trickle(bytes(data), step), name="t")
    assert [f.data for f in r] == [udp_frame(0), big, udp_frame(2)]
    assert r.problems == []


@pytest.mark.parametrize("step", STEPS)
def test_pcap_record_past_the_bound_with_the_default_snaplen(step: int) -> None:
    big = bytes(range(256)) * 1600
    data = pcap([(T0, 0, udp_frame(0)), (T0, 1, big), (T0, 2, udp_frame(2))])  # snaplen 65535
    r = CaptureReader(trickle(data, step), name="t")
    assert [(f.number, f.data) for f in r] == [(1, udp_frame(0)), (3, udp_frame(2))]
    [prob] = r.problems
    second = 24 + 16 + len(udp_frame(0))
    assert (prob.frame, prob.offset, prob.field) == (2, second, "incl_len")
    third = second + 16 + len(big)
    assert prob.reason == (
        f"record length {len(big)} exceeds the maximum {MAX_RECORD}; {len(big) + 16} damaged "
        f"bytes skipped, reading resumes at the next plausible record (offset {third})"
    )
    # the damaged record used up its number: two frames read, the next one would be 4
    assert (r.frames_read, r.next_number) == (2, 4)


def _dsb(secret: bytes) -> bytes:
    return block(0x0A, struct.pack("<II", 0x544C534B, len(secret)) + pad(secret))


@pytest.mark.parametrize("step", STEPS)
def test_pcapng_other_blocks_between_packets(step: int) -> None:
    fs = [udp_frame(i) * (1 + i) for i in range(6)]
    isb = block(5, struct.pack("<III", 0, 0, 0))
    nrb = block(4, struct.pack("<HH", 0, 0))
    custom = block(0x00000BAD, struct.pack("<I", 32473) + b"vendor data")
    spb = block(3, struct.pack("<I", len(fs[3])) + pad(fs[3]))
    data = (
        shb()
        + idb(1)
        + epb(0, T0 * 10**6, fs[0])
        + isb
        + epb(0, T0 * 10**6 + 1, fs[1])
        + nrb
        + _dsb(b"CLIENT_RANDOM a b\n")
        + idb(101, tsresol=9)
        + epb(1, T0 * 10**9 + 2, fs[2])
        + custom
        + spb
        + epb(0, T0 * 10**6 + 4, fs[4])
        + isb
        + epb(1, T0 * 10**9 + 5, fs[5])
    )
    r = CaptureReader(trickle(data, step), name="t")
    assert [(f.number, f.ts_ns, f.linktype, f.data) for f in r] == [
        (1, T0 * 10**9, 1, fs[0]),
        (2, T0 * 10**9 + 1000, 1, fs[1]),
        (3, T0 * 10**9 + 2, 101, fs[2]),
        (4, 0, 1, fs[3]),  # a simple packet block has no timestamp
        (5, T0 * 10**9 + 4000, 1, fs[4]),
        (6, T0 * 10**9 + 5, 101, fs[5]),
    ]
    assert r.secrets == [(0x544C534B, b"CLIENT_RANDOM a b\n")]
    assert r.problems == [] and r.frames_read == 6


def test_pcapng_damaged_option_is_located_in_the_file() -> None:
    # an option whose length runs past its block; the problem's offset is that of the
    # option's header in the file: 28 (SHB) + 16 (IDB header and fixed fields)
    body = struct.pack("<HHI", 1, 0, 65535) + struct.pack("<HH", 9, 200) + b"\x06\x00\x00\x00"
    r = CaptureReader(io.BytesIO(shb() + block(1, body) + idb(1) + epb(0, 1, udp_frame(0))))
    assert [f.data for f in r] == [udp_frame(0)]
    [prob] = r.problems
    assert (prob.offset, prob.field) == (28 + 16, "options")
    assert "option 9 length 200 overruns block" in prob.reason


def test_frames_read_counts_frames_not_damaged_records() -> None:
    big = bytes(300_000)
    data = pcap([(T0, 0, udp_frame(0)), (T0, 1, big), (T0, 2, udp_frame(2))])
    r = MergedReader([io.BytesIO(data)])  # one file: its reader's own count
    assert [f.number for f in r] == [1, 3]
    assert r.frames_read == 2 and [p.frame for p in r.problems] == [2]


def test_a_consumer_that_stops_early_leaves_the_next_number() -> None:
    r = CaptureReader(io.BytesIO(pcap(_records(5))))
    it = iter(r)
    assert [next(it).number, next(it).number] == [1, 2]
    del it  # the reader is closed where the consumer stopped
    assert (r.next_number, r.frames_read) == (3, 2)
