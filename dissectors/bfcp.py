"""BFCP (RFC 4582, RFC 8855): common header, primitives, attributes, stream framer.

Attributes are typed dataclasses; the grouped ones (BENEFICIARY-INFORMATION,
FLOOR-REQUEST-INFORMATION, REQUESTED-BY-INFORMATION, FLOOR-REQUEST-STATUS,
OVERALL-REQUEST-STATUS) hold their nested attributes. Every attribute is padded to a 4-byte
boundary; its Length excludes its own padding, and a grouped attribute's Length covers its
4-byte header plus the nested attributes *with* their padding (RFC 8855 5.2). When
parsing, the padding of the last nested attribute is also accepted outside the group's
Length, which some stacks emit.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar

from mikeyshark.dissectors.buffer import Reader, Writer
from mikeyshark.dissectors.consts import Const, ValueTable
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.framing import FramingError as FramingError
from mikeyshark.dissectors.framing import LengthFramer

LAYER = "bfcp"
HEADER_LEN = 12
FRAGMENT_HEADER_LEN = 16

_4582 = "RFC 4582 section 5.1"
_8855 = "RFC 8855 section 5.1"
PRIMITIVES = ValueTable(
    "bfcp.primitive",
    [
        Const(1, "FloorRequest", _4582),
        Const(2, "FloorRelease", _4582),
        Const(3, "FloorRequestQuery", _4582),
        Const(4, "FloorRequestStatus", _4582),
        Const(5, "UserQuery", _4582),
        Const(6, "UserStatus", _4582),
        Const(7, "FloorQuery", _4582),
        Const(8, "FloorStatus", _4582),
        Const(9, "ChairAction", _4582),
        Const(10, "ChairActionAck", _4582),
        Const(11, "Hello", _4582),
        Const(12, "HelloAck", _4582),
        Const(13, "Error", _4582),
        Const(14, "FloorRequestStatusAck", _8855),
        Const(15, "ErrorAck", _8855),
        Const(16, "FloorStatusAck", _8855),
        Const(17, "Goodbye", _8855),
        Const(18, "GoodbyeAck", _8855),
    ],
)

_A = "RFC 4582 section 5.2"
ATTRIBUTES = ValueTable(
    "bfcp.attribute",
    [
        Const(1, "BENEFICIARY-ID", _A),
        Const(2, "FLOOR-ID", _A),
        Const(3, "FLOOR-REQUEST-ID", _A),
        Const(4, "PRIORITY", _A),
        Const(5, "REQUEST-STATUS", _A),
        Const(6, "ERROR-CODE", _A),
        Const(7, "ERROR-INFO", _A),
        Const(8, "PARTICIPANT-PROVIDED-INFO", _A),
        Const(9, "STATUS-INFO", _A),
        Const(10, "SUPPORTED-ATTRIBUTES", _A),
        Const(11, "SUPPORTED-PRIMITIVES", _A),
        Const(12, "USER-DISPLAY-NAME", _A),
        Const(13, "USER-URI", _A),
        Const(14, "BENEFICIARY-INFORMATION", _A),
        Const(15, "FLOOR-REQUEST-INFORMATION", _A),
        Const(16, "REQUESTED-BY-INFORMATION", _A),
        Const(17, "FLOOR-REQUEST-STATUS", _A),
        Const(18, "OVERALL-REQUEST-STATUS", _A),
    ],
)

_RS = "RFC 4582 section 5.2.5"
REQUEST_STATUS = ValueTable(
    "bfcp.request_status",
    [
        Const(1, "Pending", _RS),
        Const(2, "Accepted", _RS),
        Const(3, "Granted", _RS),
        Const(4, "Denied", _RS),
        Const(5, "Cancelled", _RS),
        Const(6, "Released", _RS),
        Const(7, "Revoked", _RS),
    ],
)

_EC = "RFC 4582 section 5.2.6"
_EC8 = "RFC 8855 section 5.2.6"
ERROR_CODES = ValueTable(
    "bfcp.error_code",
    [
        Const(1, "Conference does not Exist", _EC),
        Const(2, "User does not Exist", _EC),
        Const(3, "Unknown Primitive", _EC),
        Const(4, "Unknown Mandatory Attribute", _EC),
        Const(5, "Unauthorized Operation", _EC),
        Const(6, "Invalid Floor ID", _EC),
        Const(7, "Floor Request ID Does Not Exist", _EC),
        Const(8, "You have Already Reached the Maximum Number of Ongoing Floor Requests", _EC),
        Const(9, "Use TLS", _EC),
        Const(10, "Unable to Parse Message", _EC8),
        Const(11, "Use DTLS", _EC8),
        Const(12, "Unsupported Version", _EC8),
        Const(13, "Incorrect Message Length", _EC8),
        Const(14, "Generic Error", _EC8),
    ],
)

_EC_UNKNOWN_MANDATORY = ERROR_CODES["Unknown Mandatory Attribute"]

_PR = "RFC 4582 section 5.2.4"
PRIORITIES = ValueTable(
    "bfcp.priority",
    [
        Const(0, "Lowest", _PR),
        Const(1, "Low", _PR),
        Const(2, "Normal", _PR),
        Const(3, "High", _PR),
        Const(4, "Highest", _PR),
    ],
)


# --------------------------------------------------------------------------- attributes


@dataclass(frozen=True, slots=True)
class _U16Attr:
    value: int
    mandatory: bool = True
    TYPE: ClassVar[int] = 0

    def _contents(self) -> bytes:
        return Writer().u16(self.value).getvalue()


@dataclass(frozen=True, slots=True)
class BeneficiaryId(_U16Attr):
    TYPE: ClassVar[int] = ATTRIBUTES["BENEFICIARY-ID"]


@dataclass(frozen=True, slots=True)
class FloorId(_U16Attr):
    TYPE: ClassVar[int] = ATTRIBUTES["FLOOR-ID"]


@dataclass(frozen=True, slots=True)
class FloorRequestId(_U16Attr):
    TYPE: ClassVar[int] = ATTRIBUTES["FLOOR-REQUEST-ID"]


@dataclass(frozen=True, slots=True)
class Priority:
    priority: int  # 3 bits
    reserved: int = 0  # the 13 bits after it
    mandatory: bool = True
    TYPE: ClassVar[int] = ATTRIBUTES["PRIORITY"]

    def _contents(self) -> bytes:
        if not 0 <= self.priority < 8 or not 0 <= self.reserved < (1 << 13):
            raise ValueError(f"PRIORITY {self.priority}/{self.reserved} out of range")
        return Writer().u16(self.priority << 13 | self.reserved).getvalue()


@dataclass(frozen=True, slots=True)
class RequestStatus:
    status: int
    queue_position: int = 0
    mandatory: bool = True
    TYPE: ClassVar[int] = ATTRIBUTES["REQUEST-STATUS"]

    def _contents(self) -> bytes:
        return Writer().u8(self.status).u8(self.queue_position).getvalue()


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: int
    details: bytes = b""  # for code 4: one byte per unknown attribute, type << 1 | R
    mandatory: bool = True
    TYPE: ClassVar[int] = ATTRIBUTES["ERROR-CODE"]

    @property
    def unknown_types(self) -> tuple[int, ...]:
        return tuple(b >> 1 for b in self.details) if self.code == _EC_UNKNOWN_MANDATORY else ()

    def _contents(self) -> bytes:
        return Writer().u8(self.code).raw(self.details).getvalue()


@dataclass(frozen=True, slots=True)
class _TextAttr:
    text: str
    mandatory: bool = True
    TYPE: ClassVar[int] = 0

    def _contents(self) -> bytes:
        return self.text.encode("utf-8")


@dataclass(frozen=True, slots=True)
class ErrorInfo(_TextAttr):
    TYPE: ClassVar[int] = ATTRIBUTES["ERROR-INFO"]


@dataclass(frozen=True, slots=True)
class ParticipantProvidedInfo(_TextAttr):
    TYPE: ClassVar[int] = ATTRIBUTES["PARTICIPANT-PROVIDED-INFO"]


@dataclass(frozen=True, slots=True)
class StatusInfo(_TextAttr):
    TYPE: ClassVar[int] = ATTRIBUTES["STATUS-INFO"]


@dataclass(frozen=True, slots=True)
class UserDisplayName(_TextAttr):
    TYPE: ClassVar[int] = ATTRIBUTES["USER-DISPLAY-NAME"]


@dataclass(frozen=True, slots=True)
class UserUri(_TextAttr):
    TYPE: ClassVar[int] = ATTRIBUTES["USER-URI"]


@dataclass(frozen=True, slots=True)
class SupportedAttributes:
    """One octet per supported attribute: type (7 bits) then a reserved bit."""

    octets: tuple[int, ...]
    mandatory: bool = True
    TYPE: ClassVar[int] = ATTRIBUTES["SUPPORTED-ATTRIBUTES"]

    @classmethod
    def of(cls, types: Iterable[int], mandatory: bool = True) -> SupportedAttributes:
        return cls(tuple(t << 1 for t in types), mandatory)

    @property
    def types(self) -> tuple[int, ...]:
        return tuple(o >> 1 for o in self.octets)

    def _contents(self) -> bytes:
        return bytes(self.octets)


@dataclass(frozen=True, slots=True)
class SupportedPrimitives:
    primitives: tuple[int, ...]
    mandatory: bool = True
    TYPE: ClassVar[int] = ATTRIBUTES["SUPPORTED-PRIMITIVES"]

    def _contents(self) -> bytes:
        return bytes(self.primitives)


@dataclass(frozen=True, slots=True)
class _Grouped:
    id: int
    attributes: tuple[Attribute, ...] = ()
    mandatory: bool = True
    TYPE: ClassVar[int] = 0

    def _contents(self) -> bytes:
        w = Writer().u16(self.id)
        for a in self.attributes:
            _write_attribute(w, a)
        return w.getvalue()


@dataclass(frozen=True, slots=True)
class BeneficiaryInformation(_Grouped):
    TYPE: ClassVar[int] = ATTRIBUTES["BENEFICIARY-INFORMATION"]


@dataclass(frozen=True, slots=True)
class FloorRequestInformation(_Grouped):
    TYPE: ClassVar[int] = ATTRIBUTES["FLOOR-REQUEST-INFORMATION"]


@dataclass(frozen=True, slots=True)
class RequestedByInformation(_Grouped):
    TYPE: ClassVar[int] = ATTRIBUTES["REQUESTED-BY-INFORMATION"]


@dataclass(frozen=True, slots=True)
class FloorRequestStatus(_Grouped):
    TYPE: ClassVar[int] = ATTRIBUTES["FLOOR-REQUEST-STATUS"]


@dataclass(frozen=True, slots=True)
class OverallRequestStatus(_Grouped):
    TYPE: ClassVar[int] = ATTRIBUTES["OVERALL-REQUEST-STATUS"]


@dataclass(frozen=True, slots=True)
class UnknownAttribute:
    type: int
    contents: bytes
    mandatory: bool = True

    def _contents(self) -> bytes:
        return self.contents


Attribute = (
    BeneficiaryId
    | FloorId
    | FloorRequestId
    | Priority
    | RequestStatus
    | ErrorCode
    | ErrorInfo
    | ParticipantProvidedInfo
    | StatusInfo
    | SupportedAttributes
    | SupportedPrimitives
    | UserDisplayName
    | UserUri
    | BeneficiaryInformation
    | FloorRequestInformation
    | RequestedByInformation
    | FloorRequestStatus
    | OverallRequestStatus
    | UnknownAttribute
)

_U16_TYPES: dict[int, Callable[[int, bool], Attribute]] = {
    c.TYPE: c for c in (BeneficiaryId, FloorId, FloorRequestId)
}
_TEXT_TYPES: dict[int, Callable[[str, bool], Attribute]] = {
    c.TYPE: c for c in (ErrorInfo, ParticipantProvidedInfo, StatusInfo, UserDisplayName, UserUri)
}
_GROUPED_TYPES: dict[int, Callable[[int, tuple[Attribute, ...], bool], Attribute]] = {
    c.TYPE: c
    for c in (
        BeneficiaryInformation,
        FloorRequestInformation,
        RequestedByInformation,
        FloorRequestStatus,
        OverallRequestStatus,
    )
}


def attribute_type(a: Attribute) -> int:
    return a.type if isinstance(a, UnknownAttribute) else a.TYPE


def attribute_name(a: Attribute) -> str:
    return ATTRIBUTES.label(attribute_type(a))


def _pad(n: int) -> int:
    return -n % 4


def _write_attribute(w: Writer, a: Attribute) -> None:
    t = attribute_type(a)
    if not 0 <= t < 128:
        raise ValueError(f"attribute type {t} does not fit in 7 bits")
    contents = a._contents()
    length = 2 + len(contents)
    if length > 255:
        raise ValueError(f"{attribute_name(a)} is {length} bytes, Length holds at most 255")
    w.u8(t << 1 | int(a.mandatory)).u8(length).raw(contents).raw(b"\0" * _pad(length))


@functools.cache  # (a Type is 7 bits: 128 entries at most)
def _field_names(t: int) -> tuple[str, str, str, str]:
    """The names an attribute of Type ``t`` gives its fields in errors: itself, its Length,
    its padding, its group id."""
    name = ATTRIBUTES.label(t)
    return name, f"{name}.length", f"{name}.padding", f"{name}.id"


def _read_attribute(r: Reader) -> Attribute:
    at = r.pos
    tb = r.u8("attribute.type")
    t, m = tb >> 1, bool(tb & 1)
    name, length_field, padding_field, id_field = _field_names(t)
    length = r.u8(length_field)
    if length < 2:
        raise DissectError(LAYER, at, f"{name} Length {length} < 2", name)
    c = r.sub(length - 2, name)
    # The last nested attribute's padding may lie outside its group's Length.
    r.take(min(_pad(length), r.remaining), padding_field)
    if t in _U16_TYPES or t in (Priority.TYPE, RequestStatus.TYPE):
        if length != 4:
            raise DissectError(LAYER, at, f"{name} Length must be 4, is {length}", name)
        if t in _U16_TYPES:
            return _U16_TYPES[t](c.u16(name), m)
        if t == Priority.TYPE:
            v = c.u16(name)
            return Priority(v >> 13, v & 0x1FFF, m)
        return RequestStatus(c.u8(name), c.u8(name), m)
    if t == ErrorCode.TYPE:
        return ErrorCode(c.u8(name), c.rest(), m)
    if t in _TEXT_TYPES:
        raw = c.rest()
        try:
            return _TEXT_TYPES[t](raw.decode("utf-8"), m)
        except UnicodeDecodeError as e:
            raise DissectError(LAYER, at + 2 + e.start, "invalid UTF-8", name) from None
    if t == SupportedAttributes.TYPE:
        return SupportedAttributes(tuple(c.rest()), m)
    if t == SupportedPrimitives.TYPE:
        return SupportedPrimitives(tuple(c.rest()), m)
    if t in _GROUPED_TYPES:
        gid = c.u16(id_field)
        nested: list[Attribute] = []
        while not c.eof():
            nested.append(_read_attribute(c))
        return _GROUPED_TYPES[t](gid, tuple(nested), m)
    return UnknownAttribute(t, c.rest(), m)


def parse_attributes(data: bytes, offset: int = 0) -> tuple[Attribute, ...]:
    r = Reader(data, LAYER, offset)
    out: list[Attribute] = []
    while not r.eof():
        out.append(_read_attribute(r))
    return tuple(out)


def build_attributes(attrs: Iterable[Attribute]) -> bytes:
    w = Writer()
    for a in attrs:
        _write_attribute(w, a)
    return w.getvalue()


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class Fragment:
    """RFC 8855 fragmentation (UDP only): the fragment's place and its raw bytes."""

    offset: int  # in 4-octet units
    length: int  # in 4-octet units
    data: bytes


@dataclass(frozen=True, slots=True)
class Message:
    primitive: int
    conference_id: int
    transaction_id: int
    user_id: int
    attributes: tuple[Attribute, ...] = ()
    version: int = 1
    responder: bool = False  # the R bit (RFC 8855)
    reserved: int = 0  # the 3 reserved bits of byte 0
    fragment: Fragment | None = None

    @property
    def primitive_name(self) -> str:
        return PRIMITIVES.label(self.primitive)

    def find(self, cls: type[Attribute]) -> list[Attribute]:
        """Every attribute of class ``cls``, nested ones included (depth first)."""
        return [a for a in walk(self.attributes) if isinstance(a, cls)]


def walk(attrs: Iterable[Attribute]) -> Iterable[Attribute]:
    for a in attrs:
        yield a
        if isinstance(a, _Grouped):
            yield from walk(a.attributes)


def depth(attrs: Iterable[Attribute]) -> int:
    """Nesting levels of an attribute list: 0 when empty, 1 when none is grouped."""
    return max(
        (1 + depth(a.attributes) if isinstance(a, _Grouped) else 1 for a in attrs), default=0
    )


def size(attrs: Iterable[Attribute]) -> tuple[int, int]:
    """(attributes :func:`walk` gives, :func:`depth`) of an attribute list, in one pass."""
    count = deep = 0
    for a in attrs:
        count += 1
        levels = 1
        if isinstance(a, _Grouped):
            n, below = size(a.attributes)
            count += n
            levels += below
        if levels > deep:
            deep = levels
    return count, deep


def header_plausible(data: bytes | bytearray, pos: int = 0) -> bool:
    """Could ``data[pos:]`` start a BFCP message? (version 1 or 2, known primitive)."""
    if len(data) - pos < 4:
        return False
    b0 = data[pos]
    ver = b0 >> 5
    if ver not in (1, 2) or b0 & 0x07:
        return False
    if b0 & 0x08 and ver != 2:  # fragmentation exists only in version 2 (UDP)
        return False
    return data[pos + 1] in PRIMITIVES


def message_length(data: bytes | bytearray, pos: int = 0) -> int:
    """Total bytes of the message whose header starts at ``data[pos]`` (needs 4 bytes)."""
    plen = (data[pos + 2] << 8) | data[pos + 3]
    head = FRAGMENT_HEADER_LEN if data[pos] & 0x08 else HEADER_LEN
    return head + 4 * plen


def _read_message(r: Reader) -> Message:
    b0 = r.u8("version")
    version = b0 >> 5
    if version not in (1, 2):
        raise DissectError(LAYER, r.pos - 1, f"version {version} is not 1 or 2", "version")
    responder = bool(b0 & 0x10)
    fragmented = bool(b0 & 0x08)
    primitive = r.u8("primitive")
    plen = r.u16("payload_length")
    conf = r.u32("conference_id")
    tid = r.u16("transaction_id")
    uid = r.u16("user_id")
    frag = None
    if fragmented:
        foff = r.u16("fragment_offset")
        flen = r.u16("fragment_length")
    if r.remaining < 4 * plen:
        raise DissectError(
            LAYER,
            r.pos,
            f"Payload Length says {4 * plen} bytes, {r.remaining} present",
            "payload_length",
        )
    body = r.sub(4 * plen, "payload")
    attrs: list[Attribute] = []
    if fragmented:
        frag = Fragment(foff, flen, body.rest())
    else:
        while not body.eof():
            attrs.append(_read_attribute(body))
    return Message(primitive, conf, tid, uid, tuple(attrs), version, responder, b0 & 0x07, frag)


def parse_message(data: bytes) -> Message:
    """Parse exactly one message; bytes after it are an error."""
    r = Reader(data, LAYER)
    msg = _read_message(r)
    if not r.eof():
        raise DissectError(LAYER, r.pos, f"{r.remaining} bytes after the message", "payload_length")
    return msg


def parse_messages(data: bytes) -> list[Message]:
    """Parse back-to-back messages (several in one record)."""
    r = Reader(data, LAYER)
    out: list[Message] = []
    while not r.eof():
        out.append(_read_message(r))
    return out


def build_message(msg: Message) -> bytes:
    if not 0 <= msg.version < 8 or not 0 <= msg.reserved < 8:
        raise ValueError("version and reserved bits are 3 bits each")
    if msg.fragment is not None:
        if msg.attributes:
            raise ValueError("a fragment carries raw bytes, not attributes")
        payload = msg.fragment.data
    else:
        payload = build_attributes(msg.attributes)
    if len(payload) % 4:
        raise ValueError("payload is not a multiple of 4 bytes")
    b0 = msg.version << 5 | int(msg.responder) << 4 | msg.reserved
    w = Writer()
    w.u8(b0 | (0x08 if msg.fragment is not None else 0)).u8(msg.primitive)
    w.u16(len(payload) // 4).u32(msg.conference_id).u16(msg.transaction_id).u16(msg.user_id)
    if msg.fragment is not None:
        w.u16(msg.fragment.offset).u16(msg.fragment.length)
    return w.raw(payload).getvalue()


# --------------------------------------------------------------------------- builders

ALL_PRIMITIVES_4582 = tuple(range(1, 13))
ALL_ATTRIBUTES = tuple(range(1, 19))


def hello(conference_id: int, transaction_id: int, user_id: int) -> Message:
    return Message(PRIMITIVES["Hello"], conference_id, transaction_id, user_id)


def hello_ack(
    req: Message,
    primitives: Iterable[int] = ALL_PRIMITIVES_4582,
    attributes: Iterable[int] = ALL_ATTRIBUTES,
) -> Message:
    return _answer(
        req,
        PRIMITIVES["HelloAck"],
        (SupportedPrimitives(tuple(primitives)), SupportedAttributes.of(attributes)),
    )


def floor_request(
    conference_id: int,
    transaction_id: int,
    user_id: int,
    floor_ids: Iterable[int],
    *,
    beneficiary_id: int | None = None,
    priority: int | None = None,
    info: str | None = None,
) -> Message:
    attrs: list[Attribute] = [FloorId(f) for f in floor_ids]
    if beneficiary_id is not None:
        attrs.append(BeneficiaryId(beneficiary_id))
    if info is not None:
        attrs.append(ParticipantProvidedInfo(info))
    if priority is not None:
        attrs.append(Priority(priority))
    return Message(PRIMITIVES["FloorRequest"], conference_id, transaction_id, user_id, tuple(attrs))


def floor_release(
    conference_id: int, transaction_id: int, user_id: int, floor_request_id: int
) -> Message:
    return Message(
        PRIMITIVES["FloorRelease"],
        conference_id,
        transaction_id,
        user_id,
        (FloorRequestId(floor_request_id),),
    )


def floor_request_information(
    floor_request_id: int,
    floor_ids: Iterable[int],
    status: int,
    queue_position: int = 0,
    status_info: str | None = None,
) -> FloorRequestInformation:
    """FLOOR-REQUEST-INFORMATION with OVERALL-REQUEST-STATUS and one FLOOR-REQUEST-STATUS
    per floor (RFC 4582 section 5.3.4)."""
    overall: list[Attribute] = [RequestStatus(status, queue_position)]
    if status_info is not None:
        overall.append(StatusInfo(status_info))
    nested: list[Attribute] = [OverallRequestStatus(floor_request_id, tuple(overall))]
    nested += [FloorRequestStatus(f) for f in floor_ids]
    return FloorRequestInformation(floor_request_id, tuple(nested))


def floor_request_status(
    req: Message | None,
    floor_request_id: int,
    floor_ids: Iterable[int],
    status: int,
    *,
    queue_position: int = 0,
    conference_id: int = 0,
    user_id: int = 0,
    status_info: str | None = None,
) -> Message:
    """FloorRequestStatus: the answer to ``req`` or, with ``req`` None, a notification
    (transaction id 0 over a reliable transport, RFC 4582 section 8)."""
    fri = floor_request_information(
        floor_request_id, floor_ids, status, queue_position, status_info
    )
    prim = PRIMITIVES["FloorRequestStatus"]
    if req is None:
        return Message(prim, conference_id, 0, user_id, (fri,))
    return _answer(req, prim, (fri,))


def error(req: Message, code: int, info: str | None = None, details: bytes = b"") -> Message:
    attrs: list[Attribute] = [ErrorCode(code, details)]
    if info is not None:
        attrs.append(ErrorInfo(info))
    return _answer(req, PRIMITIVES["Error"], tuple(attrs))


def _answer(req: Message, primitive: int, attrs: tuple[Attribute, ...]) -> Message:
    return Message(
        primitive, req.conference_id, req.transaction_id, req.user_id, attrs, req.version
    )


# --------------------------------------------------------------------------- framing


@dataclass(frozen=True, slots=True)
class FramedMessage:
    start: int
    end: int
    raw: bytes
    message: Message


Framed = FramedMessage | FramingError


class BfcpFramer(LengthFramer[FramedMessage]):
    """Splits one direction of a BFCP byte stream into messages (sans-IO).

    The length comes from the header. A message that does not parse (a lying Payload
    Length, garbage) is reported and the framer rescans from the byte after its header for
    the next header that parses; buffering never exceeds one maximal message (256 KiB).
    Each problem is one :class:`FramingError` spanning the bytes up to where framing resumed.
    """

    layer = LAYER
    unit = "message"

    def _skip(self, n: int) -> None:
        if self._garbage_from is None:
            self._garbage_from = self._base
        self._consume(n)

    def _drain(self, out: list[Framed]) -> None:
        buf = self._buf
        while len(buf) >= 4:
            if not header_plausible(buf):
                m = _PLAUSIBLE_RE.search(buf, 1)
                self._skip(m.start() if m else len(buf) - 3)
                continue
            need = message_length(buf)
            start = self._base
            if len(buf) < need:
                if not self._closing:
                    return
                if self._resyncing:
                    self._skip(1)
                else:
                    reason = f"stream ended: message needs {need} bytes, {len(buf)} arrived"
                    self._bad(out, start + 2, "payload_length", reason)
                    self._consume(min(HEADER_LEN, len(buf)))
                continue
            raw = bytes(buf[:need])
            try:
                msg = parse_message(raw)
            except DissectError as e:
                if self._resyncing:
                    self._skip(1)  # a header found while resynchronising must parse
                else:
                    self._bad(out, start + e.offset, e.field or "payload", e.reason)
                    self._consume(HEADER_LEN)
                continue
            self._flush_garbage(out, start)
            self._resyncing = False
            out.append(FramedMessage(start, start + need, raw, msg))
            self._consume(need)


# Byte 0 of a plausible header (version 1 or 2, R/F bits, reserved 0) and a known primitive.
_PLAUSIBLE_RE = re.compile(rb"[\x20\x30\x40\x48\x50\x58][\x01-\x12]")


def looks_like_bfcp(data: bytes) -> bool:
    """Cheap sniff: does this stream start with a BFCP message that parses?"""
    if len(data) < HEADER_LEN or not header_plausible(data):
        return False
    need = message_length(data)
    if need > len(data):
        return True
    try:
        parse_message(data[:need])
    except DissectError:
        return False
    return True


# --------------------------------------------------------------------------- rendering


def attribute_summary(a: Attribute) -> str:
    if isinstance(a, _U16Attr):
        return str(a.value)
    if isinstance(a, Priority):
        return PRIORITIES.label(a.priority)
    if isinstance(a, RequestStatus):
        return f"{REQUEST_STATUS.label(a.status)}, queue position {a.queue_position}"
    if isinstance(a, ErrorCode):
        s = ERROR_CODES.label(a.code)
        if a.unknown_types:
            s += " (" + ", ".join(ATTRIBUTES.label(t) for t in a.unknown_types) + ")"
        return s
    if isinstance(a, _TextAttr):
        return repr(a.text)
    if isinstance(a, SupportedAttributes):
        return ", ".join(ATTRIBUTES.label(t) for t in a.types)
    if isinstance(a, SupportedPrimitives):
        return ", ".join(PRIMITIVES.label(p) for p in a.primitives)
    if isinstance(a, _Grouped):
        return f"id {a.id}"
    return a.contents.hex()


def info_line(msg: Message) -> str:
    """One-line summary for the packet list, e.g. ``BFCP FloorRequest``."""
    s = f"BFCP {msg.primitive_name}"
    statuses = [a for a in walk(msg.attributes) if isinstance(a, RequestStatus)]
    if statuses:
        s += f" ({REQUEST_STATUS.label(statuses[0].status)})"
    return s


def column_info(msg: Message) -> str:
    """tshark's Info column fragment (the primitive name), ending in a separating space."""
    return f"{msg.primitive_name} "


def detail_tree(msg: Message) -> list[tuple[int, str]]:
    rows: list[tuple[int, str]] = [
        (0, "Binary Floor Control Protocol"),
        (1, f"Version: {msg.version}"),
        (1, f"Transaction Responder (R): {msg.responder}"),
        (1, f"Fragmentation (F): {msg.fragment is not None}"),
        (1, f"Primitive: {msg.primitive_name} ({msg.primitive})"),
        (1, f"Conference ID: {msg.conference_id}"),
        (1, f"Transaction ID: {msg.transaction_id}"),
        (1, f"User ID: {msg.user_id}"),
    ]
    if msg.fragment is not None:
        f = msg.fragment
        rows.append((1, f"Fragment: offset {f.offset}, length {f.length}, {len(f.data)} bytes"))

    def add(attrs: tuple[Attribute, ...], depth: int) -> None:
        for a in attrs:
            m = "M" if a.mandatory else "-"
            t = attribute_type(a)
            rows.append((depth, f"{attribute_name(a)} ({t}) [{m}]: {attribute_summary(a)}"))
            if isinstance(a, _Grouped):
                add(a.attributes, depth + 1)

    add(msg.attributes, 1)
    return rows
