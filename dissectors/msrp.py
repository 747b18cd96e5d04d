"""MSRP (RFC 4975): message codec, stream framer, chunker and chunk reassembly.

Headers are kept as the ordered ``(name, value)`` pairs that were on the wire so that
``build_message(parse_message(b)) == b`` for every well-formed message; the typed views
(:class:`MsrpUri`, :class:`ByteRange`, :class:`ReportStatus`, ...) are parsed from those
values, and :func:`parse_message` validates every known header so a bad one is reported at
its offset instead of surfacing later.

The end-line is located by scanning for ``CRLF "-------" transact-id flag CRLF`` with the
transaction id of the start line: body text that merely contains seven dashes, or another
transaction's end-line, does not end the message (RFC 4975 7.1).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from mikeyshark.dissectors import cpim
from mikeyshark.dissectors.consts import Const, ValueTable
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.framing import FramingError as FramingError
from mikeyshark.dissectors.framing import StreamFramer
from mikeyshark.dissectors.ip import canonical_address

LAYER = "msrp"

FLAG_COMPLETE = "$"
FLAG_MORE = "+"
FLAG_ABORT = "#"
FLAGS = (FLAG_COMPLETE, FLAG_MORE, FLAG_ABORT)
FLAG_MEANING = {
    FLAG_COMPLETE: "message complete",
    FLAG_MORE: "more chunks follow",
    FLAG_ABORT: "message aborted",
}

_RFC = "RFC 4975 section 10"
STATUS_CODES = ValueTable(
    "msrp.status",
    [
        Const(200, "OK", _RFC),
        Const(400, "Bad Request", _RFC),
        Const(403, "Forbidden", _RFC),
        Const(408, "Request Timeout", _RFC),
        Const(413, "Stop Sending Message", _RFC),
        Const(415, "Unsupported Media Type", _RFC),
        Const(423, "Parameter Out of Bounds", _RFC),
        Const(481, "Session Does Not Exist", _RFC),
        Const(501, "Unknown Method", _RFC),
        Const(506, "Session Already Bound", _RFC),
    ],
)

# RFC 4975 `ident`: ALPHANUM 3*31ident-char.
_IDENT = rb"[A-Za-z0-9][A-Za-z0-9.\-+%=]{3,31}"
_IDENT_RE = re.compile(_IDENT.decode() + r"\Z")
_START_RE = re.compile(rb"MSRP (" + _IDENT + rb") (?:([A-Z]+)|([0-9]{3})(?: (.*))?)\Z", re.S)
_TOKEN_RE = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~]+\Z")
_URI_RE = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://"
    r"(?:(?P<userinfo>[^@/;\s]*)@)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^:/;@\s\[\]]+)"
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?:/(?P<session>[^;\s]*))?"
    r";(?P<transport>[A-Za-z0-9]+)"
    r"(?P<params>(?:;[^;\s]+)*)\Z"
)
_BYTE_RANGE_RE = re.compile(r"([0-9]+)-([0-9]+|\*)/([0-9]+|\*)\Z")
_STATUS_HDR_RE = re.compile(r"([0-9]{3}) ([0-9]{3})(?: (.*))?\Z")

MAX_START_LINE = 1024
DEFAULT_MAX_MESSAGE = 1 << 22


def _end_line(data: bytes | bytearray, tid: bytes, pos: int = 0) -> tuple[int, int, str] | None:
    """The first ``CRLF -------<tid><flag> CRLF`` at or after ``pos``: (start, end, flag).

    Found with ``find``: a regular expression of its own for every transaction id would be
    compiled once per message."""
    needle = b"\r\n-------" + tid
    after = len(needle)
    at = data.find(needle, pos)
    while at >= 0:
        flag = data[at + after : at + after + 1]
        if flag in (b"$", b"+", b"#") and data[at + after + 1 : at + after + 3] == b"\r\n":
            return at, at + after + 3, flag.decode()
        at = data.find(needle, at + 1)
    return None


@dataclass(frozen=True, slots=True)
class MsrpUri:
    """``msrp[s]://[userinfo@]host[:port][/session-id];transport[;param...]`` (RFC 4975 9):
    in MSRP's To-Path/From-Path/Use-Path and in SDP's ``a=path``."""

    scheme: str
    host: str
    port: int | None
    session_id: str | None
    transport: str = "tcp"
    userinfo: str | None = None
    params: tuple[str, ...] = ()

    @property
    def secure(self) -> bool:
        return self.scheme.lower() == "msrps"

    def endpoint(self) -> tuple[str, int] | None:
        """Host (an IP address as the packets show it: IPv6 without its brackets, in RFC 5952
        form) and port to connect to; None without an explicit port."""
        if self.port is None:
            return None
        return self.address, self.port

    @property
    def address(self) -> str:
        """The host as :meth:`endpoint` gives it, whether or not the URI has a port."""
        return canonical_address(self.host.removeprefix("[").removesuffix("]"))

    @property
    def key(self) -> tuple[str, int | None, str | None]:
        """What the path rules compare: host (case-insensitive), port and session id."""
        return (self.host.lower(), self.port, self.session_id)

    def __str__(self) -> str:
        s = f"{self.scheme}://"
        if self.userinfo is not None:
            s += f"{self.userinfo}@"
        s += self.host
        if self.port is not None:
            s += f":{self.port}"
        if self.session_id is not None:
            s += f"/{self.session_id}"
        s += f";{self.transport}"
        s += "".join(f";{p}" for p in self.params)
        return s

    @classmethod
    def parse(cls, text: str, offset: int = 0, field: str | None = "uri") -> MsrpUri:
        got = _parse_uri(text)
        if isinstance(got, str):
            raise DissectError(LAYER, offset, got, field)
        return got


# Every message of a session repeats the same To-Path and From-Path: parsed once each.
@functools.lru_cache(maxsize=1024)
def _parse_uri(text: str) -> MsrpUri | str:
    """The URI, or why it is none."""
    m = _URI_RE.match(text)
    if m is None or m["scheme"].lower() not in ("msrp", "msrps"):
        return f"not an MSRP URI: {text!r}"
    port = None
    if m["port"] is not None:
        port = int(m["port"])
        if port > 65535:
            return f"port {port} out of range"
    params = tuple(m["params"].split(";")[1:]) if m["params"] else ()
    return MsrpUri(
        m["scheme"], m["host"], port, m["session"], m["transport"], m["userinfo"], params
    )


@dataclass(frozen=True, slots=True)
class ByteRange:
    """``start-end/total``; ``None`` stands for ``*`` (end or total not known yet)."""

    start: int
    end: int | None
    total: int | None

    def __str__(self) -> str:
        end = "*" if self.end is None else str(self.end)
        total = "*" if self.total is None else str(self.total)
        return f"{self.start}-{end}/{total}"

    @classmethod
    def parse(cls, text: str, offset: int = 0) -> ByteRange:
        m = _BYTE_RANGE_RE.match(text)
        if m is None:
            raise DissectError(LAYER, offset, f"bad Byte-Range {text!r}", "Byte-Range")
        start = int(m[1])
        end = None if m[2] == "*" else int(m[2])
        total = None if m[3] == "*" else int(m[3])
        if start < 1:
            raise DissectError(LAYER, offset, "Byte-Range start must be >= 1", "Byte-Range")
        # An empty message is 1-0/0: end may be start - 1, never less.
        if end is not None and end < start - 1:
            raise DissectError(LAYER, offset, f"Byte-Range end {end} < start", "Byte-Range")
        if total is not None and end is not None and end > total:
            raise DissectError(LAYER, offset, f"Byte-Range end {end} > total", "Byte-Range")
        return cls(start, end, total)


@dataclass(frozen=True, slots=True)
class ReportStatus:
    """The ``Status`` header of a REPORT: ``namespace SP code [SP reason]`` (namespace 000)."""

    namespace: int
    code: int
    reason: str | None = None

    def __str__(self) -> str:
        s = f"{self.namespace:03d} {self.code:03d}"
        return s if self.reason is None else f"{s} {self.reason}"

    @classmethod
    def parse(cls, text: str, offset: int = 0) -> ReportStatus:
        m = _STATUS_HDR_RE.match(text)
        if m is None:
            raise DissectError(LAYER, offset, f"bad Status {text!r}", "Status")
        return cls(int(m[1]), int(m[2]), m[3])


@dataclass(frozen=True, slots=True)
class Header:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Message:
    """One MSRP request (``method`` set) or response (``status`` set), i.e. one chunk."""

    transaction_id: str
    method: str | None = None
    status: int | None = None
    comment: str | None = None
    headers: tuple[Header, ...] = ()
    body: bytes | None = None
    flag: str = FLAG_COMPLETE
    # the first value of each header by lower-case name, built on first read: a message is
    # read header by header many times (paths, ids, ranges, the JSON report)
    _first: dict[str, str] | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def header(self, name: str) -> str | None:
        """The first header of that name (names compare case-insensitively)."""
        first = self._first
        if first is None:
            first = self.first_headers()
        return first.get(name.lower())

    def first_headers(self) -> dict[str, str]:
        """The first value of each header, by lower-case name (read, not to be changed)."""
        first = self._first
        if first is None:
            first = {}
            for h in self.headers:
                first.setdefault(h.name.lower(), h.value)
            object.__setattr__(self, "_first", first)
        return first

    @property
    def to_path(self) -> tuple[MsrpUri, ...]:
        return _paths(self.first_headers().get("to-path"))

    @property
    def from_path(self) -> tuple[MsrpUri, ...]:
        return _paths(self.first_headers().get("from-path"))

    @property
    def use_path(self) -> tuple[MsrpUri, ...]:
        return _paths(self.first_headers().get("use-path"))

    @property
    def message_id(self) -> str | None:
        return self.first_headers().get("message-id")

    @property
    def byte_range(self) -> ByteRange | None:
        v = self.first_headers().get("byte-range")
        return None if v is None else ByteRange.parse(v)

    @property
    def report_status(self) -> ReportStatus | None:
        v = self.first_headers().get("status")
        return None if v is None else ReportStatus.parse(v)

    @property
    def success_report(self) -> str | None:
        return self.first_headers().get("success-report")

    @property
    def failure_report(self) -> str | None:
        return self.first_headers().get("failure-report")

    @property
    def content_type(self) -> str | None:
        return self.first_headers().get("content-type")

    @property
    def media_type(self) -> str | None:
        """``type/subtype`` of Content-Type, lower-cased, without parameters."""
        ct = self.content_type
        return None if ct is None else ct.split(";", 1)[0].strip().lower()


def _paths(value: str | None) -> tuple[MsrpUri, ...]:
    if value is None:
        return ()
    return tuple(MsrpUri.parse(u) for u in value.split())


_REPORT_VALUES = {"success-report": ("yes", "no"), "failure-report": ("yes", "no", "partial")}


def _check_header(name: str, value: str, offset: int) -> None:
    """Validate the value of a header whose syntax RFC 4975 fixes."""
    low = name.lower()
    if low in ("to-path", "from-path", "use-path"):
        uris = value.split()
        if not uris:
            raise DissectError(LAYER, offset, f"empty {name}", name)
        for u in uris:
            MsrpUri.parse(u, offset, name)
    elif low == "message-id":
        if not _IDENT_RE.match(value):
            raise DissectError(LAYER, offset, f"bad Message-ID {value!r}", name)
    elif low == "byte-range":
        ByteRange.parse(value, offset)
    elif low == "status":
        ReportStatus.parse(value, offset)
    elif low in _REPORT_VALUES and value not in _REPORT_VALUES[low]:
        allowed = "/".join(_REPORT_VALUES[low])
        raise DissectError(LAYER, offset, f"{name} must be {allowed}: {value!r}", name)


def _decode(raw: bytes, offset: int, field: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DissectError(LAYER, offset + e.start, "invalid UTF-8", field) from None


def parse_start_line(
    line: bytes, offset: int = 0
) -> tuple[str, str | None, int | None, str | None]:
    """``(transaction_id, method, status, comment)`` of a start line without its CRLF."""
    m = _START_RE.match(line)
    if m is None:
        raise DissectError(LAYER, offset, f"bad start line {line[:80]!r}", "start-line")
    tid = m[1].decode("ascii")
    if m[2] is not None:
        return tid, m[2].decode("ascii"), None, None
    comment = None if m[4] is None else _decode(m[4], offset + m.start(4), "comment")
    return tid, None, int(m[3]), comment


# Header lines that parsed, by their bytes: the messages of a session repeat their To-Path,
# From-Path, Content-Type and report headers, each decoded and checked once. A Header is
# frozen: every message holding the line shares one. Bounded: emptied when full.
_LINES: dict[bytes, Header] = {}
MAX_KNOWN_LINES = 1024


def _header_line(raw: bytes, pos: int) -> Header:
    """The header line ``raw`` (without its CRLF) at offset ``pos``, decoded and checked."""
    line = _decode(raw, pos, "header")
    name, sep, value = line.partition(":")
    if not sep or not _TOKEN_RE.match(name):
        raise DissectError(LAYER, pos, f"bad header line {line[:80]!r}", "header")
    value = value.lstrip(" \t")
    _check_header(name, value, pos)
    h = Header(name, value)
    if len(_LINES) >= MAX_KNOWN_LINES:
        _LINES.clear()
    _LINES[raw] = h
    return h


def parse_message(data: bytes) -> Message:
    """Parse exactly one complete MSRP message (start line through end-line)."""
    eol = data.find(b"\r\n")
    if eol < 0:
        raise DissectError(LAYER, 0, "no CRLF after the start line", "start-line")
    start = parse_start_line(data[:eol])
    end_m = _end_line(data, start[0].encode(), eol)
    if end_m is None:
        raise DissectError(LAYER, len(data), f"no end-line for transaction {start[0]}", "end-line")
    return _parse_message(data, eol, start, end_m)


def _parse_message(
    data: bytes,
    eol: int,
    start: tuple[str, str | None, int | None, str | None],
    end_m: tuple[int, int, str],
) -> Message:
    """:func:`parse_message` past what the framer found already: the start line's CRLF at
    ``eol``, the start line parsed, the end-line (its CRLF, its end, the flag)."""
    tid, method, status, comment = start
    body_end, end, flag = end_m  # body_end: the CRLF that precedes the end-line
    if end != len(data):
        raise DissectError(LAYER, end, "bytes after the end-line", "end-line")
    headers: list[Header] = []
    body: bytes | None = None
    pos = eol + 2
    known = _LINES
    while pos < body_end + 2:
        nl = data.find(b"\r\n", pos)
        if nl == pos:
            if pos + 2 > body_end:
                raise DissectError(LAYER, pos, "empty line but no body before end-line", "body")
            body = data[pos + 2 : body_end]
            break
        raw = data[pos:nl]
        h = known.get(raw)
        if h is None:
            h = _header_line(raw, pos)
        headers.append(h)
        pos = nl + 2
    msg = Message(tid, method, status, comment, tuple(headers), body, flag)
    first = msg.first_headers()
    for required, name in (("To-Path", "to-path"), ("From-Path", "from-path")):
        if name not in first:
            raise DissectError(LAYER, eol + 2, f"{required} header missing", required)
    return msg


def build_message(msg: Message) -> bytes:
    if not _IDENT_RE.match(msg.transaction_id):
        raise ValueError(f"bad transaction id {msg.transaction_id!r}")
    if (msg.method is None) == (msg.status is None):
        raise ValueError("a message has either a method or a status")
    if msg.flag not in FLAGS:
        raise ValueError(f"bad continuation flag {msg.flag!r}")
    tid = msg.transaction_id
    if msg.method is not None:
        if not re.fullmatch(r"[A-Z]+", msg.method):
            raise ValueError(f"bad method {msg.method!r}")
        start = f"MSRP {tid} {msg.method}"
    else:
        assert msg.status is not None
        if not 100 <= msg.status <= 999:
            raise ValueError(f"bad status {msg.status}")
        start = f"MSRP {tid} {msg.status:03d}"
        if msg.comment is not None:
            start += f" {msg.comment}"
    lines = [start]
    for h in msg.headers:
        if not _TOKEN_RE.match(h.name) or "\r" in h.value or "\n" in h.value:
            raise ValueError(f"bad header {h!r}")
        lines.append(f"{h.name}: {h.value}")
    out = bytearray("\r\n".join(lines).encode("utf-8") + b"\r\n")
    end_line = f"-------{tid}{msg.flag}\r\n".encode()
    if msg.body is not None:
        if _end_line(b"\r\n" + msg.body + b"\r\n", tid.encode()) is not None:
            raise ValueError("body contains the end-line of its transaction")
        out += b"\r\n" + msg.body + b"\r\n"
    out += end_line
    return bytes(out)


def request(
    transaction_id: str,
    method: str,
    to_path: Iterable[MsrpUri],
    from_path: Iterable[MsrpUri],
    *,
    message_id: str | None = None,
    success_report: str | None = None,
    failure_report: str | None = None,
    byte_range: ByteRange | None = None,
    status: ReportStatus | None = None,
    extra_headers: Iterable[Header] = (),
    content_type: str | None = None,
    body: bytes | None = None,
    flag: str = FLAG_COMPLETE,
) -> Message:
    """A request with headers in RFC 4975 order (Content-Type last, right before the body)."""
    hs = [
        Header("To-Path", " ".join(map(str, to_path))),
        Header("From-Path", " ".join(map(str, from_path))),
    ]
    if message_id is not None:
        hs.append(Header("Message-ID", message_id))
    if success_report is not None:
        hs.append(Header("Success-Report", success_report))
    if failure_report is not None:
        hs.append(Header("Failure-Report", failure_report))
    if byte_range is not None:
        hs.append(Header("Byte-Range", str(byte_range)))
    if status is not None:
        hs.append(Header("Status", str(status)))
    hs.extend(extra_headers)
    if content_type is not None:
        hs.append(Header("Content-Type", content_type))
    return Message(transaction_id, method, None, None, tuple(hs), body, flag)


def send(
    transaction_id: str,
    to_path: Iterable[MsrpUri],
    from_path: Iterable[MsrpUri],
    message_id: str,
    content: bytes,
    content_type: str = "text/plain",
    *,
    success_report: str | None = None,
    failure_report: str | None = None,
) -> Message:
    """A single-chunk SEND carrying ``content`` whole (Byte-Range 1-N/N); an empty
    ``content`` gives a body-less SEND (1-0/0), as used to open a session."""
    n = len(content)
    return request(
        transaction_id,
        "SEND",
        to_path,
        from_path,
        message_id=message_id,
        success_report=success_report,
        failure_report=failure_report,
        byte_range=ByteRange(1, n, n),
        content_type=content_type if content else None,
        body=content if content else None,
    )


def response(req: Message, status: int = 200, comment: str | None = "OK") -> Message:
    """The transaction response to ``req`` on a relay-less session: the paths swap."""
    hs = (
        Header("To-Path", req.header("From-Path") or ""),
        Header("From-Path", req.header("To-Path") or ""),
    )
    return Message(req.transaction_id, None, status, comment, hs)


def report(
    transaction_id: str,
    sent: Message,
    status: ReportStatus = ReportStatus(0, 200, "OK"),
    byte_range: ByteRange | None = None,
) -> Message:
    """A REPORT for the message ``sent`` (one of its chunks) back to its sender."""
    br = byte_range
    if br is None:
        total = (sent.byte_range.total if sent.byte_range else None) or len(sent.body or b"")
        br = ByteRange(1, total, total)
    return request(
        transaction_id,
        "REPORT",
        sent.from_path,
        sent.to_path,
        message_id=sent.message_id,
        byte_range=br,
        status=status,
    )


def chunk_message(
    message: Message,
    size: int,
    transaction_ids: Iterable[str],
    *,
    unknown_total: bool = False,
) -> list[Message]:
    """Split the body of a request into chunks of ``size`` bytes (RFC 4975 section 5.1).

    Each chunk is its own transaction (ids taken in order from ``transaction_ids``), keeps
    the headers of ``message`` and carries a Byte-Range ``start-end/total`` (total ``*``
    when ``unknown_total``); every chunk but the last ends with ``+``, the last with ``$``.
    """
    if size < 1:
        raise ValueError("chunk size must be >= 1")
    if message.method is None:
        raise ValueError("only requests are chunked")
    body = message.body or b""
    total = len(body)
    tids = iter(transaction_ids)
    pieces = [body[i : i + size] for i in range(0, total, size)] or [b""]
    out: list[Message] = []
    start = 1
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        br = ByteRange(start, start + len(piece) - 1, None if unknown_total else total)
        try:
            tid = next(tids)
        except StopIteration:
            raise ValueError(f"need {len(pieces)} transaction ids") from None
        out.append(
            replace(
                message,
                transaction_id=tid,
                headers=_with_byte_range(message.headers, br),
                body=piece if message.body is not None else None,
                flag=FLAG_COMPLETE if last else FLAG_MORE,
            )
        )
        start += len(piece)
    return out


def _with_byte_range(headers: tuple[Header, ...], br: ByteRange) -> tuple[Header, ...]:
    new = Header("Byte-Range", str(br))
    if any(h.name.lower() == "byte-range" for h in headers):
        return tuple(new if h.name.lower() == "byte-range" else h for h in headers)
    # Before the MIME headers (Content-*), which must close the header block.
    hs = list(headers)
    idx = next((i for i, h in enumerate(hs) if h.name.lower().startswith("content-")), len(hs))
    hs.insert(idx, new)
    return tuple(hs)


# --------------------------------------------------------------------------- framing


@dataclass(frozen=True, slots=True)
class FramedMessage:
    """A complete message found in a stream: bytes ``[start, end)`` of the stream."""

    start: int
    end: int
    raw: bytes
    message: Message


Framed = FramedMessage | FramingError


class MsrpFramer(StreamFramer[FramedMessage]):
    """Splits one direction of an MSRP byte stream into messages (sans-IO).

    ``feed`` takes bytes in stream order and returns what became complete; ``gap`` says that
    many bytes were lost before ``data`` (the framer drops what it holds and resynchronises
    on the next start line). Buffering is bounded by ``max_message``: a start line whose
    end-line does not arrive within that many bytes is reported and skipped. Each problem is
    one :class:`FramingError` spanning the bytes up to where framing resumed.
    """

    layer = LAYER

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        super().__init__()
        self.max_message = max_message
        self._synced = True  # _buf[0] is where a start line should be
        self._scanned = 0  # the end-line search of the pending message resumes here

    def feed(self, data: bytes, gap: int = 0) -> list[Framed]:
        out: list[Framed] = []
        if gap:
            if self._synced and self._buf:
                self._lose_sync(self._base, "stream", f"message cut by {gap} missing bytes")
            self._flush_garbage(out, self.offset)
            self._base = self.offset + gap
            self._buf.clear()
            self._scanned = 0
            self._lose_sync()
        elif not self._buf and self._synced and self._garbage_from is None:
            data = self._whole(data, out)
        self._buf += data
        self._drain(out)
        return out

    def _whole(self, data: bytes, out: list[Framed]) -> bytes:
        """The messages ``data`` holds whole from its start (nothing buffered before it: most
        pieces are a message or a few), framed where they lie rather than copied through the
        buffer; returns the rest, for :meth:`_drain` (which reports any problem in it)."""
        data = bytes(data)  # (a bytes object is not copied)
        pos, n = 0, len(data)
        while pos < n and data.startswith(b"MSRP ", pos):
            eol = data.find(b"\r\n", pos, pos + MAX_START_LINE + 2)
            if eol < 0:
                break
            line = data[pos:eol]
            try:
                start_line = parse_start_line(line, self._base)
            except DissectError:
                break
            m = _end_line(data, start_line[0].encode(), eol)
            if m is None:
                break
            at, end, flag = m
            raw = data if pos == 0 and end == n else data[pos:end]
            try:
                msg = _parse_message(raw, eol - pos, start_line, (at - pos, end - pos, flag))
            except DissectError:
                break
            start = self._base
            out.append(FramedMessage(start, start + len(raw), raw, msg))
            self._base += len(raw)
            pos = end
        return data[pos:] if pos else data

    def close(self) -> list[Framed]:
        """End of stream: frame what still can be, report the rest."""
        out: list[Framed] = []
        self._closing = True
        self._drain(out)
        if self._synced and self._buf:
            self._lose_sync(self._base, "start-line", "stream ended inside a start line")
        self._flush_garbage(out, self.offset)
        self._consume(len(self._buf))
        return out

    def _lose_sync(
        self, at: int | None = None, field: str = "stream", reason: str | None = None
    ) -> None:
        self._synced = False
        if self._garbage_from is None:
            self._garbage_from = self._base
            self._garbage_why = None
        if reason is not None and self._garbage_why is None and at is not None:
            self._garbage_why = (at, field, reason)

    def _consume(self, n: int) -> None:
        super()._consume(n)
        self._scanned = 0

    def _resync(self, out: list[Framed]) -> bool:
        """Drop bytes up to the next valid start line; False while none is buffered yet.

        A candidate need not start a line (garbage without a final CRLF may precede a good
        message), so "MSRP " inside body text is only taken when a whole valid start line
        follows it."""
        buf = self._buf
        pos = 0
        while True:
            idx = buf.find(b"MSRP ", pos)
            if idx < 0:
                if len(buf) > 4:  # keep a tail that may yet become "MSRP "
                    self._consume(len(buf) - 4)
                return False
            eol = buf.find(b"\r\n", idx, idx + MAX_START_LINE + 2)
            if eol < 0 and len(buf) - idx <= MAX_START_LINE and not self._closing:
                self._consume(idx)  # wait for the rest of the candidate line
                return False
            if eol >= 0 and _START_RE.match(buf, idx, eol):
                self._consume(idx)
                self._flush_garbage(out, self._base)
                self._synced = True
                return True
            pos = idx + 1

    def _drain(self, out: list[Framed]) -> None:
        while self._buf:
            if not self._synced and not self._resync(out):
                return
            buf = self._buf
            if not buf.startswith(b"MSRP "[: len(buf)]):
                self._lose_sync()
                continue
            if len(buf) < 5:
                return
            eol = buf.find(b"\r\n", 0, MAX_START_LINE + 2)
            if eol < 0:
                if len(buf) > MAX_START_LINE:
                    self._bad_start("no CRLF within 1024 bytes of a start line")
                    continue
                return
            try:
                start_line = parse_start_line(bytes(buf[:eol]), self._base)
            except DissectError as e:
                self._bad_start(e.reason)
                continue
            tid = start_line[0]
            m = _end_line(buf, tid.encode(), max(eol, self._scanned - len(tid) - 12))
            if m is None:
                if self._closing:
                    self._bad_start(
                        f"stream ended inside a message: no end-line for transaction {tid}",
                        "end-line",
                    )
                    continue
                if len(buf) > self.max_message:
                    self._bad_start(
                        f"no end-line for transaction {tid} within {self.max_message} bytes",
                        "end-line",
                    )
                    continue
                self._scanned = len(buf)
                return
            raw = bytes(buf[: m[1]])
            start = self._base
            try:
                # the start line and end-line as found here (the end-line search started at
                # the start line's CRLF, as parse_message's does)
                msg = _parse_message(raw, eol, start_line, m)
            except DissectError as e:
                err = self._error(start, start + len(raw), start + e.offset, e.field, e.reason)
                out.append(err)
            else:
                out.append(FramedMessage(start, start + len(raw), raw, msg))
            self._consume(len(raw))

    def _bad_start(self, reason: str, field: str = "start-line") -> None:
        """The start line at the buffer head leads nowhere: skip it and resynchronise; the
        error spans everything skipped until framing resumes."""
        self._lose_sync(self._base, field, reason)
        self._consume(1)


def looks_like_msrp(data: bytes) -> bool:
    """Cheap sniff: does this stream start with an MSRP start line?"""
    if not data.startswith(b"MSRP "):
        return False
    eol = data.find(b"\r\n", 0, MAX_START_LINE + 2)
    if eol < 0:
        return (
            len(data) <= MAX_START_LINE
            and re.match(rb"MSRP [A-Za-z0-9][A-Za-z0-9.\-+%=]*( [A-Z0-9]*)?\Z", data) is not None
        )
    return _START_RE.match(data[:eol]) is not None


# --------------------------------------------------------------------------- reassembly

T = TypeVar("T")

STATE_COMPLETE = "complete"
STATE_ABORTED = "aborted"
STATE_INCOMPLETE = "incomplete"
STATE_DUPLICATE = "duplicate"  # a chunk of a message that was already complete


@dataclass(frozen=True, slots=True)
class Reassembled(Generic[T]):
    """A whole message rebuilt from its chunks (or what arrived of it)."""

    message_id: str
    state: str  # complete | aborted | incomplete | duplicate
    content_type: str | None
    body: bytes  # complete: the message; otherwise the bytes received from byte 1 on
    total: int | None
    refs: tuple[T, ...]  # the caller's reference of every chunk, in arrival order
    missing: tuple[tuple[int, int], ...] = ()  # 1-based inclusive ranges never received
    duplicates: int = 0
    conflicts: tuple[str, ...] = ()


@dataclass(slots=True)
class _Partial(Generic[T]):
    message_id: str
    content_type: str | None = None
    total: int | None = None
    final_end: int | None = None  # known once the "$" chunk arrived
    # The chunks as received, (0-based start, bytes) in arrival order: the body is built
    # only at the end, so a chunk claiming a far Byte-Range costs its own bytes, not the
    # bytes before it.
    pieces: list[tuple[int, bytes]] = field(default_factory=list)
    stored: int = 0  # bytes in ``pieces``
    have: list[tuple[int, int]] = field(default_factory=list)  # merged, 0-based half-open
    refs: list[T] = field(default_factory=list)
    duplicates: int = 0
    conflicts: list[str] = field(default_factory=list)


# Budgets of one reassembler (one sender on one connection); what passes them is reported
# as a conflict of the message concerned, never held.
MAX_OPEN_MESSAGES = 32  # messages with chunks still missing; past it the oldest is given up
MAX_HELD_BYTES = 4 * DEFAULT_MAX_MESSAGE  # chunk bytes held for all open messages together
MAX_DONE_IDS = 4096  # Message-IDs remembered as complete, to spot late duplicate chunks


class Reassembler(Generic[T]):
    """Rebuilds SEND messages from chunks by Message-ID and Byte-Range (RFC 4975 5.1, 7.3).

    Chunks may arrive out of order and more than once; ``*`` ends are taken from the chunk
    length, a ``*`` total from the ``$`` chunk. A ``#`` chunk aborts the message. Memory is
    the bytes received, bounded by ``max_size`` per message, ``max_open`` messages open at
    once and ``max_held`` bytes for all of them: past the last two the least recently
    added-to message is given up as incomplete (with the reason among its conflicts).
    """

    def __init__(
        self,
        max_size: int = DEFAULT_MAX_MESSAGE,
        max_open: int = MAX_OPEN_MESSAGES,
        max_held: int = MAX_HELD_BYTES,
    ) -> None:
        self.max_size = max_size
        self.max_open = max_open
        self.max_held = max_held
        self.held = 0  # bytes stored for all open messages
        self._open: dict[str, _Partial[T]] = {}  # least recently added-to first
        self._done: dict[str, None] = {}  # an ordered set, oldest first

    def add(self, msg: Message, ref: T) -> list[Reassembled[T]]:
        """Take one chunk; return the messages it completed, aborted or made give up."""
        if msg.method != "SEND":
            return []
        mid = msg.message_id or ""
        if mid in self._done:
            return [
                Reassembled(mid, STATE_DUPLICATE, msg.content_type, msg.body or b"", None, (ref,))
            ]
        out: list[Reassembled[T]] = []
        p = self._open.pop(mid, None)
        if p is None:
            p = _Partial(mid)
            while len(self._open) >= self.max_open:
                out.append(self._give_up(f"more than {self.max_open} messages open at once"))
        self._open[mid] = p  # (re)inserted last: the most recently added-to
        p.refs.append(ref)
        body = msg.body or b""
        br = msg.byte_range or ByteRange(1, None, None)
        if p.content_type is None:
            p.content_type = msg.content_type
        if br.total is not None:
            if p.total is not None and p.total != br.total:
                p.conflicts.append(f"total {br.total} != {p.total}")
            p.total = br.total
        if br.end is not None and br.end - br.start + 1 != len(body) and msg.flag != FLAG_ABORT:
            p.conflicts.append(f"Byte-Range {br} but {len(body)} bytes of body")
        lo = br.start - 1
        hi = lo + len(body)
        if hi > self.max_size:
            p.conflicts.append(f"chunk ends at byte {hi}, beyond the {self.max_size} limit")
        elif p.stored + len(body) > self.max_size:
            p.conflicts.append(
                f"bytes {lo + 1}-{hi} not kept: the chunks of this message exceed "
                f"{self.max_size} bytes"
            )
        else:
            self._store(p, lo, body)
            while self.held > self.max_held and len(self._open) > 1:
                out.append(self._give_up(f"more than {self.max_held} bytes held for open messages"))
        if msg.flag == FLAG_ABORT:
            out.append(self._finish(p, STATE_ABORTED))
            return out
        if msg.flag == FLAG_COMPLETE:
            p.final_end = hi
        size = p.total if p.total is not None else p.final_end
        if p.final_end is not None and size is not None and p.have == ([(0, size)] if size else []):
            out.append(self._finish(p, STATE_COMPLETE))
        return out

    def flush(self) -> list[Reassembled[T]]:
        """End of stream: every message still open, as incomplete."""
        return [self._finish(p, STATE_INCOMPLETE) for p in list(self._open.values())]

    @property
    def pending(self) -> int:
        return len(self._open)

    def _give_up(self, why: str) -> Reassembled[T]:
        oldest = next(iter(self._open.values()))
        oldest.conflicts.append(f"given up: {why}")
        return self._finish(oldest, STATE_INCOMPLETE)

    def _store(self, p: _Partial[T], lo: int, body: bytes) -> None:
        hi = lo + len(body)
        if hi == lo:
            return
        have = p.have
        # the merged range that starts at or before lo (have is sorted and disjoint)
        i = bisect.bisect_right(have, (lo, _INF)) - 1
        if i >= 0 and have[i][0] <= lo and hi <= have[i][1]:
            p.duplicates += 1
            if _extract(p.pieces, lo, hi) != body:
                p.conflicts.append(f"bytes {lo + 1}-{hi} arrived twice with different content")
            return
        p.pieces.append((lo, body))
        p.stored += len(body)
        self.held += len(body)
        # merge (lo, hi) with the ranges it touches
        j = max(i, 0)
        if j < len(have) and have[j][1] < lo:
            j += 1
        k = j
        a, b = lo, hi
        while k < len(have) and have[k][0] <= b:
            a, b = min(a, have[k][0]), max(b, have[k][1])
            k += 1
        have[j:k] = [(a, b)]

    def _finish(self, p: _Partial[T], state: str) -> Reassembled[T]:
        del self._open[p.message_id]
        self.held -= p.stored
        if state == STATE_COMPLETE:
            self._done[p.message_id] = None
            if len(self._done) > MAX_DONE_IDS:
                del self._done[next(iter(self._done))]
        size = p.total if p.total is not None else p.final_end
        prefix = p.have[0][1] if p.have and p.have[0][0] == 0 else 0
        body = _extract(p.pieces, 0, (size or 0) if state == STATE_COMPLETE else prefix)
        return Reassembled(
            p.message_id,
            state,
            p.content_type,
            body,
            p.total,
            tuple(p.refs),
            tuple(_holes(p.have, size)),
            p.duplicates,
            tuple(p.conflicts),
        )


_INF = 1 << 64  # above any Byte-Range end, for bisecting (start, end) pairs


def _extract(pieces: list[tuple[int, bytes]], lo: int, hi: int) -> bytes:
    """Bytes [lo, hi) of a message as its chunks wrote them, a later chunk over an earlier
    one where they overlap (the caller knows the range is covered)."""
    if len(pieces) == 1 and pieces[0][0] == lo and len(pieces[0][1]) == hi - lo:
        return pieces[0][1]  # a message in one chunk (most): its body as it came
    out = bytearray(hi - lo)
    for a, data in pieces:
        b = a + len(data)
        if b <= lo or a >= hi:
            continue
        s, e = max(a, lo), min(b, hi)
        out[s - lo : e - lo] = data[s - a : e - a]
    return bytes(out)


def _holes(have: list[tuple[int, int]], size: int | None) -> Iterator[tuple[int, int]]:
    pos = 0
    for a, b in have:
        if a > pos:
            yield (pos + 1, a)
        pos = max(pos, b)
    if size is not None and pos < size:
        yield (pos + 1, size)


# --------------------------------------------------------------------------- rendering


def info_line(msg: Message) -> str:
    """One-line summary for the packet list, e.g. ``MSRP SEND a786hjs2``."""
    if msg.method is not None:
        s = f"MSRP {msg.method} {msg.transaction_id}"
    else:
        comment = f" {msg.comment}" if msg.comment else ""
        s = f"MSRP {msg.status}{comment} {msg.transaction_id}"
    if msg.flag != FLAG_COMPLETE:
        s += f" [{msg.flag}]"
    return s


def column_info(msg: Message) -> str:
    """tshark's Info column fragment, e.g. ``Request: SEND Transaction ID: a786hjs2``;
    ends in a space so that several messages in one frame read apart."""
    if msg.method is not None:
        return f"Request: {msg.method} Transaction ID: {msg.transaction_id} "
    comment = f" {msg.comment}" if msg.comment else ""
    return f"Response: {msg.status}{comment} Transaction ID: {msg.transaction_id} "


def column_suffix(msg: Message) -> str:
    """``(text/plain)``: the note tshark's media-type dissector adds for a body (it follows
    :func:`column_info`, which already ends in a space)."""
    mt = msg.media_type
    return f"({mt})" if mt and msg.body else ""


def detail_tree(msg: Message) -> list[tuple[int, str]]:
    """The Wireshark-like detail tree as ``(depth, text)`` rows."""
    rows: list[tuple[int, str]] = [(0, "Message Session Relay Protocol")]
    tid = msg.transaction_id
    if msg.method is not None:
        rows += [
            (1, f"Request Line: MSRP {tid} {msg.method}"),
            (2, f"Transaction Id: {tid}"),
            (2, f"Method: {msg.method}"),
        ]
    else:
        assert msg.status is not None
        comment = f" {msg.comment}" if msg.comment is not None else ""
        rows += [
            (1, f"Response Line: MSRP {tid} {msg.status:03d}{comment}"),
            (2, f"Transaction Id: {tid}"),
            (2, f"Status code: {msg.status} ({STATUS_CODES.label(msg.status)})"),
        ]
    rows.append((1, "Message Header"))
    for h in msg.headers:
        rows.append((2, f"{h.name}: {h.value}"))
        low = h.name.lower()
        try:
            if low in ("to-path", "from-path", "use-path"):
                for u in _paths(h.value):
                    port = "" if u.port is None else f", port {u.port}"
                    rows.append(
                        (3, f"URI: host {u.host}{port}, session {u.session_id}, {u.transport}")
                    )
            elif low == "byte-range":
                br = ByteRange.parse(h.value)
                end = "*" if br.end is None else br.end
                total = "*" if br.total is None else br.total
                rows.append((3, f"Range start {br.start}, end {end}, total {total}"))
            elif low == "status":
                st = ReportStatus.parse(h.value)
                rows.append((3, f"Status {st.code} ({STATUS_CODES.label(st.code)})"))
        except DissectError as e:
            rows.append((3, f"[Malformed: {e.reason}]"))
    if msg.body is not None:
        rows.append((1, f"Data ({len(msg.body)} bytes)"))
        rows += _body_rows(msg, 2)
    rows.append((1, f"End Line: -------{tid}{msg.flag}"))
    rows.append((2, f"Continuation-flag: {msg.flag} ({FLAG_MEANING[msg.flag]})"))
    return rows


def _body_rows(msg: Message, depth: int) -> list[tuple[int, str]]:
    """Body text; a whole message/cpim body is unwrapped to show the inner content."""
    body = msg.body or b""
    br = msg.byte_range if msg.header("Byte-Range") is not None else None
    whole = msg.flag == FLAG_COMPLETE and (br is None or br.start == 1)
    if msg.media_type == cpim.MEDIA_TYPE and whole:
        try:
            wrapped = cpim.parse_cpim(body)
        except DissectError as e:
            return [(depth, f"[Malformed message/cpim: {e}]")]
        rows = [(depth, "Common Presence and Instant Messaging (message/cpim)")]
        rows += [(depth + 1, str(h)) for h in wrapped.headers]
        rows += [(depth + 1, f"{h.name}: {h.value}") for h in wrapped.content_headers]
        rows += [(depth + 1, line) for line in _lines(wrapped.body)]
        return rows
    return [(depth, line) for line in _lines(body)]


def _lines(body: bytes, limit: int = 50) -> list[str]:
    return body.decode("utf-8", "replace").splitlines()[:limit]
