"""SDP (RFC 8866) codec with typed accessors for the attributes of MSRP, BFCP and RFC 4567.

A description is kept as its lines (type letter and value) so that ``build(parse(b)) == b``;
accessors interpret them on demand: ``c=``, ``m=``, ``a=key-mgmt`` (RFC 4567), ``a=setup`` /
``a=connection`` (RFC 4145), ``a=path`` / ``a=accept-types`` / ``a=msrp-cema`` (RFC 4975,
6714), ``a=floorctrl`` / ``a=confid`` / ``a=userid`` / ``a=floorid`` / ``a=bfcpver``
(RFC 8856), ``a=label`` (RFC 4574). Malformed values raise :class:`DissectError` with the
field named, so the analyzer can report them and go on.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from mikeyshark.dissectors.errors import DissectError, once
from mikeyshark.dissectors.msrp import MsrpUri

LAYER = "sdp"
ENC = "utf-8"
ERRS = "surrogateescape"

# m= proto values this project cares about (RFC 4975, 6135, 8856) and what they carry.
MSRP_PROTOS = frozenset({"TCP/MSRP", "TCP/TLS/MSRP"})
BFCP_PROTOS = frozenset({"TCP/BFCP", "TCP/TLS/BFCP", "UDP/BFCP", "UDP/TLS/BFCP", "TCP/DTLS/BFCP"})
TLS_PROTOS = frozenset({"TCP/TLS/MSRP", "TCP/TLS/BFCP", "UDP/TLS/BFCP", "TCP/DTLS/BFCP"})


def _digits(s: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts "²" and other digits int() rejects."""
    return s.isascii() and s.isdigit()


@dataclass(frozen=True, slots=True)
class SdpLine:
    """``type=value``. A line that is not of that form has ``type == ""`` and the raw text."""

    type: str
    value: str

    def __str__(self) -> str:
        return f"{self.type}={self.value}" if self.type else self.value


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    value: str | None  # None for a flag attribute (``a=msrp-cema``)


@dataclass(frozen=True, slots=True)
class Connection:
    nettype: str
    addrtype: str
    address: str  # without a /ttl or /count suffix

    @classmethod
    def parse(cls, v: str) -> Connection:
        parts = v.split()
        if len(parts) != 3:
            raise DissectError(LAYER, 0, f"malformed c= line {v!r}", "c")
        return cls(parts[0], parts[1], parts[2].split("/")[0])


@dataclass(frozen=True, slots=True)
class Origin:
    username: str
    session_id: str
    version: str
    nettype: str
    addrtype: str
    address: str

    @classmethod
    def parse(cls, v: str) -> Origin:
        parts = v.split()
        if len(parts) != 6:
            raise DissectError(LAYER, 0, f"malformed o= line {v!r}", "o")
        return cls(*parts)


@dataclass(frozen=True, slots=True)
class MediaLine:
    media: str
    port: int
    port_count: int | None
    proto: str
    fmts: tuple[str, ...]

    @classmethod
    def parse(cls, v: str) -> MediaLine:
        parts = v.split()
        if len(parts) < 3:
            raise DissectError(LAYER, 0, f"malformed m= line {v!r}", "m")
        port_s, _, count_s = parts[1].partition("/")
        if not _digits(port_s) or int(port_s) > 65535 or (count_s and not _digits(count_s)):
            raise DissectError(LAYER, 0, f"bad port in m= line {v!r}", "m")
        return cls(
            parts[0], int(port_s), int(count_s) if count_s else None, parts[2], tuple(parts[3:])
        )

    def __str__(self) -> str:
        port = f"{self.port}/{self.port_count}" if self.port_count is not None else str(self.port)
        return " ".join([self.media, port, self.proto, *self.fmts])


@dataclass(frozen=True, slots=True)
class KeyMgmt:
    """``a=key-mgmt:<prtcl-id> <base64>`` (RFC 4567) with the data decoded."""

    protocol: str
    data: bytes
    encoded: str

    @classmethod
    def parse(cls, v: str) -> KeyMgmt:
        parts = v.strip().split()
        if len(parts) != 2:
            raise DissectError(
                LAYER, 0, f"key-mgmt needs a protocol and data: {v[:60]!r}", "key-mgmt"
            )
        return cls(parts[0], b64decode(parts[1]), parts[1])


def b64decode(s: str) -> bytes:
    """RFC 4648 base64, tolerant of missing ``=`` padding (RFC 4567 senders omit it)."""
    t = s.strip()
    t += "=" * (-len(t) % 4)
    try:
        return base64.b64decode(t, validate=True)
    except (binascii.Error, ValueError) as e:
        raise DissectError(LAYER, 0, f"key-mgmt data is not base64: {e}", "key-mgmt") from None


@dataclass(frozen=True, slots=True)
class FloorId:
    """``a=floorid:<id> mstrm:<label> ...`` (older drafts: ``m-stream:``)."""

    floor_id: int
    mstrms: tuple[str, ...]


class _Section:
    """Accessors shared by the session part and media sections."""

    __slots__ = ()

    @property
    def _lines(self) -> tuple[SdpLine, ...]:
        raise NotImplementedError

    @property
    def _memo(self) -> dict[str, Any]:
        raise NotImplementedError

    def values(self, type_: str) -> tuple[str, ...]:
        return tuple(ln.value for ln in self._lines if ln.type == type_)

    @property
    def attributes(self) -> tuple[Attribute, ...]:
        got: tuple[Attribute, ...] | None = self._memo.get("a")
        if got is None:  # (parsing attributes cannot fail: kept as is, not through once)
            out = []
            for v in self.values("a"):
                name, colon, value = v.partition(":")
                out.append(Attribute(name.strip(), value if colon else None))
            got = self._memo["a"] = tuple(out)
        return got

    def attrs(self, name: str) -> tuple[str, ...]:
        """Values of every ``a=name`` (``""`` for a flag), case-insensitive name."""
        memo = self._memo
        index: dict[str, tuple[str, ...]] | None = memo.get("a=")
        if index is None:
            # every attribute's values by lower-case name, in one pass (no error possible:
            # kept as is, not through once)
            lists: dict[str, list[str]] = {}
            for ln in self._lines:
                if ln.type == "a":  # (as ``attributes`` reads it, without an object each)
                    key, colon, value = ln.value.partition(":")
                    lists.setdefault(key.strip().lower(), []).append(value if colon else "")
            index = memo["a="] = {k: tuple(v) for k, v in lists.items()}
        return index.get(name.lower(), ())

    def attr(self, name: str) -> str | None:
        vs = self.attrs(name)
        return vs[0].strip() if vs else None

    def has(self, name: str) -> bool:
        return bool(self.attrs(name))

    # (the accessors read most look in the memo themselves: no closure, no call more)
    @property
    def connection(self) -> Connection | None:
        got = self._memo.get("c")
        if got is not None and got[0]:
            return got[1]  # type: ignore[no-any-return]
        return once(self._memo, "c", self._connection)

    def _connection(self) -> Connection | None:
        for ln in self._lines:  # the first c= (without collecting every one)
            if ln.type == "c":
                return Connection.parse(ln.value)
        return None

    def key_mgmts(self) -> tuple[KeyMgmt, ...]:
        return tuple(KeyMgmt.parse(v) for v in self.attrs("key-mgmt"))

    def key_mgmt(self, protocol: str = "mikey") -> KeyMgmt | None:
        for v in self.attrs("key-mgmt"):
            parts = v.split()
            if parts and parts[0].lower() == protocol.lower():
                return KeyMgmt.parse(v)
        return None


@dataclass(frozen=True, slots=True)
class MediaDescription(_Section):
    lines: tuple[SdpLine, ...]  # lines[0] is the m= line
    # What the section derives from its lines (attributes, c=, m=), kept once read: a
    # description is immutable and the analysis reads the same attributes many times.
    _memo: dict[str, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @property
    def _lines(self) -> tuple[SdpLine, ...]:
        return self.lines

    @property
    def m(self) -> MediaLine:
        got = self._memo.get("m")
        if got is not None and got[0]:
            return got[1]  # type: ignore[no-any-return]
        return once(self._memo, "m", self._m)

    def _m(self) -> MediaLine:
        return MediaLine.parse(self.lines[0].value)

    @property
    def proto(self) -> str:
        return self.m.proto

    @property
    def protocol(self) -> str:
        """``msrp``, ``bfcp``, ``audio``, ``video`` or ``other``: what the m-line carries."""
        m = self.m
        p = m.proto.upper()
        if p in MSRP_PROTOS or p.endswith("/MSRP"):
            return "msrp"
        if p in BFCP_PROTOS or p.endswith("/BFCP"):
            return "bfcp"
        if m.media in ("audio", "video") and "RTP" in p:
            return m.media
        return "other"

    @property
    def setup(self) -> str | None:
        v = self.attr("setup")
        return v.lower() if v is not None else None

    @property
    def connection_attr(self) -> str | None:
        """``a=connection:new|existing`` (RFC 4145), not to be confused with ``c=``."""
        v = self.attr("connection")
        return v.lower() if v is not None else None

    @property
    def paths(self) -> tuple[MsrpUri, ...]:
        """``a=path`` (RFC 4975 8.1): the MSRP URIs, the endpoint's own last."""
        return once(self._memo, "path", self._paths)

    def _paths(self) -> tuple[MsrpUri, ...]:
        v = self.attr("path")
        try:
            return tuple(MsrpUri.parse(u) for u in v.split()) if v else ()
        except DissectError as e:
            raise DissectError(LAYER, 0, e.reason, "path") from None

    @property
    def accept_types(self) -> tuple[str, ...]:
        v = self.attr("accept-types")
        return tuple(v.split()) if v else ()

    @property
    def msrp_cema(self) -> bool:
        return self.has("msrp-cema")

    @property
    def floorctrl(self) -> tuple[str, ...]:
        v = self.attr("floorctrl")
        return tuple(v.lower().split()) if v else ()

    def _int_attr(self, name: str) -> int | None:
        v = self.attr(name)
        if v is None:
            return None
        if not _digits(v):
            raise DissectError(LAYER, 0, f"a={name} is not a number: {v!r}", name)
        return int(v)

    @property
    def confid(self) -> int | None:
        return self._int_attr("confid")

    @property
    def userid(self) -> int | None:
        return self._int_attr("userid")

    @property
    def floorids(self) -> tuple[FloorId, ...]:
        out = []
        for v in self.attrs("floorid"):
            toks = v.split()
            if not toks or not _digits(toks[0]):
                raise DissectError(LAYER, 0, f"malformed a=floorid {v!r}", "floorid")
            labels: list[str] = []
            for t in toks[1:]:
                low = t.lower()
                for prefix in ("mstrm:", "m-stream:"):
                    if low.startswith(prefix):
                        t = t[len(prefix) :]
                        break
                if t:
                    labels.append(t)
            out.append(FloorId(int(toks[0]), tuple(labels)))
        return tuple(out)

    @property
    def bfcpver(self) -> tuple[int, ...]:
        v = self.attr("bfcpver")
        if v is None:
            return ()
        toks = v.split()
        if not all(_digits(t) for t in toks):
            raise DissectError(LAYER, 0, f"malformed a=bfcpver {v!r}", "bfcpver")
        return tuple(int(t) for t in toks)

    @property
    def label(self) -> str | None:
        return self.attr("label")

    # ---- editing (for the synthesizer's faults): first match replaced, order kept
    def with_attr(self, name: str, value: str | None) -> MediaDescription:
        """Replace the first ``a=name`` (or append one) with ``value`` (None = flag)."""
        new = attribute(name, value)
        lines = list(self.lines)
        for i, ln in enumerate(lines):
            if ln.type == "a" and ln.value.partition(":")[0].lower() == name.lower():
                lines[i] = new
                return replace(self, lines=tuple(lines))
        return replace(self, lines=(*lines, new))

    def without_attr(self, name: str) -> MediaDescription:
        keep = tuple(
            ln
            for ln in self.lines
            if not (ln.type == "a" and ln.value.partition(":")[0].lower() == name.lower())
        )
        return replace(self, lines=keep)

    def with_proto(self, proto: str) -> MediaDescription:
        m = replace(self.m, proto=proto)
        return replace(self, lines=(SdpLine("m", str(m)), *self.lines[1:]))


@dataclass(frozen=True, slots=True)
class SessionDescription(_Section):
    session: tuple[SdpLine, ...]
    media: tuple[MediaDescription, ...] = ()
    eol: str = "\r\n"
    final_eol: bool = True
    _memo: dict[str, Any] = field(  # as MediaDescription's
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @property
    def _lines(self) -> tuple[SdpLine, ...]:
        return self.session

    @property
    def origin(self) -> Origin | None:
        vs = self.values("o")
        return Origin.parse(vs[0]) if vs else None

    def media_connection(self, index: int) -> Connection | None:
        """The ``c=`` that applies to media ``index``: its own, else the session's."""
        return self.media[index].connection or self.connection

    def media_setup(self, index: int) -> str | None:
        """``a=setup`` of media ``index``: its own, else a session-level one (RFC 4145 4)."""
        v = self.media[index].setup
        if v is None:
            s = self.attr("setup")
            v = s.lower() if s is not None else None
        return v

    def media_key_mgmt(self, index: int, protocol: str = "mikey") -> KeyMgmt | None:
        """RFC 4567: the media-level attribute wins over the session-level one."""
        return self.media[index].key_mgmt(protocol) or self.key_mgmt(protocol)

    def with_media(self, index: int, md: MediaDescription) -> SessionDescription:
        media = list(self.media)
        media[index] = md
        return replace(self, media=tuple(media))


def attribute(name: str, value: str | None = None) -> SdpLine:
    return SdpLine("a", name if value is None else f"{name}:{value}")


def key_mgmt_attribute(protocol: str, data: bytes) -> SdpLine:
    """``a=key-mgmt:<protocol> <base64 data>`` with padding (RFC 4648)."""
    return attribute("key-mgmt", f"{protocol} {base64.b64encode(data).decode('ascii')}")


def media_description(
    media: str,
    port: int,
    proto: str,
    fmts: Iterable[str] = ("*",),
    lines: Iterable[SdpLine] = (),
) -> MediaDescription:
    m = MediaLine(media, port, None, proto, tuple(fmts))
    return MediaDescription((SdpLine("m", str(m)), *lines))


# Lines seen lately and what they parse to: offers and answers repeat most of their lines
# (s=-, t=0 0, a=setup:actpass, a=accept-types:..., rtpmap), and an SdpLine is immutable, so
# one object serves them all. Bounded: short lines only, emptied when full (small enough to
# fill within a few hundred calls, so that memory does not grow with a dense capture's calls).
_LINES: dict[str, SdpLine] = {}
MAX_CACHED_LINES = 1024
MAX_CACHED_LINE = 256  # characters


def decode(data: bytes) -> tuple[SessionDescription, tuple[DissectError, ...]]:
    """Tolerant parse: malformed lines are kept verbatim (type ``""``) and reported."""
    text = data.decode(ENC, ERRS)
    eol = "\r\n" if "\r\n" in text else "\n"
    final_eol = text.endswith(eol)
    body = text[: -len(eol)] if final_eol else text
    errors: list[DissectError] = []
    session: list[SdpLine] = []
    media: list[list[SdpLine]] = []
    raws = body.split(eol) if body else []
    # where a malformed line starts, in bytes: counted up to it only when there is one
    pos = upto = 0
    seen = _LINES
    for i, raw in enumerate(raws):
        line = seen.get(raw)
        if line is None:
            # RFC 8866 5: <type>=<value>, the type one lower-case (ASCII) letter
            if len(raw) > 1 and raw[1] == "=" and "a" <= raw[0] <= "z":
                line = SdpLine(raw[0], raw[2:])
                if len(raw) <= MAX_CACHED_LINE:
                    if len(seen) >= MAX_CACHED_LINES:
                        seen.clear()
                    seen[raw] = line
            else:
                for before in raws[upto:i]:
                    pos += len(before.encode(ENC, ERRS)) + len(eol)
                upto = i
                reason = f"not a type=value line: {raw[:60]!r}"
                errors.append(DissectError(LAYER, pos, reason, "line"))
                line = SdpLine("", raw)
        if line.type == "m":
            media.append([line])
        elif media:
            media[-1].append(line)
        else:
            session.append(line)
    if not session or session[0].type != "v" or session[0].value != "0":
        errors.insert(0, DissectError(LAYER, 0, "does not start with v=0", "v"))
    sd = SessionDescription(
        tuple(session), tuple(MediaDescription(tuple(m)) for m in media), eol, final_eol
    )
    for md in sd.media:
        try:
            _ = md.m  # checked now, and kept: every reader of the m-line wants it
        except DissectError as e:
            errors.append(e)
    return sd, tuple(errors)


def parse(data: bytes) -> SessionDescription:
    """Strict parse: raises the first :class:`DissectError`."""
    sd, errors = decode(data)
    if errors:
        raise errors[0]
    return sd


def build(sd: SessionDescription) -> bytes:
    lines = [str(ln) for ln in sd.session]
    for md in sd.media:
        lines.extend(str(ln) for ln in md.lines)
    text = sd.eol.join(lines) + (sd.eol if sd.final_eol and lines else "")
    return text.encode(ENC, ERRS)


__all__ = [
    "BFCP_PROTOS",
    "MSRP_PROTOS",
    "TLS_PROTOS",
    "Attribute",
    "Connection",
    "FloorId",
    "KeyMgmt",
    "MediaDescription",
    "MediaLine",
    "Origin",
    "SdpLine",
    "SessionDescription",
    "attribute",
    "b64decode",
    "build",
    "decode",
    "key_mgmt_attribute",
    "media_description",
    "parse",
]
