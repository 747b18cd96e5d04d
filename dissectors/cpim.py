"""message/cpim (RFC 3862): the wrapper MSRP chat puts around the text a user typed.

Layout: message headers, an empty line, the encapsulated MIME object's headers, an empty
line, its content. Header values are kept as written (the RFC 3862 escape mechanism is not
undone) so that ``build_cpim(parse_cpim(b)) == b``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mikeyshark.dissectors.errors import DissectError

LAYER = "cpim"
MEDIA_TYPE = "message/cpim"

# RFC 3862 section 3.6: Header-name ":" *( ";" Parameter ) SP Header-value
_HEADER_RE = re.compile(
    r"([A-Za-z0-9!#$%&'*+\-^_`|~]+(?:\.[A-Za-z0-9!#$%&'*+\-^_`|~]+)?):((?:;[^; ]*)*) (.*)\Z", re.S
)
_MIME_RE = re.compile(r"([!-9;-~]+):[ \t]*(.*)\Z", re.S)
_ADDRESS_RE = re.compile(r"(?:(.*?)\s*)?<([^<>]*)>\Z", re.S)


@dataclass(frozen=True, slots=True)
class CpimHeader:
    name: str  # may carry a namespace prefix: "MyFeatures.VitalMessageOption"
    value: str
    params: tuple[str, ...] = ()  # e.g. ("lang=fr",)

    def __str__(self) -> str:
        return f"{self.name}:{''.join(';' + p for p in self.params)} {self.value}"


@dataclass(frozen=True, slots=True)
class MimeHeader:
    name: str
    value: str  # folded values keep their CRLF + whitespace


@dataclass(frozen=True, slots=True)
class CpimAddress:
    """``[Formal-name] "<" URI ">"`` of From, To and cc."""

    display_name: str | None
    uri: str

    def __str__(self) -> str:
        return f"{self.display_name} <{self.uri}>" if self.display_name else f"<{self.uri}>"

    @classmethod
    def parse(cls, text: str) -> CpimAddress:
        m = _ADDRESS_RE.match(text.strip())
        if m is None:
            raise DissectError(LAYER, 0, f"not a CPIM address: {text!r}", "address")
        return cls(m[1] or None, m[2])


@dataclass(frozen=True, slots=True)
class CpimMessage:
    headers: tuple[CpimHeader, ...]
    content_headers: tuple[MimeHeader, ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """First message header of that name (CPIM header names are case-sensitive)."""
        return next((h.value for h in self.headers if h.name == name), None)

    def all(self, name: str) -> tuple[str, ...]:
        return tuple(h.value for h in self.headers if h.name == name)

    @property
    def sender(self) -> CpimAddress | None:
        v = self.header("From")
        return None if v is None else CpimAddress.parse(v)

    @property
    def recipients(self) -> tuple[CpimAddress, ...]:
        return tuple(CpimAddress.parse(v) for v in self.all("To"))

    @property
    def cc(self) -> tuple[CpimAddress, ...]:
        return tuple(CpimAddress.parse(v) for v in self.all("cc"))

    @property
    def datetime(self) -> str | None:
        return self.header("DateTime")

    @property
    def subject(self) -> str | None:
        return self.header("Subject")

    @property
    def namespaces(self) -> dict[str, str]:
        """``NS`` headers: prefix -> namespace URI."""
        out: dict[str, str] = {}
        for v in self.all("NS"):
            a = CpimAddress.parse(v)
            out[a.display_name or ""] = a.uri
        return out

    @property
    def content_type(self) -> str | None:
        return next(
            (h.value for h in self.content_headers if h.name.lower() == "content-type"), None
        )

    @property
    def media_type(self) -> str | None:
        ct = self.content_type
        return None if ct is None else ct.split(";", 1)[0].strip().lower()


def _lines(data: bytes, start: int) -> tuple[list[tuple[int, str]], int]:
    """The CRLF lines from ``start`` up to the empty line; returns them and the offset after it."""
    lines: list[tuple[int, str]] = []
    pos = start
    while True:
        nl = data.find(b"\r\n", pos)
        if nl < 0:
            raise DissectError(LAYER, pos, "header block not closed by an empty line", "headers")
        if nl == pos:
            return lines, nl + 2
        try:
            lines.append((pos, data[pos:nl].decode("utf-8")))
        except UnicodeDecodeError as e:
            raise DissectError(LAYER, pos + e.start, "invalid UTF-8", "headers") from None
        pos = nl + 2


def parse_cpim(data: bytes) -> CpimMessage:
    lines, pos = _lines(data, 0)
    headers: list[CpimHeader] = []
    for at, line in lines:
        m = _HEADER_RE.match(line)
        if m is None:
            raise DissectError(LAYER, at, f"bad CPIM header {line[:80]!r}", "header")
        params = tuple(m[2].split(";")[1:]) if m[2] else ()
        headers.append(CpimHeader(m[1], m[3], params))
    mlines, pos = _lines(data, pos)
    content: list[MimeHeader] = []
    for at, line in mlines:
        if line[:1] in (" ", "\t") and content:
            prev = content[-1]
            content[-1] = MimeHeader(prev.name, f"{prev.value}\r\n{line}")
            continue
        m = _MIME_RE.match(line)
        if m is None:
            raise DissectError(LAYER, at, f"bad MIME header {line[:80]!r}", "content-header")
        content.append(MimeHeader(m[1], m[2]))
    return CpimMessage(tuple(headers), tuple(content), data[pos:])


def build_cpim(msg: CpimMessage) -> bytes:
    out = bytearray()
    for h in msg.headers:
        line = str(h)
        if "\r" in line or "\n" in line or not _HEADER_RE.match(line):
            raise ValueError(f"bad CPIM header {h!r}")
        out += line.encode("utf-8") + b"\r\n"
    out += b"\r\n"
    for mh in msg.content_headers:
        out += f"{mh.name}: {mh.value}".encode() + b"\r\n"
    out += b"\r\n"
    out += msg.body
    return bytes(out)


def make_cpim(
    sender: CpimAddress,
    recipients: Iterable[CpimAddress],
    content: bytes,
    content_type: str = "text/plain;charset=UTF-8",
    *,
    datetime: str | None = None,
    extra: Iterable[CpimHeader] = (),
) -> CpimMessage:
    hs = [CpimHeader("From", str(sender))]
    hs += [CpimHeader("To", str(r)) for r in recipients]
    if datetime is not None:
        hs.append(CpimHeader("DateTime", datetime))
    hs.extend(extra)
    return CpimMessage(tuple(hs), (MimeHeader("Content-Type", content_type),), content)
