"""Data types shared by the analyzer's stages (capture -> flows -> calls -> keys -> checks).

Kept here, apart from the stages, so that each stage can be written and tested against
the types without importing the others.
"""

from __future__ import annotations

import os
import re
import traceback
from dataclasses import dataclass
from enum import StrEnum


# Not frozen, though never changed: a frame is built for every record of a capture, and a
# frozen dataclass sets each field through object.__setattr__ (several times slower).
@dataclass(slots=True)
class Frame:
    """One captured frame. ``number`` is 1-based and counts like Wireshark's frame.number."""

    number: int
    ts_ns: int  # capture time, nanoseconds since the Unix epoch
    linktype: int  # LINKTYPE_* value of the interface the frame was captured on
    data: bytes  # the captured bytes (possibly shorter than wirelen)
    wirelen: int  # original length on the wire


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    ip: str
    port: int

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


class Severity(StrEnum):
    ERROR = "error"  # input that could not be read; the rest goes on
    WARNING = "warning"  # read, but something is off (a retransmission that disagrees, ...)
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Problem:
    """A located diagnostic: which file, which frame, which layer and field, and why."""

    layer: str
    reason: str
    frame: int | None = None
    file: str | None = None
    field: str | None = None
    offset: int | None = None
    severity: Severity = Severity.ERROR
    # A stable name of what went wrong, for tools that count or filter problems: given
    # where the cause has one ("internal.exception", "budget.open_calls"), else the layer
    # and field ("sip.cseq", "tls.record").
    code: str = ""

    @property
    def kind(self) -> str:
        """The problem's stable code (given, or ``layer.field``)."""
        if self.code:
            return self.code
        return f"{self.layer}.{self.field}" if self.field else self.layer

    def __str__(self) -> str:
        where = [p for p in (self.file, f"frame {self.frame}" if self.frame else None) if p]
        loc = ", ".join(where)
        fld = f"{self.layer}.{self.field}" if self.field else self.layer
        at = f" at offset {self.offset}" if self.offset is not None else ""
        return f"{loc + ': ' if loc else ''}{fld}{at}: {self.reason}"

    def to_json(self) -> dict[str, object]:
        d: dict[str, object] = {"frame": self.frame, "layer": self.layer, "reason": self.reason}
        if self.field is not None:
            d["field"] = self.field
        if self.offset is not None:
            d["offset"] = self.offset
        if self.file is not None:
            d["file"] = self.file
        d["severity"] = self.severity.value
        d["code"] = self.kind
        return d


INTERNAL = "internal.exception"  # the code of an exception nothing expected: a bug
# what an exception's text may quote that must not reach a report: long hex (a key), bytes
_SECRETS = re.compile(r"[0-9A-Fa-f]{16,}|b'(?:[^'\\]|\\.)*'|b\"(?:[^\"\\]|\\.)*\"")


def internal_problem(
    e: BaseException, what: str, frame: int | None = None, file: str | None = None
) -> Problem:
    """An unexpected exception, as a located problem of the unit of work it stopped
    (``what``: "frame", "SIP message", "call X", ...), so that the others go on. The text
    names the exception and the line that raised it; hex and bytes it quotes are elided."""
    where = ""
    tb = traceback.extract_tb(e.__traceback__)
    if tb:
        last = tb[-1]
        where = f" (at {os.path.basename(last.filename)}:{last.lineno} in {last.name})"
    text = _SECRETS.sub("...", str(e))[:200]
    return Problem(
        "analyzer",
        f"internal error while handling {what}: {type(e).__name__}: {text}{where}",
        frame,
        file,
        code=INTERNAL,
    )


# Not frozen, though never changed (as Frame): one is built for every TCP segment a handler
# reads, the media's and the signalling's.
@dataclass(slots=True)
class StreamChunk:
    """Reassembled, in-order bytes of one TCP direction, all from one frame.

    ``offset`` is the position of ``data[0]`` in the direction's byte stream (0 = first
    byte after the SYN). ``gap`` > 0 says that many bytes before this chunk were never
    captured: consumers must resynchronise (or give up on the stream) rather than glue
    the two sides of the hole together.
    """

    frame: int
    ts_ns: int
    offset: int
    data: bytes
    gap: int = 0


@dataclass(frozen=True, slots=True)
class Tunnel:
    """The GTP-U tunnel an inner flow was first seen in (TS 29.281): the TEID of that
    packet, the outer addresses, and the QFI of its PDU Session Container (None without)."""

    teid: int
    outer_src: str
    outer_dst: str
    qfi: int | None = None

    def __str__(self) -> str:
        q = f" QFI {self.qfi}" if self.qfi is not None else ""
        return f"GTP-U TEID 0x{self.teid:08x} {self.outer_src} -> {self.outer_dst}{q}"


@dataclass(slots=True)
class TunnelFrame(Frame):
    """The inner packet of a G-PDU, fed to a tunnel zone's table: the frame a handler's
    ``on_udp`` gets for a datagram that came through GTP-U, so the handler can tell which
    tunnel it came through (other frames cost nothing extra)."""

    tunnel: Tunnel
