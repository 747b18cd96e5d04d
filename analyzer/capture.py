"""Streaming reader for pcap and pcapng captures.

The block parsers are written here rather than taken from scapy: scapy 2.8's
RawPcapNgReader keeps the first section's interfaces when a second section starts (its
frames get the wrong link type and resolution), ignores if_tsoffset, and on a block whose
length lies it stops without reporting an error, losing every frame after it. Reading is chunked:
the file is read in large pieces and records are sliced out of the current piece, so memory
stays bounded by the chunk size and the largest record, never by the file.

Damage is reported as a located :class:`~mikeyshark.model.Problem` in ``problems`` (file,
frame number, byte offset, reason); every frame before the damage is yielded. A damaged
record is skipped when the next good one can be found - in pcapng a well-formed block
(known type, equal leading and trailing lengths), in classic pcap a plausible record header
confirmed by the one after it - and the frames after it are read too; a damaged record keeps
its frame number, so later frames keep theirs.
"""

from __future__ import annotations

import bisect
import heapq
import os
import re
import struct
import sys
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import BinaryIO

from mikeyshark.compressed import CompressionError, Decompressing, open_decompressed
from mikeyshark.model import Frame, Problem

LAYER = "capture"

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAP_MAGIC_KUZNETZOV = 0xA1B2CD34  # "modified" libpcap: 8 more bytes per record header
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BOM = 0x1A2B3C4D

BT_IDB = 0x00000001
BT_PB = 0x00000002  # obsolete Packet Block
BT_SPB = 0x00000003
BT_NRB = 0x00000004
BT_ISB = 0x00000005
BT_EPB = 0x00000006
BT_DSB = 0x0000000A
SECRETS_TLS_KEYLOG = 0x544C534B  # Decryption Secrets Block type "TLSK": an NSS key log
# Block types a resynchronising scan accepts as "a block starts here".
_KNOWN_BLOCKS = frozenset(
    {PCAPNG_SHB, BT_IDB, BT_PB, BT_SPB, BT_NRB, BT_ISB, BT_EPB, BT_DSB, 0x00000BAD, 0x40000BAD}
)
_PACKET_BLOCKS = frozenset({BT_PB, BT_SPB, BT_EPB})

OPT_ENDOFOPT = 0
OPT_IF_TSRESOL = 9
OPT_IF_TSOFFSET = 14

# Same bound as Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD: a record claiming more is damage.
MAX_RECORD = 262_144
# A pcapng block may carry more than one packet's worth of options, but not megabytes.
MAX_BLOCK = 16 * 1024 * 1024
CHUNK = 1 << 20
# How far past a damaged pcapng block the reader looks for the next good one.
RESYNC_WINDOW = 4 * 1024 * 1024


@dataclass(slots=True)
class _Interface:
    linktype: int
    snaplen: int
    tick_den: int  # timestamp ticks per second (if_tsresol)
    offset_ns: int  # if_tsoffset
    mult: int  # nanoseconds per tick when that is a whole number, else 0


class _Chunked:
    """A byte source read in large chunks; ``pos`` is the absolute file offset of ``buf[i]``.

    The input goes on at ``rest[roff:]`` once ``buf`` is used up. Chunks are never copied to
    join them: a record that straddles two chunks is copied alone into a small ``buf`` of
    its own, and the next chunk waits in ``rest`` until that record has been read (then it
    becomes ``buf`` as it is).
    """

    __slots__ = ("_read", "base", "buf", "eof", "i", "rest", "roff")

    def __init__(self, src: BinaryIO) -> None:
        # read1 returns what a pipe has instead of waiting for a whole chunk, so frames from
        # a live `tcpdump -w -` come through as they arrive.
        self._read = getattr(src, "read1", src.read)
        self.buf = b""
        self.i = 0
        self.base = 0  # absolute offset of buf[0]
        self.eof = False
        self.rest = b""
        self.roff = 0

    @property
    def pos(self) -> int:
        return self.base + self.i

    def ensure(self, n: int) -> bool:
        """Make ``n`` bytes available at ``buf[i:]``; False when the input ends first."""
        while True:
            have = len(self.buf) - self.i
            if have >= n:
                return True
            more = len(self.rest) - self.roff
            if not more:
                if self.eof:
                    return False
                piece = self._read(max(n - have, CHUNK))
                if not piece:
                    self.eof = True
                    return False
                self.rest, self.roff, more = piece, 0, len(piece)
            if not have:  # the next chunk as it is
                self.base += len(self.buf) - self.roff
                self.buf, self.i = self.rest, self.roff
                self.rest, self.roff = b"", 0
                continue
            if have + more < n:
                return self.gather(n)
            take = self.roff + n - have
            self.buf = self.buf[self.i :] + self.rest[self.roff : take]
            self.base += self.i
            self.i = 0
            self.roff = take
            return True

    def gather(self, n: int) -> bool:
        """Everything read so far and at least ``n`` bytes in all at ``buf[i:]`` (False
        when the input ends first): what a scan for the next good record looks through."""
        parts = [self.buf[self.i :], self.rest[self.roff :]]
        have = len(parts[0]) + len(parts[1])
        self.base += self.i
        self.i = 0
        self.rest, self.roff = b"", 0
        while have < n and not self.eof:
            piece = self._read(max(n - have, CHUNK))
            if not piece:
                self.eof = True
                break
            parts.append(piece)
            have += len(piece)
        self.buf = b"".join(parts)
        return have >= n

    def available(self) -> int:
        return len(self.buf) - self.i + len(self.rest) - self.roff


class CaptureReader:
    """Iterate the frames of one pcap or pcapng file, streaming.

    ``source`` is a path, ``"-"`` for standard input, or a binary file object, compressed or
    not (gzip, bzip2, xz, zstd: see :mod:`mikeyshark.compressed`). Frame numbers
    start at ``first_number`` (1, like Wireshark). Nothing is raised for bad input: after
    iteration ``problems`` holds every located read error, ``frames_read`` the number of
    frames yielded, and ``format`` stays None when the input was not a capture at all (cannot
    be opened, empty, unknown magic) - the caller's "unreadable input".
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | BinaryIO,
        name: str | None = None,
        *,
        first_number: int = 1,
    ) -> None:
        self._source = source
        if name is None:
            if isinstance(source, str | os.PathLike):
                name = "<stdin>" if os.fspath(source) == "-" else os.fspath(source)
            else:
                name = str(getattr(source, "name", "<stream>"))
        self.name = name
        self.problems: list[Problem] = []
        self.frames_read = 0
        self.format: str | None = None  # "pcap" / "pcap-ns" / "pcapng" once the header is read
        self.compression: str | None = None  # "gzip" / "bzip2" / "xz" / "zstd" when compressed
        # pcapng Decryption Secrets Blocks, as read: (secrets type, secrets data)
        self.secrets: list[tuple[int, bytes]] = []
        self._first = first_number
        # The number the next frame would get; damaged packet blocks use up a number too,
        # so the frames after them keep the numbers they have in the file.
        self.next_number = first_number

    # -- helpers -------------------------------------------------------------------------------

    def _problem(
        self, reason: str, offset: int | None, frame: int | None, field: str | None
    ) -> None:
        self.problems.append(
            Problem(LAYER, reason, frame=frame, file=self.name, field=field, offset=offset)
        )

    def _open(self) -> tuple[BinaryIO, bool]:
        src = self._source
        if isinstance(src, str | os.PathLike):
            if os.fspath(src) == "-":
                return sys.stdin.buffer, False
            return open(src, "rb"), True
        return src, False

    def __iter__(self) -> Iterator[Frame]:
        # The record loop is the iterator itself: chain hands its frames on without a Python
        # step of its own, where a generator delegating with `yield from` takes one per frame.
        return chain.from_iterable(self._start())

    def _start(self) -> Iterator[Iterator[Frame]]:
        """The record loop of the input, opened once iteration starts (not before: a pipe may
        have nothing to read yet)."""
        try:
            f, owned = self._open()
        except OSError as e:
            self._problem(f"cannot open: {e.strerror or e}", None, None, None)
            return
        unpacked: Decompressing | None = None
        try:
            try:
                stream, unpacked = open_decompressed(f)
            except CompressionError as e:
                self._problem(str(e), 0, None, "magic")
                return
            self.compression = unpacked.format if unpacked is not None else None
            src = _Chunked(stream)
            if not src.ensure(4):
                self._problem("file is empty or shorter than a capture header", 0, None, "magic")
                return
            magic_le = struct.unpack_from("<I", src.buf, 0)[0]
            if magic_le == PCAPNG_SHB:
                self.format = "pcapng"
                loop = self._read_pcapng(src)
            elif magic_le in (PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_KUZNETZOV) or (
                struct.unpack_from(">I", src.buf, 0)[0]
                in (PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_KUZNETZOV)
            ):
                loop = self._read_pcap(src)
            else:
                inside = f" inside the {self.compression} stream" if self.compression else ""
                self._problem(
                    f"not a pcap or pcapng file{inside} (magic {bytes(src.buf[:4]).hex()})",
                    0,
                    None,
                    "magic",
                )
                return
            try:
                yield loop
            finally:
                loop.close()  # a consumer that stopped early: the loop's numbers first
        finally:
            if unpacked is not None and unpacked.error is not None:
                self._problem(unpacked.error, None, self.next_number, "compression")
            if owned:
                f.close()

    # -- classic pcap --------------------------------------------------------------------------

    def _read_pcap(self, src: _Chunked) -> Generator[Frame, None, None]:
        if not src.ensure(24):
            self._problem(
                f"truncated pcap header: {src.available()} of 24 bytes", 0, None, "header"
            )
            return
        (magic,) = struct.unpack_from("<I", src.buf, 0)
        bo = "<" if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_KUZNETZOV) else ">"
        magic, _vmaj, _vmin, _zone, _sig, snaplen, network = struct.unpack_from(
            bo + "IHHiIII", src.buf, 0
        )
        src.i = 24
        self.format = "pcap-ns" if magic == PCAP_MAGIC_NS else "pcap"
        # Only the low 16 bits are the link type; the top bits say whether frames end in an
        # FCS (draft-ietf-opsawg-pcap, "LinkType and additional information").
        linktype = network & 0xFFFF
        mult = 1 if magic == PCAP_MAGIC_NS else 1000
        hdr = struct.Struct(bo + "IIII")
        hlen = 24 if magic == PCAP_MAGIC_KUZNETZOV else 16
        # A large snaplen admits larger records, but never past a block's bound: the header's
        # word alone must not make the reader ask for gigabytes.
        limit = max(MAX_RECORD, min(snaplen, MAX_BLOCK))
        last = self._first - 1  # the last frame's (or damaged record's) number
        damaged = 0  # records skipped as damaged
        unpack = hdr.unpack_from
        ns = 1_000_000_000
        last_sec: int | None = None  # of the last good record, to resynchronise on
        try:
            while True:
                # Records wholly inside the current chunk are sliced out without touching the
                # source object: this loop runs once per frame.
                buf = src.buf
                i = src.i
                n = len(buf)
                stop = n - hlen
                while i <= stop:
                    sec, frac, incl, orig = unpack(buf, i)
                    j = i + hlen
                    e = j + incl
                    if e > n or incl > limit:
                        break
                    last += 1  # before the yield: a consumer may stop at this frame
                    yield Frame(last, sec * ns + frac * mult, linktype, buf[j:e], orig)
                    last_sec = sec
                    i = e
                src.i = i
                if not src.ensure(hlen):
                    left = src.available()
                    if left:
                        self._problem(
                            f"truncated record header: {left} of {hlen} bytes before end of file",
                            src.pos,
                            last + 1,
                            "record",
                        )
                    return
                incl = unpack(src.buf, src.i)[2]
                if incl > limit:
                    at = src.pos
                    found = last_sec is not None and _pcap_resync(
                        src, unpack, hlen, limit, last_sec, 10**9 if mult == 1 else 10**6, bo
                    )
                    self._problem(
                        f"record length {incl} exceeds the maximum {limit}; "
                        + (
                            f"{src.pos - at} damaged bytes skipped, reading resumes at the "
                            f"next plausible record (offset {src.pos})"
                            if found
                            else "no plausible record follows: reading stops"
                        ),
                        at,
                        last + 1,
                        "incl_len",
                    )
                    if not found:
                        return
                    last += 1  # the damaged record keeps its number
                    damaged += 1
                    continue
                if not src.ensure(hlen + incl):
                    self._problem(
                        f"truncated record: header says {incl} bytes, "
                        f"{src.available() - hlen} left in file",
                        src.pos,
                        last + 1,
                        "record",
                    )
                    return
        finally:
            self.next_number = last + 1
            self.frames_read = last + 1 - self._first - damaged

    # -- pcapng --------------------------------------------------------------------------------

    def _read_pcapng(self, src: _Chunked) -> Generator[Frame, None, None]:
        last = self._first - 1  # the last frame's (or damaged packet block's) index
        damaged = 0  # packet blocks skipped as damaged
        bo = "<"
        ifaces: list[_Interface] = []
        seen_shb = False
        epb_le = struct.Struct("<IIIIIII")
        epb_be = struct.Struct(">IIIIIII")
        trail_le = struct.Struct("<I")
        trail_be = struct.Struct(">I")
        try:
            while True:
                # Fast path, once per frame: well-formed Enhanced Packet Blocks wholly inside the
                # current chunk. Anything else (other blocks, damage, chunk end) falls through to
                # the careful block-by-block code below.
                buf = src.buf
                i = src.i
                n = len(buf)
                epb = epb_le if bo == "<" else epb_be
                trail = trail_le if bo == "<" else trail_be
                nif = len(ifaces)
                while i + 28 <= n:
                    btype, blen, iface, hi, lo, caplen, origlen = epb.unpack_from(buf, i)
                    if (
                        btype != BT_EPB
                        or blen & 3
                        or i + blen > n
                        or caplen + 32 > blen
                        or iface >= nif
                        or trail.unpack_from(buf, i + blen - 4)[0] != blen
                    ):
                        break
                    ifc = ifaces[iface]
                    m = ifc.mult
                    ts = ((hi << 32) | lo) * m + ifc.offset_ns if m else _ts(ifc, hi, lo)
                    last += 1  # before the yield: a consumer may stop at this frame
                    yield Frame(last, ts, ifc.linktype, buf[i + 28 : i + 28 + caplen], origlen)
                    i += blen
                src.i = i
                if not src.ensure(12):
                    left = src.available()
                    if left:
                        self._problem(
                            f"truncated block header: {left} bytes before end of file",
                            src.pos,
                            last + 1,
                            "block",
                        )
                    return
                buf = src.buf
                i = src.i
                block_pos = src.pos
                (btype_le,) = struct.unpack_from("<I", buf, i)
                if btype_le == PCAPNG_SHB:
                    (bom,) = struct.unpack_from("<I", buf, i + 8)
                    if bom == PCAPNG_BOM:
                        bo = "<"
                    elif bom == 0x4D3C2B1A:
                        bo = ">"
                    else:
                        self._problem(
                            f"section header with unknown byte-order magic {bom:08x}",
                            block_pos + 8,
                            None,
                            "byte_order_magic",
                        )
                        return
                    seen_shb = True
                    ifaces = []  # interface ids are per section
                elif not seen_shb:
                    self._problem("pcapng data before a section header", block_pos, None, "block")
                    return
                btype, blen = struct.unpack_from(bo + "II", buf, i)
                frame_here = last + 1 if btype in _PACKET_BLOCKS else None
                # a block whose length cannot be trusted: why, reported at its length field
                damage: str | None = None
                skipped = False  # (the damaged block already skipped)
                if blen < 12 or blen % 4 or blen > MAX_BLOCK:
                    damage = f"block type 0x{btype:08x} has impossible length {blen}"
                elif not src.ensure(blen):
                    # Either the file was cut here or the length lies and more blocks follow.
                    left = src.available()
                    if not self._resync(src, block_pos, bo):
                        self._problem(
                            f"truncated block: type 0x{btype:08x} says {blen} bytes, "
                            f"{left} left in file",
                            block_pos,
                            frame_here,
                            "block",
                        )
                        return
                    damage = (
                        f"block type 0x{btype:08x} claims {blen} bytes, more than the "
                        f"{left} left in the file, yet a well-formed block follows it: "
                        "its length is wrong; block skipped"
                    )
                    skipped = True
                else:
                    buf = src.buf
                    i = src.i
                    (trailer,) = struct.unpack_from(bo + "I", buf, i + blen - 4)
                    if trailer != blen:
                        damage = (
                            f"block type 0x{btype:08x}: leading length {blen} and trailing "
                            f"length {trailer} disagree"
                        )
                if damage is not None:
                    self._problem(damage, block_pos + 4, frame_here, "block_total_length")
                    if not skipped and not self._skip_damage(src, block_pos, bo):
                        return
                    if frame_here is not None:
                        last += 1
                        damaged += 1
                    continue
                body = i + 8
                end = i + blen - 4
                src.i = i + blen
                try:
                    if btype in (BT_EPB, BT_PB):
                        # the obsolete packet block: a 16-bit interface and drop count where
                        # the enhanced one has a 32-bit interface, the rest alike
                        if btype == BT_EPB:
                            iface_id, ts_hi, ts_lo, caplen, origlen = struct.unpack_from(
                                bo + "IIIII", buf, body
                            )
                            caplen_at = 20
                        else:
                            iface_id, _drops, ts_hi, ts_lo, caplen, origlen = struct.unpack_from(
                                bo + "HHIIII", buf, body
                            )
                            caplen_at = 16
                        if 20 + caplen > end - body:
                            raise _BlockError(
                                "caplen", caplen_at, f"captured length {caplen} overruns block"
                            )
                        if iface_id >= len(ifaces):
                            raise _BlockError(
                                "interface_id", 0, f"interface {iface_id} was never described"
                            )
                        ifc = ifaces[iface_id]
                        data = buf[body + 20 : body + 20 + caplen]
                        last += 1
                        yield Frame(last, _ts(ifc, ts_hi, ts_lo), ifc.linktype, data, origlen)
                    elif btype == BT_SPB:
                        if not ifaces:
                            raise _BlockError(
                                "interface_id", 0, "simple packet before any interface"
                            )
                        (origlen,) = struct.unpack_from(bo + "I", buf, body)
                        room = end - body - 4
                        ifc = ifaces[0]
                        caplen = min(origlen, room, ifc.snaplen or room)
                        data = buf[body + 4 : body + 4 + caplen]
                        # A simple packet block has no timestamp; Wireshark shows 0 as well.
                        last += 1
                        yield Frame(last, 0, ifc.linktype, data, origlen)
                    elif btype == BT_IDB:
                        linktype, _res, snaplen = struct.unpack_from(bo + "HHI", buf, body)
                        ifaces.append(_parse_idb_options(buf, body, end, bo, linktype, snaplen))
                    elif btype == BT_DSB:
                        stype, slen = struct.unpack_from(bo + "II", buf, body)
                        if 8 + slen > end - body:
                            raise _BlockError(
                                "secrets_length", 4, f"secrets of {slen} bytes overrun"
                            )
                        self.secrets.append((stype, bytes(buf[body + 8 : body + 8 + slen])))
                    elif btype == PCAPNG_SHB:
                        (major,) = struct.unpack_from(bo + "H", buf, body + 4)
                        if major != 1:
                            raise _BlockError("major_version", 4, f"unsupported version {major}")
                except _BlockError as e:
                    self._problem(
                        f"block type 0x{btype:08x}: {e.reason}",
                        block_pos + 8 + e.offset,
                        frame_here,
                        e.field,
                    )
                    if frame_here is not None:
                        last += 1
                        damaged += 1
                except struct.error:
                    self._problem(
                        f"block type 0x{btype:08x} too short for its fixed fields",
                        block_pos,
                        frame_here,
                        "block",
                    )
                    if frame_here is not None:
                        last += 1
                        damaged += 1
        finally:
            self.next_number = last + 1
            self.frames_read = last + 1 - self._first - damaged

    def _skip_damage(self, src: _Chunked, block_pos: int, bo: str) -> bool:
        """:meth:`_resync`, reporting that reading stops when no well-formed block follows."""
        if self._resync(src, block_pos, bo):
            return True
        self._problem(
            "no well-formed block follows the damage; reading stops", block_pos, None, "block"
        )
        return False

    def _resync(self, src: _Chunked, block_pos: int, bo: str) -> bool:
        """Skip a damaged block: move to the next offset where a well-formed block starts.

        A candidate must have a known block type and a leading length equal to its trailing
        length, so a random 4-byte match in packet data is not taken for a block.
        """
        src.gather(RESYNC_WINDOW)
        buf = src.buf
        start = src.i + 4
        stop = len(buf) - 12
        unpack = struct.unpack_from
        fmt = bo + "II"
        for j in range(start, stop + 1, 4):
            btype, blen = unpack(fmt, buf, j)
            if btype == PCAPNG_SHB:
                (bom,) = unpack("<I", buf, j + 8)
                if bom == PCAPNG_BOM:
                    (blen,) = unpack("<I", buf, j + 4)
                    fmt_tr = "<I"
                elif bom == 0x4D3C2B1A:
                    (blen,) = unpack(">I", buf, j + 4)
                    fmt_tr = ">I"
                else:
                    continue
            elif btype in _KNOWN_BLOCKS:
                fmt_tr = bo + "I"
            else:
                continue
            if blen < 12 or blen % 4 or blen > MAX_BLOCK or j + blen > len(buf):
                continue
            if unpack(fmt_tr, buf, j + blen - 4)[0] == blen:
                src.i = j
                return True
        return False


def _pcap_resync(
    src: _Chunked,
    unpack: Callable[[bytes, int], tuple[int, int, int, int]],
    hlen: int,
    limit: int,
    last_sec: int,
    frac_max: int,
    bo: str,
) -> bool:
    """Move past a damaged pcap record to the next offset where a plausible one starts.

    Classic pcap has no block markers, so a candidate must look like a record: seconds
    within a day of the last good record (found quickly by searching for the two
    high-order bytes of the seconds, which rarely change), a fraction below one second,
    lengths with incl <= orig <= limit, and a record after it that is plausible as well
    (or the end of the file exactly).
    """
    src.gather(RESYNC_WINDOW)
    buf = src.buf
    base = src.i + 1
    sec_bytes = last_sec.to_bytes(4, "little" if bo == "<" else "big")
    # where the stable high bytes sit within the 4-byte seconds field
    pat, shift = (sec_bytes[2:], 2) if bo == "<" else (sec_bytes[:2], 0)

    def plausible(j: int) -> int:
        """End of the record at ``j`` if it is plausible, else -1."""
        if j + hlen > len(buf):
            return -1
        sec, frac, incl, orig = unpack(buf, j)
        if abs(sec - last_sec) > 86400 or frac >= frac_max or not incl <= orig <= limit:
            return -1
        return j + hlen + incl

    def confirmed(end: int) -> bool:
        """The record ending at ``end`` is followed by another plausible one, or ends the
        file exactly."""
        if end < len(buf):
            return plausible(end) != -1
        return end == len(buf) and src.eof

    k = buf.find(pat, base + shift)
    while k != -1:
        j = k - shift
        end = plausible(j)
        if end != -1 and confirmed(end):
            src.i = j
            return True
        k = buf.find(pat, k + 1)
    return False


class _BlockError(Exception):
    def __init__(self, field: str, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.offset = offset
        self.reason = reason


def _parse_idb_options(
    buf: bytes, body: int, end: int, bo: str, linktype: int, snaplen: int
) -> _Interface:
    """The interface an IDB whose body starts at ``buf[body]`` describes; a damaged option
    is a :class:`_BlockError` located by its offset in the body."""
    den, offset_s = 1_000_000, 0  # default resolution: microseconds
    pos = body + 8
    while pos + 4 <= end:
        code, olen = struct.unpack_from(bo + "HH", buf, pos)
        pos += 4
        if code == OPT_ENDOFOPT:
            break
        if pos + olen > end:
            raise _BlockError(
                "options", pos - 4 - body, f"option {code} length {olen} overruns block"
            )
        if code == OPT_IF_TSRESOL and olen >= 1:
            r = buf[pos]
            exp = r & 0x7F
            if exp > 63:
                raise _BlockError(
                    "if_tsresol", pos - body, f"resolution exponent {exp} out of range"
                )
            den = (2**exp) if r & 0x80 else (10**exp)
        elif code == OPT_IF_TSOFFSET and olen >= 8:
            (offset_s,) = struct.unpack_from(bo + "q", buf, pos)
        pos += (olen + 3) & ~3
    mult = 1_000_000_000 // den if 1_000_000_000 % den == 0 else 0
    return _Interface(linktype, snaplen, den, offset_s * 1_000_000_000, mult)


def _ts(ifc: _Interface, hi: int, lo: int) -> int:
    """Nanoseconds since the epoch of a pcapng timestamp (truncated below a nanosecond)."""
    ticks = (hi << 32) | lo
    if ifc.mult:
        return ticks * ifc.mult + ifc.offset_ns
    return ticks * 1_000_000_000 // ifc.tick_den + ifc.offset_ns


def iter_frames(
    *sources: str | os.PathLike[str] | BinaryIO, problems: list[Problem] | None = None
) -> Iterator[Frame]:
    """Frames of several captures in order; numbering continues from one file to the next.

    Read problems are never raised; they are appended to ``problems`` when it is given.
    """
    number = 1
    for s in sources:
        reader = CaptureReader(s, first_number=number)
        yield from reader
        number = reader.next_number
        if problems is not None:
            problems.extend(reader.problems)


def read_all(
    sources: Iterable[str | os.PathLike[str] | BinaryIO],
) -> tuple[list[Frame], list[Problem]]:
    """Every frame and problem of small captures (tests, tools); not for large files."""
    frames: list[Frame] = []
    problems: list[Problem] = []
    number = 1
    for s in sources:
        reader = CaptureReader(s, first_number=number)
        frames.extend(reader)
        problems.extend(reader.problems)
        number = reader.next_number
    return frames, problems


# dumpcap's ring buffer (-b files/filesize/duration) and editcap -c/-i: <prefix>_<5-digit
# file number>_<YYYYmmddHHMMSS>.<extension>
_RING = re.compile(r"^(?P<prefix>.*)_(?P<n>\d{5})_(?P<t>\d{14})(?P<ext>\.[A-Za-z0-9.]+)$")


def group_captures(paths: Sequence[str]) -> list[list[str]]:
    """The files of ``paths`` that are rotated pieces of one probe's capture, grouped.

    Pieces are recognised by dumpcap's ring-buffer names (``<prefix>_<NNNNN>_<YYYYmmddHHMMSS>
    .<ext>``, the same prefix and extension); each group is in file-number order and stands
    where its first piece was given. Every other file is a group of its own.
    """
    groups: list[list[str]] = []
    by_key: dict[tuple[str, str], list[str]] = {}
    for p in paths:
        m = _RING.match(p)
        if m is None:
            groups.append([p])
            continue
        key = (m.group("prefix"), m.group("ext"))
        g = by_key.get(key)
        if g is None:
            g = by_key[key] = []
            groups.append(g)
        g.append(p)
    for g in by_key.values():
        g.sort(key=lambda p: (int(_RING.match(p).group("n")), p))  # type: ignore[union-attr]
    return groups


class MergedReader:
    """Several captures of one probe (rotated files) as one capture in timestamp order.

    Frames of different files are merged by timestamp (the files may overlap); within a file
    the order of the file is kept, and a tie goes to the file given first. Numbering runs
    on from 1 across the merged stream, as if the files were one; a damaged record of a
    file still uses up a number. ``file_of(number)`` names the file a frame came from;
    ``problems`` (after iteration) carry each file's name and the merged frame numbers.
    With one source this is :class:`CaptureReader` with the same interface.
    """

    def __init__(self, sources: Sequence[str | os.PathLike[str] | BinaryIO]) -> None:
        self.readers = [CaptureReader(s) for s in sources]
        self.names = [r.name for r in self.readers]
        # every file's Decryption Secrets Blocks in one list, in the order they were read
        self.secrets: list[tuple[int, bytes]] = []
        for r in self.readers:
            r.secrets = self.secrets
        self.name = " + ".join(self.names)
        self._merged_read = 0  # frames yielded by the merge of several files
        # a run of frames numbered on from one file: (merged number of its first frame, file
        # index, file-local number of that frame, numbers used up by damage just before it)
        self._runs: list[tuple[int, int, int, int]] = []
        self._starts: list[int] = []

    @property
    def frames_read(self) -> int:
        """The frames yielded so far."""
        if len(self.readers) == 1:
            return self.readers[0].frames_read
        return self._merged_read

    @property
    def format(self) -> str | None:
        """The first format read; None when no source was a capture."""
        return next((r.format for r in self.readers if r.format is not None), None)

    @property
    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        for i, r in enumerate(self.readers):
            for p in r.problems:
                n = self._merged(i, p.frame) if p.frame is not None else None
                out.append(Problem(p.layer, p.reason, n, p.file, p.field, p.offset, p.severity))
        return out

    def file_of(self, number: int) -> str | None:
        """The file the frame numbered ``number`` came from."""
        k = bisect.bisect_right(self._starts, number) - 1
        return self.names[self._runs[k][1]] if k >= 0 else None

    def _merged(self, index: int, local: int) -> int:
        """The merged number of file ``index``'s frame ``local`` (or of the damage there)."""
        best: tuple[int, int, int, int] | None = None
        for run in self._runs:
            if run[1] != index:
                continue
            if run[2] > local:
                if run[2] - run[3] <= local:  # damage just before this run
                    return run[0] - (run[2] - local)
                break
            best = run
        if best is None:
            return local
        return best[0] + local - best[2]

    def __iter__(self) -> Iterator[Frame]:
        readers = self.readers
        if len(readers) == 1:
            # the file's own frames, without a step of this reader's per frame
            self._runs = [(1, 0, 1, 0)]
            self._starts = [1]
            return iter(readers[0])
        return self._merge()

    def _merge(self) -> Iterator[Frame]:
        readers = self.readers
        its = [iter(r) for r in readers]
        heap: list[tuple[int, int, Frame]] = []
        for i, it in enumerate(its):
            head = next(it, None)
            if head is not None:
                heap.append((head.ts_ns, i, head))
        heapq.heapify(heap)
        number = 1
        last_file = -1
        last_local = [0] * len(readers)
        runs = self._runs
        starts = self._starts
        while heap:
            _, i, f = heap[0]
            it = its[i]
            # the current file's frames while they come before every other file's next one
            while True:
                skipped = f.number - last_local[i] - 1  # damaged records use up numbers
                if i != last_file or skipped:
                    number += skipped
                    runs.append((number, i, f.number, skipped))
                    starts.append(number)
                    last_file = i
                last_local[i] = f.number
                self._merged_read += 1
                yield Frame(number, f.ts_ns, f.linktype, f.data, f.wirelen)
                number += 1
                nxt = next(it, None)
                if nxt is None:
                    heapq.heappop(heap)
                    break
                if len(heap) > 1 and (nxt.ts_ns, i) > min(heap[1:3])[:2]:
                    heapq.heapreplace(heap, (nxt.ts_ns, i, nxt))
                    break
                heap[0] = (nxt.ts_ns, i, nxt)
                f = nxt
