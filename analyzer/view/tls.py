"""TLS in the packet list and the detail tree: the records that end in a frame, with tshark's
names, the hello and key-exchange fields, and what decryption told of protected records (the
inner content type of TLS 1.3, the plaintext's length and protocol, the confirmed key)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mikeyshark.dissectors.buffer import Reader
from mikeyshark.dissectors.errors import DissectError
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
from mikeyshark.view.frame import Node, Renderer, register
from mikeyshark.view.layers import Fmt, Layer, named_field

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
    whether a key was confirmed and which."""

    version: int | None = None
    decrypted: bool = False
    key_note: str | None = None  # which key the oracle confirmed (fingerprint, not the key)
    psk_suite: bool | None = None  # the ServerHello chose a PSK suite (key exchanges decode)


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
    alert: tuple[int, int] | None = None  # (level, description), sent in the clear or opened
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

    @property
    def shown_type(self) -> int:
        return self.inner_type if self.inner_type is not None else self.content_type

    @property
    def readable(self) -> bool:
        """Its content is known: sent in the clear, or a TLS 1.3 record we decrypted."""
        return not self.encrypted or self.inner_type is not None

    def names(self) -> list[str]:
        """The record's part of the Info column."""
        ct = self.shown_type
        if ct == CT_CHANGE_CIPHER_SPEC:
            return ["Change Cipher Spec"]
        if ct == CT_ALERT:
            a = self.alert
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
            a = self.alert
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


class TlsLayer(Layer):
    """The fields of the TLS records that end in one frame (one value per record, message,
    suite or extension, in order)."""

    name = "tls"

    def __init__(self, f: TlsFrame) -> None:
        self.frame = f

    def _hellos(self) -> list[ClientHello | ServerHello]:
        out: list[ClientHello | ServerHello] = []
        for r in self.frame.records:
            if not r.readable:
                continue
            for t, body in r.messages:
                try:
                    if t == HT_CLIENT_HELLO:
                        out.append(parse_client_hello(body))
                    elif t == HT_SERVER_HELLO:
                        out.append(parse_server_hello(body))
                except DissectError:
                    continue
        return out

    @named_field("tls.record.content_type", "Content Type", many=True)
    def record_content_type(self) -> tuple[int, ...]:
        # a TLS 1.3 protected record has an opaque type; its content type once opened
        out = []
        for r in self.frame.records:
            if not r.tls13_opaque:
                out.append(r.content_type)
            elif r.inner_type is not None:
                out.append(r.inner_type)
        return tuple(out)

    @named_field("tls.record.opaque_type", "Opaque Type", many=True)
    def record_opaque_type(self) -> tuple[int, ...]:
        return tuple(r.content_type for r in self.frame.records if r.tls13_opaque)

    @named_field("tls.record.version", "Version", Fmt.HEX16, many=True)
    def record_version(self) -> tuple[int, ...]:
        return tuple(r.version for r in self.frame.records)

    @named_field("tls.record.length", "Length", many=True)
    def record_length(self) -> tuple[int, ...]:
        return tuple(r.length for r in self.frame.records)

    @named_field("tls.handshake.type", "Handshake Type", many=True)
    def handshake_type(self) -> tuple[int, ...]:
        out: list[int] = []
        for r in self.frame.records:
            if r.shown_type != CT_HANDSHAKE:
                continue
            if r.readable:
                out.extend(t for t, _ in r.messages)
            elif r.conn.decrypted and r.first_protected_handshake:
                out.append(HT_FINISHED)
        return tuple(out)

    @named_field("tls.handshake.version", "Version", Fmt.HEX16, many=True)
    def handshake_version(self) -> tuple[int, ...]:
        return tuple(h.legacy_version for h in self._hellos())

    @named_field("tls.handshake.random", "Random", Fmt.BYTES, many=True)
    def handshake_random(self) -> tuple[bytes, ...]:
        return tuple(h.random for h in self._hellos())

    @named_field("tls.handshake.ciphersuite", "Cipher Suite", Fmt.HEX16, many=True)
    def handshake_ciphersuite(self) -> tuple[int, ...]:
        out: list[int] = []
        for h in self._hellos():
            if isinstance(h, ClientHello):
                out.extend(h.cipher_suites)
            else:
                out.append(h.cipher_suite)
        return tuple(out)

    @named_field("tls.handshake.extension.type", "Type", many=True)
    def handshake_extension_type(self) -> tuple[int, ...]:
        return tuple(e.ext_type for h in self._hellos() for e in h.extensions or ())

    @named_field("tls.alert_message.level", "Level", many=True)
    def alert_message_level(self) -> tuple[int, ...]:
        return tuple(r.alert[0] for r in self.frame.records if r.alert is not None)

    @named_field("tls.alert_message.desc", "Description", many=True)
    def alert_message_desc(self) -> tuple[int, ...]:
        return tuple(r.alert[1] for r in self.frame.records if r.alert is not None)


register("tls", Renderer(tls_protocol, tls_info, tls_detail, layers=lambda f: [TlsLayer(f)]))


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
