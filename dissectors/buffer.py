"""Bounds-checked reading and writing of network-order integers and byte strings.

Every codec reads through :class:`Reader` so that a length field that lies produces a
:class:`DissectError` naming the layer, the offset and the field instead of an IndexError
or a silently short slice.
"""

from __future__ import annotations

import struct

from mikeyshark.dissectors.errors import DissectError

_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")


class Reader:
    """A cursor over ``data[start:end]``; positions are absolute offsets into ``data``."""

    __slots__ = ("data", "end", "layer", "pos", "start")

    def __init__(self, data: bytes, layer: str, start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.layer = layer
        self.start = start
        self.pos = start
        self.end = len(data) if end is None else end
        if not 0 <= start <= self.end <= len(data):
            raise DissectError(layer, start, f"window {start}..{end} outside {len(data)} bytes")

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    @property
    def offset(self) -> int:
        """Offset from the start of this reader's window."""
        return self.pos - self.start

    def eof(self) -> bool:
        return self.pos >= self.end

    def error(self, reason: str, field: str | None = None) -> DissectError:
        return DissectError(self.layer, self.pos, reason, field)

    def _need(self, n: int, field: str | None) -> None:
        if n < 0 or self.pos + n > self.end:
            raise DissectError(
                self.layer,
                self.pos,
                f"needs {n} bytes, {self.end - self.pos} left",
                field,
            )

    # Each reader checks its bounds inline and calls _need only to raise: a message is read
    # a field at a time, and a call per field is most of what reading one costs.
    def u8(self, field: str | None = None) -> int:
        p = self.pos
        if p >= self.end:
            self._need(1, field)
        self.pos = p + 1
        return self.data[p]

    def u16(self, field: str | None = None) -> int:
        p = self.pos
        if p + 2 > self.end:
            self._need(2, field)
        self.pos = p + 2
        d = self.data
        return (d[p] << 8) | d[p + 1]

    def u24(self, field: str | None = None) -> int:
        p = self.pos
        if p + 3 > self.end:
            self._need(3, field)
        d = self.data
        self.pos = p + 3
        return (d[p] << 16) | (d[p + 1] << 8) | d[p + 2]

    def u32(self, field: str | None = None) -> int:
        p = self.pos
        if p + 4 > self.end:
            self._need(4, field)
        (v,) = _U32.unpack_from(self.data, p)
        self.pos = p + 4
        return int(v)

    def u64(self, field: str | None = None) -> int:
        p = self.pos
        if p + 8 > self.end:
            self._need(8, field)
        (v,) = _U64.unpack_from(self.data, p)
        self.pos = p + 8
        return int(v)

    def take(self, n: int, field: str | None = None) -> bytes:
        p = self.pos
        if n < 0 or p + n > self.end:
            self._need(n, field)
        self.pos = p + n
        return bytes(self.data[p : p + n])

    def rest(self) -> bytes:
        v = self.data[self.pos : self.end]
        self.pos = self.end
        return bytes(v)

    def sub(self, n: int, field: str | None = None) -> Reader:
        """A reader over the next ``n`` bytes; this reader skips past them."""
        self._need(n, field)
        r = Reader(self.data, self.layer, self.pos, self.pos + n)
        self.pos += n
        return r


class Writer:
    """Builds network-order bytes; the mirror of :class:`Reader`."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts = bytearray()

    def __len__(self) -> int:
        return len(self._parts)

    def u8(self, v: int) -> Writer:
        self._parts.append(v & 0xFF if 0 <= v <= 0xFF else _range(v, 8))
        return self

    def u16(self, v: int) -> Writer:
        self._parts += _check(v, 16).to_bytes(2, "big")
        return self

    def u24(self, v: int) -> Writer:
        self._parts += _check(v, 24).to_bytes(3, "big")
        return self

    def u32(self, v: int) -> Writer:
        self._parts += _check(v, 32).to_bytes(4, "big")
        return self

    def u64(self, v: int) -> Writer:
        self._parts += _check(v, 64).to_bytes(8, "big")
        return self

    def raw(self, b: bytes) -> Writer:
        self._parts += b
        return self

    def getvalue(self) -> bytes:
        return bytes(self._parts)


def _check(v: int, bits: int) -> int:
    if not 0 <= v < (1 << bits):
        _range(v, bits)
    return v


def _range(v: int, bits: int) -> int:
    raise ValueError(f"{v} does not fit in {bits} bits")
