"""What the stream framers (MSRP, BFCP, TPKT) share: the buffer of one direction with its stream
offset, and the bookkeeping that turns every run of skipped bytes into one error.

A framer that loses sync skips bytes until it finds a message again; the whole skipped run
becomes a single :class:`FramingError` spanning it, with the reason of the first problem
(or, when there was none, the count of bytes that are not the protocol).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from mikeyshark.dissectors.errors import DissectError

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class FramingError:
    """Stream bytes ``[start, end)`` that are not a message; ``error.offset`` is absolute."""

    start: int
    end: int
    error: DissectError


class StreamFramer(Generic[M]):
    """Base of a sans-IO framer whose results are ``M`` (a framed message) or
    :class:`FramingError`."""

    layer: ClassVar[str]

    def __init__(self) -> None:
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._garbage_from: int | None = None  # first skipped byte not yet reported
        self._garbage_why: tuple[int, str, str] | None = None  # (offset, field, reason)
        self._closing = False

    @property
    def offset(self) -> int:
        """Stream offset of the next byte ``feed`` expects."""
        return self._base + len(self._buf)

    @property
    def buffered(self) -> int:
        return len(self._buf)

    @property
    def oldest(self) -> int:
        """The smallest stream offset a later result may still refer to."""
        return self._base if self._garbage_from is None else min(self._garbage_from, self._base)

    def _flush_garbage(self, out: list[M | FramingError], upto: int) -> None:
        start = self._garbage_from
        if start is not None and upto > start:
            at, fld, reason = self._garbage_why or (
                start,
                "stream",
                f"{upto - start} bytes that are not {self.layer.upper()}",
            )
            out.append(self._error(start, upto, at, fld, reason))
        self._garbage_from = None
        self._garbage_why = None

    def _consume(self, n: int) -> None:
        del self._buf[:n]
        self._base += n

    def _error(self, start: int, end: int, at: int, field: str | None, reason: str) -> FramingError:
        return FramingError(start, end, DissectError(self.layer, at, reason, field))


class LengthFramer(StreamFramer[M]):
    """Base of a framer of messages whose header gives their length (BFCP, TPKT): after a
    bad message or a gap it resynchronises, and then believes only a header whose message
    parses. Subclasses frame in ``_drain`` and name what they frame in ``unit``."""

    unit: ClassVar[str]  # "message", "packet": what a gap cuts

    def __init__(self) -> None:
        super().__init__()
        self._resyncing = False

    def feed(self, data: bytes, gap: int = 0) -> list[M | FramingError]:
        out: list[M | FramingError] = []
        if gap:
            if self._buf and self._garbage_from is None:
                self._bad(out, self._base, "stream", f"{self.unit} cut by {gap} missing bytes")
            self._flush_garbage(out, self.offset)
            self._base = self.offset + gap
            self._buf.clear()
            self._resyncing = True
        self._buf += data
        self._drain(out)
        return out

    def close(self) -> list[M | FramingError]:
        """End of stream: frame what still can be, report the rest."""
        out: list[M | FramingError] = []
        self._closing = True
        self._drain(out)
        if self._buf and self._garbage_from is None:
            self._garbage_from = self._base
        self._flush_garbage(out, self.offset)
        self._consume(len(self._buf))
        return out

    def _bad(self, out: list[M | FramingError], at: int, field: str, reason: str) -> None:
        """The message at the buffer head is bad: its error spans it and whatever else is
        skipped until framing resumes."""
        self._flush_garbage(out, self._base)
        self._garbage_from = self._base
        self._garbage_why = (at, field, reason)
        self._resyncing = True

    def _drain(self, out: list[M | FramingError]) -> None:
        raise NotImplementedError
