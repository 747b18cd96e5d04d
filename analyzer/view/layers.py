"""Named fields: each protocol layer of a dissected frame as an object whose fields are
attributes, and the one table of field names the filters, ``-T fields`` and the JSON use.

A field is declared once, on its layer class, with :func:`named_field`: its filter name (Wireshark's
where Wireshark has the field - ``sip.Call-ID``, ``tcp.stream`` - and the project's own,
marked ``ours``, where it has none), a title, and how tshark prints its value. The Python
attribute is the filter name without the protocol, lower-cased, with ``.`` and ``-`` as ``_``
(``sip.Call-ID`` -> ``frame.sip.call_id``, ``msrp.transaction.id`` ->
``frame.msrp.transaction_id``); a field that may occur several times in one layer
(``many``) is a tuple. Values are computed when asked for, so a packet list that prints only
its rows never builds them.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar, overload

from mikeyshark.dissectors import gtp
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.gtp import GtpuHeader
from mikeyshark.dissectors.ip import IPv4Header, IPv6Header, parse_ipv4, parse_ipv6
from mikeyshark.dissectors.transport import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, decode_udp

L = TypeVar("L", bound="Layer")
T = TypeVar("T")


class Fmt(StrEnum):
    """How tshark's ``-T fields`` prints a value (its field type and display base)."""

    DEC = "dec"  # integers in decimal
    HEX8 = "hex8"  # 0x12
    HEX16 = "hex16"  # 0x0800
    HEX32 = "hex32"  # 0x12345678
    BOOL = "bool"  # 1 / 0
    BYTES = "bytes"  # hex digits, no separator
    TEXT = "text"  # strings
    IP = "ip"  # an IPv4 or IPv6 address (compared as one, networks too)
    MAC = "mac"  # an Ethernet address
    TIME = "time"  # seconds with nine decimals


_HEX_WIDTH = {Fmt.HEX8: 2, Fmt.HEX16: 4, Fmt.HEX32: 8}


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """One row of the field table."""

    name: str  # the filter name: "sip.Call-ID"
    layer: str  # the layer it belongs to: "sip"
    attr: str  # the Python attribute: "call_id"
    title: str
    fmt: Fmt
    ours: bool  # no Wireshark field of this name: the project's own (docs/fields.md)
    many: bool  # may occur several times in one layer (the attribute is a tuple)

    def text(self, value: object) -> str:
        """``value`` as tshark's ``-T fields`` prints it."""
        if isinstance(value, bool) or self.fmt is Fmt.BOOL:
            return "1" if value else "0"
        if isinstance(value, int) and self.fmt in _HEX_WIDTH:
            return f"0x{value:0{_HEX_WIDTH[self.fmt]}x}"
        if isinstance(value, bytes):
            return value.hex()
        if isinstance(value, float | Decimal):
            return f"{value:.9f}"
        return str(value)


FIELDS: dict[str, FieldInfo] = {}  # by filter name, in declaration order
LAYER_NAMES: set[str] = set()  # every layer class's name ("sip", "tcp", ...): a protocol


def attribute_name(name: str) -> str:
    """The Python attribute of filter name ``name``: ``sip.Call-ID`` -> ``call_id``
    (``sip.From`` -> ``from_``: a Python keyword gets a trailing underscore)."""
    attr = name.partition(".")[2].lower().replace(".", "_").replace("-", "_")
    return attr + "_" if keyword.iskeyword(attr) else attr


class FieldAttr(Generic[L, T]):
    """A named field of a layer class: a read-only attribute computed by ``get``."""

    def __init__(
        self, get: Callable[[L], T], name: str, title: str, fmt: Fmt, ours: bool, many: bool
    ) -> None:
        self.get = get
        self.name = name
        self.title = title
        self.fmt = fmt
        self.ours = ours
        self.many = many
        self.__doc__ = f"``{name}``: {title}" + (" (the project's own field)" if ours else "")
        self.info: FieldInfo | None = None

    def __set_name__(self, owner: type[Layer], attr: str) -> None:
        layer = owner.name
        if not self.name.startswith(layer + ".") or attribute_name(self.name) != attr:
            raise TypeError(f"field {self.name} must be attribute {attribute_name(self.name)}")
        if self.name in FIELDS:
            raise TypeError(f"field {self.name} declared twice")
        self.info = FIELDS[self.name] = FieldInfo(
            self.name, layer, attr, self.title, self.fmt, self.ours, self.many
        )

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> FieldAttr[L, T]: ...

    @overload
    def __get__(self, obj: L, owner: type[Any]) -> T: ...

    def __get__(self, obj: L | None, owner: type[Any]) -> FieldAttr[L, T] | T:
        if obj is None:
            return self
        try:
            return self.get(obj)
        except DissectError:
            return () if self.many else None  # type: ignore[return-value]


def named_field(
    name: str, title: str, fmt: Fmt = Fmt.DEC, *, ours: bool = False, many: bool = False
) -> Callable[[Callable[[L], T]], FieldAttr[L, T]]:
    """Declare the method below as the field ``name`` of its layer class."""

    def wrap(get: Callable[[L], T]) -> FieldAttr[L, T]:
        return FieldAttr(get, name, title, fmt, ours, many)

    return wrap


class Layer:
    """One protocol layer of a dissected frame. Its fields are attributes (see
    :data:`FIELDS`); :meth:`items` lists those present."""

    name: ClassVar[str]
    fields: ClassVar[tuple[FieldAttr[Any, Any], ...]] = ()

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.fields = tuple(v for v in vars(cls).values() if isinstance(v, FieldAttr))
        LAYER_NAMES.add(cls.name)

    def values(self, attr: str) -> list[object]:
        """Every occurrence of the field with attribute ``attr`` in this layer."""
        got = getattr(self, attr)
        if got is None:
            return []
        return list(got) if isinstance(got, tuple) else [got]

    def items(self) -> Iterator[tuple[FieldInfo, list[object]]]:
        """(field, its values) of every field present, in declaration order."""
        for f in self.fields:
            assert f.info is not None
            vals = self.values(f.info.attr)
            if vals:
                yield f.info, vals

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{info.attr}={vals if info.many else vals[0]!r}" for info, vals in self.items()
        )
        return f"<{type(self).__name__} {shown}>"


# --------------------------------------------------------------------------------------------
# The frame and its lower layers (decoded again from the frame's bytes when asked for)


class FrameLayer(Layer):
    name = "frame"

    def __init__(self, number: int, ts_ns: int, first_ns: int, length: int, cap: int) -> None:
        self._number, self._ts, self._first, self._len, self._cap = (
            number,
            ts_ns,
            first_ns,
            length,
            cap,
        )

    @named_field("frame.number", "Frame Number")
    def number(self) -> int:
        return self._number

    @named_field("frame.time_epoch", "Epoch Time", Fmt.TIME)
    def time_epoch(self) -> Decimal:
        return Decimal(self._ts).scaleb(-9)

    @named_field("frame.time_relative", "Time since reference or first frame", Fmt.TIME)
    def time_relative(self) -> Decimal:
        return Decimal(self._ts - self._first).scaleb(-9)

    @named_field("frame.len", "Frame length on the wire")
    def len(self) -> int:
        return self._len

    @named_field("frame.cap_len", "Frame length stored into the capture file")
    def cap_len(self) -> int:
        return self._cap


def mac_text(b: bytes) -> str:
    """A MAC address as tshark prints it (``02:00:00:00:00:01``)."""
    return ":".join(f"{x:02x}" for x in b)


class EthLayer(Layer):
    name = "eth"

    def __init__(self, data: bytes, start: int) -> None:
        self._data, self._start = data, start

    @named_field("eth.dst", "Destination", Fmt.MAC)
    def dst(self) -> str:
        return mac_text(self._data[self._start : self._start + 6])

    @named_field("eth.src", "Source", Fmt.MAC)
    def src(self) -> str:
        return mac_text(self._data[self._start + 6 : self._start + 12])

    @named_field("eth.type", "Type", Fmt.HEX16)
    def type(self) -> int:
        return int.from_bytes(self._data[self._start + 12 : self._start + 14], "big")


class IpLayer(Layer):
    name = "ip"

    def __init__(self, data: bytes, start: int, end: int) -> None:
        self._data, self._start, self._end = data, start, end

    def _header(self) -> IPv4Header:
        return parse_ipv4(self._data[self._start : self._end]).header

    @named_field("ip.src", "Source Address", Fmt.IP)
    def src(self) -> str:
        return self._header().src

    @named_field("ip.dst", "Destination Address", Fmt.IP)
    def dst(self) -> str:
        return self._header().dst

    @named_field("ip.proto", "Protocol")
    def proto(self) -> int:
        return self._header().protocol

    @named_field("ip.ttl", "Time to Live")
    def ttl(self) -> int:
        return self._header().ttl

    @named_field("ip.id", "Identification", Fmt.HEX16)
    def id(self) -> int:
        return self._header().identification

    @named_field("ip.len", "Total Length")
    def len(self) -> int:
        return self._header().total_length


class Ipv6Layer(Layer):
    name = "ipv6"

    def __init__(self, data: bytes, start: int, end: int) -> None:
        self._data, self._start, self._end = data, start, end

    def _header(self) -> IPv6Header:
        return parse_ipv6(self._data[self._start : self._end]).header

    @named_field("ipv6.src", "Source Address", Fmt.IP)
    def src(self) -> str:
        return self._header().src

    @named_field("ipv6.dst", "Destination Address", Fmt.IP)
    def dst(self) -> str:
        return self._header().dst

    @named_field("ipv6.nxt", "Next Header")
    def nxt(self) -> int:
        return self._header().next_header

    @named_field("ipv6.hlim", "Hop Limit")
    def hlim(self) -> int:
        return self._header().hop_limit

    @named_field("ipv6.plen", "Payload Length")
    def plen(self) -> int:
        return self._header().payload_length


class UdpLayer(Layer):
    name = "udp"

    def __init__(self, data: bytes, start: int, end: int) -> None:
        self._data, self._start, self._end = data, start, end

    @named_field("udp.srcport", "Source Port")
    def srcport(self) -> int:
        return int.from_bytes(self._data[self._start : self._start + 2], "big")

    @named_field("udp.dstport", "Destination Port")
    def dstport(self) -> int:
        return int.from_bytes(self._data[self._start + 2 : self._start + 4], "big")

    @named_field("udp.port", "Source or Destination Port", many=True)
    def port(self) -> tuple[int, ...]:
        return (self.srcport, self.dstport)

    @named_field("udp.length", "Length")
    def length(self) -> int:
        return int.from_bytes(self._data[self._start + 4 : self._start + 6], "big")

    def payload_length(self) -> int:
        _, _, ps, pe = decode_udp(self._data, self._start, self._end)
        return pe - ps


@dataclass(slots=True)
class TcpNumbers:
    """What a TCP segment's row shows that depends on the segments before it: sequence and
    acknowledgement numbers relative to each direction's first, the scaled window, the
    payload length and the stream index (all as tshark counts them). (Not frozen: one is made
    for every segment, and a frozen dataclass sets each field through object.__setattr__.)"""

    seq: int
    ack: int | None
    window: int
    length: int
    stream: int
    flags: int


class TcpLayer(Layer):
    name = "tcp"

    def __init__(self, data: bytes, start: int, numbers: TcpNumbers) -> None:
        self._data, self._start, self._n = data, start, numbers

    @named_field("tcp.srcport", "Source Port")
    def srcport(self) -> int:
        return int.from_bytes(self._data[self._start : self._start + 2], "big")

    @named_field("tcp.dstport", "Destination Port")
    def dstport(self) -> int:
        return int.from_bytes(self._data[self._start + 2 : self._start + 4], "big")

    @named_field("tcp.port", "Source or Destination Port", many=True)
    def port(self) -> tuple[int, ...]:
        return (self.srcport, self.dstport)

    @named_field("tcp.stream", "Stream index")
    def stream(self) -> int:
        return self._n.stream

    @named_field("tcp.len", "TCP Segment Len")
    def len(self) -> int:
        return self._n.length

    @named_field("tcp.seq", "Sequence Number (relative)")
    def seq(self) -> int:
        return self._n.seq

    @named_field("tcp.ack", "Acknowledgment Number (relative)")
    def ack(self) -> int | None:
        return self._n.ack

    @named_field("tcp.flags", "Flags", Fmt.HEX16)
    def flags(self) -> int:
        return self._n.flags

    @named_field("tcp.flags.syn", "Syn", Fmt.BOOL)
    def flags_syn(self) -> bool:
        return bool(self._n.flags & TCP_SYN)

    @named_field("tcp.flags.ack", "Acknowledgment", Fmt.BOOL)
    def flags_ack(self) -> bool:
        return bool(self._n.flags & TCP_ACK)

    @named_field("tcp.flags.fin", "Fin", Fmt.BOOL)
    def flags_fin(self) -> bool:
        return bool(self._n.flags & TCP_FIN)

    @named_field("tcp.flags.reset", "Reset", Fmt.BOOL)
    def flags_reset(self) -> bool:
        return bool(self._n.flags & TCP_RST)

    @named_field("tcp.window_size", "Calculated window size")
    def window_size(self) -> int:
        return self._n.window


class GtpLayer(Layer):
    """A GTP-U header (TS 29.281)."""

    name = "gtp"

    def __init__(self, data: bytes, start: int, end: int) -> None:
        self._data, self._start, self._end = data, start, end

    def header(self) -> GtpuHeader:
        return gtp.parse(self._data[self._start : self._end]).header

    @named_field("gtp.message", "Message Type", Fmt.HEX8)
    def message(self) -> int:
        return self.header().message_type

    @named_field("gtp.teid", "TEID", Fmt.HEX32)
    def teid(self) -> int:
        return self.header().teid

    @named_field("gtp.seq_number", "Sequence number", Fmt.HEX16)
    def seq_number(self) -> int | None:
        return self.header().sequence

    @named_field("gtp.ext_hdr.pdu_ses_con.qos_flow_id", "QoS Flow Identifier (QFI)")
    def ext_hdr_pdu_ses_con_qos_flow_id(self) -> int | None:
        return self.header().qfi


class EspLayer(Layer):
    """An ESP header (RFC 4303); how it was read is the frame's ``esp_note``."""

    name = "esp"

    def __init__(self, data: bytes, start: int) -> None:
        self._data, self._start = data, start

    @named_field("esp.spi", "ESP SPI", Fmt.HEX32)
    def spi(self) -> int:
        return int.from_bytes(self._data[self._start : self._start + 4], "big")

    @named_field("esp.sequence", "ESP Sequence")
    def sequence(self) -> int:
        return int.from_bytes(self._data[self._start + 4 : self._start + 8], "big")


# --------------------------------------------------------------------------------------------
# docs/fields.md

_FMT_DOC = {
    Fmt.DEC: "integer",
    Fmt.HEX8: "integer (hex)",
    Fmt.HEX16: "integer (hex)",
    Fmt.HEX32: "integer (hex)",
    Fmt.BOOL: "boolean",
    Fmt.BYTES: "bytes (hex)",
    Fmt.TEXT: "text",
    Fmt.IP: "address",
    Fmt.MAC: "Ethernet address",
    Fmt.TIME: "seconds",
}


def fields_markdown() -> str:
    """docs/fields.md: the field table, written from the layer classes (``python -m
    mikeyshark.docs docs``), so that it cannot drift from them."""
    out = [
        "# Field names",
        "",
        "The fields of `mikeyshark dissect` and of `mikeyshark.dissect()` (generated from the",
        "layer classes of `analyzer/view/`; do not edit by hand). A name in the first column is",
        "Wireshark's field of that name unless marked *ours*: then Wireshark has no such field",
        "and the name is the project's own. In Python a field is an attribute of its layer: the",
        "name without the protocol, lower-cased, with `.` and `-` as `_` (`sip.Call-ID` is",
        "`frame.sip.call_id`, `sip.From` is `frame.sip.from_`); a field that can occur several",
        "times in one layer is a tuple (*many*). `frame.values(name)` gives every occurrence in",
        "the frame by name.",
        "",
    ]
    layers: dict[str, list[FieldInfo]] = {}
    for info in FIELDS.values():
        layers.setdefault(info.layer, []).append(info)
    for layer, infos in layers.items():
        out += [f"## {layer}", "", "| field | attribute | value | description |"]
        out.append("|---|---|---|---|")
        for i in infos:
            notes = [n for n, on in (("many", i.many), ("ours", i.ours)) if on]
            title = i.title + (f" (*{', '.join(notes)}*)" if notes else "")
            out.append(f"| `{i.name}` | `{i.attr}` | {_FMT_DOC[i.fmt]} | {title} |")
        out.append("")
    return "\n".join(out)
