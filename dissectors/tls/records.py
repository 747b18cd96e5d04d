"""TLS record and handshake framing, and the hello / key-exchange messages of TLS-PSK.

Sans-IO: bytes in, frozen dataclasses out, and the same dataclasses back to bytes
(RFC 5246 6.2, 8446 5).  Handshake messages may span several records or share one; the
:class:`HandshakeBuffer` joins the fragments of one direction.
"""

from __future__ import annotations

from dataclasses import dataclass

from mikeyshark.dissectors.buffer import Reader, Writer
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.tls.constants import (
    CONTENT_TYPE,
    EXT_PRE_SHARED_KEY,
    HT_CLIENT_HELLO,
    HT_SERVER_HELLO,
    MAX_CIPHERTEXT,
)

LAYER = "tls"
RECORD_HEADER_LEN = 5


@dataclass(frozen=True, slots=True)
class Record:
    content_type: int
    version: int
    fragment: bytes

    def build(self) -> bytes:
        return build_record(self.content_type, self.version, self.fragment)


def build_record(content_type: int, version: int, fragment: bytes) -> bytes:
    return Writer().u8(content_type).u16(version).u16(len(fragment)).raw(fragment).getvalue()


def plausible_header(data: bytes | bytearray | memoryview, pos: int = 0) -> bool:
    """Whether five bytes at ``pos`` look like a TLS record header (used to resynchronise)."""
    if len(data) - pos < RECORD_HEADER_LEN:
        return False
    ct, major, minor = data[pos], data[pos + 1], data[pos + 2]
    length = (data[pos + 3] << 8) | data[pos + 4]
    return ct in CONTENT_TYPE and major == 3 and minor <= 4 and 0 < length <= MAX_CIPHERTEXT


def parse_record(data: bytes | bytearray, pos: int = 0) -> tuple[Record, int] | None:
    """One record at ``pos``: (record, end offset), or None when more bytes are needed.

    Raises DissectError for a header that cannot be TLS (wrong version, oversize length).
    """
    got = record_header(data, pos)
    if got is None:
        return None
    ct, version, end = got
    return Record(ct, version, bytes(data[pos + RECORD_HEADER_LEN : end])), end


def record_header(data: bytes | bytearray, pos: int = 0) -> tuple[int, int, int] | None:
    """:func:`parse_record` without the record: (content type, version, end offset) of a
    record complete at ``pos`` (its fragment is ``data[pos + 5:end]``), None when more bytes
    are needed; the same DissectError for a header that cannot be TLS."""
    if len(data) - pos < RECORD_HEADER_LEN:
        return None
    ct = data[pos]
    version = (data[pos + 1] << 8) | data[pos + 2]
    length = (data[pos + 3] << 8) | data[pos + 4]
    if ct not in CONTENT_TYPE:
        raise DissectError(LAYER, pos, f"unknown content type {ct}", "record.content_type")
    if data[pos + 1] != 3 or data[pos + 2] > 4:
        raise DissectError(LAYER, pos + 1, f"version 0x{version:04x} is not TLS", "record.version")
    if length > MAX_CIPHERTEXT:
        raise DissectError(LAYER, pos + 3, f"length {length} exceeds 2^14+2048", "record.length")
    end = pos + RECORD_HEADER_LEN + length
    if end > len(data):
        return None
    return ct, version, end


def parse_records(data: bytes) -> list[Record]:
    """All records of a complete byte string (a truncated last record is an error)."""
    out: list[Record] = []
    pos = 0
    while pos < len(data):
        got = parse_record(data, pos)
        if got is None:
            raise DissectError(LAYER, pos, f"truncated record: {len(data) - pos} bytes left")
        rec, pos = got
        out.append(rec)
    return out


# ---------------------------------------------------------------- handshake framing


@dataclass(frozen=True, slots=True)
class Handshake:
    msg_type: int
    body: bytes

    def build(self) -> bytes:
        return handshake_message(self.msg_type, self.body)


def handshake_message(msg_type: int, body: bytes) -> bytes:
    return Writer().u8(msg_type).u24(len(body)).raw(body).getvalue()


def parse_handshake(data: bytes) -> Handshake:
    r = Reader(data, LAYER)
    t = r.u8("handshake.type")
    n = r.u24("handshake.length")
    body = r.take(n, "handshake.body")
    if not r.eof():
        raise r.error(f"{r.remaining} bytes after the handshake message", "handshake")
    return Handshake(t, body)


class HandshakeBuffer:
    """Joins handshake fragments of one direction into whole messages (raw bytes, header
    included, because transcripts hash exactly those)."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def __len__(self) -> int:
        return len(self._buf)

    def add(self, fragment: bytes) -> list[bytes]:
        self._buf += fragment
        out: list[bytes] = []
        while len(self._buf) >= 4:
            n = int.from_bytes(self._buf[1:4], "big")
            if len(self._buf) < 4 + n:
                break
            out.append(bytes(self._buf[: 4 + n]))
            del self._buf[: 4 + n]
        return out


def fragment_handshake(
    content_type: int, version: int, messages: bytes, max_fragment: int
) -> list[bytes]:
    """Records carrying ``messages`` (one or more handshake messages) in pieces of at most
    ``max_fragment`` bytes: messages share a record and span records as the size allows."""
    return [
        build_record(content_type, version, messages[i : i + max_fragment])
        for i in range(0, len(messages), max_fragment)
    ]


# ---------------------------------------------------------------- extensions


@dataclass(frozen=True, slots=True)
class Extension:
    ext_type: int
    data: bytes


def _parse_extensions(r: Reader) -> tuple[Extension, ...] | None:
    if r.eof():
        return None
    n = r.u16("extensions.length")
    er = r.sub(n, "extensions")
    exts: list[Extension] = []
    while not er.eof():
        t = er.u16("extension.type")
        ln = er.u16("extension.length")
        exts.append(Extension(t, er.take(ln, "extension.data")))
    return tuple(exts)


def _build_extensions(w: Writer, exts: tuple[Extension, ...] | None) -> None:
    if exts is None:
        return
    inner = Writer()
    for e in exts:
        inner.u16(e.ext_type).u16(len(e.data)).raw(e.data)
    w.u16(len(inner)).raw(inner.getvalue())


def find_extension(exts: tuple[Extension, ...] | None, ext_type: int) -> bytes | None:
    for e in exts or ():
        if e.ext_type == ext_type:
            return e.data
    return None


# ---------------------------------------------------------------- hellos


@dataclass(frozen=True, slots=True)
class ClientHello:
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: bytes
    extensions: tuple[Extension, ...] | None  # None: no extensions block at all

    def ext(self, ext_type: int) -> bytes | None:
        return find_extension(self.extensions, ext_type)

    def build_body(self) -> bytes:
        w = Writer().u16(self.legacy_version).raw(self.random)
        w.u8(len(self.session_id)).raw(self.session_id)
        w.u16(2 * len(self.cipher_suites))
        for s in self.cipher_suites:
            w.u16(s)
        w.u8(len(self.compression_methods)).raw(self.compression_methods)
        _build_extensions(w, self.extensions)
        return w.getvalue()

    def build(self) -> bytes:
        return handshake_message(HT_CLIENT_HELLO, self.build_body())


def parse_client_hello(body: bytes) -> ClientHello:
    r = Reader(body, LAYER)
    version = r.u16("client_hello.version")
    random = r.take(32, "client_hello.random")
    sid = r.take(r.u8("client_hello.session_id_length"), "client_hello.session_id")
    n = r.u16("client_hello.cipher_suites_length")
    if n % 2:
        raise r.error(f"odd cipher suites length {n}", "client_hello.cipher_suites_length")
    cr = r.sub(n, "client_hello.cipher_suites")
    suites = tuple(cr.u16("client_hello.cipher_suite") for _ in range(n // 2))
    comp = r.take(r.u8("client_hello.compression_methods_length"), "client_hello.compression")
    exts = _parse_extensions(r)
    if not r.eof():
        raise r.error(f"{r.remaining} bytes after the extensions", "client_hello")
    return ClientHello(version, random, sid, suites, comp, exts)


@dataclass(frozen=True, slots=True)
class ServerHello:
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int
    extensions: tuple[Extension, ...] | None

    def ext(self, ext_type: int) -> bytes | None:
        return find_extension(self.extensions, ext_type)

    def build_body(self) -> bytes:
        w = Writer().u16(self.legacy_version).raw(self.random)
        w.u8(len(self.session_id)).raw(self.session_id)
        w.u16(self.cipher_suite).u8(self.compression_method)
        _build_extensions(w, self.extensions)
        return w.getvalue()

    def build(self) -> bytes:
        return handshake_message(HT_SERVER_HELLO, self.build_body())


def parse_server_hello(body: bytes) -> ServerHello:
    r = Reader(body, LAYER)
    version = r.u16("server_hello.version")
    random = r.take(32, "server_hello.random")
    sid = r.take(r.u8("server_hello.session_id_length"), "server_hello.session_id")
    suite = r.u16("server_hello.cipher_suite")
    comp = r.u8("server_hello.compression_method")
    exts = _parse_extensions(r)
    if not r.eof():
        raise r.error(f"{r.remaining} bytes after the extensions", "server_hello")
    return ServerHello(version, random, sid, suite, comp, exts)


# ---------------------------------------------------------------- PSK key exchange


@dataclass(frozen=True, slots=True)
class PskKeyExchange:
    """ClientKeyExchange (``psk_identity``) or ServerKeyExchange (``psk_identity_hint``)
    of RFC 4279; ``params`` holds what DHE_PSK/ECDHE_PSK add after it."""

    identity: bytes
    params: bytes = b""

    def build_body(self) -> bytes:
        return Writer().u16(len(self.identity)).raw(self.identity).raw(self.params).getvalue()


def parse_psk_key_exchange(body: bytes, field: str = "client_key_exchange") -> PskKeyExchange:
    r = Reader(body, LAYER)
    ident = r.take(r.u16(f"{field}.psk_identity_length"), f"{field}.psk_identity")
    return PskKeyExchange(ident, r.rest())


# ---------------------------------------------------------------- alerts


@dataclass(frozen=True, slots=True)
class Alert:
    level: int
    description: int

    def build(self) -> bytes:
        return bytes((self.level, self.description))


def parse_alert(fragment: bytes) -> Alert:
    r = Reader(fragment, LAYER)
    a = Alert(r.u8("alert.level"), r.u8("alert.description"))
    if not r.eof():
        raise r.error(f"{r.remaining} bytes after the alert", "alert")
    return a


# ---------------------------------------------------------------- TLS 1.3 extensions


@dataclass(frozen=True, slots=True)
class PskIdentity:
    identity: bytes
    obfuscated_ticket_age: int = 0


@dataclass(frozen=True, slots=True)
class OfferedPsks:
    identities: tuple[PskIdentity, ...]
    binders: tuple[bytes, ...]

    def build(self) -> bytes:
        ids = Writer()
        for i in self.identities:
            ids.u16(len(i.identity)).raw(i.identity).u32(i.obfuscated_ticket_age)
        return (
            Writer().u16(len(ids)).raw(ids.getvalue()).raw(build_binders(self.binders)).getvalue()
        )


def build_binders(binders: tuple[bytes, ...]) -> bytes:
    bw = Writer()
    for b in binders:
        bw.u8(len(b)).raw(b)
    return Writer().u16(len(bw)).raw(bw.getvalue()).getvalue()


def parse_offered_psks(data: bytes) -> OfferedPsks:
    r = Reader(data, LAYER)
    ir = r.sub(r.u16("pre_shared_key.identities_length"), "pre_shared_key.identities")
    ids: list[PskIdentity] = []
    while not ir.eof():
        ident = ir.take(ir.u16("pre_shared_key.identity_length"), "pre_shared_key.identity")
        ids.append(PskIdentity(ident, ir.u32("pre_shared_key.obfuscated_ticket_age")))
    br = r.sub(r.u16("pre_shared_key.binders_length"), "pre_shared_key.binders")
    binders: list[bytes] = []
    while not br.eof():
        binders.append(br.take(br.u8("pre_shared_key.binder_length"), "pre_shared_key.binder"))
    if not r.eof():
        raise r.error(f"{r.remaining} bytes after the binders", "pre_shared_key")
    if len(ids) != len(binders) or not ids:
        raise DissectError(LAYER, 0, f"{len(ids)} identities but {len(binders)} binders")
    return OfferedPsks(tuple(ids), tuple(binders))


def binders_length(offered: OfferedPsks) -> int:
    """Bytes the binders list takes at the end of the ClientHello (2-byte length included)."""
    return 2 + sum(1 + len(b) for b in offered.binders)


def truncated_client_hello(ch_message: bytes) -> bytes:
    """The ClientHello message (4-byte header included) without its binders list, the input
    of the binder HMAC (RFC 8446 4.2.11.2).  pre_shared_key must be the last extension."""
    hs = parse_handshake(ch_message)
    ch = parse_client_hello(hs.body)
    if not ch.extensions or ch.extensions[-1].ext_type != EXT_PRE_SHARED_KEY:
        raise DissectError(LAYER, 0, "pre_shared_key is not the last extension", "extensions")
    offered = parse_offered_psks(ch.extensions[-1].data)
    return ch_message[: len(ch_message) - binders_length(offered)]


def parse_u16_list(data: bytes, field: str, len_bytes: int = 2) -> tuple[int, ...]:
    """A vector of uint16 with a 1- or 2-byte length (supported_versions, groups, ...)."""
    r = Reader(data, LAYER)
    n = r.u8(f"{field}.length") if len_bytes == 1 else r.u16(f"{field}.length")
    if n % 2:
        raise r.error(f"odd length {n}", f"{field}.length")
    sr = r.sub(n, field)
    return tuple(sr.u16(field) for _ in range(n // 2))


def build_u16_list(values: tuple[int, ...], len_bytes: int = 2) -> bytes:
    w = Writer()
    if len_bytes == 1:
        w.u8(2 * len(values))
    else:
        w.u16(2 * len(values))
    for v in values:
        w.u16(v)
    return w.getvalue()


def parse_psk_modes(data: bytes) -> tuple[int, ...]:
    r = Reader(data, LAYER)
    return tuple(r.take(r.u8("psk_key_exchange_modes.length"), "psk_key_exchange_modes"))


@dataclass(frozen=True, slots=True)
class KeyShareEntry:
    group: int
    key_exchange: bytes

    def build(self) -> bytes:
        w = Writer().u16(self.group).u16(len(self.key_exchange))
        return w.raw(self.key_exchange).getvalue()


def parse_key_share_client(data: bytes) -> tuple[KeyShareEntry, ...]:
    r = Reader(data, LAYER)
    sr = r.sub(r.u16("key_share.length"), "key_share")
    out: list[KeyShareEntry] = []
    while not sr.eof():
        g = sr.u16("key_share.group")
        out.append(KeyShareEntry(g, sr.take(sr.u16("key_share.key_length"), "key_share.key")))
    return tuple(out)


def parse_key_share_server(data: bytes) -> KeyShareEntry:
    r = Reader(data, LAYER)
    g = r.u16("key_share.group")
    return KeyShareEntry(g, r.take(r.u16("key_share.key_length"), "key_share.key"))


def parse_inner_plaintext(data: bytes) -> tuple[int, bytes]:
    """TLS 1.3 TLSInnerPlaintext: (content type, content) after stripping zero padding."""
    end = len(data)
    while end > 0 and data[end - 1] == 0:
        end -= 1
    if end == 0:
        raise DissectError(LAYER, 0, "inner plaintext has no content type", "inner_content_type")
    return data[end - 1], data[: end - 1]
