"""GTP-U (3GPP TS 29.281): the user-plane tunnel of S1-U, S5/S8-U and N3/N9.

:func:`parse` / :func:`build` turn a GTP-U header (with its optional sequence number, N-PDU
number and chain of extension headers) into a :class:`GtpuHeader` and back;
:func:`decode_gtpu` is the flow table's allocation-light path: TEID, message type, QFI of a
PDU Session Container, and where the tunnelled packet (T-PDU) lies.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from mikeyshark.dissectors.buffer import Reader, Writer
from mikeyshark.dissectors.consts import Const, ValueTable
from mikeyshark.dissectors.errors import DissectError

LAYER = "gtp"
GTPU_PORT = 2152  # TS 29.281 section 4.4.2.3

_TS = "3GPP TS 29.281"
MESSAGE_TYPE = ValueTable(
    "gtp.message_type",
    [
        Const(1, "Echo Request", f"{_TS} table 6.1-1"),
        Const(2, "Echo Response", f"{_TS} table 6.1-1"),
        Const(26, "Error Indication", f"{_TS} table 6.1-1"),
        Const(31, "Supported Extension Headers Notification", f"{_TS} table 6.1-1"),
        Const(253, "Tunnel Status", f"{_TS} table 6.1-1"),
        Const(254, "End Marker", f"{_TS} table 6.1-1"),
        Const(255, "G-PDU", f"{_TS} table 6.1-1"),
    ],
)
MT_GPDU = MESSAGE_TYPE["G-PDU"]

EXTENSION_TYPE = ValueTable(
    "gtp.ext_hdr",
    [
        Const(0x00, "No more extension headers", f"{_TS} figure 5.2.1-3"),
        Const(0x03, "Long PDCP PDU Number", f"{_TS} figure 5.2.1-3"),
        Const(0x20, "Service Class Indicator", f"{_TS} figure 5.2.1-3"),
        Const(0x40, "UDP Port", f"{_TS} figure 5.2.1-3"),
        Const(0x81, "RAN Container", f"{_TS} figure 5.2.1-3"),
        Const(0x82, "Long PDCP PDU Number (extension)", f"{_TS} figure 5.2.1-3"),
        Const(0x83, "Xw RAN Container", f"{_TS} figure 5.2.1-3"),
        Const(0x84, "NR RAN Container", f"{_TS} figure 5.2.1-3"),
        Const(0x85, "PDU Session Container", f"{_TS} figure 5.2.1-3"),
        Const(0xC0, "PDCP PDU Number", f"{_TS} figure 5.2.1-3"),
    ],
)
EXT_PDU_SESSION_CONTAINER = EXTENSION_TYPE["PDU Session Container"]

# flags octet: version (3 bits) | PT | spare | E | S | PN; any of E/S/PN adds 4 octets
_HDR = struct.Struct("!BBHI")


@dataclass(frozen=True, slots=True)
class GtpExtension:
    """One extension header: its type (the "next extension header type" that announced it)
    and its content without the length octet and the next-type octet."""

    ext_type: int
    content: bytes

    @property
    def qfi(self) -> int | None:
        """QoS Flow Identifier of a PDU Session Container (TS 38.415 5.5.2, low 6 bits of
        the second octet in both the DL and the UL PDU SESSION INFORMATION)."""
        if self.ext_type != EXT_PDU_SESSION_CONTAINER or len(self.content) < 2:
            return None
        return self.content[1] & 0x3F


@dataclass(frozen=True, slots=True)
class GtpuHeader:
    version: int
    protocol_type: int
    message_type: int
    length: int  # octets after the mandatory 8-octet header
    teid: int
    # the optional 4 octets, present when any of E, S, PN is set
    flags: int  # E/S/PN bits as written
    sequence: int | None = None
    npdu: int | None = None
    extensions: tuple[GtpExtension, ...] = ()
    spare: int = 0  # the reserved bit

    @property
    def qfi(self) -> int | None:
        return next((e.qfi for e in self.extensions if e.qfi is not None), None)


@dataclass(frozen=True, slots=True)
class GtpuPacket:
    header: GtpuHeader
    payload: bytes


def parse(data: bytes) -> GtpuPacket:
    r = Reader(data, LAYER)
    b0 = r.u8("flags")
    version = b0 >> 5
    if version != 1:
        raise DissectError(LAYER, 0, f"version {version} is not 1 (GTPv1-U)", "version")
    mt = r.u8("message_type")
    length = r.u16("length")
    teid = r.u32("teid")
    if 8 + length > len(data):
        raise DissectError(
            LAYER,
            2,
            f"length {length} exceeds the {len(data) - 8} bytes after the header",
            "length",
        )
    end = 8 + length
    r = Reader(data, LAYER, 8, end)
    flags = b0 & 0x07
    seq = npdu = None
    exts: list[GtpExtension] = []
    if flags:
        seq = r.u16("sequence")
        npdu = r.u8("npdu")
        nxt = r.u8("next_ext")
        while nxt:
            units = r.u8("ext_length")
            if units == 0:
                raise r.error("extension header length 0", "ext_length")
            body = r.take(units * 4 - 2, "ext_content")
            exts.append(GtpExtension(nxt, body))
            nxt = r.u8("next_ext")
    header = GtpuHeader(
        version,
        (b0 >> 4) & 1,
        mt,
        length,
        teid,
        flags,
        seq,
        npdu,
        tuple(exts),
        (b0 >> 3) & 1,
    )
    return GtpuPacket(header, r.rest())


def build(p: GtpuPacket) -> bytes:
    h = p.header
    w = Writer()
    opt = Writer()
    if h.flags:
        opt.u16(h.sequence or 0)
        opt.u8(h.npdu or 0)
        for e in h.extensions:
            opt.u8(e.ext_type)
            if (len(e.content) + 2) % 4:
                raise DissectError(
                    LAYER, 0, f"extension content of {len(e.content)} bytes is not 4n-2", "ext"
                )
            opt.u8((len(e.content) + 2) // 4)
            opt.raw(e.content)
        opt.u8(0)
    body = opt.getvalue() + p.payload
    w.u8((h.version << 5) | (h.protocol_type << 4) | (h.spare << 3) | h.flags)
    w.u8(h.message_type)
    w.u16(len(body))
    w.u32(h.teid)
    w.raw(body)
    return w.getvalue()


def decode_gtpu(data: bytes, start: int, end: int) -> tuple[int, int, int, int, int]:
    """Hot path: (TEID, message type, QFI or -1, T-PDU start, T-PDU end) of the GTP-U
    message at ``data[start:end]``. Raises DissectError with the offset in ``data``."""
    if end - start < 8:
        raise DissectError(LAYER, start, f"needs 8 bytes, {end - start} left", "flags")
    b0, mt, length, teid = _HDR.unpack_from(data, start)
    if b0 >> 5 != 1:
        raise DissectError(LAYER, start, f"version {b0 >> 5} is not 1 (GTPv1-U)", "version")
    stop = start + 8 + length
    if stop > end:
        raise DissectError(
            LAYER,
            start + 2,
            f"length {length} exceeds the {end - start - 8} bytes after the header",
            "length",
        )
    pos = start + 8
    qfi = -1
    if b0 & 0x07:
        if pos + 4 > stop:
            raise DissectError(LAYER, pos, "optional fields cut short", "next_ext")
        nxt = data[pos + 3]
        pos += 4
        while nxt:
            if pos >= stop:
                raise DissectError(LAYER, pos, "extension header cut short", "ext_length")
            units = data[pos]
            if units == 0:
                raise DissectError(LAYER, pos, "extension header length 0", "ext_length")
            e = pos + units * 4
            if e > stop:
                raise DissectError(
                    LAYER, pos, f"extension header of {units * 4} bytes overruns", "ext_length"
                )
            if nxt == EXT_PDU_SESSION_CONTAINER and units * 4 >= 4:
                qfi = data[pos + 2] & 0x3F
            nxt = data[e - 1]
            pos = e
    return teid, mt, qfi, pos, stop
