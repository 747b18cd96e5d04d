"""The packet list's row and the detail tree's types, and the registry of renderers.

A :class:`FrameView` is one row of the packet list: the columns tshark prints (No., Time,
Source, Destination, Protocol, Length, Info) plus the detail tree of ``tshark -V``. The link,
IP and transport layers are decoded here from the frame bytes (:class:`FrameDecoder`);
application messages are attached to the frame where they complete as :class:`Pdu` s and
rendered by the :class:`Renderer` registered for their kind (:func:`register`; the modules
:mod:`.sip`, :mod:`.tls` and :mod:`.media` register theirs when imported).
"""

from __future__ import annotations

import json
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, cast

from mikeyshark.dissectors import esp as esplib
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.gtp import GTPU_PORT, MT_GPDU, decode_gtpu
from mikeyshark.dissectors.gtp import MESSAGE_TYPE as GTP_MESSAGE_TYPE
from mikeyshark.dissectors.ip import PROTO_TCP, PROTO_UDP, decode_ipv4, decode_ipv6, ntop
from mikeyshark.dissectors.link import LINKTYPE_ETHERNET, NET_IPV4, NET_IPV6, network_offset
from mikeyshark.dissectors.transport import (
    TCP_ACK,
    TCP_SYN,
    decode_tcp,
    decode_udp,
    flag_names,
    parse_tcp_options,
)
from mikeyshark.model import Frame, Problem
from mikeyshark.view.layers import (
    FIELDS,
    EspLayer,
    EthLayer,
    Fmt,
    FrameLayer,
    GtpLayer,
    IpLayer,
    Ipv6Layer,
    Layer,
    TcpLayer,
    TcpNumbers,
    UdpLayer,
    mac_text,
    named_field,
)

if TYPE_CHECKING:
    from mikeyshark.view.media import BfcpLayer, MsrpLayer
    from mikeyshark.view.sip import MikeyLayer, SdpLayer, SipLayer
    from mikeyshark.view.tls import TlsLayer

INDENT = "    "


@dataclass(slots=True)
class Node:
    """One line of the detail tree and the lines under it."""

    label: str
    children: list[Node] = field(default_factory=list)

    def add(self, label: str) -> Node:
        child = Node(label)
        self.children.append(child)
        return child

    def lines(self, depth: int = 0) -> Iterator[str]:
        yield INDENT * depth + self.label
        for c in self.children:
            yield from c.lines(depth + 1)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"label": self.label}
        if self.children:
            d["children"] = [c.to_json() for c in self.children]
        return d


@dataclass(frozen=True, slots=True)
class Renderer:
    """How one kind of message shows in the list and the tree.

    ``protocol`` gives the Protocol column (e.g. ``SIP/SDP``); ``info`` the Info fragment
    (fragments of several messages in one frame are concatenated, so a renderer ends its
    fragment with its own separator, as tshark's SIP does with ``" | "``); ``detail`` the
    subtree.
    """

    protocol: Callable[[Any], str]
    info: Callable[[Any], str]
    detail: Callable[[Any], Node]
    # Appended once after all fragments, from the frame's last message (tshark's media-type
    # note such as " (text/plain)" appears once per frame however many messages it holds).
    suffix: Callable[[Any], str] | None = None
    # The layers with named fields the message gives the frame (SIP: sip, sdp, mikey).
    layers: Callable[[Any], list[Layer]] | None = None


def rows_node(rows: list[tuple[int, str]]) -> Node:
    """A (depth, text) detail list (the form the codecs of dissectors/ render) as a subtree."""
    root = Node(rows[0][1])
    stack = [(0, root)]
    for depth, text in rows[1:]:
        while stack[-1][0] >= depth:
            stack.pop()
        stack.append((depth, stack[-1][1].add(text)))
    return root


RENDERERS: dict[str, Renderer] = {}
_FIRST_ONLY = frozenset({"msrp", "bfcp"})


def register(kind: str, renderer: Renderer) -> None:
    RENDERERS[kind] = renderer


@dataclass(frozen=True, slots=True)
class Pdu:
    kind: str  # a key of RENDERERS
    obj: Any


@dataclass(slots=True)
class FrameView:
    """One frame of the packet list: its row (:meth:`row`), detail tree (:meth:`tree`) and
    layers with named fields (:attr:`layers`, ``frame.sip.call_id``, :meth:`values`)."""

    number: int
    ts_ns: int
    rel_s: float
    length: int
    data: bytes = b""  # the captured bytes; the lower layers are decoded again when asked for
    first_ns: int = 0  # the capture time of the first frame (relative times count from it)
    src: str = ""
    dst: str = ""
    protocol: str = ""
    info: str = ""
    lower: list[tuple[str, int, int]] = field(default_factory=list)  # (layer, start, end)
    tcp_numbers: TcpNumbers | None = None
    pdus: list[Pdu] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # frame in which a message this frame carries part of ends (0: not complete when shown)
    segment_of: int | None = None
    # tshark's TLS replaces the Info column of such a segment; SIP appends to TCP's.
    segment_bare: bool = False
    conn: tuple[str, int, str, int] | None = None  # TCP 4-tuple (src, sport, dst, dport)
    has_payload: bool = False
    tunnel: str | None = None  # "GTP": the columns are the tunnelled packet's, marked
    esp_note: str | None = None  # how an ESP packet was read (or why not)
    _layers: list[Layer] | None = None
    # whether the row is free of what a terminal obeys (control characters): wire text
    # reaches most rows, so it is escaped unless the row is known to hold none (RenderedRow)
    safe: ClassVar[bool] = False

    def columns(self) -> tuple[str, str]:
        """(Protocol, Info) once the application messages are attached."""
        if not self.pdus and self.segment_of is None and self.tunnel is None:
            return self.protocol, self.info  # (most frames)
        # What TLS carried replaces TLS in the columns, as tshark's upper dissectors do.
        pdus = [p for p in self.pdus if p.kind != "tls"] or self.pdus
        if pdus and pdus[0].kind in _FIRST_ONLY:
            # tshark 4.0's MSRP and BFCP dissect the first message of a segment only; the
            # tree here holds every message, the columns name the first like tshark.
            pdus = pdus[:1]
        proto, info = self.protocol, self.info
        if pdus:
            kinds = [RENDERERS[p.kind] for p in pdus if p.kind in RENDERERS]
            proto = kinds[-1].protocol(pdus[-1].obj) if kinds else self.protocol
            info = "".join(RENDERERS[p.kind].info(p.obj) for p in pdus if p.kind in RENDERERS)
            last = RENDERERS.get(pdus[-1].kind)
            if last is not None and last.suffix is not None:
                info += last.suffix(pdus[-1].obj)
            info = info.rstrip()
        elif self.segment_of is not None:
            note = "[TCP segment of a reassembled PDU]"
            info = note if self.segment_bare else f"{self.info} {note}"
        if self.tunnel is not None:
            proto = f"{self.tunnel} <{proto}>"
        return proto, info

    def row(self) -> str:
        proto, info = self.columns()
        return (
            f"{self.number:>5} {self.rel_s:>12.6f} {self.src:>15} → {self.dst:<15} "
            f"{proto} {self.length} {info}"
        ).rstrip()

    def tree(self) -> list[Node]:
        cap = len(self.data)
        top = Node(
            f"Frame {self.number}: {self.length} bytes on wire ({self.length * 8} bits), "
            f"{cap} bytes captured ({cap * 8} bits)"
        )
        lower = [_LOWER_NODES[kind](self, start) for kind, start, _ in self.lower]
        return [top, *lower, *(RENDERERS[p.kind].detail(p.obj) for p in self.pdus)]

    # -- named fields

    @property
    def layers(self) -> list[Layer]:
        """Every layer of the frame, outermost first: ``frame``, the link, IP and transport
        layers, then what the application messages hold (SIP, SDP, MIKEY, TLS, MSRP, BFCP)."""
        if self._layers is None:
            self._layers = [la for group in self._layer_groups() for la in group]
            self._layers.append(ColumnsLayer(self))
        return self._layers

    def _layer_groups(self) -> list[list[Layer]]:
        """The layers of each top-level node of :meth:`tree`, in its order."""
        groups: list[list[Layer]] = [
            [FrameLayer(self.number, self.ts_ns, self.first_ns, self.length, len(self.data))]
        ]
        for kind, start, end in self.lower:
            groups.append([self._lower_layer(kind, start, end)])
        for p in self.pdus:
            r = RENDERERS.get(p.kind)
            groups.append(r.layers(p.obj) if r is not None and r.layers is not None else [])
        return groups

    def _lower_layer(self, kind: str, start: int, end: int) -> Layer:
        if kind == "eth":
            return EthLayer(self.data, start)
        if kind == "ip":
            return IpLayer(self.data, start, end)
        if kind == "ipv6":
            return Ipv6Layer(self.data, start, end)
        if kind == "udp":
            return UdpLayer(self.data, start, end)
        if kind == "gtp":
            return GtpLayer(self.data, start, end)
        if kind == "esp":
            return EspLayer(self.data, start)
        assert kind == "tcp" and self.tcp_numbers is not None
        return TcpLayer(self.data, start, self.tcp_numbers)

    def layer(self, name: str) -> Layer | None:
        """The first layer named ``name`` (``"sip"``, ``"tcp"``, ...), or None."""
        return next((la for la in self.layers if la.name == name), None)

    def all(self, name: str) -> list[Layer]:
        """Every layer named ``name`` (a segment may carry several MSRP messages)."""
        return [la for la in self.layers if la.name == name]

    def values(self, name: str) -> list[object]:
        """Every value of the field ``name`` (``"sip.Call-ID"``) in the frame, in layer order;
        raises KeyError for a name the field table does not have."""
        info = FIELDS[name]
        return [v for la in self.layers if la.name == info.layer for v in la.values(info.attr)]

    @property
    def frame(self) -> FrameLayer:
        return cast("FrameLayer", self.layers[0])

    @property
    def eth(self) -> EthLayer | None:
        return cast("EthLayer | None", self.layer("eth"))

    @property
    def ip(self) -> IpLayer | None:
        return cast("IpLayer | None", self.layer("ip"))

    @property
    def ipv6(self) -> Ipv6Layer | None:
        return cast("Ipv6Layer | None", self.layer("ipv6"))

    @property
    def udp(self) -> UdpLayer | None:
        return cast("UdpLayer | None", self.layer("udp"))

    @property
    def tcp(self) -> TcpLayer | None:
        return cast("TcpLayer | None", self.layer("tcp"))

    @property
    def sip(self) -> SipLayer | None:
        return cast("SipLayer | None", self.layer("sip"))

    @property
    def sdp(self) -> SdpLayer | None:
        return cast("SdpLayer | None", self.layer("sdp"))

    @property
    def mikey(self) -> MikeyLayer | None:
        return cast("MikeyLayer | None", self.layer("mikey"))

    @property
    def tls(self) -> TlsLayer | None:
        return cast("TlsLayer | None", self.layer("tls"))

    @property
    def msrp(self) -> MsrpLayer | None:
        return cast("MsrpLayer | None", self.layer("msrp"))

    @property
    def bfcp(self) -> BfcpLayer | None:
        return cast("BfcpLayer | None", self.layer("bfcp"))

    # -- JSON

    def to_json(self, detail: bool) -> dict[str, Any]:
        proto, info = self.columns()
        d: dict[str, Any] = {
            "number": self.number,
            "time": round(self.rel_s, 6),
            "source": self.src,
            "destination": self.dst,
            "protocol": proto,
            "length": self.length,
            "info": info,
        }
        if detail:
            # each layer's tree, with the named fields it holds (docs/fields.md) beside it
            tree = []
            for node, group in zip(self.tree(), self._layer_groups(), strict=True):
                j = node.to_json()
                fields = {
                    info.name: [info.text(x) for x in vals] if info.many else info.text(vals[0])
                    for la in group
                    for info, vals in la.items()
                }
                if fields:
                    j["fields"] = fields
                tree.append(j)
            d["layers"] = tree
        if self.problems:
            d["problems"] = [p.to_json() for p in self.problems]
        return d

    def json_line(self, detail: bool) -> str:
        return json.dumps(self.to_json(detail), ensure_ascii=False)


class RenderedRow(FrameView):
    """A frame whose row was final when it was read (a UDP datagram of no protocol of ours,
    with nothing attached to it), kept as that row alone: the packet list of two processes
    (:mod:`.parallel`) makes one for most frames. Its text is numbers and addresses, nothing a
    terminal would obey (:attr:`safe`)."""

    __slots__ = ("text",)
    safe = True

    def __init__(self, frame: Frame, text: str) -> None:
        # (not FrameView's: only what the frames held back are asked for is set)
        self.number = frame.number
        self.data = frame.data
        self.protocol = "UDP"
        self.conn = None
        self.has_payload = False
        self.segment_of = None
        self.pdus = []
        self.problems = []
        self.text = text

    def row(self) -> str:
        return self.text


class ColumnsLayer(Layer):
    """The packet list's columns, by tshark's names for them (``-T fields -e
    _ws.col.Info``)."""

    name = "_ws"

    def __init__(self, view: FrameView) -> None:
        self._view = view

    @named_field("_ws.col.Source", "Source", Fmt.TEXT)
    def col_source(self) -> str:
        return self._view.src

    @named_field("_ws.col.Destination", "Destination", Fmt.TEXT)
    def col_destination(self) -> str:
        return self._view.dst

    @named_field("_ws.col.Protocol", "Protocol", Fmt.TEXT)
    def col_protocol(self) -> str:
        return self._view.columns()[0]

    @named_field("_ws.col.Length", "Length")
    def col_length(self) -> int:
        return self._view.length

    @named_field("_ws.col.Info", "Information", Fmt.TEXT)
    def col_info(self) -> str:
        return self._view.columns()[1]


def _eth_node(v: FrameView, start: int) -> Node:
    d = v.data
    src, dst = mac_text(d[start + 6 : start + 12]), mac_text(d[start : start + 6])
    return Node(f"Ethernet II, Src: {src}, Dst: {dst}")


def _ip_node(v: FrameView, start: int) -> Node:
    d = v.data
    src, dst = ntop(d[start + 12 : start + 16]), ntop(d[start + 16 : start + 20])
    return Node(f"Internet Protocol Version 4, Src: {src}, Dst: {dst}")


def _ipv6_node(v: FrameView, start: int) -> Node:
    d = v.data
    src, dst = ntop(d[start + 8 : start + 24]), ntop(d[start + 24 : start + 40])
    return Node(f"Internet Protocol Version 6, Src: {src}, Dst: {dst}")


def _ports(v: FrameView, start: int) -> tuple[int, int]:
    d = v.data
    return int.from_bytes(d[start : start + 2], "big"), int.from_bytes(
        d[start + 2 : start + 4], "big"
    )


def _udp_node(v: FrameView, start: int) -> Node:
    sport, dport = _ports(v, start)
    return Node(f"User Datagram Protocol, Src Port: {sport}, Dst Port: {dport}")


def _tcp_node(v: FrameView, start: int) -> Node:
    sport, dport = _ports(v, start)
    n = v.tcp_numbers
    assert n is not None
    return Node(
        f"Transmission Control Protocol, Src Port: {sport}, Dst Port: {dport}, "
        f"Seq: {n.seq}, Len: {n.length}"
    )


def _gtp_node(v: FrameView, start: int) -> Node:
    node = Node("GPRS Tunneling Protocol")
    try:
        h = GtpLayer(v.data, start, len(v.data)).header()
    except DissectError as e:
        node.add(f"[Malformed: {e.field or e.layer}: {e.reason}]")
        return node
    node.add(f"Message Type: {GTP_MESSAGE_TYPE.label(h.message_type)} (0x{h.message_type:02x})")
    node.add(f"Length: {h.length}")
    node.add(f"TEID: 0x{h.teid:08x} ({h.teid})")
    if h.sequence is not None:
        node.add(f"Sequence number: 0x{h.sequence:04x} ({h.sequence})")
    if h.qfi is not None:
        node.add(f"QoS Flow Identifier (QFI): {h.qfi}")
    return node


def _esp_node(v: FrameView, start: int) -> Node:
    esp = EspLayer(v.data, start)
    node = Node("Encapsulating Security Payload")
    node.add(f"ESP SPI: 0x{esp.spi:08x} ({esp.spi})")
    node.add(f"ESP Sequence: {esp.sequence}")
    if v.esp_note is not None:
        node.add(f"[{v.esp_note}]")
    return node


_LOWER_NODES: dict[str, Callable[[FrameView, int], Node]] = {
    "eth": _eth_node,
    "ip": _ip_node,
    "ipv6": _ipv6_node,
    "udp": _udp_node,
    "tcp": _tcp_node,
    "gtp": _gtp_node,
    "esp": _esp_node,
}


# --------------------------------------------------------------------------------------------
# Link / IP / transport columns


class FrameDecoder:
    """Columns and lower layers of each frame; TCP sequence numbers shown relative to the
    first one seen per direction and streams numbered, like Wireshark. The tables of
    directions and streams are bounded."""

    MAX_DIRECTIONS = 65536

    def __init__(self, esp_sas: Mapping[int, esplib.EspSa] | None = None) -> None:
        self.esp_sas: Mapping[int, esplib.EspSa] = esp_sas or {}
        self._first_ts: int | None = None
        self._isn: OrderedDict[tuple[str, int, str, int], int] = OrderedDict()
        # window scale shift offered in each direction's SYN (None: not offered)
        self._shift: OrderedDict[tuple[str, int, str, int], int | None] = OrderedDict()
        self._streams: OrderedDict[tuple[str, int, str, int], int] = OrderedDict()
        self._next_stream = 0
        self._names: dict[bytes, str] = {}  # address text by address bytes (bounded)
        # the Source and Destination columns of a row by the two addresses (bounded)
        self._pairs: dict[bytes, str] = {}

    def _name(self, addr: bytes) -> str:
        text = self._names.get(addr)
        if text is None:
            if len(self._names) >= self.MAX_DIRECTIONS:
                self._names.clear()
            text = self._names[addr] = ntop(addr)
        return text

    def first_frame(self, frame: Frame) -> None:
        """Relative times count from ``frame``'s, the capture's first (also when another
        process shows that frame)."""
        if self._first_ts is None:
            self._first_ts = frame.ts_ns

    def plain_udp_row(self, frame: Frame) -> str | None:
        """The row of a frame :meth:`_plain_ipv4` decodes as UDP (Ethernet, IPv4 without
        options, not a fragment, UDP on neither the GTP-U nor the NAT-T port, all lengths
        consistent) when nothing is attached to it: ``decode(frame).row()`` without the
        view (most frames of a packet list). None for any other frame."""
        data = frame.data
        if frame.linktype != LINKTYPE_ETHERNET or len(data) < 42 or data[12:15] != b"\x08\x00\x45":
            return None
        total, ff, proto, s, d, sport, dport, ulen = _PLAIN_V4_UDP.unpack_from(data, 14)
        if (
            proto != PROTO_UDP
            or ff & 0x3FFF
            or total < 28
            or 14 + total > len(data)
            or ulen < 8
            or ulen > total - 20
            or sport in _TUNNEL_PORTS
            or dport in _TUNNEL_PORTS
        ):
            return None
        first = self._first_ts
        if first is None:
            first = self._first_ts = frame.ts_ns
        pair = self._pairs.get(s + d)
        if pair is None:
            if len(self._pairs) >= self.MAX_DIRECTIONS:
                self._pairs.clear()
            pair = self._pairs[s + d] = f"{self._name(s):>15} → {self._name(d):<15}"
        return (
            f"{frame.number:>5} {(frame.ts_ns - first) / 1e9:>12.6f} {pair} UDP "
            f"{frame.wirelen} {sport} → {dport} Len={ulen - 8}"
        )

    def decode(self, frame: Frame) -> FrameView:
        if self._first_ts is None:
            self._first_ts = frame.ts_ns
        rel = (frame.ts_ns - self._first_ts) / 1e9
        v = FrameView(frame.number, frame.ts_ns, rel, frame.wirelen, frame.data, self._first_ts)
        try:
            self._decode(frame, v)
        except DissectError as e:
            v.protocol = v.protocol or "?"
            v.info = f"[Malformed: {e.layer}: {e.reason}]"
            v.problems.append(Problem(e.layer, e.reason, frame.number, None, e.field, e.offset))
        return v

    def _decode(self, frame: Frame, v: FrameView) -> None:
        data = frame.data
        if frame.linktype == LINKTYPE_ETHERNET and data[12:14] == b"\x08\x00":
            if data[14:15] == b"\x45" and self._plain_ipv4(v, data):
                return  # (most frames: no call)
            kind, off = NET_IPV4, 14
        else:
            kind, off = network_offset(frame.linktype, data)
        if frame.linktype == LINKTYPE_ETHERNET:
            v.lower.append(("eth", 0, off))
        if kind in (NET_IPV4, NET_IPV6):
            self._ip(v, data, kind == NET_IPV4, off, 0)
        elif frame.linktype == LINKTYPE_ETHERNET:
            v.src = mac_text(data[6:12])
            v.dst = "Broadcast" if data[0:6] == b"\xff" * 6 else mac_text(data[0:6])
            etype = int.from_bytes(data[off - 2 : off], "big")
            if etype == 0x0806:
                v.protocol, v.info = "ARP", _arp_info(data[off:])
            else:
                v.protocol, v.info = f"0x{etype:04x}", "Ethernet II"
        else:
            v.protocol, v.info = "Unknown", f"link type {frame.linktype}"

    def _plain_ipv4(self, v: FrameView, data: bytes) -> bool:
        """Ethernet, IPv4 without options, not a fragment, then TCP or UDP that is neither
        GTP-U nor NAT-T, all lengths consistent (most frames): decoded here at once, as
        :meth:`_ip` and :meth:`_transport` would. False (nothing changed) for any other."""
        n = len(data)
        if n < 34:
            return False
        total, ff, proto, s, d = _PLAIN_V4.unpack_from(data, 14)
        end = 14 + total
        if total < 20 or end > n or ff & 0x3FFF:
            return False  # (0: the captured length stands for it; short; a fragment)
        if proto == PROTO_UDP:
            if total < 28:
                return False
            sport, dport, ulen = _PLAIN_UDP.unpack_from(data, 34)
            if ulen < 8 or 34 + ulen > end or GTPU_PORT in (sport, dport):
                return False
            if esplib.NAT_T_PORT in (sport, dport):
                return False
            v.src, v.dst = self._name(s), self._name(d)
            v.lower += [("eth", 0, 14), ("ip", 14, end), ("udp", 34, end)]
            v.protocol, v.info = "UDP", f"{sport} → {dport} Len={ulen - 8}"
            v.has_payload = ulen > 8
            return True
        if proto == PROTO_TCP:
            v.src, v.dst = self._name(s), self._name(d)
            v.lower += [("eth", 0, 14), ("ip", 14, end)]
            self._tcp(v, data, 34, end)
            return True
        return False

    def _ip(self, v: FrameView, data: bytes, v4: bool, off: int, depth: int) -> None:
        """An IP packet at ``off``; ``depth`` counts the tunnels around it (GTP-U, ESP)."""
        if v4:
            s, d, proto, start, end, ident, fragoff, mf = decode_ipv4(data, off)
            v.src, v.dst = self._name(s), self._name(d)
            v.lower.append(("ip", off, end))
            if fragoff or mf:
                name = _IP_PROTO_NAMES.get(proto, str(proto))
                v.protocol = "IPv4"
                v.info = (
                    f"Fragmented IP protocol (proto={name} {proto}, off={fragoff}, ID={ident:04x})"
                )
                return
        else:
            s, d, proto, start, end, frag = decode_ipv6(data, off)
            v.src, v.dst = self._name(s), self._name(d)
            v.lower.append(("ipv6", off, end))
            if frag is not None:
                ident, fragoff, more, _ = frag
                v.protocol = "IPv6"
                v.info = (
                    f"IPv6 fragment (off={fragoff} more={'y' if more else 'n'} "
                    f"ident=0x{ident:08x} nxt={proto})"
                )
                return
        self._transport(v, data, proto, start, end, depth)

    def _transport(
        self, v: FrameView, data: bytes, proto: int, start: int, end: int, depth: int
    ) -> None:
        if proto == PROTO_UDP:
            sport, dport, ps, pe = decode_udp(data, start, end)
            v.protocol, v.info = "UDP", f"{sport} → {dport} Len={pe - ps}"
            v.lower.append(("udp", start, end))
            v.has_payload = pe > ps
            if depth == 0 and GTPU_PORT in (sport, dport):
                self._gtp(v, data, ps, pe)
            elif (
                depth < _MAX_TUNNELS
                and esplib.NAT_T_PORT in (sport, dport)
                and pe - ps > 8
                and data[ps : ps + 4] != b"\0\0\0\0"
            ):
                # RFC 3948: UDP 4500 carries ESP unless the non-ESP marker (4 zeros) leads
                self._esp(v, data, ps, pe, depth)
        elif proto == PROTO_TCP:
            self._tcp(v, data, start, end)
        elif proto == esplib.PROTO_ESP and depth < _MAX_TUNNELS:
            self._esp(v, data, start, end, depth)
        else:
            v.protocol, v.info = "IP", f"IP protocol {proto}"

    def _gtp(self, v: FrameView, data: bytes, ps: int, pe: int) -> None:
        """GTP-U (TS 29.281): the packet a G-PDU carries is the frame's (its addresses in the
        columns, its protocol marked "GTP <...>", as tshark shows them)."""
        try:
            _, mt, _, ts, te = decode_gtpu(data, ps, pe)
        except DissectError:
            return  # not GTP-U after all: a UDP datagram (the flow layer reports it)
        v.lower.append(("gtp", ps, pe))
        v.has_payload = False
        if mt != MT_GPDU or te <= ts or data[ts] >> 4 not in (4, 6):
            v.protocol, v.info = "GTP", GTP_MESSAGE_TYPE.label(mt)
            return
        v.tunnel = "GTP"
        self._ip(v, data, data[ts] >> 4 == 4, ts, 1)

    def _esp(self, v: FrameView, data: bytes, start: int, end: int, depth: int) -> None:
        """ESP (RFC 4303): opened with the key file's SA for its SPI, else read when it is
        ESP-NULL; what it carries is then the frame's, as tshark shows it with its ESP-NULL
        heuristic."""
        v.lower.append(("esp", start, end))
        v.has_payload = False
        spi = int.from_bytes(data[start : start + 4], "big")
        v.protocol, v.info = "ESP", f"ESP (SPI=0x{spi:08x})"
        sa = self.esp_sas.get(spi)
        if sa is not None:
            try:
                nh, inner = esplib.open_packet(sa, data[start:end])
            except DissectError as e:
                v.esp_note = f"not opened with the key file's [[esp]] SA: {e.reason}"
                return
            if sa.encryption != "null":
                v.esp_note = f"{sa.encryption}, opened with the key file's [[esp]] SA"
                return  # (the inner packet is not the frame's bytes)
            v.esp_note = f"NULL encryption, {sa.integrity} ICV verified with the key file's SA"
            ps, pe = start + 8, start + 8 + len(inner)
        else:
            found = esplib.find_null(data, start, end)
            if found is None:
                v.esp_note = "not read: no key for this SPI, and not ESP-NULL"
                return
            icv, nh, ps, pe = found
            v.esp_note = f"NULL encryption, {icv}-octet ICV not verified: no key"
        if nh in (4, 41):
            self._ip(v, data, nh == 4, ps, depth + 1)
        else:
            self._transport(v, data, nh, ps, pe, depth + 1)

    def _tcp(self, v: FrameView, data: bytes, start: int, end: int) -> None:
        sport, dport, seq, ack, flags, ps, win = decode_tcp(data, start, end)
        n = end - ps
        key = (v.src, sport, v.dst, dport)
        rkey = (v.dst, dport, v.src, sport)
        # (most segments: neither SYN nor a new connection; _stream and _base decide the rest)
        isns = self._isn
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams.get(rkey)
        if stream is None or flags & TCP_SYN:
            stream = self._stream(key, rkey, seq, flags)
        isn = isns.get(key)
        if isn is None or flags & TCP_SYN:
            isn = self._base(key, seq, flags)
        rseq = (seq - isn) & 0xFFFFFFFF
        peer = isns.get(rkey)
        if ps == start + 20:
            opts, shift = "", None
        elif ps == start + 32 and data[start + 20 : start + 24] == _NOP_NOP_TS:
            tsval, tsecr = _TS.unpack_from(data, start + 24)
            opts, shift = f" TSval={tsval} TSecr={tsecr}", None
        else:
            opts, shift = _tcp_options(data[start + 20 : ps], peer)
        if flags & TCP_SYN:
            self._shift[key] = shift
            if len(self._shift) > self.MAX_DIRECTIONS:
                self._shift.popitem(last=False)
        else:
            # Window scaling applies once both SYNs offered it (RFC 7323 2.2).
            mine, theirs = self._shift.get(key), self._shift.get(rkey)
            if mine is not None and theirs is not None:
                win <<= mine
        rack: int | None = 0  # tshark's tcp.ack of a segment without ACK
        acked = ""
        if flags & TCP_ACK:
            rack = None if peer is None else (ack - peer) & 0xFFFFFFFF
            if rack is not None:
                acked = f" Ack={rack}"
        fl = flag_names(flags)
        v.protocol, v.conn, v.has_payload = "TCP", key, n > 0
        v.info = f"{sport} → {dport} [{fl}] Seq={rseq}{acked} Win={win} Len={n}{opts}"
        v.tcp_numbers = TcpNumbers(rseq, rack, win, n, stream, flags)
        v.lower.append(("tcp", start, end))

    def _stream(
        self, key: tuple[str, int, str, int], rkey: tuple[str, int, str, int], seq: int, flags: int
    ) -> int:
        """tshark's tcp.stream: one index per connection, in the order they appear; a SYN
        with another initial sequence number on the same addresses and ports is a new one."""
        streams = self._streams
        known = streams.get(key)
        if known is None:
            known = streams.get(rkey)
        syn = flags & (TCP_SYN | TCP_ACK) == TCP_SYN
        if known is not None and not (syn and self._isn.get(key, seq) != seq):
            return known
        index = self._next_stream
        self._next_stream += 1
        streams[key] = streams[rkey] = index
        while len(streams) > self.MAX_DIRECTIONS:
            streams.popitem(last=False)
        return index

    def _base(self, key: tuple[str, int, str, int], seq: int, flags: int) -> int:
        isn = self._isn.get(key)
        if isn is None or flags & TCP_SYN:
            # Relative numbers count the SYN as 1, so data starts at 1 (as in Wireshark).
            isn = seq if flags & TCP_SYN else (seq - 1) & 0xFFFFFFFF
            self._isn[key] = isn
            if len(self._isn) > self.MAX_DIRECTIONS:
                self._isn.popitem(last=False)
        return isn


_IP_PROTO_NAMES = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6"}
# of an IPv4 header without options: total length, flags + fragment offset, protocol, addresses
_PLAIN_V4 = struct.Struct("!2xH2xH xB2x 4s4s")
_PLAIN_UDP = struct.Struct("!HHH")  # ports, length
_NOP_NOP_TS = b"\x01\x01\x08\x0a"  # the options of most segments: NOP NOP timestamps
_TS = struct.Struct("!II")
_PLAIN_V4_UDP = struct.Struct("!2xH2xH xB2x 4s4s HHH")  # _PLAIN_V4, then _PLAIN_UDP
_TUNNEL_PORTS = frozenset({GTPU_PORT, esplib.NAT_T_PORT})
_MAX_TUNNELS = 2  # GTP-U or ESP inside another (ESP tunnel mode, NAT-T): deeper is not read


def _tcp_options(raw: bytes, peer_isn: int | None = None) -> tuple[str, int | None]:
    """tshark's option summary for the Info column (`` MSS=1460 SACK_PERM WS=128``) and the
    window scale shift, if the WS option is present. SACK blocks are in the peer's sequence
    space, shown relative to its first sequence number."""
    if not raw:
        return "", None
    try:
        opts = parse_tcp_options(raw)
    except DissectError:
        return "", None
    text = ""
    shift: int | None = None
    for o in opts:
        if o.kind == 2 and len(o.data) == 2:
            text += f" MSS={int.from_bytes(o.data, 'big')}"
        elif o.kind == 4:
            text += " SACK_PERM"
        elif o.kind == 8 and len(o.data) == 8:
            text += f" TSval={int.from_bytes(o.data[:4], 'big')}"
            text += f" TSecr={int.from_bytes(o.data[4:], 'big')}"
        elif o.kind == 3 and len(o.data) == 1:
            shift = min(o.data[0], 14)
            text += f" WS={1 << shift}"
        elif o.kind == 5 and len(o.data) % 8 == 0:  # RFC 2018
            base = peer_isn or 0
            for i in range(0, len(o.data), 8):
                left = (int.from_bytes(o.data[i : i + 4], "big") - base) & 0xFFFFFFFF
                right = (int.from_bytes(o.data[i + 4 : i + 8], "big") - base) & 0xFFFFFFFF
                text += f" SLE={left} SRE={right}"
    return text, shift


def _arp_info(p: bytes) -> str:
    """tshark's ARP summary for IPv4 over Ethernet (RFC 826)."""
    if len(p) < 8:
        return "ARP"
    op = int.from_bytes(p[6:8], "big")
    if op not in (1, 2):
        return f"Reserved opcode {op}"
    if len(p) < 28 or p[4] != 6 or p[5] != 4:
        return "ARP"
    sha, spa, tpa = mac_text(p[8:14]), ntop(p[14:18]), ntop(p[24:28])
    if op == 1:
        return f"Who has {tpa}? Tell {spa}"
    return f"{spa} is at {sha}"
