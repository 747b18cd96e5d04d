"""The typed model of an H.248/Megaco message (H.248.1 / RFC 3525), shared by the text and
binary decoders.

Descriptors the Mp leg reads are typed (Media, Stream, LocalControl, Local, Remote, Events,
ObservedEvents, Signals, Audit, DigitMap, ServiceChange, Statistics, Packages, Error,
TerminationState, EventBuffer); anything else is kept as an :class:`OtherDescriptor`.
Package-defined names and values (``tdmc/gain``, ``mkstls/psk``) are never interpreted here:
they stay :class:`Item` text, so a renamed item of a profile is still found by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from mikeyshark.dissectors import sdp
from mikeyshark.dissectors.errors import DissectError

LAYER = "megaco"

# The special context ids (H.248.1 clause 6.1.1 / Annex A): text "-", "$", "*".
CONTEXT_NULL = "-"
CONTEXT_CHOOSE = "$"
CONTEXT_ALL = "*"
# Their binary (Annex A) values: the text codec keeps the symbols, this maps them.
CONTEXT_NUMBERS = {CONTEXT_NULL: 0, CONTEXT_CHOOSE: 0xFFFFFFFE, CONTEXT_ALL: 0xFFFFFFFF}


class ValueKind(StrEnum):
    SINGLE = "single"  # VALUE
    LIST = "list"  # [a, b]  (all of them)
    ALTERNATIVES = "alternatives"  # {a, b}  (one of them)
    RANGE = "range"  # [a:b]


@dataclass(frozen=True, slots=True)
class Value:
    """A parameter value as written; a quoted string keeps its quotes (see :meth:`text`)."""

    items: tuple[str, ...]
    kind: ValueKind = ValueKind.SINGLE

    @classmethod
    def of(cls, text: str) -> Value:
        return cls((text,))

    @classmethod
    def quoted(cls, text: str) -> Value:
        return cls((f'"{text}"',))

    @property
    def text(self) -> str:
        """The first value without the quotes of a quoted string."""
        return unquote(self.items[0]) if self.items else ""


def unquote(s: str) -> str:
    return s[1:-1] if len(s) >= 2 and s[0] == '"' and s[-1] == '"' else s


@dataclass(frozen=True, slots=True)
class Item:
    """One ``name [relation value] [{children}]`` of the grammar, kept as text.

    ``relation`` is ``"="`` or one of the inequalities ``<``, ``>``, ``#`` (not equal);
    ``children`` is None without braces and ``()`` for ``{}``; ``raw`` holds the braced text
    of a digit map; ``stamp`` the ``yyyymmddThhmmsshh`` time of an observed event.
    """

    name: str
    relation: str = ""
    value: Value | None = None
    children: tuple[Item, ...] | None = None
    raw: str | None = None
    stamp: str | None = None

    @classmethod
    def prop(cls, name: str, value: str, relation: str = "=") -> Item:
        return cls(name, relation, Value.of(value))

    def child(self, name: str) -> Item | None:
        """The first child of that name, case-insensitive."""
        n = name.lower()
        for c in self.children or ():
            if c.name.lower() == n:
                return c
        return None


# ----------------------------------------------------------------------------- header


class MidKind(StrEnum):
    IPV4 = "ipv4"  # [a.b.c.d]:port
    IPV6 = "ipv6"  # [v6]:port
    DOMAIN = "domain"  # <name>:port
    DEVICE = "device"  # pathNAME
    MTP = "mtp"  # MTP{hex}


@dataclass(frozen=True, slots=True)
class Mid:
    """The message identifier of the sender (H.248.1 clause 7.2.8)."""

    kind: MidKind
    address: str
    port: int | None = None

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        if self.kind in (MidKind.IPV4, MidKind.IPV6):
            return f"[{self.address}]{port}"
        if self.kind == MidKind.DOMAIN:
            return f"<{self.address}>{port}"
        if self.kind == MidKind.MTP:
            return f"MTP{{{self.address}}}"
        return self.address


@dataclass(frozen=True, slots=True)
class AuthHeader:
    """``Authentication = SPI:SequenceNum:AuthData`` (H.248.1 Annex H)."""

    spi: int
    sequence: int
    data: bytes


# ----------------------------------------------------------------------------- descriptors


@dataclass(frozen=True, slots=True)
class ErrorDescriptor:
    code: int
    text: str | None = None  # without the quotes


@dataclass(frozen=True, slots=True)
class LocalControlDescriptor:
    """Mode, ReserveValue, ReserveGroup and the package properties, in that canonical order.

    ``properties`` keeps every other item as written (``mkstls/psk = ...``), audit forms
    (a bare ``Mode``) included.
    """

    mode: str | None = None  # long token: SendReceive, ReceiveOnly, ...
    reserve_value: bool | None = None
    reserve_group: bool | None = None
    properties: tuple[Item, ...] = ()

    def get(self, name: str) -> Item | None:
        """The property of that ``package/item`` name, compared case-insensitively."""
        n = name.lower()
        for p in self.properties:
            if p.name.lower() == n:
                return p
        return None


@dataclass(frozen=True, slots=True)
class LocalRemoteDescriptor:
    """Local or Remote: SDP text (``\\}`` unescaped) and the SDP sessions it holds.

    Several sessions are alternatives (H.248.1 clause 7.1.8), each starting with ``v=``.
    ``text`` is what was between the braces; the builder writes ``sessions`` with CRLF.
    """

    remote: bool
    text: str
    sessions: tuple[sdp.SessionDescription, ...]

    @property
    def name(self) -> str:
        return "Remote" if self.remote else "Local"

    @classmethod
    def of(
        cls,
        remote: bool,
        sessions: tuple[sdp.SessionDescription, ...] | list[sdp.SessionDescription],
    ) -> LocalRemoteDescriptor:
        """From SDP sessions, in the canonical form the builder writes (CRLF lines)."""
        canon = tuple(canonical_sdp(s) for s in sessions)
        text = "\r\n" + "".join(sdp.build(s).decode(sdp.ENC, sdp.ERRS) for s in canon)
        return cls(remote, text, canon)


def canonical_sdp(s: sdp.SessionDescription) -> sdp.SessionDescription:
    if s.eol == "\r\n" and s.final_eol:
        return s
    return sdp.SessionDescription(s.session, s.media, "\r\n", True)


@dataclass(frozen=True, slots=True)
class StatisticsDescriptor:
    parms: tuple[Item, ...] = ()


@dataclass(frozen=True, slots=True)
class TerminationStateDescriptor:
    parms: tuple[Item, ...] = ()


StreamParm = LocalControlDescriptor | LocalRemoteDescriptor | StatisticsDescriptor


T = TypeVar("T")


def _first_of(parms: tuple[object, ...], cls: type[T]) -> T | None:
    for p in parms:
        if isinstance(p, cls):
            return p
    return None


class _StreamParms:
    __slots__ = ()

    @property
    def _parms(self) -> tuple[object, ...]:
        raise NotImplementedError

    @property
    def local_control(self) -> LocalControlDescriptor | None:
        return _first_of(self._parms, LocalControlDescriptor)

    @property
    def local(self) -> LocalRemoteDescriptor | None:
        for p in self._parms:
            if isinstance(p, LocalRemoteDescriptor) and not p.remote:
                return p
        return None

    @property
    def remote(self) -> LocalRemoteDescriptor | None:
        for p in self._parms:
            if isinstance(p, LocalRemoteDescriptor) and p.remote:
                return p
        return None

    @property
    def statistics(self) -> StatisticsDescriptor | None:
        return _first_of(self._parms, StatisticsDescriptor)


@dataclass(frozen=True, slots=True)
class StreamDescriptor(_StreamParms):
    """``Stream = id {...}``; ``stream_id`` None for the parameters written directly in
    Media (the single-stream form)."""

    stream_id: int | None
    parms: tuple[StreamParm, ...] = ()

    @property
    def _parms(self) -> tuple[object, ...]:
        return self.parms


MediaParm = StreamParm | StreamDescriptor | TerminationStateDescriptor


@dataclass(frozen=True, slots=True)
class MediaDescriptor:
    parms: tuple[MediaParm, ...] = ()

    @property
    def streams(self) -> tuple[StreamDescriptor, ...]:
        """Every stream: the explicit ones, and the implicit one (id None) when stream
        parameters are written directly in Media."""
        bare = tuple(p for p in self.parms if isinstance(p, StreamParm))
        explicit = tuple(p for p in self.parms if isinstance(p, StreamDescriptor))
        return ((StreamDescriptor(None, bare),) if bare else ()) + explicit

    @property
    def termination_state(self) -> TerminationStateDescriptor | None:
        return _first_of(self.parms, TerminationStateDescriptor)


@dataclass(frozen=True, slots=True)
class RequestedEvent:
    name: str  # package/event
    parms: tuple[Item, ...] = ()


@dataclass(frozen=True, slots=True)
class EventsDescriptor:
    request_id: str | None  # decimal digits or "*"; None for a bare ``Events`` (clears them)
    events: tuple[RequestedEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class ObservedEvent:
    name: str
    parms: tuple[Item, ...] = ()
    timestamp: str | None = None  # yyyymmddThhmmsshh


@dataclass(frozen=True, slots=True)
class ObservedEventsDescriptor:
    request_id: str
    events: tuple[ObservedEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class SignalsDescriptor:
    """Signals and signal lists as items (a signal: name ``pkg/sig`` and its parameters;
    a list: ``SignalList = id {signals}``). No signals = ``Signals {}``."""

    signals: tuple[Item, ...] = ()


@dataclass(frozen=True, slots=True)
class AuditDescriptor:
    items: tuple[Item, ...] = ()


@dataclass(frozen=True, slots=True)
class DigitMapDescriptor:
    name: str | None = None
    body: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceChangeDescriptor:
    parms: tuple[Item, ...] = ()

    def get(self, token: str) -> str | None:
        """The value of a parameter by its long token name (``Method``, ``Reason``, ...)."""
        for p in self.parms:
            if p.name == token and p.value is not None:
                return p.value.text
        return None


@dataclass(frozen=True, slots=True)
class PackagesDescriptor:
    packages: tuple[str, ...] = ()  # name-version, e.g. "g-1"


@dataclass(frozen=True, slots=True)
class EventBufferDescriptor:
    events: tuple[Item, ...] = ()


@dataclass(frozen=True, slots=True)
class OtherDescriptor:
    """Mux, Modem or anything this codec does not type, kept as written."""

    item: Item


Descriptor = (
    MediaDescriptor
    | EventsDescriptor
    | ObservedEventsDescriptor
    | SignalsDescriptor
    | AuditDescriptor
    | DigitMapDescriptor
    | ServiceChangeDescriptor
    | StatisticsDescriptor
    | PackagesDescriptor
    | ErrorDescriptor
    | EventBufferDescriptor
    | TerminationStateDescriptor
    | OtherDescriptor
)


# ----------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class Command:
    """A command request or reply (the transaction kind tells which).

    ``name`` is the long token (``Add``, ``Modify``, ``Move``, ``Subtract``, ``AuditValue``,
    ``AuditCapability``, ``Notify``, ``ServiceChange``); ``optional`` and ``wildcard`` are
    the ``O-`` and ``W-`` prefixes; ``context_audit`` marks the audit reply form
    ``AuditValue = Context {ids}``.
    """

    name: str
    termination_ids: tuple[str, ...]
    descriptors: tuple[Descriptor, ...] = ()
    optional: bool = False
    wildcard: bool = False
    context_audit: bool = False

    def find(self, cls: type[T]) -> T | None:
        for d in self.descriptors:
            if isinstance(d, cls):
                return d
        return None

    @property
    def media(self) -> MediaDescriptor | None:
        return self.find(MediaDescriptor)

    @property
    def events(self) -> EventsDescriptor | None:
        return self.find(EventsDescriptor)

    @property
    def observed_events(self) -> ObservedEventsDescriptor | None:
        return self.find(ObservedEventsDescriptor)

    @property
    def error(self) -> ErrorDescriptor | None:
        return self.find(ErrorDescriptor)


@dataclass(frozen=True, slots=True)
class Action:
    """``Context = id {...}``: context properties (and audit), commands, or an error."""

    context: str  # "-", "$", "*" or decimal digits
    commands: tuple[Command, ...] = ()
    properties: tuple[Item, ...] = ()
    error: ErrorDescriptor | None = None

    @property
    def context_number(self) -> int:
        """The context id as Annex A numbers it (NULL 0, CHOOSE 0xFFFFFFFE, ALL 0xFFFFFFFF)."""
        n = CONTEXT_NUMBERS.get(self.context)
        return n if n is not None else int(self.context)


# ----------------------------------------------------------------------------- transactions


@dataclass(frozen=True, slots=True)
class TransactionRequest:
    id: int
    actions: tuple[Action, ...]

    kind = "Request"


@dataclass(frozen=True, slots=True)
class TransactionReply:
    id: int
    actions: tuple[Action, ...] = ()
    error: ErrorDescriptor | None = None
    imm_ack_required: bool = False
    segment: int | None = None  # version 3 segmentation
    segmentation_complete: bool = False

    kind = "Reply"


@dataclass(frozen=True, slots=True)
class TransactionPending:
    id: int

    kind = "Pending"


@dataclass(frozen=True, slots=True)
class TransactionResponseAck:
    acks: tuple[tuple[int, int | None], ...]  # (first, last or None)

    kind = "ResponseAck"


@dataclass(frozen=True, slots=True)
class SegmentReply:
    id: int
    segment: int
    segmentation_complete: bool = False

    kind = "SegmentReply"


Transaction = (
    TransactionRequest
    | TransactionReply
    | TransactionPending
    | TransactionResponseAck
    | SegmentReply
)


@dataclass(frozen=True, slots=True)
class MegacoMessage:
    """One message: header and either transactions or a message-level error.

    ``problems`` are the located faults that were skipped (a malformed transaction, an SDP
    line); they are not part of equality, so ``parse(build(m)) == m`` compares content.
    ``binary`` marks a message read from the BER encoding, shown to command level only.
    """

    version: int
    mid: Mid
    transactions: tuple[Transaction, ...] = ()
    error: ErrorDescriptor | None = None
    auth: AuthHeader | None = None
    binary: bool = False
    problems: tuple[DissectError, ...] = field(default=(), compare=False)

    def commands(self) -> list[tuple[Transaction, Action, Command]]:
        """Every command with its transaction and action, in message order."""
        out: list[tuple[Transaction, Action, Command]] = []
        for t in self.transactions:
            if isinstance(t, TransactionRequest | TransactionReply):
                for a in t.actions:
                    out.extend((t, a, c) for c in a.commands)
        return out


__all__ = [
    "CONTEXT_ALL",
    "CONTEXT_CHOOSE",
    "CONTEXT_NULL",
    "CONTEXT_NUMBERS",
    "LAYER",
    "Action",
    "AuditDescriptor",
    "AuthHeader",
    "Command",
    "Descriptor",
    "DigitMapDescriptor",
    "ErrorDescriptor",
    "EventBufferDescriptor",
    "EventsDescriptor",
    "Item",
    "LocalControlDescriptor",
    "LocalRemoteDescriptor",
    "MediaDescriptor",
    "MediaParm",
    "MegacoMessage",
    "Mid",
    "MidKind",
    "ObservedEvent",
    "ObservedEventsDescriptor",
    "OtherDescriptor",
    "PackagesDescriptor",
    "RequestedEvent",
    "SegmentReply",
    "ServiceChangeDescriptor",
    "SignalsDescriptor",
    "StatisticsDescriptor",
    "StreamDescriptor",
    "StreamParm",
    "TerminationStateDescriptor",
    "Transaction",
    "TransactionPending",
    "TransactionReply",
    "TransactionRequest",
    "TransactionResponseAck",
    "Value",
    "ValueKind",
    "canonical_sdp",
    "unquote",
]
