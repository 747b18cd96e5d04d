"""H.248/Megaco text encoding (H.248.1 Annex B, RFC 3525 section B.2), versions 1 to 3:
:func:`parse_message` and :func:`build_message`.

Parsing takes two steps. A scanner turns the text into a tree of generic nodes
``name [relation value] [{children}]``, handling the lexical special cases of the grammar
(the SDP octet strings of Local and Remote, digit map bodies, quoted strings, mIds, the time
stamp before an observed event, ``;`` comments); a second step types the tree into
:mod:`.model`. Tokens are matched case-insensitively, long or short, but only against the
tokens the grammar allows at that position (see :mod:`.tokens`).

A transaction that does not parse is reported in ``MegacoMessage.problems`` (located at its
byte offset) and skipped to its closing brace, so the other transactions of the message are
still read; only a bad header, or a body with nothing usable, raises :class:`DissectError`.

The builder writes the canonical form: long tokens, one item per line indented by two
spaces, CRLF line ends, and the SDP of Local/Remote unindented with its closing ``}``
starting a line (see docs/mp-profile.md). ``build_message(parse_message(b))`` is therefore
canonical rather than byte-identical, and ``parse_message(build_message(m)) == m`` for a
message in canonical form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mikeyshark.dissectors import sdp
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.h248 import tokens as tk
from mikeyshark.dissectors.h248.model import (
    LAYER,
    Action,
    AuditDescriptor,
    AuthHeader,
    Command,
    Descriptor,
    DigitMapDescriptor,
    ErrorDescriptor,
    EventBufferDescriptor,
    EventsDescriptor,
    Item,
    LocalControlDescriptor,
    LocalRemoteDescriptor,
    MediaDescriptor,
    MediaParm,
    MegacoMessage,
    Mid,
    MidKind,
    ObservedEvent,
    ObservedEventsDescriptor,
    OtherDescriptor,
    PackagesDescriptor,
    RequestedEvent,
    SegmentReply,
    ServiceChangeDescriptor,
    SignalsDescriptor,
    StatisticsDescriptor,
    StreamDescriptor,
    StreamParm,
    TerminationStateDescriptor,
    Transaction,
    TransactionPending,
    TransactionReply,
    TransactionRequest,
    TransactionResponseAck,
    Value,
    ValueKind,
    canonical_sdp,
    unquote,
)

# Budgets against hostile input. Real messages nest about 12 braces deep (transaction,
# context, command, Events, event, Embed, Signals, signal list, signal, parameters) and hold
# a few hundred items; a UDP datagram or TPKT packet cannot exceed 64 KiB.
MAX_DEPTH = 32  # nested braces
MAX_ITEMS = 20_000  # nodes of one message
MAX_SDP_SESSIONS = 32  # alternative SDP sessions in one Local or Remote

# SafeChar of the ABNF: what names, values and termination ids are made of.
_WORD = re.compile(r"[A-Za-z0-9+\-&!_/'?@^`~*$\\().%|]+")
# LWSP: white space, line ends and ";" comments to the end of the line.
_SKIP = re.compile(r"(?:[ \t\r\n]+|;[^\r\n]*)*")
_STAMP = re.compile(r"[0-9]{8}T[0-9]{8}")
_HEADER = re.compile(r"(MEGACO|!)/([0-9]{1,2})", re.IGNORECASE)
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")
_DOMAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,63}")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_EOL = re.compile(r"\r?\n")
_AUTH = re.compile(
    r"(?:Authentication|AU)[ \t]*=[ \t]*0x([0-9A-Fa-f]{8})[ \t]*:[ \t]*0x([0-9A-Fa-f]{8})"
    r"[ \t]*:[ \t]*0x([0-9A-Fa-f]{24,64})",
    re.IGNORECASE,
)


def _err(at: int, reason: str, field: str | None = None) -> DissectError:
    return DissectError(LAYER, at, reason, field)


# ============================================================================ scanner


@dataclass(slots=True)
class _Node:
    name: str
    offset: int
    quoted: bool = False
    stamp: str | None = None
    op: str = ""
    value: Value | None = None
    children: list[_Node] | None = None
    raw: str | None = None
    raw_offset: int = 0


class _Scanner:
    __slots__ = ("items", "pos", "problems", "text")

    def __init__(self, text: str, problems: list[DissectError]) -> None:
        self.text = text
        self.pos = 0
        self.items = 0
        self.problems = problems

    def skip(self) -> bool:
        start = self.pos
        m = _SKIP.match(self.text, self.pos)
        if m is not None:
            self.pos = m.end()
        return self.pos > start

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def found(self) -> str:
        c = self.peek()
        return repr(c) if c else "the end of the message"

    def err(self, reason: str, field: str | None = None) -> DissectError:
        return _err(self.pos, reason, field)

    def expect(self, ch: str, field: str) -> None:
        if self.peek() != ch:
            raise self.err(f"expected {ch!r}, found {self.found()}", field)
        self.pos += 1

    def word(self, field: str) -> str:
        m = _WORD.match(self.text, self.pos)
        if m is None:
            raise self.err(f"expected a name or value, found {self.found()}", field)
        self.pos = m.end()
        return m.group()

    def quoted(self) -> str:
        end = self.text.find('"', self.pos + 1)
        if end < 0:
            raise self.err("quoted string without its closing '\"'", "quotedString")
        s = self.text[self.pos : end + 1]
        self.pos = end + 1
        return s

    def atom(self, field: str) -> str:
        self.skip()
        return self.quoted() if self.peek() == '"' else self.word(field)

    # ---- mId (header, ServiceChangeAddress, MgcIdToTry)
    def port(self) -> int | None:
        if self.peek() != ":":
            return None
        self.pos += 1
        at = self.pos
        digits = self.word("portNumber")
        if not digits.isdigit() or len(digits) > 5 or int(digits) > 65535:
            raise _err(at, f"bad port number {digits!r}", "portNumber")
        return int(digits)

    def mid(self) -> Mid:
        t = self.text
        at = self.pos
        c = self.peek()
        if c == "[":
            end = t.find("]", at)
            if end < 0:
                raise self.err("'[' of an address without its ']'", "mId")
            addr = t[at + 1 : end]
            if _IPV4.fullmatch(addr):
                kind = MidKind.IPV4
            elif _IPV6.fullmatch(addr):
                kind = MidKind.IPV6
            else:
                raise self.err(f"not an IPv4 or IPv6 address: {addr[:40]!r}", "mId")
            self.pos = end + 1
            return Mid(kind, addr, self.port())
        if c == "<":
            end = t.find(">", at)
            name = t[at + 1 : end] if end > 0 else ""
            if end < 0 or not _DOMAIN.fullmatch(name):
                raise self.err(f"not a <domain name>: {t[at : at + 40]!r}", "mId")
            self.pos = end + 1
            return Mid(MidKind.DOMAIN, name, self.port())
        if t[at : at + 4].upper() == "MTP{":
            end = t.find("}", at)
            hexa = t[at + 4 : end] if end > 0 else ""
            if end < 0 or not _HEX.fullmatch(hexa) or not 4 <= len(hexa) <= 8:
                raise self.err("MTP address needs 4 to 8 hex digits in braces", "mId")
            self.pos = end + 1
            return Mid(MidKind.MTP, hexa)
        name = self.word("mId")
        if not name[0].isalpha() and name[0] != "*":
            raise _err(at, f"not a device name: {name[:40]!r}", "mId")
        return Mid(MidKind.DEVICE, name)

    # ---- generic items
    def value(self, canon: str | None, parent: str) -> Value:
        if parent == "Services" and canon in ("ServiceChangeAddress", "MgcIdToTry"):
            m = re.match(r"[0-9]+(?![0-9A-Za-z.\-])", self.text[self.pos : self.pos + 8])
            if m is not None and canon == "ServiceChangeAddress":
                self.pos += m.end()
                return Value.of(m.group())
            return Value.of(str(self.mid()))
        c = self.peek()
        if c == '"':
            return Value((self.quoted(),))
        if c in "[{":
            close = "]" if c == "[" else "}"
            self.pos += 1
            items = [self.atom("VALUE")]
            self.skip()
            if c == "[" and self.peek() == ":":
                self.pos += 1
                items.append(self.atom("VALUE"))
                self.skip()
                self.expect("]", "alternativeValue")
                return Value(tuple(items), ValueKind.RANGE)
            while self.peek() == ",":
                self.pos += 1
                items.append(self.atom("VALUE"))
                self.skip()
            self.expect(close, "alternativeValue")
            return Value(tuple(items), ValueKind.LIST if c == "[" else ValueKind.ALTERNATIVES)
        return Value((self.word("VALUE"),))

    def braced_raw(self, escapes: bool) -> tuple[str, int]:
        """The text up to the closing ``}`` (``\\}`` does not close an octet string)."""
        self.expect("{", "octetString")
        start = i = self.pos
        t = self.text
        while True:
            j = t.find("}", i)
            if j < 0:
                raise _err(start - 1, "'{' without its closing '}'", "octetString")
            if escapes and j > start and t[j - 1] == "\\":
                i = j + 1
                continue
            self.pos = j + 1
            return t[start:j], start

    def item(self, depth: int, parent: str) -> _Node:
        self.items += 1
        if self.items > MAX_ITEMS:
            raise self.err(f"more than {MAX_ITEMS} items in one message", "budget")
        at = self.pos
        if self.peek() == '"':
            return _Node(self.quoted(), at, quoted=True)
        node = _Node(self.word("name"), at)
        self.skip()
        if self.peek() == ":" and _STAMP.fullmatch(node.name):
            self.pos += 1
            self.skip()
            node.stamp = node.name
            node.offset = self.pos
            node.name = self.word("pkgdName")
            self.skip()
        canon = tk.canonical(node.name)
        c = self.peek()
        if c and c in "=<>#":
            node.op = c
            self.pos += 1
            self.skip()
            if canon == "DigitMap" and self.peek() == "{":
                node.raw, node.raw_offset = self.braced_raw(escapes=False)
                return node
            node.value = self.value(canon, parent)
            self.skip()
            c = self.peek()
        if c == "{":
            if canon in ("Local", "Remote") and parent in ("Media", "Stream"):
                node.raw, node.raw_offset = self.braced_raw(escapes=True)
            elif canon == "DigitMap":
                node.raw, node.raw_offset = self.braced_raw(escapes=False)
            else:
                node.children = self.block(depth + 1, canon or node.name)
        return node

    def block(self, depth: int, parent: str) -> list[_Node]:
        if depth > MAX_DEPTH:
            raise self.err(f"braces nested deeper than {MAX_DEPTH}", "budget")
        self.expect("{", "LBRKT")
        self.skip()
        out: list[_Node] = []
        if self.peek() == "}":
            self.pos += 1
            return out
        while True:
            out.append(self.item(depth, parent))
            self.skip()
            c = self.peek()
            if c == ",":
                self.pos += 1
                self.skip()
                if self.peek() == "}":
                    # RFC 3525's own examples leave a comma before '}': tolerated, reported.
                    self.problems.append(self.err("',' before '}'", "list"))
                    self.pos += 1
                    return out
                continue
            if c == "}":
                self.pos += 1
                return out
            raise self.err(f"expected ',' or '}}', found {self.found()}", "list")


def _resync(text: str, start: int) -> int:
    """End of the braced item that starts at ``start`` (or the end of the text)."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = text.find('"', i + 1)
            i = n if j < 0 else j + 1
            continue
        if c == "{":
            depth += 1
        elif c == "}" and depth:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


# ============================================================================ typing


def _uint(s: str, bits: int, at: int, field: str) -> int:
    if not (s.isascii() and s.isdigit()) or len(s) > 20 or int(s) >= 1 << bits:
        raise _err(at, f"{field} {s[:24]!r} is not a {bits}-bit unsigned number", field)
    return int(s)


def _single(n: _Node, field: str) -> str:
    if n.op != "=" or n.value is None or n.value.kind != ValueKind.SINGLE:
        raise _err(n.offset, f"{n.name} needs '= value'", field)
    return n.value.items[0]


def _request_id(n: _Node) -> str:
    v = _single(n, "RequestID")
    if v != "*":
        _uint(v, 32, n.offset, "RequestID")
    return v


def _generic(n: _Node, names: frozenset[str] = frozenset()) -> Item:
    """An item as written, its name canonical when it is a token of ``names`` (used for the
    children too)."""
    name = tk.in_set(n.name, names) or n.name
    value = n.value
    allowed = tk.VALUE_TOKENS.get(name)
    if value is not None and allowed is not None and value.kind == ValueKind.SINGLE:
        v = tk.in_set(value.items[0], allowed)
        if v is not None:
            value = Value((v,))
    kids = None if n.children is None else tuple(_generic(c, names) for c in n.children)
    return Item(name, n.op, value, kids, n.raw, n.stamp)


_ALL_TOKENS = tk.LONG
_AUDIT_RETURN = tk.tokens(
    "Mux",
    "Modem",
    "Media",
    "DigitMap",
    "Statistics",
    "ObservedEvents",
    "Packages",
    "Signals",
    "EventBuffer",
    "Events",
)
_SERVICES = tk.union(tk.SERVICE_CHANGE_PARAMS, _AUDIT_RETURN)
_CONTEXT = tk.union(tk.CONTEXT_PROPERTIES, tk.CONTEXT_AUDIT_ITEMS, tk.TOPOLOGY_ITEMS)
_STREAM_ONLY = tk.tokens("Stream")


def _signal(n: _Node) -> Item:
    if tk.in_set(n.name, tk.tokens("SignalList")):
        kids = None if n.children is None else tuple(_signal(c) for c in n.children)
        return Item("SignalList", n.op, n.value, kids)
    kids = None if n.children is None else tuple(_generic(c, tk.SIGNAL_PARAMS) for c in n.children)
    return Item(n.name, n.op, n.value, kids)


def _event_parm(n: _Node) -> Item:
    if tk.in_set(n.name, tk.tokens("Embed")) and n.children is not None:
        return Item("Embed", children=tuple(_embedded(c) for c in n.children))
    return _generic(n, tk.EVENT_PARAMS)


def _embedded(n: _Node) -> Item:
    c = tk.in_set(n.name, tk.EMBED_ITEMS)
    if c == "Signals":
        kids = () if n.children is None else tuple(_signal(x) for x in n.children)
        return Item("Signals", children=kids)
    if c == "Events":
        evs = None
        if n.children is not None:
            evs = tuple(
                Item(
                    e.name,
                    children=None
                    if e.children is None
                    else tuple(_event_parm(p) for p in e.children),
                )
                for e in n.children
            )
        return Item("Events", n.op, n.value, evs)
    return _generic(n)


def _error(n: _Node) -> ErrorDescriptor:
    code = _uint(_single(n, "ErrorCode"), 16, n.offset, "ErrorCode")
    text = None
    for c in n.children or ():
        if not c.quoted:
            raise _err(c.offset, "error text must be a quoted string", "errorText")
        text = unquote(c.name)
    return ErrorDescriptor(code, text)


def _canon(n: _Node) -> str | None:
    return tk.canonical(n.name)


def _children(n: _Node, field: str) -> list[_Node]:
    if n.children is None:
        raise _err(n.offset, f"{n.name} needs braces", field)
    return n.children


class _Typer:
    __slots__ = ("problems",)

    def __init__(self, problems: list[DissectError]) -> None:
        self.problems = problems

    def transaction(self, n: _Node) -> Transaction:
        c = _canon(n)
        if c == "Transaction":
            tid = _uint(_single(n, "TransactionID"), 32, n.offset, "TransactionID")
            kids = _children(n, "transactionRequest")
            if not kids:
                raise _err(n.offset, "a transaction request needs an action", "transactionRequest")
            return TransactionRequest(tid, tuple(self.action(a, request=True) for a in kids))
        if c in ("Reply", "Segment"):
            v = _single(n, "TransactionID")
            parts = v.split("/")
            tid = _uint(parts[0], 32, n.offset, "TransactionID")
            segment = _uint(parts[1], 16, n.offset, "SegmentNumber") if len(parts) > 1 else None
            complete = len(parts) > 2 and tk.canonical(parts[2]) == "END"
            if len(parts) > 3 or (len(parts) == 3 and not complete):
                raise _err(n.offset, f"malformed transaction id {v[:40]!r}", "TransactionID")
            if c == "Segment":
                if segment is None:
                    raise _err(n.offset, "a segment reply needs a segment number", "segmentReply")
                return SegmentReply(tid, segment, complete)
            return self.reply(n, tid, segment, complete)
        if c == "Pending":
            tid = _uint(_single(n, "TransactionID"), 32, n.offset, "TransactionID")
            if n.children:
                raise _err(n.children[0].offset, "a Pending has no content", "transactionPending")
            return TransactionPending(tid)
        if c == "TransactionResponseAck":
            acks: list[tuple[int, int | None]] = []
            for a in _children(n, "transactionResponseAck"):
                first, dash, last = a.name.partition("-")
                acks.append(
                    (
                        _uint(first, 32, a.offset, "transactionAck"),
                        _uint(last, 32, a.offset, "transactionAck") if dash else None,
                    )
                )
            return TransactionResponseAck(tuple(acks))
        raise _err(n.offset, f"{n.name[:40]!r} is not a transaction", "transaction")

    def reply(self, n: _Node, tid: int, segment: int | None, complete: bool) -> TransactionReply:
        imm = False
        error: ErrorDescriptor | None = None
        actions: list[Action] = []
        for i, a in enumerate(_children(n, "transactionReply")):
            c = _canon(a)
            if c == "ImmAckRequired" and i == 0 and not a.op and a.children is None:
                imm = True
            elif c == "Error":
                error = _error(a)
            else:
                actions.append(self.action(a, request=False))
        if error is None and not actions:
            raise _err(n.offset, "a reply needs an action or an error", "transactionReply")
        return TransactionReply(tid, tuple(actions), error, imm, segment, complete)

    def action(self, n: _Node, request: bool) -> Action:
        if _canon(n) != "Context":
            raise _err(n.offset, f"expected Context, found {n.name[:40]!r}", "actionRequest")
        ctx = _single(n, "ContextID")
        if ctx not in ("-", "$", "*"):
            _uint(ctx, 32, n.offset, "ContextID")
        if request:
            _children(n, "actionRequest")
        props: list[Item] = []
        commands: list[Command] = []
        error: ErrorDescriptor | None = None
        for c in n.children or ():
            if tk.in_set(c.name, tk.CONTEXT_PROPERTIES):
                props.append(_generic(c, _CONTEXT))
            elif not request and _canon(c) == "Error":
                error = _error(c)
            else:
                commands.append(self.command(c, request))
        return Action(ctx, tuple(commands), tuple(props), error)

    def command(self, n: _Node, request: bool) -> Command:
        w = n.name
        optional = wildcard = False
        while len(w) > 2 and w[1] == "-" and w[0] in "oOwW":
            if w[0] in "oO":
                optional = True
            else:
                wildcard = True
            w = w[2:]
        name = tk.in_set(w, tk.COMMANDS)
        if name is None:
            raise _err(n.offset, f"{n.name[:40]!r} is not a command", "command")
        if n.op != "=" or n.value is None:
            raise _err(n.offset, f"{name} needs '= TerminationID'", "terminationID")
        v = n.value
        if (
            not request
            and name in ("AuditValue", "AuditCapability")
            and v.kind == ValueKind.SINGLE
            and tk.canonical(v.items[0]) == "Context"
        ):
            ids: list[str] = []
            descs: list[Descriptor] = []
            for c in _children(n, "contextTerminationAudit"):
                if _canon(c) == "Error":
                    descs.append(_error(c))
                else:
                    ids.append(c.name)
            return Command(name, tuple(ids), tuple(descs), optional, wildcard, True)
        if v.kind not in (ValueKind.SINGLE, ValueKind.LIST) or any(x[:1] == '"' for x in v.items):
            raise _err(n.offset, f"{name}: malformed termination id list", "terminationID")
        descriptors = tuple(self.descriptor(c) for c in n.children or ())
        return Command(name, v.items, descriptors, optional, wildcard)

    def descriptor(self, n: _Node) -> Descriptor:
        c = _canon(n)
        if c == "Media":
            return MediaDescriptor(tuple(self.media_parm(p) for p in _children(n, "Media")))
        if c == "Events":
            if not n.op and n.children is None:
                return EventsDescriptor(None)
            rid = _request_id(n)
            events = tuple(
                RequestedEvent(
                    e.name, tuple(_event_parm(p) for p in e.children or ()) if e.children else ()
                )
                for e in _children(n, "Events")
            )
            return EventsDescriptor(rid, events)
        if c == "ObservedEvents":
            rid = _request_id(n)
            return ObservedEventsDescriptor(
                rid,
                tuple(
                    ObservedEvent(
                        e.name,
                        tuple(_generic(p, _STREAM_ONLY) for p in e.children or ()),
                        e.stamp,
                    )
                    for e in _children(n, "ObservedEvents")
                ),
            )
        if c == "Signals":
            return SignalsDescriptor(tuple(_signal(s) for s in n.children or ()))
        if c == "Audit":
            return AuditDescriptor(tuple(_generic(i, _ALL_TOKENS) for i in _children(n, "Audit")))
        if c == "DigitMap":
            name = n.value.items[0] if n.value is not None else None
            return DigitMapDescriptor(name, n.raw)
        if c == "Services":
            return ServiceChangeDescriptor(
                tuple(_generic(p, _SERVICES) for p in _children(n, "Services"))
            )
        if c == "Statistics":
            return StatisticsDescriptor(tuple(_generic(p) for p in _children(n, "Statistics")))
        if c == "Packages":
            return PackagesDescriptor(tuple(p.name for p in _children(n, "Packages")))
        if c == "Error":
            return _error(n)
        if c == "EventBuffer":
            return EventBufferDescriptor(tuple(_generic(e, _STREAM_ONLY) for e in n.children or ()))
        if c == "TerminationState":
            return self.termination_state(n)
        return OtherDescriptor(_generic(n))

    def termination_state(self, n: _Node) -> TerminationStateDescriptor:
        return TerminationStateDescriptor(
            tuple(
                _generic(p, tk.TERMINATION_STATE_PARAMS) for p in _children(n, "TerminationState")
            )
        )

    def media_parm(self, n: _Node) -> MediaParm:
        c = _canon(n)
        if c == "Stream":
            sid = _uint(_single(n, "StreamID"), 16, n.offset, "StreamID")
            return StreamDescriptor(sid, tuple(self.stream_parm(p) for p in _children(n, "Stream")))
        if c == "TerminationState":
            return self.termination_state(n)
        return self.stream_parm(n)

    def stream_parm(self, n: _Node) -> StreamParm:
        c = _canon(n)
        if c == "LocalControl":
            return self.local_control(n)
        if c in ("Local", "Remote") and n.raw is not None:
            return self.local_remote(n, c == "Remote")
        if c == "Statistics":
            return StatisticsDescriptor(tuple(_generic(p) for p in _children(n, "Statistics")))
        raise _err(n.offset, f"{n.name[:40]!r} is not a stream parameter", "streamParm")

    def local_control(self, n: _Node) -> LocalControlDescriptor:
        mode: str | None = None
        rv: bool | None = None
        rg: bool | None = None
        props: list[Item] = []
        for p in _children(n, "LocalControl"):
            c = _canon(p)
            v = p.value.items[0] if p.op == "=" and p.value and len(p.value.items) == 1 else None
            if c == "Mode" and mode is None and v is not None:
                mode = tk.in_set(v, tk.STREAM_MODES)
                if mode is None:
                    raise _err(p.offset, f"{v[:40]!r} is not a stream mode", "streamMode")
            elif c in ("ReservedValue", "ReservedGroup") and v is not None:
                on = tk.in_set(v, tk.ON_OFF)
                if on is None:
                    raise _err(p.offset, f"{c} must be ON or OFF, not {v[:40]!r}", c)
                if c == "ReservedValue" and rv is None:
                    rv = on == "ON"
                elif c == "ReservedGroup" and rg is None:
                    rg = on == "ON"
                else:
                    props.append(_generic(p, tk.tokens(c)))
            else:
                props.append(_generic(p, tk.tokens("Mode", "ReservedValue", "ReservedGroup")))
        return LocalControlDescriptor(mode, rv, rg, tuple(props))

    def local_remote(self, n: _Node, remote: bool) -> LocalRemoteDescriptor:
        assert n.raw is not None
        text = n.raw.replace("\\}", "}")
        return LocalRemoteDescriptor(remote, text, self.sessions(text, n.raw_offset))

    def sessions(self, text: str, base: int) -> tuple[sdp.SessionDescription, ...]:
        """Split the octet string into SDP sessions at each ``v=`` line and parse them;
        SDP problems become message problems. ``$`` (the MG chooses) is a valid port here."""
        lead = len(text) - len(text.lstrip(" \t\r\n"))
        core = text[lead:].rstrip(" \t\r\n")
        if not core:
            return ()
        tail = text[lead + len(core) :]
        final = "\r\n" if tail.startswith("\r\n") else "\n" if tail.startswith("\n") else ""
        starts = [0] + [m.end() for m in _EOL.finditer(core)]
        cuts = [0] + [s for s in starts[1:] if core.startswith("v=", s)]
        if len(cuts) > MAX_SDP_SESSIONS:
            raise _err(base, f"more than {MAX_SDP_SESSIONS} SDP sessions", "budget")
        out: list[sdp.SessionDescription] = []
        for i, cut in enumerate(cuts):
            end = cuts[i + 1] if i + 1 < len(cuts) else len(core)
            chunk = core[cut:end] + ("" if i + 1 < len(cuts) else final)
            at = base + lead + cut
            sd, errors = sdp.decode(chunk.encode("latin-1"))
            for e in errors:
                if e.field != "m":
                    self.problems.append(DissectError(e.layer, at + e.offset, e.reason, e.field))
            for md in sd.media:
                fields = md.lines[0].value.split()
                if len(fields) > 1 and fields[1] == "$":
                    continue
                try:
                    sdp.MediaLine.parse(md.lines[0].value)
                except DissectError as e:
                    self.problems.append(DissectError(e.layer, at, e.reason, e.field))
            out.append(sd)
        return tuple(out)


# ============================================================================ message


def looks_like_text(data: bytes) -> bool:
    """Cheap sniff: does this start (after white space) like a Megaco text message?"""
    head = data[:64].lstrip(b" \t\r\n").upper()
    return head.startswith((b"MEGACO/", b"!/", b"AUTHENTICATION", b"AU="))


def parse_message(data: bytes) -> MegacoMessage:
    """Parse one text message; malformed transactions are reported in ``problems``."""
    text = data.decode("latin-1")  # one character per byte: offsets are byte offsets
    problems: list[DissectError] = []
    s = _Scanner(text, problems)
    s.skip()
    auth = None
    m = _AUTH.match(text, s.pos)
    if m is not None:
        auth = AuthHeader(int(m.group(1), 16), int(m.group(2), 16), bytes.fromhex(m.group(3)))
        s.pos = m.end()
        s.skip()
    m = _HEADER.match(text, s.pos)
    if m is None:
        raise s.err("not a Megaco text message (no MEGACO/ or !/ header)", "header")
    version = int(m.group(2))
    s.pos = m.end()
    if not s.skip():
        raise s.err("expected white space after the version", "header")
    mid = s.mid()
    s.skip()
    typer = _Typer(problems)
    start = s.pos
    w = _WORD.match(text, start)
    if w is not None and tk.canonical(w.group()) == "Error":
        error = _error(s.item(1, ""))
        s.skip()
        if s.pos < len(text):
            problems.append(s.err("text after the message error", "messageBody"))
        return MegacoMessage(version, mid, (), error, auth, problems=tuple(problems))
    transactions: list[Transaction] = []
    while s.pos < len(text):
        start = s.pos
        try:
            node = s.item(1, "")
        except DissectError as e:
            problems.append(e)
            s.pos = _resync(text, start)
            s.skip()
            continue
        try:
            transactions.append(typer.transaction(node))
        except DissectError as e:
            problems.append(e)
        s.skip()
    if not transactions:
        if problems:
            raise problems[0]
        raise s.err("no transaction in the message", "messageBody")
    return MegacoMessage(version, mid, tuple(transactions), None, auth, problems=tuple(problems))


# ============================================================================ builder

# A line and whether it may be indented (SDP lines and their closing brace may not).
_Line = tuple[bool, str]
_INDENT = "  "


def _block(head: str, children: list[list[_Line]]) -> list[_Line]:
    if not children:
        return [(True, head + " {}")]
    out: list[_Line] = [(True, head + " {")]
    last = len(children) - 1
    for i, lines in enumerate(children):
        shifted = [(ind, _INDENT + t if ind else t) for ind, t in lines]
        if i < last:
            ind, t = shifted[-1]
            shifted[-1] = (ind, t + ",")
        out.extend(shifted)
    out.append((True, "}"))
    return out


def _value_text(v: Value) -> str:
    if v.kind == ValueKind.SINGLE:
        return v.items[0]
    if v.kind == ValueKind.RANGE:
        return f"[{v.items[0]}:{v.items[1]}]"
    inner = ", ".join(v.items)
    return f"[{inner}]" if v.kind == ValueKind.LIST else f"{{{inner}}}"


def _head(name: str, relation: str, value: Value | None) -> str:
    if not relation or value is None:
        return name
    return f"{name} {relation} {_value_text(value)}"


def _item(it: Item) -> list[_Line]:
    head = _head((f"{it.stamp}:" if it.stamp else "") + it.name, it.relation, it.value)
    if it.raw is not None:
        return [(True, f"{head} {{{_digit_map(it.raw)}}}")]
    if it.children is None:
        return [(True, head)]
    return _block(head, [_item(c) for c in it.children])


def _digit_map(body: str) -> str:
    """A digit map on one line: white space between its elements is not significant."""
    return " ".join(body.split())


def _error_line(e: ErrorDescriptor) -> list[_Line]:
    text = f'"{e.text}"' if e.text is not None else ""
    return [(True, f"Error = {e.code} {{{text}}}")]


def _sdp_lines(d: LocalRemoteDescriptor) -> list[_Line]:
    out: list[_Line] = [(True, f"{d.name} {{")]
    if d.sessions:
        for s in d.sessions:
            body = sdp.build(canonical_sdp(s)).decode("latin-1")
            out.extend((False, ln.replace("}", "\\}")) for ln in body.split("\r\n")[:-1])
    else:
        out.extend((False, ln.replace("}", "\\}")) for ln in d.text.strip().splitlines())
    out.append((False, "}"))
    return out


def _stream_parm(p: MediaParm) -> list[_Line]:
    if isinstance(p, LocalControlDescriptor):
        kids: list[list[_Line]] = []
        if p.mode is not None:
            kids.append([(True, f"Mode = {p.mode}")])
        if p.reserve_value is not None:
            kids.append([(True, f"ReservedValue = {'ON' if p.reserve_value else 'OFF'}")])
        if p.reserve_group is not None:
            kids.append([(True, f"ReservedGroup = {'ON' if p.reserve_group else 'OFF'}")])
        kids.extend(_item(i) for i in p.properties)
        return _block("LocalControl", kids)
    if isinstance(p, LocalRemoteDescriptor):
        return _sdp_lines(p)
    if isinstance(p, StatisticsDescriptor):
        return _block("Statistics", [_item(i) for i in p.parms])
    if isinstance(p, TerminationStateDescriptor):
        return _block("TerminationState", [_item(i) for i in p.parms])
    return _block(f"Stream = {p.stream_id}", [_stream_parm(x) for x in p.parms])


def _event(name: str, parms: tuple[Item, ...], stamp: str | None = None) -> list[_Line]:
    head = f"{stamp}:{name}" if stamp else name
    return _block(head, [_item(p) for p in parms]) if parms else [(True, head)]


def _descriptor(d: Descriptor) -> list[_Line]:
    if isinstance(d, MediaDescriptor):
        return _block("Media", [_stream_parm(p) for p in d.parms])
    if isinstance(d, EventsDescriptor):
        if d.request_id is None:
            return [(True, "Events")]
        return _block(f"Events = {d.request_id}", [_event(e.name, e.parms) for e in d.events])
    if isinstance(d, ObservedEventsDescriptor):
        return _block(
            f"ObservedEvents = {d.request_id}",
            [_event(e.name, e.parms, e.timestamp) for e in d.events],
        )
    if isinstance(d, SignalsDescriptor):
        return _block("Signals", [_item(s) for s in d.signals])
    if isinstance(d, AuditDescriptor):
        return _block("Audit", [_item(i) for i in d.items])
    if isinstance(d, DigitMapDescriptor):
        head = "DigitMap = " + (d.name or "")
        body = f" {{{_digit_map(d.body)}}}" if d.body is not None else ""
        return [(True, head.rstrip() + body if body else head)]
    if isinstance(d, ServiceChangeDescriptor):
        return _block("Services", [_item(i) for i in d.parms])
    if isinstance(d, StatisticsDescriptor | TerminationStateDescriptor):
        return _stream_parm(d)
    if isinstance(d, PackagesDescriptor):
        return _block("Packages", [[(True, p)] for p in d.packages])
    if isinstance(d, ErrorDescriptor):
        return _error_line(d)
    if isinstance(d, EventBufferDescriptor):
        return (
            _block("EventBuffer", [_item(e) for e in d.events])
            if d.events
            else [(True, "EventBuffer")]
        )
    return _item(d.item)


def _command(c: Command) -> list[_Line]:
    prefix = ("O-" if c.optional else "") + ("W-" if c.wildcard else "")
    if c.context_audit:
        kids = [[(True, t)] for t in c.termination_ids] + [_descriptor(d) for d in c.descriptors]
        return _block(f"{prefix}{c.name} = Context", kids)
    ids = (
        c.termination_ids[0] if len(c.termination_ids) == 1 else f"[{', '.join(c.termination_ids)}]"
    )
    head = f"{prefix}{c.name} = {ids}"
    if not c.descriptors:
        return [(True, head)]
    return _block(head, [_descriptor(d) for d in c.descriptors])


def _action(a: Action, request: bool) -> list[_Line]:
    kids = [_item(p) for p in a.properties] + [_command(c) for c in a.commands]
    if a.error is not None:
        kids.append(_error_line(a.error))
    head = f"Context = {a.context}"
    if not kids and not request:
        return [(True, head)]
    return _block(head, kids)


def _transaction(t: Transaction) -> list[_Line]:
    if isinstance(t, TransactionRequest):
        return _block(f"Transaction = {t.id}", [_action(a, True) for a in t.actions])
    if isinstance(t, TransactionReply):
        tid = str(t.id)
        if t.segment is not None:
            tid += f"/{t.segment}" + ("/END" if t.segmentation_complete else "")
        kids: list[list[_Line]] = [[(True, "ImmAckRequired")]] if t.imm_ack_required else []
        if t.error is not None:
            kids.append(_error_line(t.error))
        kids.extend(_action(a, False) for a in t.actions)
        return _block(f"Reply = {tid}", kids)
    if isinstance(t, TransactionPending):
        return [(True, f"Pending = {t.id} {{}}")]
    if isinstance(t, SegmentReply):
        return [
            (True, f"Segment = {t.id}/{t.segment}" + ("/END" if t.segmentation_complete else ""))
        ]
    acks = [[(True, f"{a}-{b}" if b is not None else str(a))] for a, b in t.acks]
    return _block("TransactionResponseAck", acks)


def build_message(msg: MegacoMessage) -> bytes:
    """The canonical text of a message (long tokens, CRLF)."""
    lines: list[_Line] = []
    if msg.auth is not None:
        a = msg.auth
        lines.append((True, f"Authentication = 0x{a.spi:08X}:0x{a.sequence:08X}:0x{a.data.hex()}"))
    lines.append((True, f"MEGACO/{msg.version} {msg.mid}"))
    if msg.error is not None:
        lines.extend(_error_line(msg.error))
    for t in msg.transactions:
        lines.extend(_transaction(t))
    return ("\r\n".join(t for _, t in lines) + "\r\n").encode("latin-1")


__all__ = [
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_SDP_SESSIONS",
    "build_message",
    "looks_like_text",
    "parse_message",
]
