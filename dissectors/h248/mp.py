"""The mikeyshark Mp profile 1 (docs/mp-profile.md): how the MRFC hands the MRFP the
pre-shared key of a TCP/TLS media stream, its TLS role, and asks to be told when TCP or TLS
establishment fails, in H.248 text.

The stage-3 encoding (3GPP TS 29.333) could not be read, so every name here is adopted, not
verified. :data:`MP_ITEMS` is the one table of them; :class:`MpProfile` carries the names in
use, which a key file may rename (the planned ``[profile.mp]`` section, keys
:data:`OVERRIDE_KEYS`). Names are ``package/item`` strings compared case-insensitively.

:func:`read_command` turns a parsed command into what the profile means (PSK bytes, PSK
identity, TLS role, requested and observed events) for the dissect view and the analyzer;
the ``*_descriptor`` builders write the same items for the synthesizer and the tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from mikeyshark.dissectors.h248.model import (
    Command,
    ErrorDescriptor,
    EventsDescriptor,
    Item,
    LocalControlDescriptor,
    LocalRemoteDescriptor,
    ObservedEvent,
    ObservedEventsDescriptor,
    RequestedEvent,
    Value,
    unquote,
)

PROFILE = "mikeyshark Mp profile 1 (docs/mp-profile.md)"
# The adopted items' package in binary H.248 (IANA private range); profile 1 sends text only.
BINARY_PACKAGE = 0xFE01
ROLES = ("client", "server")
CAUSE = "cause"  # parameter of the TLS failure event: the TLS alert description, a number


@dataclass(frozen=True, slots=True)
class MpItem:
    """One adopted item: its override key, meaning (the TS 23.333 information element),
    text name, where it travels, and its id inside :data:`BINARY_PACKAGE`."""

    key: str
    meaning: str
    name: str
    kind: str  # "property" (LocalControl) or "event" (Events / ObservedEvents)
    binary_id: int
    source: str = PROFILE
    verified: bool = False


MP_ITEMS: tuple[MpItem, ...] = (
    MpItem("psk", "Pre-Shared Key", "mkstls/psk", "property", 0x0002),
    MpItem("pskid", "PSK identity", "mkstls/pskid", "property", 0x0003),
    MpItem("role", "TLS role", "mkstls/role", "property", 0x0001),
    MpItem("tcp_fail_event", "TCP connection establishment failure", "mkstls/tcpfail", "event", 1),
    MpItem("tls_fail_event", "TLS session establishment failure", "mkstls/tlsfail", "event", 2),
)
_DEFAULT = {i.key: i.name for i in MP_ITEMS}
MEANINGS = {i.key: i.meaning for i in MP_ITEMS}
OVERRIDE_KEYS: tuple[str, ...] = tuple(i.key for i in MP_ITEMS)
EVENT_KEYS = ("tcp_fail_event", "tls_fail_event")

# package/item, each a NAME of the ABNF (a letter, then letters, digits, "_").
_PKGD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}/[A-Za-z][A-Za-z0-9_]{0,63}")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


@dataclass(frozen=True, slots=True)
class MpProfile:
    """The item names in use; defaults are :data:`MP_ITEMS`'."""

    psk: str = _DEFAULT["psk"]
    pskid: str = _DEFAULT["pskid"]
    role: str = _DEFAULT["role"]
    tcp_fail_event: str = _DEFAULT["tcp_fail_event"]
    tls_fail_event: str = _DEFAULT["tls_fail_event"]

    def with_overrides(self, overrides: Mapping[str, str]) -> MpProfile:
        """The profile with some names replaced; an unknown key or a value that is not a
        ``package/item`` name raises ValueError naming it."""
        for k, v in overrides.items():
            if k not in OVERRIDE_KEYS:
                raise ValueError(
                    f"unknown Mp profile key {k!r} (known: {', '.join(OVERRIDE_KEYS)})"
                )
            if not isinstance(v, str) or not _PKGD_NAME.fullmatch(v):
                raise ValueError(f"Mp profile {k} must be a package/item name, not {v!r}")
        return replace(self, **dict(overrides))

    def names(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def key_of(self, name: str) -> str | None:
        """Which profile item a ``package/item`` name is, case-insensitively."""
        n = name.lower()
        for k, v in self.names().items():
            if v.lower() == n:
                return k
        return None

    def is_item(self, key: str, name: str) -> bool:
        return str(getattr(self, key)).lower() == name.lower()


DEFAULT_PROFILE = MpProfile()


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class MpStream:
    """What one stream of a command says in the profile's terms."""

    stream_id: int | None
    psk: bytes | None = None
    pskid: str | None = None
    role: str | None = None  # "client" / "server", or the value as written when neither
    local: LocalRemoteDescriptor | None = None
    remote: LocalRemoteDescriptor | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MpObserved:
    key: str  # tcp_fail_event / tls_fail_event
    name: str
    cause: int | None = None
    timestamp: str | None = None


@dataclass(frozen=True, slots=True)
class MpReading:
    command: str
    termination_ids: tuple[str, ...]
    streams: tuple[MpStream, ...] = ()
    request_id: str | None = None  # of the Events descriptor
    requested: tuple[str, ...] = ()  # EVENT_KEYS requested in it
    observed: tuple[MpObserved, ...] = ()
    error: ErrorDescriptor | None = None

    @property
    def psk(self) -> bytes | None:
        """The first PSK of any stream (profile 1 has one stream per termination)."""
        return next((s.psk for s in self.streams if s.psk is not None), None)


def psk_bytes(value: Value | None) -> bytes | None:
    """The octets of a PSK value written as hex (either case); None when it is not hex."""
    if value is None or len(value.items) != 1:
        return None
    text = unquote(value.items[0])
    return bytes.fromhex(text) if _HEX.fullmatch(text) else None


def _stream(
    sid: int | None,
    lc: LocalControlDescriptor | None,
    local: LocalRemoteDescriptor | None,
    remote: LocalRemoteDescriptor | None,
    profile: MpProfile,
) -> MpStream:
    psk = pskid = role = None
    problems: list[str] = []
    for p in lc.properties if lc is not None else ():
        key = profile.key_of(p.name)
        if key == "psk":
            psk = psk_bytes(p.value)
            if psk is None:
                problems.append(f"{p.name} is not hex octets")
        elif key == "pskid" and p.value is not None:
            pskid = p.value.text
        elif key == "role" and p.value is not None:
            role = p.value.text.lower() if p.value.text.lower() in ROLES else p.value.text
            if role not in ROLES:
                problems.append(f"{p.name} {role!r} is neither client nor server")
    return MpStream(sid, psk, pskid, role, local, remote, tuple(problems))


def _cause(e: ObservedEvent) -> int | None:
    for p in e.parms:
        if p.name.lower() == CAUSE and p.value is not None and p.value.text.isdigit():
            return int(p.value.text)
    return None


def read_command(command: Command, profile: MpProfile = DEFAULT_PROFILE) -> MpReading:
    """The profile items of one command (request or reply)."""
    streams: list[MpStream] = []
    media = command.media
    for s in media.streams if media is not None else ():
        streams.append(_stream(s.stream_id, s.local_control, s.local, s.remote, profile))
    ev = command.events
    requested: list[str] = []
    for e in ev.events if ev is not None else ():
        key = profile.key_of(e.name)
        if key in EVENT_KEYS and key not in requested:
            requested.append(key)
    observed: list[MpObserved] = []
    oe = command.observed_events
    for o in oe.events if oe is not None else ():
        key = profile.key_of(o.name)
        if key in EVENT_KEYS:
            observed.append(MpObserved(key, o.name, _cause(o), o.timestamp))
    return MpReading(
        command.name,
        command.termination_ids,
        tuple(streams),
        ev.request_id if ev is not None else None,
        tuple(requested),
        tuple(observed),
        command.error,
    )


# ----------------------------------------------------------------------------- writing


def local_control_descriptor(
    profile: MpProfile = DEFAULT_PROFILE,
    *,
    psk: bytes | None = None,
    pskid: str | None = None,
    role: str | None = None,
    mode: str | None = "SendReceive",
) -> LocalControlDescriptor:
    """LocalControl with the profile's PSK (hex), PSK identity (quoted) and TLS role."""
    props: list[Item] = []
    if psk is not None:
        props.append(Item.prop(profile.psk, psk.hex()))
    if pskid is not None:
        if '"' in pskid:
            raise ValueError("a PSK identity with '\"' cannot be written as an H.248 string")
        props.append(Item(profile.pskid, "=", Value.quoted(pskid)))
    if role is not None:
        if role not in ROLES:
            raise ValueError(f"TLS role must be client or server, not {role!r}")
        props.append(Item.prop(profile.role, role))
    return LocalControlDescriptor(mode, None, None, tuple(props))


def events_descriptor(request_id: int, profile: MpProfile = DEFAULT_PROFILE) -> EventsDescriptor:
    """Events asking for the TCP and TLS establishment failure notifications."""
    return EventsDescriptor(
        str(request_id),
        (RequestedEvent(profile.tcp_fail_event), RequestedEvent(profile.tls_fail_event)),
    )


def observed_events_descriptor(
    request_id: int,
    key: str,
    timestamp: str,
    cause: int | None = None,
    profile: MpProfile = DEFAULT_PROFILE,
) -> ObservedEventsDescriptor:
    """ObservedEvents of a failure Notify; ``cause`` (TLS alert number) for the TLS one."""
    if key not in EVENT_KEYS:
        raise ValueError(f"{key!r} is not an Mp event key ({', '.join(EVENT_KEYS)})")
    parms = (Item.prop(CAUSE, str(cause)),) if cause is not None else ()
    return ObservedEventsDescriptor(
        str(request_id), (ObservedEvent(getattr(profile, key), parms, timestamp),)
    )


__all__ = [
    "BINARY_PACKAGE",
    "CAUSE",
    "DEFAULT_PROFILE",
    "EVENT_KEYS",
    "MEANINGS",
    "MP_ITEMS",
    "OVERRIDE_KEYS",
    "PROFILE",
    "ROLES",
    "MpItem",
    "MpObserved",
    "MpProfile",
    "MpReading",
    "MpStream",
    "events_descriptor",
    "local_control_descriptor",
    "observed_events_descriptor",
    "psk_bytes",
    "read_command",
]
