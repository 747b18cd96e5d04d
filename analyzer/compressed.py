"""Compressed captures (gzip, bzip2, xz, zstd), recognised by their first bytes, not by
their names, and decompressed while they are read: a capture arrives gzipped from a probe
or through a pipe, and is never unpacked to disk.

zstd needs the optional ``zstandard`` package (``pip install 'mikeyshark[zstd]'``); without
it a zstd capture is refused with a message naming the format and the package.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from typing import BinaryIO, Protocol

# The magic numbers of each format's first bytes (RFC 1952, bzip2's "BZh" + block size
# digit, the xz file format, RFC 8878).
_GZIP = b"\x1f\x8b"
_BZIP2 = b"BZh"
_XZ = b"\xfd7zXZ\x00"
_ZSTD = b"\x28\xb5\x2f\xfd"
_MAGIC_LEN = 6

# What a damaged stream raises while it is read (truncation, bad CRC, bad data).
_STREAM_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class CompressionError(Exception):
    """A compressed capture that cannot be read at all (no library for its format)."""


class _Prefixed(io.RawIOBase):
    """``head`` followed by the rest of ``src``: the bytes read to recognise the format
    are given back to whoever reads the stream."""

    def __init__(self, head: bytes, src: BinaryIO) -> None:
        self._head = head
        self._read = getattr(src, "read1", src.read)

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._read(len(b))
        b[: len(data)] = data
        return len(data)


class Decompressing(io.RawIOBase):
    """A decompressed stream that never raises on damage: a damaged or truncated stream
    ends where the damage starts, and ``error`` then says why (the frames before it are
    read as usual)."""

    def __init__(self, inner: _Reader, fmt: str) -> None:
        self._inner = inner
        self._read = getattr(inner, "read1", inner.read)
        self.format = fmt
        self.error: str | None = None
        self.produced = 0  # decompressed bytes handed out

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.error is not None:
            return 0
        try:
            data = self._read(len(b))
        except _STREAM_ERRORS as e:
            at = f"after {self.produced} decompressed bytes"
            self.error = f"{self.format} stream damaged {at}: {e}"
            return 0
        b[: len(data)] = data
        self.produced += len(data)
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


def _read_head(src: BinaryIO, n: int) -> bytes:
    """Up to ``n`` first bytes (a pipe may hand them over in pieces)."""
    parts: list[bytes] = []
    have = 0
    while have < n:
        piece = src.read(n - have)
        if not piece:
            break
        parts.append(piece)
        have += len(piece)
    return b"".join(parts)


def _zstd_reader(raw: BinaryIO) -> _Reader:
    try:
        import zstandard
    except ImportError:
        raise CompressionError(
            "zstd-compressed capture: reading it needs the 'zstandard' package "
            "(pip install 'mikeyshark[zstd]'), or decompress it first (zstd -dc FILE | ...)"
        ) from None
    reader: _Reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    return reader


def open_decompressed(src: BinaryIO) -> tuple[BinaryIO, Decompressing | None]:
    """``src`` as a stream of capture bytes, and the decompressor when its first bytes are
    those of gzip, bzip2, xz or zstd (its ``error`` tells, after reading, whether the stream
    was damaged); an uncompressed ``src`` comes back as it is. Raises
    :class:`CompressionError` for zstd without its library."""
    peek = getattr(src, "peek", None)
    head = peek(_MAGIC_LEN)[:_MAGIC_LEN] if peek is not None else b""
    raw: BinaryIO = src
    if len(head) < _MAGIC_LEN:
        # not peekable, or a pipe with less at hand: read the head and give it back
        head = _read_head(src, _MAGIC_LEN)
        raw = io.BufferedReader(_Prefixed(head, src))
    # the decompressor reads from ``raw``; closing the capture's file is the caller's business
    inner: _Reader
    if head.startswith(_GZIP):
        fmt, inner = "gzip", gzip.GzipFile(fileobj=raw, mode="rb")
    elif head.startswith(_BZIP2) and head[3:4].isdigit():
        fmt, inner = "bzip2", bz2.BZ2File(raw, mode="rb")
    elif head.startswith(_XZ):
        fmt, inner = "xz", lzma.LZMAFile(raw, mode="rb", format=lzma.FORMAT_XZ)  # noqa: SIM115
    elif head.startswith(_ZSTD):
        fmt, inner = "zstd", _zstd_reader(raw)
    else:
        return raw, None
    stream = Decompressing(inner, fmt)
    return io.BufferedReader(stream), stream
