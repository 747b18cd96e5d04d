"""Wireshark-like packet list and detail tree.

A :class:`FrameView` is one row of the packet list: the columns tshark prints (No., Time,
Source, Destination, Protocol, Length, Info) plus the detail tree of ``tshark -V``. The link,
IP and transport layers are decoded here from the frame bytes; application messages found by
the analyzer are attached to the frame where they complete as :class:`Pdu` s and rendered by
the :class:`Renderer` registered for their kind: SIP (with SDP and the MIKEY inside
``a=key-mgmt``, plus the tickets a key file opened), TLS (the records that end in a frame,
tshark's names and fields), MSRP and BFCP. Other kinds register with :func:`register`.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mikeyshark.calls import SipRecord
from mikeyshark.dissectors import bfcp as bfcplib
from mikeyshark.dissectors import mikey as mikeylib
from mikeyshark.dissectors import msrp as msrplib
from mikeyshark.dissectors import sdp as sdplib
from mikeyshark.dissectors import sip as siplib
from mikeyshark.dissectors.buffer import Reader
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.ip import PROTO_TCP, PROTO_UDP, decode_ipv4, decode_ipv6, ntop
from mikeyshark.dissectors.link import LINKTYPE_ETHERNET, NET_IPV4, NET_IPV6, network_offset
from mikeyshark.dissectors.mikey.tree import render_tree as render_mikey_tree
from mikeyshark.dissectors.tls.constants import (
    ALERT_DESCRIPTION,
    ALERT_LEVEL,
    CIPHER_SUITE,
    CONTENT_TYPE,
    CT_ALERT,
    CT_APPLICATION_DATA,
    CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
    EXT_PRE_SHARED_KEY,
    EXT_PSK_KEY_EXCHANGE_MODES,
    EXT_RENEGOTIATION_INFO,
    EXT_SESSION_TICKET,
    EXT_SIGNATURE_ALGORITHMS,
    EXT_SUPPORTED_GROUPS,
    EXT_SUPPORTED_VERSIONS,
    EXTENSION_TYPE,
    HANDSHAKE_TYPE,
    HT_CLIENT_HELLO,
    HT_CLIENT_KEY_EXCHANGE,
    HT_ENCRYPTED_EXTENSIONS,
    HT_FINISHED,
    HT_NEW_SESSION_TICKET,
    HT_SERVER_HELLO,
    HT_SERVER_KEY_EXCHANGE,
    NAMED_GROUP,
    PSK_DHE_KE,
    PSK_KE,
    TLS13,
    VERSION,
)
from mikeyshark.dissectors.tls.records import (
    ClientHello,
    Extension,
    ServerHello,
    parse_client_hello,
    parse_offered_psks,
    parse_psk_key_exchange,
    parse_psk_modes,
    parse_server_hello,
    parse_u16_list,
)
from mikeyshark.dissectors.transport import (
    TCP_ACK,
    TCP_SYN,
    decode_tcp,
    decode_udp,
    flag_names,
    parse_tcp_options,
)
from mikeyshark.model import Frame, Problem

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
    number: int
    ts_ns: int
    rel_s: float
    length: int
    src: str = ""
    dst: str = ""
    protocol: str = ""
    info: str = ""
    layers: list[Node] = field(default_factory=list)
    pdus: list[Pdu] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    segment_of: int | None = None  # frame in which a message this frame carries part of ends
    # tshark's TLS replaces the Info column of such a segment; SIP appends to TCP's.
    segment_bare: bool = False
    conn: tuple[str, int, str, int] | None = None  # TCP 4-tuple (src, sport, dst, dport)
    has_payload: bool = False

    def columns(self) -> tuple[str, str]:
        """(Protocol, Info) once the application messages are attached."""
        # What TLS carried replaces TLS in the columns, as tshark's upper dissectors do.
        pdus = [p for p in self.pdus if p.kind != "tls"] or self.pdus
        if pdus and pdus[0].kind in _FIRST_ONLY:
            # tshark 4.0's MSRP and BFCP dissect the first message of a segment only; the
            # tree here holds every message, the columns name the first like tshark.
            pdus = pdus[:1]
        if pdus:
            kinds = [RENDERERS[p.kind] for p in pdus if p.kind in RENDERERS]
            proto = kinds[-1].protocol(pdus[-1].obj) if kinds else self.protocol
            info = "".join(RENDERERS[p.kind].info(p.obj) for p in pdus if p.kind in RENDERERS)
            last = RENDERERS.get(pdus[-1].kind)
            if last is not None and last.suffix is not None:
                info += last.suffix(pdus[-1].obj)
            return proto, info.rstrip()
        if self.segment_of is not None:
            note = "[TCP segment of a reassembled PDU]"
            return self.protocol, note if self.segment_bare else f"{self.info} {note}"
        return self.protocol, self.info

    def row(self) -> str:
        proto, info = self.columns()
        return (
            f"{self.number:>5} {self.rel_s:>12.6f} {self.src:>15} → {self.dst:<15} "
            f"{proto} {self.length} {info}"
        ).rstrip()

    def tree(self) -> list[Node]:
        return [*self.layers, *(RENDERERS[p.kind].detail(p.obj) for p in self.pdus)]

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
            d["layers"] = [n.to_json() for n in self.tree()]
        if self.problems:
            d["problems"] = [p.to_json() for p in self.problems]
        return d

    def json_line(self, detail: bool) -> str:
        return json.dumps(self.to_json(detail), ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# Link / IP / transport columns


class FrameDecoder:
    """Columns and lower-layer tree of each frame; TCP sequence numbers shown relative to
    the first one seen per direction, like Wireshark. The table of directions is bounded."""

    MAX_DIRECTIONS = 65536

    def __init__(self) -> None:
        self._first_ts: int | None = None
        self._isn: OrderedDict[tuple[str, int, str, int], int] = OrderedDict()
        # window scale shift offered in each direction's SYN (None: not offered)
        self._shift: OrderedDict[tuple[str, int, str, int], int | None] = OrderedDict()

    def decode(self, frame: Frame) -> FrameView:
        if self._first_ts is None:
            self._first_ts = frame.ts_ns
        rel = (frame.ts_ns - self._first_ts) / 1e9
        v = FrameView(frame.number, frame.ts_ns, rel, frame.wirelen)
        cap = len(frame.data)
        v.layers.append(
            Node(
                f"Frame {frame.number}: {frame.wirelen} bytes on wire ({frame.wirelen * 8} bits), "
                f"{cap} bytes captured ({cap * 8} bits)"
            )
        )
        try:
            self._decode(frame, v)
        except DissectError as e:
            v.protocol = v.protocol or "?"
            v.info = f"[Malformed: {e.layer}: {e.reason}]"
            v.problems.append(Problem(e.layer, e.reason, frame.number, None, e.field, e.offset))
        return v

    def _decode(self, frame: Frame, v: FrameView) -> None:
        data = frame.data
        kind, off = network_offset(frame.linktype, data)
        if frame.linktype == LINKTYPE_ETHERNET:
            v.layers.append(Node(f"Ethernet II, Src: {_mac(data[6:12])}, Dst: {_mac(data[0:6])}"))
        if kind == NET_IPV4:
            s, d, proto, start, end, ident, fragoff, mf = decode_ipv4(data, off)
            v.src, v.dst = ntop(s), ntop(d)
            v.layers.append(Node(f"Internet Protocol Version 4, Src: {v.src}, Dst: {v.dst}"))
            if fragoff or mf:
                name = _IP_PROTO_NAMES.get(proto, str(proto))
                v.protocol = "IPv4"
                v.info = (
                    f"Fragmented IP protocol (proto={name} {proto}, off={fragoff}, ID={ident:04x})"
                )
                return
        elif kind == NET_IPV6:
            s, d, proto, start, end, frag = decode_ipv6(data, off)
            v.src, v.dst = ntop(s), ntop(d)
            v.layers.append(Node(f"Internet Protocol Version 6, Src: {v.src}, Dst: {v.dst}"))
            if frag is not None:
                ident, fragoff, more, _ = frag
                v.protocol = "IPv6"
                v.info = (
                    f"IPv6 fragment (off={fragoff} more={'y' if more else 'n'} "
                    f"ident=0x{ident:08x} nxt={proto})"
                )
                return
        elif frame.linktype == LINKTYPE_ETHERNET:
            v.src = _mac(data[6:12])
            v.dst = "Broadcast" if data[0:6] == b"\xff" * 6 else _mac(data[0:6])
            etype = int.from_bytes(data[off - 2 : off], "big")
            if etype == 0x0806:
                v.protocol, v.info = "ARP", _arp_info(data[off:])
            else:
                v.protocol, v.info = f"0x{etype:04x}", "Ethernet II"
            return
        else:
            v.protocol, v.info = "Unknown", f"link type {frame.linktype}"
            return
        if proto == PROTO_UDP:
            sport, dport, ps, pe = decode_udp(data, start, end)
            v.protocol, v.info = "UDP", f"{sport} → {dport} Len={pe - ps}"
            v.layers.append(Node(f"User Datagram Protocol, Src Port: {sport}, Dst Port: {dport}"))
            v.has_payload = pe > ps
        elif proto == PROTO_TCP:
            sport, dport, seq, ack, flags, ps, win = decode_tcp(data, start, end)
            n = end - ps
            key = (v.src, sport, v.dst, dport)
            rkey = (v.dst, dport, v.src, sport)
            isn = self._base(key, seq, flags)
            rseq = (seq - isn) & 0xFFFFFFFF
            peer = self._isn.get(rkey)
            opts, shift = _tcp_options(data[start + 20 : ps])
            if flags & TCP_SYN:
                self._shift[key] = shift
                if len(self._shift) > self.MAX_DIRECTIONS:
                    self._shift.popitem(last=False)
            else:
                # Window scaling applies once both SYNs offered it (RFC 7323 2.2).
                mine, theirs = self._shift.get(key), self._shift.get(rkey)
                if mine is not None and theirs is not None:
                    win <<= mine
            info = f"{sport} → {dport} [{flag_names(flags)}] Seq={rseq}"
            if flags & TCP_ACK and peer is not None:
                info += f" Ack={(ack - peer) & 0xFFFFFFFF}"
            info += f" Win={win} Len={n}{opts}"
            v.protocol, v.info, v.conn, v.has_payload = "TCP", info, key, n > 0
            v.layers.append(
                Node(
                    f"Transmission Control Protocol, Src Port: {sport}, Dst Port: {dport}, "
                    f"Seq: {rseq}, Len: {n}"
                )
            )
        else:
            v.protocol, v.info = "IP", f"IP protocol {proto}"

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


def _tcp_options(raw: bytes) -> tuple[str, int | None]:
    """tshark's option summary for the Info column (`` MSS=1460 SACK_PERM WS=128``) and the
    window scale shift, if the WS option is present."""
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
    sha, spa, tpa = _mac(p[8:14]), ntop(p[14:18]), ntop(p[24:28])
    if op == 1:
        return f"Who has {tpa}? Tell {spa}"
    return f"{spa} is at {sha}"


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


# --------------------------------------------------------------------------------------------
# SIP and SDP


def _body_protocols(msg: siplib.SipMessage) -> list[str]:
    """What tshark appends to "SIP" in the Protocol column for the body: SDP, XML, ..."""
    types: list[str] = []
    mt = msg.media_type
    if mt is None or not msg.body:
        return []
    if mt.startswith("multipart/"):
        try:
            types = [(p.content_type or "").split(";")[0].strip().lower() for p in msg.body_parts()]
        except DissectError:
            return []
    else:
        types = [mt]
    out = []
    for t in types:
        if t == "application/sdp":
            out.append("SDP")
        elif t.endswith("/xml") or t.endswith("+xml"):
            out.append("XML")
    return out


def sip_protocol(rec: SipRecord) -> str:
    return "/".join(["SIP", *_body_protocols(rec.msg)])


def sip_info(rec: SipRecord) -> str:
    """tshark's Info fragment for one SIP message (each ends in ``" | "``)."""
    msg = rec.msg
    start = msg.start
    if isinstance(start, siplib.RequestLine):
        text = f"Request: {start.method} {start.uri}"
        try:
            if start.method == "INVITE" and msg.to is not None and msg.to.tag is not None:
                text += ", in-dialog"
        except DissectError:
            pass
    else:
        text = f"Status: {start.status} {start.reason}".rstrip()
        method = msg.get("cseq")
        if start.status >= 200 and method:
            text += f" ({method.split()[-1]})"
    return text + " | "


def sip_suffix(rec: SipRecord) -> str:
    """`` (text/plain)`` for a body tshark hands to its media-type dissector."""
    msg = rec.msg
    mt = msg.media_type
    if mt and msg.body and mt != "application/sdp" and not mt.startswith("multipart/"):
        return f" ({mt})"
    return ""


def _uri_nodes(parent: Node, prefix: str, uri: str, param_label: str | None = None) -> None:
    try:
        u = siplib.SipUri.parse(uri)
    except DissectError:
        return
    if u.user is not None:
        parent.add(f"{prefix} User Part: {u.user}")
    parent.add(f"{prefix} Host Part: {u.host}")
    if u.port is not None:
        parent.add(f"{prefix} Host Port: {u.port}")
    if param_label is not None:
        for k, v in u.params:
            parent.add(f"{param_label}: {k}" + (f"={v}" if v is not None else ""))


def _header_node(h: siplib.Header) -> Node:
    shown = h.value.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    node = Node(f"{h.name}: {shown}" if h.name else shown)
    key = h.key
    try:
        if key == "via":
            for v in h.text.split(","):
                via = siplib.Via.parse(v)
                node.add(f"Transport: {via.transport}")
                node.add(f"Sent-by Address: {via.host}")
                if via.port is not None:
                    node.add(f"Sent-by port: {via.port}")
                if via.branch is not None:
                    node.add(f"Branch: {via.branch}")
        elif key in ("from", "to"):
            na = siplib.NameAddr.parse(h.text)
            if na.display:
                node.add(f"SIP {key} display info: {na.display}")
            a = node.add(f"SIP {key} address: {na.uri}")
            _uri_nodes(a, f"SIP {key} address", na.uri)
            if na.tag is not None:
                node.add(f"SIP {key} tag: {na.tag}")
        elif key == "contact":
            for ct in siplib.SipMessage(siplib.StatusLine(0, ""), (h,)).contacts:
                a = node.add(f"Contact URI: {ct.uri}")
                _uri_nodes(a, "Contact URI", ct.uri, "Contact URI parameter")
                for name, val in ct.params:
                    node.add(f"Contact parameter: {name}" + (f"={val}" if val is not None else ""))
        elif key == "cseq":
            seq, _, method = h.text.partition(" ")
            node.add(f"Sequence Number: {seq}")
            node.add(f"Method: {method.strip()}")
        elif key == "rack":
            ra = siplib.SipMessage(siplib.StatusLine(0, ""), (h,)).rack
            if ra is not None:
                node.add(f"RSeq Sequence Number: {ra.rseq}")
                node.add(f"CSeq Sequence Number: {ra.cseq}")
                node.add(f"CSeq Method: {ra.method}")
    except DissectError as e:
        node.add(f"[Malformed: {e.reason}]")
    return node


def sip_detail(rec: SipRecord, tickets: Mapping[bytes, Node] | None = None) -> Node:
    msg = rec.msg
    start = msg.start
    title = "Session Initiation Protocol"
    root = Node(title)
    if isinstance(start, siplib.RequestLine):
        root.label = f"{title} ({start.method})"
        rl = root.add(f"Request-Line: {start}")
        rl.add(f"Method: {start.method}")
        ru = rl.add(f"Request-URI: {start.uri}")
        _uri_nodes(ru, "Request-URI", start.uri)
        rl.add(f"[Resent Packet: {rec.retransmission}]")
    else:
        root.label = f"{title} ({start.status})"
        sl = root.add(f"Status-Line: {start}")
        sl.add(f"Status-Code: {start.status}")
        sl.add(f"[Resent Packet: {rec.retransmission}]")
    if rec.first_frame != rec.frame:
        root.add(f"[Reassembled from frames {rec.first_frame}-{rec.frame}]")
    hdr = root.add("Message Header")
    for h in msg.headers:
        hdr.children.append(_header_node(h))
        if h.key == "call-id":
            hdr.add(f"[Generated Call-ID: {h.text}]")
    if msg.body:
        body = root.add("Message Body")
        mt = msg.media_type or ""
        if mt.startswith("multipart/"):
            _multipart_detail(body, rec, tickets)
        elif rec.sdp is not None:
            body.children.append(sdp_detail(rec.sdp, tickets))
        else:
            body.add(f"{len(msg.body)} bytes ({mt or 'no Content-Type'})")
    for p in rec.problems:
        root.add(f"[Expert Info (Error): {p.field or p.layer}: {p.reason}]")
    return root


def _multipart_detail(
    body: Node, rec: SipRecord, tickets: Mapping[bytes, Node] | None = None
) -> None:
    msg = rec.msg
    boundary = siplib.content_type_param(msg.content_type or "", "boundary")
    mp = body.add(
        f'MIME Multipart Media Encapsulation, Type: {msg.media_type}, Boundary: "{boundary}"'
    )
    try:
        parts = msg.body_parts()
    except DissectError as e:
        mp.add(f"[Malformed: {e.reason}]")
        return
    sdp_done = False
    for part in parts:
        ct = (part.content_type or "").split(";")[0].strip().lower()
        node = mp.add(f"Encapsulated multipart part:  ({ct})")
        for h in part.headers:
            node.add(f"{h.name}: {h.text}")
        if ct == "application/sdp" and rec.sdp is not None and not sdp_done:
            node.children.append(sdp_detail(rec.sdp, tickets))
            sdp_done = True
        else:
            node.add(f"{len(part.body)} bytes")


_SDP_NAMES = {
    "v": "Session Description Protocol Version (v)",
    "o": "Owner/Creator, Session Id (o)",
    "s": "Session Name (s)",
    "i": "Session Information (i)",
    "u": "URI of Description (u)",
    "e": "E-mail Address (e)",
    "p": "Phone Number (p)",
    "c": "Connection Information (c)",
    "b": "Bandwidth Information (b)",
    "t": "Time Description, active time (t)",
    "r": "Repeat Time (r)",
    "z": "Time Zone Adjustments (z)",
    "k": "Encryption Key (k)",
}


def _media_fields(value: str) -> list[str]:
    m = sdplib.MediaLine.parse(value)
    return [
        f"Media Type: {m.media}",
        f"Media Port: {m.port}",
        f"Media Protocol: {m.proto}",
        *(f"Media Format: {f}" for f in m.fmts),
    ]


def _connection_fields(value: str) -> list[str]:
    c = sdplib.Connection.parse(value)
    return [
        f"Connection Network Type: {c.nettype}",
        f"Connection Address Type: {c.addrtype}",
        f"Connection Address: {c.address}",
    ]


def _origin_fields(value: str) -> list[str]:
    o = sdplib.Origin.parse(value)
    return [
        f"Owner Username: {o.username}",
        f"Session ID: {o.session_id}",
        f"Session Version: {o.version}",
        f"Owner Network Type: {o.nettype}",
        f"Owner Address Type: {o.addrtype}",
        f"Owner Address: {o.address}",
    ]


# SDP lines whose value the codec parses into fields, with tshark's title for the line.
_SDP_PARSED: dict[str, tuple[str, Callable[[str], list[str]]]] = {
    "m": ("Media Description, name and address (m)", _media_fields),
    "c": ("Connection Information (c)", _connection_fields),
    "o": ("Owner/Creator, Session Id (o)", _origin_fields),
}


def _sdp_line_node(
    ln: sdplib.SdpLine, media: bool, tickets: Mapping[bytes, Node] | None = None
) -> Node:
    if ln.type == "a":
        node = Node(f"{'Media' if media else 'Session'} Attribute (a): {ln.value}")
        name, colon, value = ln.value.partition(":")
        kind = "Media" if media else "Session"
        node.add(f"{kind} Attribute Fieldname: {name}")
        if colon:
            node.add(f"{kind} Attribute Value: {value}")
        if name.lower() == "key-mgmt":
            try:
                km = sdplib.KeyMgmt.parse(value)
                node.add(f"Key Management Protocol (kmpid): {km.protocol}")
                node.add(f"Key Management Data: {len(km.data)} bytes")
                if km.protocol.lower() == "mikey":
                    try:
                        mk = mikey_detail(mikeylib.parse(km.data))
                        node.children.append(mk)
                        if tickets is not None and km.data in tickets:
                            mk.children.append(tickets[km.data])
                    except DissectError as e:
                        node.add(f"[Malformed MIKEY: {e}]")
            except DissectError as e:
                node.add(f"[Malformed: {e.reason}]")
        return node
    parsed = _SDP_PARSED.get(ln.type)
    if parsed is not None:
        title, fields = parsed
        node = Node(f"{title}: {ln.value}")
        try:
            for text in fields(ln.value):
                node.add(text)
        except DissectError as e:
            node.add(f"[Malformed: {e.reason}]")
        return node
    if ln.type == "t":
        node = Node(f"Time Description, active time (t): {ln.value}")
        parts = ln.value.split()
        if len(parts) == 2:
            node.add(f"Session Start Time: {parts[0]}")
            node.add(f"Session Stop Time: {parts[1]}")
        return node
    if not ln.type:
        return Node(f"Invalid line: {ln.value}")
    return Node(f"{_SDP_NAMES.get(ln.type, f'Unknown ({ln.type})')}: {ln.value}")


def sdp_detail(sd: sdplib.SessionDescription, tickets: Mapping[bytes, Node] | None = None) -> Node:
    """The SDP tree; ``tickets`` adds, under the MIKEY of an ``a=key-mgmt``, what the keys
    opened in it (by the key-mgmt data)."""
    root = Node("Session Description Protocol")
    for ln in sd.session:
        root.children.append(_sdp_line_node(ln, False, tickets))
    for md in sd.media:
        for ln in md.lines:
            root.children.append(_sdp_line_node(ln, True, tickets))
    return root


register("sip", Renderer(sip_protocol, sip_info, sip_detail, sip_suffix))


@dataclass(frozen=True, slots=True)
class KeyedSip:
    """A SIP message with the tickets the key file opened in its SDP."""

    rec: SipRecord
    tickets: Mapping[bytes, Node]


register(
    "sip-keys",
    Renderer(
        lambda k: sip_protocol(k.rec),
        lambda k: sip_info(k.rec),
        lambda k: sip_detail(k.rec, k.tickets),
        lambda k: sip_suffix(k.rec),
    ),
)


def mikey_detail(msg: mikeylib.MikeyMessage) -> Node:
    """The (depth, text) lines of mikeyshark.dissectors.mikey.tree as a Node subtree."""
    lines = render_mikey_tree(msg)
    root = Node(lines[0][1])
    stack = [(0, root)]
    for depth, text in lines[1:]:
        while stack[-1][0] >= depth:
            stack.pop()
        stack.append((depth, stack[-1][1].add(text)))
    return root


register(
    "mikey",
    Renderer(lambda m: "MIKEY", lambda m: f"{m.data_type_name} | ", mikey_detail),
)


def rows_node(rows: list[tuple[int, str]]) -> Node:
    """A (depth, text) detail list (the form dissectors.msrp/bfcp render) as a Node subtree."""
    root = Node(rows[0][1])
    stack = [(0, root)]
    for depth, text in rows[1:]:
        while stack[-1][0] >= depth:
            stack.pop()
        stack.append((depth, stack[-1][1].add(text)))
    return root


register(
    "msrp",
    Renderer(
        lambda m: "MSRP",
        msrplib.column_info,
        lambda m: rows_node(msrplib.detail_tree(m)),
        msrplib.column_suffix,
    ),
)
register(
    "bfcp",
    Renderer(lambda m: "BFCP", bfcplib.column_info, lambda m: rows_node(bfcplib.detail_tree(m))),
)


# --------------------------------------------------------------------------------------------
# TLS

# The Protocol column's names (tshark's ssl_version_short_names).
_TLS_SHORT = {0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2"}
_TLS_SHORT[TLS13] = "TLSv1.3"
# tshark's labels for the PSK key exchange modes (RFC 8446 4.2.9).
_PSK_MODE_LABELS = {
    PSK_KE: "PSK-only key establishment (psk_ke)",
    PSK_DHE_KE: "PSK with (EC)DHE key establishment (psk_dhe_ke)",
}
_APP_PROTOCOL_NAMES = {
    "msrp": "Message Session Relay Protocol",
    "bfcp": "Binary Floor Control Protocol",
}
PREVIEW = 36  # bytes of an encrypted payload shown before tshark's ellipsis


def tls_short(version: int) -> str:
    return _TLS_SHORT.get(version, f"TLS 0x{version:04x}")


def _title(name: str) -> str:
    return name.replace("_", " ").title()


def _hexcut(data: bytes) -> str:
    return data[:PREVIEW].hex() + ("…" if len(data) > PREVIEW else "")


@dataclass(slots=True)
class TlsConnView:
    """What the whole connection settles for its records' rendering: the negotiated version,
    whether a key was confirmed, and the alerts it decrypted (by direction and frame)."""

    version: int | None = None
    decrypted: bool = False
    key_note: str | None = None  # which key the oracle confirmed (fingerprint, not the key)
    psk_suite: bool | None = None  # the ServerHello chose a PSK suite (key exchanges decode)
    alerts: dict[tuple[bool, int], list[tuple[int, int]]] = field(default_factory=dict)


@dataclass(slots=True)
class TlsRecordView:
    conn: TlsConnView
    from_client: bool
    frame: int
    offset: int  # of the record header in this direction's TCP stream
    content_type: int
    version: int
    length: int
    label_version: int  # the version tshark names the record layer with
    encrypted: bool
    messages: list[tuple[int, bytes]] = field(default_factory=list)  # plaintext handshake
    first_protected_handshake: bool = False  # TLS <= 1.2: the Finished after CCS
    fragment_of: int | None = None  # type of a handshake message that continues later
    inner_type: int | None = None  # TLS 1.3: the content type the decrypted record carried
    alert: tuple[int, int] | None = None  # (level, description) of a plaintext alert
    preview: bytes = b""
    plaintext: int | None = None  # bytes of application data it decrypted to
    app_protocol: str | None = None  # "msrp" / "bfcp" of that data

    @property
    def tls13_opaque(self) -> bool:
        return (
            self.encrypted
            and self.label_version == TLS13
            and self.content_type == CT_APPLICATION_DATA
        )

    def decrypted_alert(self) -> tuple[int, int] | None:
        if self.content_type != CT_ALERT or not self.encrypted:
            return None
        found = self.conn.alerts.get((self.from_client, self.frame))
        return found[0] if found else None

    @property
    def shown_type(self) -> int:
        return self.inner_type if self.inner_type is not None else self.content_type

    @property
    def readable(self) -> bool:
        """Its content is known: sent in the clear, or a TLS 1.3 record we decrypted."""
        return not self.encrypted or self.inner_type is not None

    def _alert(self) -> tuple[int, int] | None:
        return self.alert if self.readable else self.decrypted_alert()

    def names(self) -> list[str]:
        """The record's part of the Info column."""
        ct = self.shown_type
        if ct == CT_CHANGE_CIPHER_SPEC:
            return ["Change Cipher Spec"]
        if ct == CT_ALERT:
            a = self._alert()
            return [_alert_text(a)] if a is not None else ["Encrypted Alert"]
        if ct == CT_HANDSHAKE and self.readable:
            names = [_title(HANDSHAKE_TYPE.label(t)) for t, _ in self.messages]
            if self.fragment_of is not None:
                names.append(f"[{_title(HANDSHAKE_TYPE.label(self.fragment_of))} Fragment]")
            return names
        if ct == CT_HANDSHAKE:
            if self.conn.decrypted and self.first_protected_handshake:
                return ["Finished"]
            return ["Encrypted Handshake Message"]
        if ct == CT_APPLICATION_DATA:
            return ["Application Data"]
        return [_title(CONTENT_TYPE.label(ct))]

    def node(self) -> Node:
        ct = self.shown_type
        names = self.names()
        frag = None
        if self.fragment_of is not None:
            frag = f"{_title(HANDSHAKE_TYPE.label(self.fragment_of))} (fragment)"
        if ct == CT_HANDSHAKE and self.readable and not self.messages and frag:
            title = f"Handshake Protocol: {frag}"
        elif ct == CT_HANDSHAKE:
            what = "Multiple Handshake Messages" if len(names) > 1 else "".join(names)
            title = f"Handshake Protocol: {what}"
        elif ct == CT_CHANGE_CIPHER_SPEC:
            title = "Change Cipher Spec Protocol: Change Cipher Spec"
        elif ct == CT_APPLICATION_DATA:
            proto = _APP_PROTOCOL_NAMES.get(self.app_protocol or "", "Application Data")
            title = f"Application Data Protocol: {proto}"
        else:
            title = names[0]
        root = Node(f"{tls_short(self.label_version)} Record Layer: {title}")
        kind = "Opaque Type" if self.tls13_opaque else "Content Type"
        outer = self.content_type
        root.add(f"{kind}: {_title(CONTENT_TYPE.label(outer))} ({outer})")
        root.add(f"Version: {VERSION.label(self.version)} (0x{self.version:04x})")
        root.add(f"Length: {self.length}")
        if self.inner_type is not None:
            root.add(f"[Content Type: {_title(CONTENT_TYPE.label(ct))} ({ct})]")
        if ct == CT_CHANGE_CIPHER_SPEC:
            root.add("Change Cipher Spec Message")
        elif ct == CT_ALERT:
            a = self._alert()
            if a is None:
                root.add("Alert Message: Encrypted Alert")
            else:
                msg = root.add("Alert Message")
                msg.add(f"Level: {_title(ALERT_LEVEL.label(a[0]))} ({a[0]})")
                msg.add(f"Description: {_title(ALERT_DESCRIPTION.label(a[1]))} ({a[1]})")
        elif ct == CT_HANDSHAKE and self.readable:
            tls13 = self.conn.version == TLS13
            for t, body in self.messages:
                root.children.append(
                    _handshake_node(t, body, self.conn.psk_suite is not False, tls13)
                )
            if frag:
                root.add(f"Handshake Protocol: {frag}")
        elif ct == CT_HANDSHAKE:
            hs = root.add(f"Handshake Protocol: {names[0]}")
            if names[0] == "Finished":
                hs.add(f"Handshake Type: Finished ({HT_FINISHED})")
                hs.add("Length: 12")  # verify_data of every TLS 1.2 suite (RFC 5246 7.4.9)
                hs.add("Verify Data")
        elif ct == CT_APPLICATION_DATA:
            root.add(f"Encrypted Application Data: {_hexcut(self.preview)}")
            if self.plaintext is not None:
                root.add(f"[Decrypted TLS ({self.plaintext} bytes)]")
                app_name = _APP_PROTOCOL_NAMES.get(self.app_protocol or "")
                if app_name is not None:
                    root.add(f"[Application Data Protocol: {app_name}]")
        return root


def _alert_text(a: tuple[int, int]) -> str:
    level, desc = _title(ALERT_LEVEL.label(a[0])), _title(ALERT_DESCRIPTION.label(a[1]))
    return f"Alert (Level: {level}, Description: {desc})"


@dataclass(slots=True)
class TlsFrame:
    """The TLS records that end in one frame (one Pdu, as tshark shows one TLS layer)."""

    conn: TlsConnView
    records: list[TlsRecordView]
    version: int  # what the Protocol column names once the frame's records were read


def tls_protocol(f: TlsFrame) -> str:
    return tls_short(f.version)


def tls_info(f: TlsFrame) -> str:
    return ", ".join(n for r in f.records for n in r.names())


def tls_detail(f: TlsFrame) -> Node:
    root = Node("Transport Layer Security")
    for r in f.records:
        root.children.append(r.node())
    if f.conn.key_note is not None:
        root.add(f"[{f.conn.key_note}]")
    return root


register("tls", Renderer(tls_protocol, tls_info, tls_detail))


def _handshake_node(t: int, body: bytes, psk: bool = True, tls13: bool = False) -> Node:
    name = _title(HANDSHAKE_TYPE.label(t))
    node = Node(f"Handshake Protocol: {name}")
    node.add(f"Handshake Type: {name} ({t})")
    node.add(f"Length: {len(body)}")
    try:
        if t == HT_CLIENT_HELLO:
            _client_hello_nodes(node, parse_client_hello(body))
        elif t == HT_SERVER_HELLO:
            _server_hello_nodes(node, parse_server_hello(body))
        elif t == HT_CLIENT_KEY_EXCHANGE and psk:
            _psk_params(node.add("PSK Client Params"), body, "Identity")
        elif t == HT_SERVER_KEY_EXCHANGE and psk:
            _psk_params(node.add("PSK Server Params"), body, "Hint")
        elif t == HT_FINISHED:
            node.add("Verify Data")
        elif t == HT_NEW_SESSION_TICKET and tls13:
            _ticket13_nodes(node.add("TLS Session Ticket"), body)
        elif t == HT_NEW_SESSION_TICKET and len(body) >= 6:
            _ticket_nodes(node.add("TLS Session Ticket"), body)
        elif t == HT_ENCRYPTED_EXTENSIONS:
            _extension_nodes(node, _extensions_block(body), client=False)
    except DissectError as e:
        node.add(f"[Malformed: {e.field or e.layer} at offset {e.offset}: {e.reason}]")
    return node


def _ticket_nodes(node: Node, body: bytes) -> None:
    """A TLS 1.2 NewSessionTicket (RFC 5077 3.3); TLS 1.3's is encrypted."""
    life = int.from_bytes(body[:4], "big")
    n = int.from_bytes(body[4:6], "big")
    node.add(f"Session Ticket Lifetime Hint: {life} seconds ({_duration(life)})")
    node.add(f"Session Ticket Length: {n}")
    node.add(f"Session Ticket: {_hexcut(body[6 : 6 + n])}")


def _extensions_block(body: bytes) -> tuple[Extension, ...]:
    """EncryptedExtensions' body: one extensions block (RFC 8446 4.3.1)."""
    r = Reader(body, "tls")
    er = r.sub(r.u16("encrypted_extensions.length"), "encrypted_extensions")
    out = []
    while not er.eof():
        t = er.u16("extension.type")
        out.append(Extension(t, er.take(er.u16("extension.length"), "extension.data")))
    return tuple(out)


def _ticket13_nodes(node: Node, body: bytes) -> None:
    """A TLS 1.3 NewSessionTicket (RFC 8446 4.6.1)."""
    r = Reader(body, "tls")
    life = r.u32("new_session_ticket.lifetime")
    node.add(f"Session Ticket Lifetime Hint: {life} seconds ({_duration(life)})")
    node.add(f"Session Ticket Age Add: {r.u32('new_session_ticket.age_add')}")
    nonce = r.take(r.u8("new_session_ticket.nonce_length"), "new_session_ticket.nonce")
    node.add(f"Session Ticket Nonce Length: {len(nonce)}")
    node.add(f"Session Ticket Nonce: {nonce.hex()}")
    ticket = r.take(r.u16("new_session_ticket.ticket_length"), "new_session_ticket.ticket")
    node.add(f"Session Ticket Length: {len(ticket)}")
    node.add(f"Session Ticket: {_hexcut(ticket)}")
    node.add(f"Extensions Length: {r.u16('new_session_ticket.extensions_length')}")


def _duration(secs: int) -> str:
    """tshark's spelled-out duration: ``2 hours``, ``1 day, 3 minutes, 1 second``."""
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        n, secs = divmod(secs, size)
        if n:
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    return ", ".join(parts) or "0 seconds"


def _psk_params(node: Node, body: bytes, what: str) -> None:
    ke = parse_psk_key_exchange(body)
    node.add(f"{what} Length: {len(ke.identity)}")
    node.add(f"{what}: {ke.identity.hex()}")
    node.add(f"[{what} (text): {ke.identity.decode('utf-8', 'replace')}]")


def _random_nodes(node: Node, random: bytes, gmt: bool = True) -> None:
    rnd = node.add(f"Random: {random.hex()}")
    if gmt:
        # The first four bytes as a time, as tshark still shows them (RFC 5246 7.4.1.2).
        t = time.gmtime(int.from_bytes(random[:4], "big"))
        when = f"{time.strftime('%b', t)} {t.tm_mday:2d}, {time.strftime('%Y %H:%M:%S', t)}"
        rnd.add(f"GMT Unix Time: {when}.000000000 UTC")
    rnd.add(f"Random Bytes: {random[4:].hex()}")


def _suite_text(code: int) -> str:
    name = CIPHER_SUITE.label(code) if code in CIPHER_SUITE else "Unknown"
    return f"{name} (0x{code:04x})"


def _client_hello_nodes(node: Node, ch: ClientHello) -> None:
    node.add(f"Version: {VERSION.label(ch.legacy_version)} (0x{ch.legacy_version:04x})")
    _random_nodes(node, ch.random)
    node.add(f"Session ID Length: {len(ch.session_id)}")
    if ch.session_id:
        node.add(f"Session ID: {ch.session_id.hex()}")
    node.add(f"Cipher Suites Length: {2 * len(ch.cipher_suites)}")
    suites = node.add(f"Cipher Suites ({len(ch.cipher_suites)} suites)")
    for s in ch.cipher_suites:
        suites.add(f"Cipher Suite: {_suite_text(s)}")
    node.add(f"Compression Methods Length: {len(ch.compression_methods)}")
    n = len(ch.compression_methods)
    comp = node.add(f"Compression Methods ({n} method{'s' if n != 1 else ''})")
    for c in ch.compression_methods:
        comp.add(f"Compression Method: {'null' if c == 0 else 'Unknown'} ({c})")
    _extension_nodes(node, ch.extensions, client=True)


def _server_hello_nodes(node: Node, sh: ServerHello) -> None:
    node.add(f"Version: {VERSION.label(sh.legacy_version)} (0x{sh.legacy_version:04x})")
    # tshark leaves the time out of a TLS 1.3 ServerHello's random (all of it is random).
    _random_nodes(node, sh.random, gmt=sh.ext(EXT_SUPPORTED_VERSIONS) is None)
    node.add(f"Session ID Length: {len(sh.session_id)}")
    if sh.session_id:
        node.add(f"Session ID: {sh.session_id.hex()}")
    node.add(f"Cipher Suite: {_suite_text(sh.cipher_suite)}")
    c = sh.compression_method
    node.add(f"Compression Method: {'null' if c == 0 else 'Unknown'} ({c})")
    _extension_nodes(node, sh.extensions, client=False)


def _extension_nodes(node: Node, exts: tuple[Extension, ...] | None, client: bool) -> None:
    if exts is None:
        return
    node.add(f"Extensions Length: {sum(4 + len(e.data) for e in exts)}")
    for e in exts:
        name = EXTENSION_TYPE.label(e.ext_type)
        x = node.add(f"Extension: {name} (len={len(e.data)})")
        x.add(f"Type: {name} ({e.ext_type})")
        x.add(f"Length: {len(e.data)}")
        try:
            _extension_body(x, e, client)
        except DissectError as err:
            x.add(f"[Malformed: {err.field or err.layer}: {err.reason}]")


def _extension_body(x: Node, e: Extension, client: bool) -> None:
    t, data = e.ext_type, e.data
    if t == EXT_SESSION_TICKET:
        x.add(f"Data ({len(data)} bytes)")
    elif t == EXT_RENEGOTIATION_INFO:
        ri = x.add("Renegotiation Info extension")
        ri.add(f"Renegotiation info extension length: {data[0] if data else 0}")
        if len(data) > 1:
            ri.add(f"Renegotiation info: {data[1:].hex()}")
    elif t == EXT_SIGNATURE_ALGORITHMS:
        algs = parse_u16_list(data, "signature_algorithms")
        x.add(f"Signature Hash Algorithms Length: {2 * len(algs)}")
        x.add(f"Signature Hash Algorithms ({len(algs)} algorithms)")
    elif t == EXT_SUPPORTED_VERSIONS:
        if client:
            versions = parse_u16_list(data, "supported_versions", len_bytes=1)
            x.add(f"Supported Versions length: {2 * len(versions)}")
        else:
            versions = (int.from_bytes(data[:2], "big"),)
        for v in versions:
            x.add(f"Supported Version: {VERSION.label(v)} (0x{v:04x})")
    elif t == EXT_PSK_KEY_EXCHANGE_MODES:
        modes = parse_psk_modes(data)
        x.add(f"PSK Key Exchange Modes Length: {len(modes)}")
        for m in modes:
            x.add(f"PSK Key Exchange Mode: {_PSK_MODE_LABELS.get(m, 'Unknown')} ({m})")
    elif t == EXT_PRE_SHARED_KEY:
        psk = x.add("Pre-Shared Key extension")
        if not client:
            psk.add(f"Selected Identity: {int.from_bytes(data[:2], 'big')}")
            return
        offered = parse_offered_psks(data)
        psk.add(f"Identities Length: {sum(6 + len(i.identity) for i in offered.identities)}")
        for i in offered.identities:
            ident = psk.add(f"PSK Identity (length: {len(i.identity)})")
            ident.add(f"Identity Length: {len(i.identity)}")
            ident.add(f"Identity: {i.identity.hex()}")
            ident.add(f"[Identity (text): {i.identity.decode('utf-8', 'replace')}]")
            ident.add(f"Obfuscated Ticket Age: {i.obfuscated_ticket_age}")
        psk.add(f"PSK Binders length: {sum(1 + len(b) for b in offered.binders)}")
        binders = psk.add("PSK Binders")
        for b in offered.binders:
            binders.add(f"[Binder ({len(b)} bytes): {b.hex()}]")
    elif t == EXT_SUPPORTED_GROUPS:
        groups = parse_u16_list(data, "supported_groups")
        x.add(f"Supported Groups List Length: {2 * len(groups)}")
        g = x.add(f"Supported Groups ({len(groups)} groups)")
        for v in groups:
            label = NAMED_GROUP.label(v) if v in NAMED_GROUP else "Unknown"
            g.add(f"Supported Group: {label} (0x{v:04x})")
