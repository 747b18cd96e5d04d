"""Compressed captures: gzip, bzip2, xz and zstd recognised by content and read streaming.

The compressed files are made in the test by independent encoders (Python's gzip, bz2 and
lzma modules, libzstd through ``zstandard``); the expected frames are those of the
uncompressed file, and the expected damage point is computed with zlib directly.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from mikeyshark.capture import CaptureReader, read_all
from tests.support.paths import PCAPS


def _zstd(data: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard")
    out: bytes = zstandard.ZstdCompressor().compress(data)
    return out


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": _zstd,
}


class _Trickle(io.RawIOBase):
    """A pipe that hands over one byte per read and cannot peek."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self._data:
            return 0
        b[0] = self._data[0]
        self._data = self._data[1:]
        return 1


def _frames(reader: CaptureReader) -> list[tuple[int, int, int, bytes]]:
    return [(f.number, f.ts_ns, f.linktype, f.data) for f in reader]


@pytest.mark.parametrize("fmt", sorted(ENCODERS))
@pytest.mark.parametrize("name", ["conference.pcap", "msrp-dial-in.pcap", "bfcp-dial-out.pcap"])
def test_compressed_file_reads_as_the_original(tmp_path: Path, fmt: str, name: str) -> None:
    original = (PCAPS / name).read_bytes()
    packed = tmp_path / f"{name}.{fmt}"
    packed.write_bytes(ENCODERS[fmt](original))
    want = _frames(CaptureReader(PCAPS / name))
    reader = CaptureReader(packed)
    assert _frames(reader) == want
    assert reader.problems == []
    assert (reader.format, reader.compression) == ("pcap-ns", fmt)


def test_the_demo_conference_has_202_frames_gzipped(tmp_path: Path) -> None:
    # 202: tshark's count of pcaps/conference.pcap (README)
    packed = tmp_path / "c.pcap.gz"
    packed.write_bytes(gzip.compress((PCAPS / "conference.pcap").read_bytes()))
    frames, problems = read_all([packed])
    assert (len(frames), problems) == (202, [])


@pytest.mark.parametrize("fmt", sorted(ENCODERS))
def test_a_pipe_that_cannot_peek_is_read_too(fmt: str) -> None:
    original = (PCAPS / "msrp-dial-in.pcap").read_bytes()
    want = _frames(CaptureReader(io.BytesIO(original)))
    stream = io.BufferedReader(_Trickle(ENCODERS[fmt](original)), buffer_size=1)
    assert _frames(CaptureReader(stream)) == want


def test_an_uncompressed_pipe_that_cannot_peek_keeps_its_first_bytes() -> None:
    original = (PCAPS / "msrp-dial-in.pcap").read_bytes()
    want = _frames(CaptureReader(io.BytesIO(original)))
    stream = io.BufferedReader(_Trickle(original), buffer_size=1)
    reader = CaptureReader(stream)
    assert _frames(reader) == want
    assert reader.compression is None


def _whole_records(pcap: bytes) -> int:
    """Complete classic-pcap records (little-endian) at the start of ``pcap``."""
    n, at = 0, 24
    while at + 16 <= len(pcap):
        (incl,) = struct.unpack_from("<I", pcap, at + 8)
        if at + 16 + incl > len(pcap):
            break
        n, at = n + 1, at + 16 + incl
    return n


def test_truncated_gzip_keeps_the_frames_before_the_damage_and_says_where() -> None:
    packed = gzip.compress((PCAPS / "conference.pcap").read_bytes())[:6000]
    # what zlib itself gets out of the truncated stream (wbits 31: gzip header)
    salvaged = zlib.decompressobj(31).decompress(packed)
    reader = CaptureReader(io.BytesIO(packed))
    frames = list(reader)
    assert len(frames) == _whole_records(salvaged) > 0
    reasons = [(p.field, p.reason) for p in reader.problems]
    assert ("compression", reasons[-1][1]) == reasons[-1]
    assert reasons[-1][1].startswith("gzip stream damaged after ")
    assert "ended before the end-of-stream marker" in reasons[-1][1]
    assert all(p.frame == len(frames) + 1 for p in reader.problems)


def test_corrupt_bzip2_is_a_located_problem_not_a_crash() -> None:
    packed = bytearray(bz2.compress((PCAPS / "msrp-dial-in.pcap").read_bytes()))
    packed[len(packed) // 2] ^= 0x55  # inside the only block (bzip2 decodes whole blocks)
    reader = CaptureReader(io.BytesIO(bytes(packed)))
    assert list(reader) == []
    assert [p.field for p in reader.problems][-1] == "compression"
    assert reader.problems[-1].reason.startswith("bzip2 stream damaged after 0 decompressed")


def test_compressed_text_is_not_a_capture() -> None:
    reader = CaptureReader(io.BytesIO(lzma.compress(b"hello, world\n" * 10)))
    assert list(reader) == []
    assert reader.format is None
    assert [p.reason for p in reader.problems] == [
        "not a pcap or pcapng file inside the xz stream (magic 68656c6c)"
    ]


def test_zstd_without_its_library_names_the_format_and_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the frame magic of RFC 8878 section 3.1.1, then anything
    monkeypatch.setitem(sys.modules, "zstandard", None)
    reader = CaptureReader(io.BytesIO(b"\x28\xb5\x2f\xfd" + bytes(60)))
    assert list(reader) == []
    assert reader.format is None
    (problem,) = reader.problems
    assert problem.reason.startswith("zstd-compressed capture: reading it needs the 'zstandard'")
