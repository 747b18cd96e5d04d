"""SIP (RFC 3261) message codec: datagrams, a sans-IO stream framer for TCP, typed headers.

The message keeps every header as it appeared (name spelling, separator, folded value) so that
``build(parse(b)) == b``; typed accessors (Call-ID, CSeq, From/To, Contact, Via, ...) parse the
logical value on demand. Text is decoded as UTF-8 with ``surrogateescape`` so that any byte
survives the round trip.

Framing follows RFC 3261 18.3: a datagram is one message (its Content-Length, when present,
bounds the body); on a stream Content-Length alone delimits the body. A Content-Length that lies
(more bytes than follow before the next message, negative, not a number) is reported as a
:class:`DissectError` and the message is delivered as far as it goes; the framer resumes at the
next start line so that the following messages are still found.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from mikeyshark.dissectors.errors import DissectError, once

LAYER = "sip"
ENC = "utf-8"
ERRS = "surrogateescape"
PORT = 5060  # RFC 3261 section 19.1, Table 1: default port of sip: over UDP/TCP
TLS_PORT = 5061  # RFC 3261 section 19.1, Table 1: default port of sips: (TLS)
SIP_PORTS = frozenset({PORT, TLS_PORT})  # signalling, in the clear or in TLS: never media

# RFC 3261 7.3.3 and the registries of later RFCs (3265, 3515, 3841, 3892, 4028, 4474).
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

# Methods recognised when sniffing a byte stream for the start of a message (RFC 3261, 3262,
# 3265, 3311, 3428, 3515, 3903, 6086). Any token is accepted as a method once framed.
KNOWN_METHODS: tuple[str, ...] = (
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "PRACK",
    "UPDATE",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "INFO",
    "REFER",
    "MESSAGE",
)

# Bounds that keep a hostile stream from growing the framer's buffer without limit.
MAX_LINE = 8 * 1024
MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024

_TOKEN = r"[A-Za-z0-9.!%*_+`'~-]+"
_REQUEST_RE = re.compile(rf"^({_TOKEN}) (\S+) (SIP/[0-9]+\.[0-9]+)$")
_STATUS_RE = re.compile(r"^(SIP/[0-9]+\.[0-9]+) ([0-9]{3})(?: (.*))?$")
_HEADER_RE = re.compile(r"^([^:\s]+)([ \t]*:[ \t]*)(.*)$", re.DOTALL)
_FOLD_RE = re.compile(r"\r?\n[ \t]+")
_METHODS_ALT = "|".join(KNOWN_METHODS).encode()
# A start line at the beginning of a line: what the framer resynchronises on.
_START_RE = re.compile(
    rb"(?:(?<=\n)|^)(?:(?:" + _METHODS_ALT + rb") [^\s]+ SIP/2\.0\r?\n|SIP/2\.0 [1-6]\d\d[ \r\n])"
)
# A start line anywhere (a body that is shorter than its Content-Length may not end in a line
# break), followed by a header line so that body text mentioning SIP is not taken for one.
_EMBEDDED_RE = re.compile(
    rb"(?:(?:"
    + _METHODS_ALT
    + rb") [^\s]+ SIP/2\.0|SIP/2\.0 [1-6]\d\d(?: [^\r\n]*)?)"
    + rb"\r?\n[A-Za-z][A-Za-z0-9.!%*_+`'~-]*[ \t]*:"
)
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_VIA_RE = re.compile(r"^\s*(\S+?)\s*/\s*(\S+?)\s*/\s*(\S+)\s+([^;]+)(.*)$", re.DOTALL)
_CSEQ_RE = re.compile(r"([0-9]{1,10})\s+(\S+)")
_RACK_RE = re.compile(r"([0-9]{1,10})\s+([0-9]{1,10})\s+(\S+)")
_NUMBER_RE = re.compile(r"[0-9]{1,10}")  # RSeq, Content-Length
_ESCAPED_RE = re.compile(r"\\(.)")
_SNIFF_RE = re.compile(
    rb"^(?:(?:" + _METHODS_ALT + rb") [^\s]+ SIP/2\.0\r?\n|SIP/2\.0 \d{3}[ \r\n])"
)


def _digits(s: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts "²" and other digits int() rejects."""
    return s.isascii() and s.isdigit()


def looks_like_sip(data: bytes | bytearray) -> bool:
    """True when ``data`` starts with a SIP request line of a known method or a status line."""
    return _SNIFF_RE.match(data) is not None


@functools.lru_cache(maxsize=1024)
def canonical_name(name: str) -> str:
    """Header name as a lower-case full name (``i`` and ``Call-Id`` both give ``call-id``)."""
    n = name.strip()
    if len(n) == 1:
        n = COMPACT_FORMS.get(n.lower(), n)
    return n.lower()


def _text(b: bytes | bytearray) -> str:
    return b.decode(ENC, ERRS)


def _bytes(s: str) -> bytes:
    return s.encode(ENC, ERRS)


# --------------------------------------------------------------------------------------------
# Start lines and headers


@dataclass(frozen=True, slots=True)
class RequestLine:
    method: str
    uri: str
    version: str = "SIP/2.0"

    def __str__(self) -> str:
        return f"{self.method} {self.uri} {self.version}"


@dataclass(frozen=True, slots=True)
class StatusLine:
    status: int
    reason: str
    version: str = "SIP/2.0"

    def __str__(self) -> str:
        return f"{self.version} {self.status} {self.reason}"


@dataclass(frozen=True, slots=True)
class Header:
    """One header line as on the wire. ``value`` keeps folding (CRLF + whitespace) verbatim."""

    name: str
    value: str
    sep: str = ": "

    @property
    def key(self) -> str:
        return canonical_name(self.name)

    @property
    def text(self) -> str:
        """The logical value: folded lines joined with one space, outer whitespace removed."""
        if "\n" not in self.value:
            return self.value.strip()  # not folded (most headers): no substitution to make
        return _FOLD_RE.sub(" ", self.value).strip()


# --------------------------------------------------------------------------------------------
# Typed header values


def _split_params(s: str) -> list[str]:
    """Split on ``;`` outside quotes and angle brackets."""
    return _split_outside(s, ";")


def _split_outside(s: str, sep: str) -> list[str]:
    if '"' not in s and "<" not in s and ">" not in s:
        return s.split(sep)  # nothing quoted or bracketed: every separator splits
    out: list[str] = []
    depth = 0
    quoted = False
    cur: list[str] = []
    i = 0
    while i < len(s):
        ch = s[i]
        if quoted:
            cur.append(ch)
            if ch == "\\" and i + 1 < len(s):
                cur.append(s[i + 1])
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
            cur.append(ch)
        elif ch == "<":
            depth += 1
            cur.append(ch)
        elif ch == ">":
            depth = max(0, depth - 1)
            cur.append(ch)
        elif ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _parse_params(parts: Iterable[str]) -> tuple[tuple[str, str | None], ...]:
    out: list[tuple[str, str | None]] = []
    for p in parts:
        p = p.strip()
        if not p:
            continue
        name, eq, value = p.partition("=")
        out.append((name.strip(), value.strip() if eq else None))
    return tuple(out)


def _param(params: Sequence[tuple[str, str | None]], name: str) -> str | None:
    for k, v in params:
        if k.lower() == name:
            return v if v is not None else ""
    return None


@dataclass(frozen=True, slots=True)
class SipUri:
    """``scheme:[user[:password]@]host[:port][;params][?headers]`` (also tel: and others)."""

    scheme: str
    user: str | None
    host: str
    port: int | None = None
    params: tuple[tuple[str, str | None], ...] = ()
    headers: str | None = None

    @classmethod
    def parse(cls, s: str) -> SipUri:
        s = s.strip()
        scheme, colon, rest = s.partition(":")
        if not colon or not scheme or not _SCHEME_RE.fullmatch(scheme):
            raise DissectError(LAYER, 0, f"not a URI: {s!r}", "uri")
        rest, q, headers = rest.partition("?")
        main, *params = rest.split(";")
        user: str | None = None
        hostport = main
        if scheme.lower() in ("sip", "sips") and "@" in main:
            user, _, hostport = main.rpartition("@")
        elif scheme.lower() not in ("sip", "sips"):
            # tel: and other schemes: the whole part before the parameters is the subscriber.
            return cls(scheme, None, main, None, _parse_params(params), headers if q else None)
        port: int | None = None
        if hostport.startswith("["):
            end = hostport.find("]")
            host = hostport[: end + 1] if end >= 0 else hostport
            tail = hostport[end + 1 :] if end >= 0 else ""
            if tail.startswith(":") and _digits(tail[1:]):
                port = int(tail[1:])
        else:
            host, c, p = hostport.partition(":")
            if c:
                if not _digits(p):
                    raise DissectError(LAYER, 0, f"bad port in URI {s!r}", "uri")
                port = int(p)
        if not host:
            raise DissectError(LAYER, 0, f"no host in URI {s!r}", "uri")
        return cls(scheme, user, host, port, _parse_params(params), headers if q else None)

    def param(self, name: str) -> str | None:
        return _param(self.params, name.lower())

    def __str__(self) -> str:
        s = f"{self.scheme}:"
        if self.user is not None:
            s += f"{self.user}@"
        s += self.host
        if self.port is not None:
            s += f":{self.port}"
        for k, v in self.params:
            s += f";{k}" if v is None else f";{k}={v}"
        if self.headers is not None:
            s += f"?{self.headers}"
        return s


@dataclass(frozen=True, slots=True)
class NameAddr:
    """From/To/Contact/P-Asserted-Identity value: display name, URI text and header params."""

    display: str | None
    uri: str
    params: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def parse(cls, s: str) -> NameAddr:
        s = s.strip()
        lt = _find_unquoted(s, "<")
        if lt >= 0:
            gt = s.find(">", lt)
            if gt < 0:
                raise DissectError(LAYER, 0, f"unterminated <URI> in {s!r}", "name-addr")
            display = s[:lt].strip()
            if display.startswith('"') and display.endswith('"') and len(display) >= 2:
                display = _ESCAPED_RE.sub(r"\1", display[1:-1])
            uri = s[lt + 1 : gt].strip()
            params = _parse_params(_split_params(s[gt + 1 :])[1:])
            return cls(display or None, uri, params)
        # addr-spec form: parameters after the URI belong to the header (RFC 3261 20.10).
        first, *rest = _split_params(s)
        if not first.strip():
            raise DissectError(LAYER, 0, f"empty address in {s!r}", "name-addr")
        return cls(None, first.strip(), _parse_params(rest))

    @property
    def tag(self) -> str | None:
        return self.param("tag")

    def param(self, name: str) -> str | None:
        return _param(self.params, name.lower())

    def parsed_uri(self) -> SipUri:
        return SipUri.parse(self.uri)


def _find_unquoted(s: str, ch: str) -> int:
    if '"' not in s:
        return s.find(ch)  # nothing quoted (most values): the first one is outside quotes
    quoted = False
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and quoted:
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == ch and not quoted:
            return i
        i += 1
    return -1


@dataclass(frozen=True, slots=True)
class CSeq:
    number: int
    method: str


@dataclass(frozen=True, slots=True)
class Via:
    protocol: str  # SIP/2.0/UDP
    host: str
    port: int | None
    params: tuple[tuple[str, str | None], ...] = ()

    @property
    def transport(self) -> str:
        return self.protocol.rpartition("/")[2].upper()

    @property
    def branch(self) -> str | None:
        return _param(self.params, "branch")

    @property
    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, s: str) -> Via:
        m = _VIA_RE.match(s)
        if not m:
            raise DissectError(LAYER, 0, f"malformed Via {s!r}", "via")
        proto = f"{m.group(1)}/{m.group(2)}/{m.group(3)}"
        hostport = m.group(4).strip()
        port: int | None = None
        if hostport.startswith("["):
            end = hostport.find("]")
            host = hostport[: end + 1]
            tail = hostport[end + 1 :]
        else:
            host, _, tail = hostport.partition(":")
            tail = ":" + tail if tail else ""
        if tail:
            if not tail.startswith(":") or not _digits(tail[1:].strip()):
                raise DissectError(LAYER, 0, f"bad sent-by port in Via {s!r}", "via")
            port = int(tail[1:])
        return cls(proto, host, port, _parse_params(m.group(5).split(";")))


@dataclass(frozen=True, slots=True)
class RAck:
    rseq: int
    cseq: int
    method: str


@dataclass(frozen=True, slots=True)
class BodyPart:
    """One part of a multipart body (RFC 2046): its headers and content."""

    headers: tuple[Header, ...]
    body: bytes

    @property
    def content_type(self) -> str | None:
        for h in self.headers:
            if h.key == "content-type":
                return h.text
        return None


# --------------------------------------------------------------------------------------------
# The message


_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SipMessage:
    start: RequestLine | StatusLine
    headers: tuple[Header, ...] = ()
    body: bytes = b""
    eol: str = "\r\n"
    # What the accessors below derived from the headers, kept: the message is immutable and
    # the analysis reads its Call-ID, CSeq, tags and Vias many times (an error is kept as
    # its arguments and raised afresh each time). Keys: "" the headers by canonical name,
    # "get" the values ``get`` gave, by the name asked for, and "values NAME" a header's
    # values (none of these can fail), any other an accessor's result as ``once`` keeps it.
    _memo: dict[str, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def _once(self, key: str, compute: Callable[[], _T]) -> _T:
        got = self._memo.get(key)
        if got is not None and got[0]:
            return got[1]  # type: ignore[no-any-return]
        # not read yet, or read and failed: once computes it, or raises the error afresh
        return once(self._memo, key, compute)

    # ---- start line
    @property
    def is_request(self) -> bool:
        return isinstance(self.start, RequestLine)

    @property
    def method(self) -> str | None:
        """The request method, or for a response the method of its CSeq."""
        if isinstance(self.start, RequestLine):
            return self.start.method
        cs = self.cseq
        return cs.method if cs else None

    @property
    def status(self) -> int | None:
        return self.start.status if isinstance(self.start, StatusLine) else None

    # ---- generic header access
    def _by_key(self) -> dict[str, tuple[Header, ...]]:
        # (no error can happen here: kept as is, not through once)
        index: dict[str, tuple[Header, ...]] | None = self._memo.get("")
        if index is None:
            index = self._memo[""] = _index(self.headers)
        return index

    def get_all(self, name: str) -> list[Header]:
        return list(self._by_key().get(canonical_name(name), ()))

    def get(self, name: str) -> str | None:
        """The logical value of the first header called ``name`` (compact forms match too)."""
        memo = self._memo
        gets: dict[str, str | None] | None = memo.get("get")
        if gets is None:
            gets = memo["get"] = {}
        elif name in gets:
            return gets[name]
        index = memo.get("")
        if index is None:
            index = self._by_key()
        hs = index.get(canonical_name(name))
        got = gets[name] = hs[0].text if hs else None
        return got

    def values(self, name: str) -> list[str]:
        """All comma-separated values of all headers called ``name``, in order."""
        key = canonical_name(name)
        memo = self._memo
        got: tuple[str, ...] | None = memo.get("values " + key)
        if got is None:
            out: list[str] = []
            for h in self._by_key().get(key, ()):
                out.extend(v.strip() for v in _split_outside(h.text, ",") if v.strip())
            got = memo["values " + key] = tuple(out)
        return list(got)

    # ---- typed headers (each raises DissectError with field set when malformed)
    @property
    def call_id(self) -> str | None:
        return self.get("call-id")

    # (the accessors the tracker reads of every message look in the memo themselves: a
    # call less each time)
    @property
    def cseq(self) -> CSeq | None:
        got = self._memo.get("cseq")
        if got is not None and got[0]:
            return got[1]  # type: ignore[no-any-return]
        return once(self._memo, "cseq", self._cseq)

    def _cseq(self) -> CSeq | None:
        v = self.get("cseq")
        if v is None:
            return None
        m = _CSEQ_RE.fullmatch(v)
        if not m:
            raise DissectError(LAYER, 0, f"malformed CSeq {v!r}", "cseq")
        return CSeq(int(m.group(1)), m.group(2))

    def _name_addr(self, name: str) -> NameAddr | None:
        v = self.get(name)
        if v is None:
            return None
        return _name_addr(v, canonical_name(name))

    @property
    def from_(self) -> NameAddr | None:
        got = self._memo.get("from")
        if got is not None and got[0]:
            return got[1]  # type: ignore[no-any-return]
        return once(self._memo, "from", lambda: self._name_addr("from"))

    @property
    def to(self) -> NameAddr | None:
        got = self._memo.get("to")
        if got is not None and got[0]:
            return got[1]  # type: ignore[no-any-return]
        return once(self._memo, "to", lambda: self._name_addr("to"))

    @property
    def contacts(self) -> tuple[NameAddr, ...]:
        return self._once("contact", self._contacts)

    def _contacts(self) -> tuple[NameAddr, ...]:
        return tuple(_name_addr(v, "contact") for v in self.values("contact") if v != "*")

    @property
    def contact(self) -> NameAddr | None:
        cs = self.contacts
        return cs[0] if cs else None

    @property
    def vias(self) -> tuple[Via, ...]:
        return self._once("via", lambda: tuple(_via(v) for v in self.values("via")))

    @property
    def top_via(self) -> Via | None:
        got = self._memo.get("top via")
        if got is not None and got[0]:
            return got[1]  # type: ignore[no-any-return]
        return once(self._memo, "top via", self._top_via)

    def _top_via(self) -> Via | None:
        hs = self._by_key().get("via")
        if hs:
            first = hs[0].text
            if first and "," not in first:
                # the first value of the first Via header, as ``values`` would give it: one
                # without a comma is the header's whole (stripped) text
                return _via(first)
        vs = self.values("via")
        return _via(vs[0]) if vs else None

    @property
    def require(self) -> tuple[str, ...]:
        return tuple(v.lower() for v in self.values("require"))

    @property
    def supported(self) -> tuple[str, ...]:
        return tuple(v.lower() for v in self.values("supported"))

    @property
    def rseq(self) -> int | None:
        return self._once("rseq", self._rseq)

    def _rseq(self) -> int | None:
        v = self.get("rseq")
        if v is None:
            return None
        if not _NUMBER_RE.fullmatch(v):
            raise DissectError(LAYER, 0, f"malformed RSeq {v!r}", "rseq")
        return int(v)

    @property
    def rack(self) -> RAck | None:
        v = self.get("rack")
        if v is None:
            return None
        m = _RACK_RE.fullmatch(v)
        if not m:
            raise DissectError(LAYER, 0, f"malformed RAck {v!r}", "rack")
        return RAck(int(m.group(1)), int(m.group(2)), m.group(3))

    @property
    def content_type(self) -> str | None:
        return self.get("content-type")

    @property
    def media_type(self) -> str | None:
        """Content-Type without parameters, lower-case (``application/sdp``)."""
        ct = self.content_type
        return ct.split(";")[0].strip().lower() if ct else None

    @property
    def content_length(self) -> int | None:
        v = self.get("content-length")
        if v is None:
            return None
        if not _NUMBER_RE.fullmatch(v):
            raise DissectError(LAYER, 0, f"malformed Content-Length {v!r}", "content-length")
        return int(v)

    @property
    def p_asserted_identity(self) -> tuple[NameAddr, ...]:
        return tuple(NameAddr.parse(v) for v in self.values("p-asserted-identity"))

    @property
    def reliable(self) -> bool:
        """A provisional response sent reliably (RFC 3262: Require: 100rel and an RSeq)."""
        s = self.status
        return (
            s is not None and 100 < s < 200 and "100rel" in self.require and self.rseq is not None
        )

    def sdp_body(self) -> bytes | None:
        """The SDP of the message: the body, or the first application/sdp part of a multipart."""
        mt = self.media_type
        if mt == "application/sdp":
            return self.body
        if mt is not None and mt.startswith("multipart/"):
            for part in self.body_parts():
                ct = part.content_type
                if ct and ct.split(";")[0].strip().lower() == "application/sdp":
                    return part.body
        return None

    def body_parts(self) -> tuple[BodyPart, ...]:
        ct = self.content_type or ""
        boundary = content_type_param(ct, "boundary")
        if boundary is None:
            raise DissectError(LAYER, 0, "multipart body without boundary", "content-type")
        return parse_multipart(self.body, boundary)


def content_type_param(content_type: str, name: str) -> str | None:
    v = _param(_parse_params(_split_params(content_type)[1:]), name.lower())
    if v is not None and len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        v = v[1:-1]
    return v


# --------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True, slots=True)
class Decoded:
    """A message found in a datagram or stream, where it lies, and what was wrong with it.

    ``start``/``end`` are offsets in the datagram or the stream; ``errors`` are located
    problems (the message was still decoded as far as it goes).
    """

    message: SipMessage
    start: int
    end: int
    errors: tuple[DissectError, ...] = ()


def _parse_start(line: str, offset: int) -> RequestLine | StatusLine:
    got = _STARTS.get(line)
    if got is not None:
        return got
    m = _STATUS_RE.match(line)
    if m:
        got = StatusLine(int(m.group(2)), m.group(3) or "", m.group(1))
    elif m := _REQUEST_RE.match(line):
        got = RequestLine(m.group(1), m.group(2), m.group(3))
    else:
        raise DissectError(LAYER, offset, f"not a SIP start line: {line[:80]!r}", "start-line")
    if len(line) <= MAX_CACHED_LINE:
        if len(_STARTS) >= MAX_CACHED_LINES:
            _STARTS.clear()
        _STARTS[line] = got
    return got


def _head_end(data: bytes | bytearray, start: int, end: int) -> tuple[int, int] | None:
    """(end of the text of the last header line, start of the body), or None if incomplete.

    ``data[start:text_end]`` is the start line and headers with the line breaks between them
    but not the one after the last line.
    """
    # the first line break followed by another (LF or CRLF): the earlier of the two patterns
    lf = data.find(b"\n\n", start, end)
    crlf = data.find(b"\n\r\n", start, end)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        i, body = crlf, crlf + 3
    elif lf >= 0:
        i, body = lf, lf + 2
    else:
        return None
    return (i - 1 if i > start and data[i - 1] == 0x0D else i), body


def _parse_head(
    data: bytes | bytearray, start: int, text_end: int
) -> tuple[RequestLine | StatusLine, list[Header], str, list[DissectError]]:
    """Start line and headers of ``data[start:text_end]`` (see :func:`_head_end`)."""
    head = _text(data[start:text_end])
    nl = head.find("\n")
    if nl < 0:
        eol = "\r\n" if data[text_end : text_end + 1] == b"\r" else "\n"
        first, rest = head, None
    else:
        eol = "\r\n" if nl > 0 and head[nl - 1] == "\r" else "\n"
        first, rest = head[: nl + 1 - len(eol)], head[nl + 1 :]
    start_line = _parse_start(first, start)
    if rest is None:
        return start_line, [], eol, []
    headers, errors = _parse_header_block(rest, eol, start + len(_bytes(first)) + len(eol))
    return start_line, headers, eol, errors


# What a call's messages repeat is parsed once and shared (the results are immutable): header
# lines (From, To, Call-ID, Max-Forwards, Allow, ...) and name-addr values. Each cache is
# bounded: values of at most MAX_CACHED_LINE characters, emptied when it holds MAX_CACHED_LINES.
# A call's messages come within seconds of each other, so a few hundred calls' lines are all a
# cache needs to hold; a larger bound only makes memory grow with the calls of a dense capture
# (a cache of 4,096 lines was still filling after 2,000 calls).
MAX_CACHED_LINES = 1024
MAX_CACHED_LINE = 256
_NAME_ADDRS: dict[str, NameAddr] = {}


def _name_addr(value: str, header: str) -> NameAddr:
    """``NameAddr.parse(value)``, its error naming ``header``."""
    got = _NAME_ADDRS.get(value)
    if got is None:
        try:
            got = NameAddr.parse(value)
        except DissectError as e:
            raise DissectError(LAYER, 0, e.reason, header) from None
        if len(value) <= MAX_CACHED_LINE:
            if len(_NAME_ADDRS) >= MAX_CACHED_LINES:
                _NAME_ADDRS.clear()
            _NAME_ADDRS[value] = got
    return got


# (a request's Via comes back in each of its responses, and on every hop below a proxy's)
_VIAS: dict[str, Via] = {}


def _via(value: str) -> Via:
    """``Via.parse(value)``, shared while the same value comes again."""
    got = _VIAS.get(value)
    if got is None:
        got = Via.parse(value)
        if len(value) <= MAX_CACHED_LINE:
            if len(_VIAS) >= MAX_CACHED_LINES:
                _VIAS.clear()
            _VIAS[value] = got
    return got


_LINES: dict[str, Header] = {}
# (a status line is one of a few; a request line comes back in the ACK, BYE and hops of a call)
_STARTS: dict[str, RequestLine | StatusLine] = {}


def _parse_header_block(
    text: str, eol: str, offset: int
) -> tuple[list[Header], list[DissectError]]:
    """Header lines (joined by ``eol``, folded continuations allowed); ``offset`` locates them."""
    errors: list[DissectError] = []
    headers: list[Header] = []
    pos = offset
    ascii = text.isascii()  # (then a line's length in bytes is its length)
    step = len(eol)
    match = _HEADER_RE.match
    seen = _LINES
    for line in text.split(eol):
        if line[:1] in (" ", "\t") and headers:
            last = headers[-1]
            headers[-1] = replace(last, value=last.value + eol + line)
        elif (h := seen.get(line)) is not None:
            headers.append(h)
        else:
            m = match(line)
            if m:
                h = Header(*m.group(1, 3, 2))
                if len(line) <= MAX_CACHED_LINE:
                    if len(seen) >= MAX_CACHED_LINES:
                        seen.clear()
                    seen[line] = h
                headers.append(h)
            else:
                reason = f"malformed header line {line[:60]!r}"
                errors.append(DissectError(LAYER, pos, reason, "header"))
                headers.append(Header("", line, ""))
        pos += (len(line) if ascii else len(_bytes(line))) + step
    return headers, errors


def _index(headers: Iterable[Header]) -> dict[str, tuple[Header, ...]]:
    """The headers by canonical name (``SipMessage._by_key``)."""
    lists: dict[str, list[Header]] = {}
    for h in headers:
        key = canonical_name(h.name)
        got = lists.get(key)
        if got is None:
            lists[key] = [h]
        else:
            got.append(h)
    return {k: tuple(v) for k, v in lists.items()}


def _declared_length(headers: Sequence[Header], at: int) -> tuple[int | None, DissectError | None]:
    """Content-Length as declared: (value, None), (None, None) if absent, (None, error) if bad."""
    for h in headers:
        if h.key == "content-length":
            return _length_of(h, at)
    return None, None


def _length_of(h: Header, at: int) -> tuple[int | None, DissectError | None]:
    v = h.text
    if _NUMBER_RE.fullmatch(v):
        return int(v), None
    return None, DissectError(LAYER, at, f"invalid Content-Length {v!r}", "content-length")


def _embedded_start(
    data: bytes | bytearray, start: int, end: int, headers: Sequence[Header]
) -> int:
    """Offset of a SIP start line inside a body region, or -1 (message/* bodies may hold one)."""
    for h in headers:
        if h.key == "content-type" and h.text.lower().startswith("message/"):
            return -1
    m = _EMBEDDED_RE.search(data, start, end)
    return m.start() if m else -1


def _resync(buf: bytes | bytearray) -> int | None:
    """Where the next message starts after buf[0]: a start line at a line start, or one
    anywhere that is followed by a header line."""
    found = [m.start() for m in (_START_RE.search(buf, 1), _EMBEDDED_RE.search(buf, 1)) if m]
    return min(found) if found else None


def decode_datagram(data: bytes) -> Decoded:
    """One message from one UDP datagram, tolerant of a lying Content-Length.

    Raises :class:`DissectError` only when the datagram does not hold a SIP start line and a
    complete header section.
    """
    he = _head_end(data, 0, len(data))
    if he is None:
        nl = data.find(b"\n")
        first = data if nl < 0 else data[:nl]
        _parse_start(_text(first.rstrip(b"\r")), 0)
        # Headers without the blank line: take what is there, report the truncation.
        end = len(data)
        trimmed = data.rstrip(b"\r\n")
        start_line, headers, eol, errors = _parse_head(data, 0, len(trimmed))
        errors.append(DissectError(LAYER, end, "header section not terminated by a blank line"))
        return Decoded(SipMessage(start_line, tuple(headers), b"", eol), 0, end, tuple(errors))
    head_end, body_start = he
    start_line, headers, eol, errors = _parse_head(data, 0, head_end)
    # (the index every reader of the message starts from: made once, Content-Length read in it)
    index = _index(headers)
    lengths = index.get("content-length")
    cl, err = _length_of(lengths[0], head_end) if lengths else (None, None)
    body_end = len(data)
    if err is not None:
        errors.append(err)
    elif cl is not None:
        avail = len(data) - body_start
        if cl > avail:
            errors.append(
                DissectError(
                    LAYER,
                    body_start,
                    f"Content-Length {cl} but only {avail} body bytes in the datagram",
                    "content-length",
                )
            )
        elif cl < avail:
            body_end = body_start + cl
            errors.append(
                DissectError(
                    LAYER,
                    body_end,
                    f"{avail - cl} bytes after the Content-Length {cl} body",
                    "content-length",
                )
            )
    msg = SipMessage(start_line, tuple(headers), data[body_start:body_end], eol)
    msg._memo[""] = index
    return Decoded(msg, 0, len(data), tuple(errors))


def parse(data: bytes) -> SipMessage:
    """Strict: one complete, well-framed message; any problem raises :class:`DissectError`."""
    d = decode_datagram(data)
    if d.errors:
        raise d.errors[0]
    return d.message


# --------------------------------------------------------------------------------------------
# Stream framing (TCP)


@dataclass(slots=True)
class _Head:
    """What the framer knows of a message whose head has arrived and whose body has not."""

    body_start: int
    headers: list[Header]
    length: int | None  # Content-Length if a valid number
    scanned: int  # body bytes up to here were searched for a next start line


class SipStreamFramer:
    """Sans-IO framer for one direction of a SIP stream.

    ``feed(data, offset)`` returns the messages completed by ``data`` (each a
    :class:`Decoded` with stream offsets) and :class:`DissectError` for bytes that are not
    SIP (the framer then resynchronises on the next start line). An ``offset`` beyond the
    expected one means bytes were lost: what was pending is reported and framing restarts.
    CRLF keep-alives (RFC 5626) between messages are skipped.
    """

    def __init__(self, offset: int = 0) -> None:
        self._buf = bytearray()
        self._base = offset  # stream offset of _buf[0]
        self._garbage_at: int | None = None  # start of a run of non-SIP bytes being skipped
        self._head: _Head | None = None  # the message at _buf[0] while its body is awaited

    @property
    def buffered(self) -> int:
        return len(self._buf)

    @property
    def buffer_start(self) -> int:
        """Stream offset of the first byte still held (everything before it is delivered)."""
        return self._base

    def feed(self, data: bytes, offset: int | None = None) -> list[Decoded | DissectError]:
        out: list[Decoded | DissectError] = []
        expected = self._base + len(self._buf)
        if offset is not None and offset < expected:
            # Bytes already seen (a caller replaying overlap): keep only what is new.
            data = data[expected - offset :]
            offset = expected
            if not data:
                return out
        if offset is not None and offset != expected:
            out.extend(self._flush(f"{offset - expected} bytes missing from the stream"))
            self._base = offset
        self._buf += data
        out.extend(self._drain(final=False))
        return out

    def close(self) -> list[Decoded | DissectError]:
        """End of stream: whatever is pending is delivered (and reported) as far as it goes."""
        out = self._drain(final=True)
        out.extend(self._flush("stream ended"))
        return out

    def _flush(self, why: str) -> list[Decoded | DissectError]:
        out: list[Decoded | DissectError] = []
        buf = bytes(self._buf)
        if buf.strip(b"\r\n"):
            at = self._base
            if self._garbage_at is not None:
                out.append(self._garbage_error(self._base + len(buf)))
            elif _head_end(buf, 0, len(buf)) is not None and looks_like_sip(buf):
                d = self._decode(buf, 0, len(buf), truncated=why)
                if d is not None:
                    out.append(d)
            else:
                out.append(DissectError(LAYER, at, f"{why} inside a message ({len(buf)} bytes)"))
        self._base += len(buf)
        self._buf.clear()
        self._garbage_at = None
        self._head = None
        return out

    def _garbage_error(self, end: int) -> DissectError:
        start = self._garbage_at if self._garbage_at is not None else end
        return DissectError(LAYER, start, f"{end - start} bytes that are not SIP skipped")

    def _consume(self, n: int) -> None:
        del self._buf[:n]
        self._base += n

    def _drain(self, final: bool) -> list[Decoded | DissectError]:
        out: list[Decoded | DissectError] = []
        buf = self._buf  # consumed in place; copies are made only of whole messages
        while True:
            if self._head is None:
                # Keep-alives and blank lines between messages.
                skip = len(buf) - len(buf.lstrip(b"\r\n")) if buf and buf[0] in (13, 10) else 0
                if skip and self._garbage_at is None:
                    self._consume(skip)
                    continue
                if not buf:
                    return out
                if self._garbage_at is not None or not looks_like_sip(buf):
                    if not self._skip_garbage(out, final):
                        return out
                    continue
                he = _head_end(buf, 0, len(buf))
                if he is None:
                    if len(buf) > MAX_HEAD:
                        out.append(DissectError(LAYER, self._base, "header section too long"))
                        self._garbage_at = self._base
                        continue
                    return out
                head_end, body_start = he
                try:
                    _, headers, _, _ = _parse_head(buf, 0, head_end)
                except DissectError as e:
                    out.append(DissectError(LAYER, self._base + e.offset, e.reason, e.field))
                    self._garbage_at = self._base
                    continue
                cl, _err = _declared_length(headers, head_end)
                self._head = _Head(body_start, headers, cl, body_start)
            h = self._head
            length = h.length if h.length is not None and h.length <= MAX_BODY else None
            limit = len(buf) if length is None else min(h.body_start + length, len(buf))
            # Look for a next message inside the claimed body, rescanning only a line's worth
            # of what was scanned before so that a start line cut by a segment is found.
            nxt = _embedded_start(buf, max(h.body_start, h.scanned - MAX_LINE), limit, h.headers)
            h.scanned = limit
            if nxt >= 0:
                end = nxt
            elif length is not None and limit == h.body_start + length:
                end = limit
            elif length is not None and not final:
                return out
            elif not final and len(buf) - h.body_start <= MAX_BODY:
                # No usable length: the body runs to the next start line (or stream end).
                return out
            else:
                end = len(buf)
            self._head = None
            why = "the stream ended" if nxt < 0 and end < h.body_start + (length or 0) else None
            d = self._decode(bytes(buf[:end]), 0, end, truncated=why)
            if d is not None:
                out.append(d)
            self._consume(end)

    def _skip_garbage(self, out: list[Decoded | DissectError], final: bool) -> bool:
        """Skip bytes that are not SIP up to the next start line; False to wait for more."""
        buf = self._buf
        if self._garbage_at is None:
            # Wait for the first line before calling the bytes garbage.
            if b"\n" not in buf and len(buf) < MAX_LINE and not final:
                return False
            self._garbage_at = self._base
        m = _resync(buf)
        if m is None:
            # Keep a possible partial start line at the end of the buffer.
            keep = 0 if final else min(len(buf) - (buf.rfind(b"\n") + 1), MAX_LINE)
            self._consume(len(buf) - keep)
            return False
        out.append(self._garbage_error(self._base + m))
        self._garbage_at = None
        self._consume(m)
        return True

    def _decode(self, buf: bytes, start: int, end: int, truncated: str | None) -> Decoded | None:
        """Decode buf[start:end] as one stream message, adding stream offsets to its errors."""
        he = _head_end(buf, start, end)
        if he is None:
            return None
        head_end, body_start = he
        start_line, headers, eol, errors = _parse_head(buf, start, head_end)
        cl, err = _declared_length(headers, head_end)
        body = buf[body_start:end]
        if err is not None:
            errors.append(err)
        elif cl is None:
            errors.append(
                DissectError(LAYER, head_end, "no Content-Length on a stream", "content-length")
            )
        elif cl > MAX_BODY:
            errors.append(
                DissectError(LAYER, head_end, f"Content-Length {cl} too large", "content-length")
            )
        elif cl > len(body):
            why = truncated or "the next message starts"
            errors.append(
                DissectError(
                    LAYER,
                    body_start,
                    f"Content-Length {cl} but {why} after {len(body)} body bytes",
                    "content-length",
                )
            )
        elif cl < len(body):
            body = body[:cl]
            end = body_start + cl
        msg = SipMessage(start_line, tuple(headers), body, eol)
        located = tuple(
            DissectError(LAYER, self._base + e.offset, e.reason, e.field) for e in errors
        )
        return Decoded(msg, self._base + start, self._base + end, located)


# --------------------------------------------------------------------------------------------
# Building


def build(msg: SipMessage) -> bytes:
    """The wire bytes of ``msg``: start line, headers in their order, blank line, body."""
    eol = msg.eol
    parts = [str(msg.start)]
    for h in msg.headers:
        parts.append(f"{h.name}{h.sep}{h.value}")
    return _bytes(eol.join(parts) + eol + eol) + msg.body


def with_body(msg: SipMessage, body: bytes, content_type: str | None = None) -> SipMessage:
    """``msg`` carrying ``body``: Content-Type set (if given) and Content-Length updated or
    appended, other headers untouched and in order."""
    headers = list(msg.headers)
    if content_type is not None:
        headers = _set_header(headers, "Content-Type", content_type, before="content-length")
    headers = _set_header(headers, "Content-Length", str(len(body)))
    return replace(msg, headers=tuple(headers), body=body)


def _set_header(
    headers: list[Header], name: str, value: str, before: str | None = None
) -> list[Header]:
    key = canonical_name(name)
    for i, h in enumerate(headers):
        if h.key == key:
            headers[i] = replace(h, value=value)
            return headers
    new = Header(name, value)
    if before is not None:
        for i, h in enumerate(headers):
            if h.key == before:
                headers.insert(i, new)
                return headers
    headers.append(new)
    return headers


def request(
    method: str,
    uri: str,
    headers: Iterable[tuple[str, str]],
    body: bytes = b"",
    content_type: str | None = None,
) -> SipMessage:
    """A request with ``headers`` in the given order and a correct Content-Length."""
    msg = SipMessage(RequestLine(method, uri), tuple(Header(n, v) for n, v in headers))
    return with_body(msg, body, content_type if body else None)


def response(
    status: int,
    reason: str,
    headers: Iterable[tuple[str, str]],
    body: bytes = b"",
    content_type: str | None = None,
) -> SipMessage:
    msg = SipMessage(StatusLine(status, reason), tuple(Header(n, v) for n, v in headers))
    return with_body(msg, body, content_type if body else None)


_COPIED_TO_RESPONSE = ("via", "from", "to", "call-id", "cseq", "record-route")


def response_to(
    req: SipMessage,
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
) -> SipMessage:
    """A response to ``req`` (RFC 3261 8.2.6): Via, From, To (+ ``to_tag`` if it has none),
    Call-ID, CSeq and Record-Route copied in order, then ``headers``, then the body."""
    copied: list[Header] = []
    for h in req.headers:
        if h.key in _COPIED_TO_RESPONSE:
            if h.key == "to" and to_tag is not None and NameAddr.parse(h.text).tag is None:
                h = replace(h, value=f"{h.text};tag={to_tag}")
            copied.append(h)
    copied.extend(Header(n, v) for n, v in headers)
    msg = SipMessage(StatusLine(status, reason), tuple(copied), eol=req.eol)
    return with_body(msg, body, content_type if body else None)


def build_multipart(parts: Sequence[BodyPart], boundary: str, eol: str = "\r\n") -> bytes:
    """RFC 2046 multipart body: parts after ``--boundary`` lines, closed by ``--boundary--``."""
    out = b""
    for p in parts:
        out += _bytes(f"--{boundary}{eol}")
        for h in p.headers:
            out += _bytes(f"{h.name}{h.sep}{h.value}{eol}")
        out += _bytes(eol) + p.body + _bytes(eol)
    return out + _bytes(f"--{boundary}--{eol}")


def parse_multipart(body: bytes, boundary: str) -> tuple[BodyPart, ...]:
    """Parts of a multipart body. The line break before each delimiter belongs to it."""
    delim = _bytes("--" + boundary)
    positions: list[int] = []
    i = 0
    while True:
        j = body.find(delim, i)
        if j < 0:
            break
        if j == 0 or body[j - 1] == 0x0A:
            positions.append(j)
        i = j + len(delim)
    if not positions:
        raise DissectError(LAYER, 0, f"multipart boundary {boundary!r} not found", "body")
    parts: list[BodyPart] = []
    for a, b in itertools.pairwise(positions):
        nl = body.find(b"\n", a, b)
        if nl < 0:
            raise DissectError(LAYER, a, "malformed multipart delimiter line", "body")
        seg_start = nl + 1
        seg_end = b - 2 if body[b - 2 : b] == b"\r\n" else b - 1
        seg = body[seg_start : max(seg_start, seg_end)]
        if seg.startswith(b"\r\n"):
            parts.append(BodyPart((), seg[2:]))
            continue
        if seg.startswith(b"\n"):
            parts.append(BodyPart((), seg[1:]))
            continue
        he = _head_end(seg, 0, len(seg))
        if he is None:
            raise DissectError(LAYER, seg_start, "multipart part without blank line", "body")
        text_end, body_start = he
        eol = "\r\n" if seg[text_end : text_end + 1] == b"\r" else "\n"
        hdrs, errs = _parse_header_block(_text(seg[:text_end]), eol, seg_start)
        if errs:
            raise errs[0]
        parts.append(BodyPart(tuple(hdrs), seg[body_start:]))
    if body[positions[-1] + len(delim) : positions[-1] + len(delim) + 2] != b"--":
        raise DissectError(LAYER, positions[-1], "multipart body without closing delimiter", "body")
    return tuple(parts)


# --------------------------------------------------------------------------------------------
# Identities


@functools.lru_cache(maxsize=4096)
def normalize_uri(value: str) -> str:
    """The KMS UID form of a SIP identity (docs/profile.md, TEK, PSK and identities).

    Display name, URI parameters and headers go; scheme and host become lower-case; the user
    part is kept as written. ``"Alice" <sip:Alice@Example.ORG;transport=tcp>`` gives
    ``sip:Alice@example.org``. Header parameters after ``>`` (e.g. ``;tag=``) go too.
    """
    na = NameAddr.parse(value)
    u = SipUri.parse(na.uri)
    uid = f"{u.scheme.lower()}:"
    if u.user is not None:
        uid += f"{u.user}@"
    uid += u.host.lower()
    if u.port is not None:
        uid += f":{u.port}"
    return uid


@functools.lru_cache(maxsize=4096)
def kms_uid(value: str) -> str:
    """:func:`normalize_uri`, or the text itself (stripped) when it is no SIP URI, so that
    identities of other forms (a tel: URI, a NAI in an IDR) still compare as written."""
    try:
        return normalize_uri(value)
    except DissectError:
        return value.strip()


__all__ = [
    "COMPACT_FORMS",
    "KNOWN_METHODS",
    "BodyPart",
    "CSeq",
    "Decoded",
    "Header",
    "NameAddr",
    "RAck",
    "RequestLine",
    "SipMessage",
    "SipStreamFramer",
    "SipUri",
    "StatusLine",
    "Via",
    "build",
    "build_multipart",
    "canonical_name",
    "content_type_param",
    "decode_datagram",
    "kms_uid",
    "looks_like_sip",
    "normalize_uri",
    "parse",
    "parse_multipart",
    "request",
    "response",
    "response_to",
    "with_body",
]
