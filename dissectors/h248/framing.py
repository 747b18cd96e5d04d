"""TPKT (RFC 1006 section 6): how H.248 travels over TCP (H.248.1 Annex D.2).

Each message is preceded by a 4-byte header: version 3, a reserved byte 0, and the packet
length in network order, header included. :class:`TpktFramer` splits one direction of a TCP
stream into packets (sans-IO, like the MSRP and BFCP framers); bytes that are not TPKT are
reported once per skipped run, and after such a run a header is believed only when its
payload starts like a Megaco message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.framing import FramingError as FramingError
from mikeyshark.dissectors.framing import LengthFramer
from mikeyshark.dissectors.h248.text import looks_like_text

LAYER = "tpkt"
VERSION = 3
HEADER_LEN = 4
MAX_LEN = 0xFFFF  # the length field is 16 bits
PORT = 2944  # H.248.1 Annex D: text encoding over TCP (and UDP, SCTP)

_CANDIDATE = re.compile(rb"\x03\x00")


def build_tpkt(payload: bytes) -> bytes:
    n = HEADER_LEN + len(payload)
    if n > MAX_LEN:
        raise ValueError(f"TPKT packet of {n} bytes exceeds {MAX_LEN}")
    return bytes((VERSION, 0)) + n.to_bytes(2, "big") + payload


def parse_tpkt(data: bytes) -> tuple[bytes, int]:
    """The payload of the packet at the start of ``data`` and the packet's length."""
    if len(data) < HEADER_LEN:
        raise DissectError(LAYER, 0, f"needs {HEADER_LEN} bytes, {len(data)} left", "length")
    if data[0] != VERSION:
        raise DissectError(LAYER, 0, f"version {data[0]} is not 3", "version")
    if data[1] != 0:
        raise DissectError(LAYER, 1, f"reserved byte is {data[1]}, not 0", "reserved")
    n = int.from_bytes(data[2:4], "big")
    if n <= HEADER_LEN:
        raise DissectError(LAYER, 2, f"length {n} leaves no payload", "length")
    if n > len(data):
        raise DissectError(LAYER, 2, f"length {n} exceeds the {len(data)} bytes", "length")
    return data[HEADER_LEN:n], n


def megaco_payload(payload: bytes) -> bool:
    """Does a payload start like a Megaco message (text header or a BER SEQUENCE)?"""
    return looks_like_text(payload) or payload[:1] == b"\x30"


@dataclass(frozen=True, slots=True)
class TpktPacket:
    """A framed packet: stream offsets ``[start, end)`` of the whole packet, its payload."""

    start: int
    end: int
    payload: bytes


Framed = TpktPacket | FramingError


class TpktFramer(LengthFramer[TpktPacket]):
    layer = LAYER
    unit = "packet"

    def _skip(self, n: int) -> None:
        if self._garbage_from is None:
            self._garbage_from = self._base
        self._consume(n)
        self._resyncing = True

    def _drain(self, out: list[Framed]) -> None:
        buf = self._buf
        while len(buf) >= HEADER_LEN:
            n = (buf[2] << 8) | buf[3]
            if buf[0] != VERSION or buf[1] != 0 or n <= HEADER_LEN:
                m = _CANDIDATE.search(buf, 1)
                if m is not None:
                    self._skip(m.start())
                else:
                    self._skip(len(buf) - 1 if buf[-1] == VERSION else len(buf))
                continue
            if len(buf) < n:
                if not self._closing:
                    return
                if self._resyncing:
                    self._skip(1)
                else:
                    reason = f"stream ended: packet needs {n} bytes, {len(buf)} arrived"
                    self._bad(out, self._base + 2, "length", reason)
                    self._consume(HEADER_LEN)
                continue
            payload = bytes(buf[HEADER_LEN:n])
            if self._resyncing and not megaco_payload(payload):
                self._skip(1)
                continue
            start = self._base
            self._flush_garbage(out, start)
            self._resyncing = False
            out.append(TpktPacket(start, start + n, payload))
            self._consume(n)


__all__ = [
    "HEADER_LEN",
    "LAYER",
    "MAX_LEN",
    "PORT",
    "VERSION",
    "FramingError",
    "TpktFramer",
    "TpktPacket",
    "build_tpkt",
    "megaco_payload",
    "parse_tpkt",
]
