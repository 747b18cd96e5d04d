"""SIP, SDP and MIKEY in the packet list and the detail tree (tshark's names and fields):
the MIKEY inside ``a=key-mgmt``, and what a key file opened in it (the ticket, the exchange
of an answer's TRANSFER_RESP with its offer)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mikeyshark.calls import SipRecord
from mikeyshark.dissectors import mikey as mikeylib
from mikeyshark.dissectors import sdp as sdplib
from mikeyshark.dissectors import sip as siplib
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.mikey.payloads import Rand
from mikeyshark.dissectors.mikey.tree import render_tree as render_mikey_tree
from mikeyshark.dissectors.secret import show_key
from mikeyshark.evidence import TreeNode
from mikeyshark.keyfile import KeyFile
from mikeyshark.keys import Resolution
from mikeyshark.view.frame import Node, Renderer, register, rows_node
from mikeyshark.view.layers import Fmt, Layer, named_field

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


# --------------------------------------------------------------------------------------------
# Named fields (Wireshark's names)


def _uri_user(na: siplib.NameAddr | None) -> str | None:
    if na is None:
        return None
    try:
        return siplib.SipUri.parse(na.uri).user
    except DissectError:
        return None


class SipLayer(Layer):
    """One SIP message's fields."""

    name = "sip"

    def __init__(self, rec: SipRecord) -> None:
        self.record = rec
        self.msg = rec.msg

    @named_field("sip.Method", "Method", Fmt.TEXT)
    def method(self) -> str | None:
        start = self.msg.start
        return start.method if isinstance(start, siplib.RequestLine) else None

    @named_field("sip.r-uri", "Request-URI", Fmt.TEXT)
    def r_uri(self) -> str | None:
        start = self.msg.start
        return start.uri if isinstance(start, siplib.RequestLine) else None

    @named_field("sip.Status-Code", "Status-Code")
    def status_code(self) -> int | None:
        start = self.msg.start
        return start.status if isinstance(start, siplib.StatusLine) else None

    @named_field("sip.Request-Line", "Request-Line", Fmt.TEXT)
    def request_line(self) -> str | None:
        start = self.msg.start
        return str(start) if isinstance(start, siplib.RequestLine) else None

    @named_field("sip.Status-Line", "Status-Line", Fmt.TEXT)
    def status_line(self) -> str | None:
        start = self.msg.start
        return str(start) if isinstance(start, siplib.StatusLine) else None

    @named_field("sip.Call-ID", "Call-ID", Fmt.TEXT)
    def call_id(self) -> str | None:
        return self.msg.call_id

    @named_field("sip.CSeq.seq", "Sequence Number")
    def cseq_seq(self) -> int | None:
        cseq = self.msg.cseq
        return cseq.number if cseq is not None else None

    @named_field("sip.CSeq.method", "Method", Fmt.TEXT)
    def cseq_method(self) -> str | None:
        cseq = self.msg.cseq
        return cseq.method if cseq is not None else None

    @named_field("sip.From", "From", Fmt.TEXT)
    def from_(self) -> str | None:
        return self.msg.get("from")

    @named_field("sip.To", "To", Fmt.TEXT)
    def to(self) -> str | None:
        return self.msg.get("to")

    @named_field("sip.from.user", "SIP from address User Part", Fmt.TEXT)
    def from_user(self) -> str | None:
        return _uri_user(self.msg.from_)

    @named_field("sip.to.user", "SIP to address User Part", Fmt.TEXT)
    def to_user(self) -> str | None:
        return _uri_user(self.msg.to)

    @named_field("sip.from.tag", "SIP from tag", Fmt.TEXT)
    def from_tag(self) -> str | None:
        na = self.msg.from_
        return na.tag if na is not None else None

    @named_field("sip.to.tag", "SIP to tag", Fmt.TEXT)
    def to_tag(self) -> str | None:
        na = self.msg.to
        return na.tag if na is not None else None

    @named_field("sip.Via.branch", "Branch", Fmt.TEXT, many=True)
    def via_branch(self) -> tuple[str, ...]:
        return tuple(v.branch for v in self.msg.vias if v.branch is not None)

    @named_field("sip.contact.uri", "Contact URI", Fmt.TEXT, many=True)
    def contact_uri(self) -> tuple[str, ...]:
        return tuple(c.uri for c in self.msg.contacts)

    @named_field("sip.Content-Type", "Content-Type", Fmt.TEXT)
    def content_type(self) -> str | None:
        return self.msg.content_type

    @named_field("sip.User-Agent", "User-Agent", Fmt.TEXT)
    def user_agent(self) -> str | None:
        return self.msg.get("user-agent")


class SdpLayer(Layer):
    """One session description's fields (several values where the SDP has several lines)."""

    name = "sdp"

    def __init__(self, sd: sdplib.SessionDescription) -> None:
        self.sd = sd

    def _media_lines(self) -> list[sdplib.MediaLine]:
        out = []
        for md in self.sd.media:
            try:
                out.append(md.m)
            except DissectError:
                continue
        return out

    @named_field("sdp.owner.username", "Owner Username", Fmt.TEXT)
    def owner_username(self) -> str | None:
        o = self.sd.origin
        return o.username if o is not None else None

    @named_field("sdp.session_name", "Session Name (s)", Fmt.TEXT)
    def session_name(self) -> str | None:
        names = self.sd.values("s")
        return names[0] if names else None

    @named_field("sdp.connection_info.address", "Connection Address", Fmt.TEXT, many=True)
    def connection_info_address(self) -> tuple[str, ...]:
        lines = [*self.sd.session, *(ln for md in self.sd.media for ln in md.lines)]
        out = []
        for ln in lines:
            if ln.type == "c":
                try:
                    out.append(sdplib.Connection.parse(ln.value).address)
                except DissectError:
                    continue
        return tuple(out)

    @named_field("sdp.media", "Media Description, name and address (m)", Fmt.TEXT, many=True)
    def media(self) -> tuple[str, ...]:
        return tuple(md.lines[0].value for md in self.sd.media)

    @named_field("sdp.media.media", "Media Type", Fmt.TEXT, many=True)
    def media_media(self) -> tuple[str, ...]:
        return tuple(m.media for m in self._media_lines())

    @named_field("sdp.media.port", "Media Port", many=True)
    def media_port(self) -> tuple[int, ...]:
        return tuple(m.port for m in self._media_lines())

    @named_field("sdp.media.proto", "Media Protocol", Fmt.TEXT, many=True)
    def media_proto(self) -> tuple[str, ...]:
        return tuple(m.proto for m in self._media_lines())

    @named_field("sdp.media_attr", "Media Attribute (a)", Fmt.TEXT, many=True)
    def media_attr(self) -> tuple[str, ...]:
        return tuple(ln.value for md in self.sd.media for ln in md.lines[1:] if ln.type == "a")

    @named_field("sdp.key_mgmt.kmpid", "Key Management Protocol (kmpid)", Fmt.TEXT, many=True)
    def key_mgmt_kmpid(self) -> tuple[str, ...]:
        return tuple(km.protocol for km in _key_mgmts(self.sd))


def _key_mgmts(sd: sdplib.SessionDescription) -> list[sdplib.KeyMgmt]:
    out = []
    for ln in (*sd.session, *(ln for md in sd.media for ln in md.lines)):
        name, _, value = ln.value.partition(":")
        if ln.type == "a" and name.lower() == "key-mgmt":
            try:
                out.append(sdplib.KeyMgmt.parse(value))
            except DissectError:
                continue
    return out


class MikeyLayer(Layer):
    """One MIKEY message's fields (from an ``a=key-mgmt`` of the SDP)."""

    name = "mikey"

    def __init__(self, msg: mikeylib.MikeyMessage) -> None:
        self.msg = msg

    @named_field("mikey.version", "Version")
    def version(self) -> int:
        return self.msg.hdr.version

    @named_field("mikey.type", "Data Type")
    def type(self) -> int:
        return self.msg.hdr.data_type

    @named_field("mikey.v.set", "V", Fmt.BOOL)
    def v_set(self) -> bool:
        return self.msg.hdr.v

    @named_field("mikey.prf_func", "PRF func")
    def prf_func(self) -> int:
        return self.msg.hdr.prf_func

    @named_field("mikey.csb_id", "CSB ID", Fmt.HEX32)
    def csb_id(self) -> int:
        return self.msg.hdr.csb_id

    @named_field("mikey.cs_count", "#CS")
    def cs_count(self) -> int:
        return len(self.msg.hdr.cs_ids())

    @named_field("mikey.rand.data", "RAND", Fmt.BYTES)
    def rand_data(self) -> bytes | None:
        r = self.msg.find(Rand)
        return r.value if r is not None else None


def sip_layers(rec: SipRecord) -> list[Layer]:
    """The sip layer, and the sdp layer and one mikey layer per ``a=key-mgmt:mikey`` of its
    body."""
    out: list[Layer] = [SipLayer(rec)]
    if rec.sdp is not None:
        out.append(SdpLayer(rec.sdp))
        for km in _key_mgmts(rec.sdp):
            if km.protocol.lower() == "mikey":
                try:
                    out.append(MikeyLayer(mikeylib.parse(km.data)))
                except DissectError:
                    continue
    return out


register("sip", Renderer(sip_protocol, sip_info, sip_detail, sip_suffix, sip_layers))


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
        lambda k: sip_layers(k.rec),
    ),
)


def mikey_detail(msg: mikeylib.MikeyMessage) -> Node:
    """The (depth, text) lines of mikeyshark.dissectors.mikey.tree as a Node subtree."""
    return rows_node(render_mikey_tree(msg))


@dataclass(frozen=True, slots=True)
class MikeyDatagram:
    """A MIKEY message on its own UDP port (RFC 3830 section 10), as tshark lists it."""

    sport: int
    dport: int
    length: int  # of the UDP payload
    msg: mikeylib.MikeyMessage


register(
    "mikey",
    Renderer(
        lambda d: "UDP/MIKEY",
        lambda d: f"{d.sport} → {d.dport} Len={d.length}, Mikey: {d.msg.data_type_name}",
        lambda d: mikey_detail(d.msg),
        layers=lambda d: [MikeyLayer(d.msg)],
    ),
)


def _ticket_node(res: Resolution, keys: KeyFile, reveal: bool) -> Node:
    """The opened ticket (validity, identities, key fingerprints) and the TEK candidates."""
    from mikeyshark.correlate import key_status  # (the analyze report's: only trees need it)

    ks = key_status(res, keys, reveal)
    if ks.ticket_tree is None:
        return Node(f"[Ticket not opened: {ks.ticket_error or 'no key in the key file opens it'}]")
    node = _tree(ks.ticket_tree)
    node.label = f"[Ticket {ks.ticket_tree.value}]"
    if res.valid_at is not None:
        node.add(f"[Valid at the time of the message: {res.valid_at}]")
    for c in res.tek_candidates:
        node.add(f"TEK candidate (cs {c.cs_id}, {c.derivation}): {show_key(c.key, reveal)}")
    return node


def _response_node(res: Resolution, offer_frame: int, reveal: bool) -> Node:
    """What the keys tell of an answer's MIKEY (TRANSFER_RESP): whether its MAC/V payload
    verifies with the key of the offer's ticket, and the exchange's TEK candidates."""
    node = Node(f"[Exchange with the TRANSFER_INIT of frame {offer_frame}]")
    if not res.ticket_opened:
        err = res.error
        node.add(f"[Ticket not opened: {err.reason if err else 'no key opens it'}]")
        return node
    node.add(f"[CSB ID matches the TRANSFER_INIT: {res.same_csb}]")
    node.add(f"[Verification (V) with the ticket's key: {res.resp_mac_ok}]")
    for c in res.tek_candidates:
        node.add(f"TEK candidate (cs {c.cs_id}, {c.derivation}): {show_key(c.key, reveal)}")
    return node


def _tree(t: TreeNode) -> Node:
    n = Node(f"{t.label}: {t.value}" if t.value else t.label)
    n.children = [_tree(c) for c in t.children]
    return n
