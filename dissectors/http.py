"""HTTP/1.1 message framing (RFC 9112), as far as the KMS leg needs it.

The KMS leg of MIKEY-TICKET (RESOLVE_INIT / RESOLVE_RESP) travels as the body of an HTTP POST
and its response. :func:`parse_message` takes one message off the front of a byte stream
(start line, header fields, and a body delimited by ``Content-Length``); :func:`build_message`
writes one. Chunked transfer coding is not read: a message without ``Content-Length`` has an
empty body, as a request without one has (RFC 9112 6.3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mikeyshark.dissectors.errors import DissectError

LAYER = "http"
# the default ports of http: and https: (RFC 9110 4.2) and the registered alternate (IANA)
PORTS = frozenset({80, 443, 8080})
MAX_BODY = 1 << 20  # a larger Content-Length is refused: a KMS message is a few hundred bytes
_END_OF_HEAD = b"\r\n\r\n"
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class HttpMessage:
    """One request or response: ``start`` is its first line (``POST /resolve HTTP/1.1`` or
    ``HTTP/1.1 200 OK``), ``headers`` its fields in order as written."""

    start: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The value of field ``name`` (case-insensitive); the last one when repeated."""
        want = name.lower()
        found = None
        for n, v in self.headers:
            if n.lower() == want:
                found = v
        return found

    @property
    def is_request(self) -> bool:
        return not self.start.startswith("HTTP/")

    @property
    def method(self) -> str | None:
        return self.start.split(" ", 1)[0] if self.is_request else None

    @property
    def status(self) -> str | None:
        """A response's status code as written (``"200"``); None for a request."""
        if self.is_request:
            return None
        parts = self.start.split(" ", 2)
        return parts[1] if len(parts) > 1 else None


def looks_like_http(first: bytes) -> bool:
    """Whether a connection's first bytes start a POST request or a response: what either
    direction of a KMS leg starts with (other methods carry no MIKEY)."""
    return first.startswith((b"POST ", b"HTTP/"))


def parse_message(
    data: bytes | bytearray, offset: int = 0, *, max_body: int = MAX_BODY
) -> tuple[HttpMessage, int] | None:
    """The message at ``data[offset:]`` and the offset just past it; None while it is not
    complete. Raises :class:`DissectError` for a ``Content-Length`` that is not a length, that
    disagrees with another, or that exceeds ``max_body``."""
    end = data.find(_END_OF_HEAD, offset)
    if end < 0:
        return None
    lines = bytes(data[offset:end]).decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    lengths = {v for n, v in headers if n.lower() == "content-length"}
    length = 0
    if lengths:
        text = lengths.pop()
        if lengths or not _DIGITS.fullmatch(text):
            raise DissectError(LAYER, offset, "Content-Length is not one length", "content_length")
        length = int(text)
    if length > max_body:
        raise DissectError(
            LAYER, offset, f"Content-Length {length} exceeds {max_body}", "content_length"
        )
    body_at = end + len(_END_OF_HEAD)
    if body_at + length > len(data):
        return None
    body = bytes(data[body_at : body_at + length])
    return HttpMessage(lines[0], tuple(headers), body), body_at + length


def build_message(start: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    """A message with ``Content-Length`` set from ``body`` (any given one is replaced)."""
    fields = [(n, v) for n, v in headers if n.lower() != "content-length"]
    fields.append(("Content-Length", str(len(body))))
    head = "\r\n".join([start, *(f"{n}: {v}" for n, v in fields)])
    return head.encode("latin-1") + _END_OF_HEAD + body
