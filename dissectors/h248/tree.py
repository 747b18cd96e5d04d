"""Rows for the dissect view: an info line, tshark's Info column, and a (depth, text) detail
tree in the manner of tshark -V.

The Mp profile's items are named by meaning ("Pre-Shared Key", "TLS role", ...) under the
profile in use, and the PSK is shown as a fingerprint unless ``reveal`` is set: a key
never reaches the rows otherwise.
"""

from __future__ import annotations

from mikeyshark.dissectors.h248 import mp
from mikeyshark.dissectors.h248.model import (
    CONTEXT_ALL,
    CONTEXT_CHOOSE,
    CONTEXT_NULL,
    Action,
    AuditDescriptor,
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
    MegacoMessage,
    ObservedEventsDescriptor,
    OtherDescriptor,
    PackagesDescriptor,
    SegmentReply,
    ServiceChangeDescriptor,
    SignalsDescriptor,
    StatisticsDescriptor,
    StreamDescriptor,
    TerminationStateDescriptor,
    Transaction,
    TransactionPending,
    TransactionReply,
    TransactionRequest,
    TransactionResponseAck,
    Value,
)
from mikeyshark.dissectors.h248.names import ERROR_CODES, package_of
from mikeyshark.dissectors.secret import show_key

Rows = list[tuple[int, str]]

# tshark's megaco dissector names the special contexts so in its Info column.
_TSHARK_CONTEXT = {CONTEXT_NULL: "NULL", CONTEXT_CHOOSE: "Choose one", CONTEXT_ALL: "All"}
_CONTEXT_MEANING = {CONTEXT_NULL: "NULL", CONTEXT_CHOOSE: "CHOOSE", CONTEXT_ALL: "ALL"}


def _header(msg: MegacoMessage) -> str:
    return f"H.248 binary/{msg.version}" if msg.binary else f"MEGACO/{msg.version}"


def _commands(actions: tuple[Action, ...]) -> str:
    return ", ".join(c.name for a in actions for c in a.commands)


def _transaction_summary(t: Transaction) -> str:
    if isinstance(t, TransactionRequest):
        return f"Transaction {t.id} {_commands(t.actions)}".rstrip()
    if isinstance(t, TransactionReply):
        s = f"Reply {t.id} {_commands(t.actions)}".rstrip()
        codes = [e.code for e in _errors(t)]
        return s + "".join(f" Error {c}" for c in codes)
    if isinstance(t, TransactionPending):
        return f"Pending {t.id}"
    if isinstance(t, SegmentReply):
        return f"Segment {t.id}/{t.segment}"
    return "TransactionResponseAck " + ", ".join(_ack(a, b) for a, b in t.acks)


def _ack(first: int, last: int | None) -> str:
    return f"{first}-{last}" if last is not None else str(first)


def _errors(t: TransactionReply) -> list[ErrorDescriptor]:
    out = [t.error] if t.error is not None else []
    for a in t.actions:
        if a.error is not None:
            out.append(a.error)
        out.extend(c.error for c in a.commands if c.error is not None)
    return out


def info_line(msg: MegacoMessage) -> str:
    """One line for the packet list, e.g. ``MEGACO/1 Transaction 1001 Add``."""
    if msg.error is not None:
        return f"{_header(msg)} Error {msg.error.code}"
    return f"{_header(msg)} " + "; ".join(_transaction_summary(t) for t in msg.transactions)


def column_info(msg: MegacoMessage) -> str:
    """tshark's Info column for a text message (``1001 Request |=NULL Add=A4444``), without
    the (Mode:..) / (Signal:..) notes tshark adds."""
    parts: list[str] = []
    for t in msg.transactions:
        if isinstance(t, TransactionRequest | TransactionReply):
            kind = " Request" if isinstance(t, TransactionRequest) else " Reply  "
            s = f"{t.id}{kind}"
            for a in t.actions:
                s += f" |={_TSHARK_CONTEXT.get(a.context, a.context)}"
                for c in a.commands:
                    tid = "Context" if c.context_audit else ",".join(c.termination_ids)
                    s += f" {c.name}={tid}"
            parts.append(s)
        elif isinstance(t, TransactionPending):
            parts.append(f"{t.id} Pending")
        else:
            parts.append(_transaction_summary(t))
    return " ".join(parts)


# ----------------------------------------------------------------------------- detail


class _Tree:
    def __init__(self, profile: mp.MpProfile, reveal: bool) -> None:
        self.profile = profile
        self.reveal = reveal
        self.rows: Rows = []

    def add(self, depth: int, text: str) -> None:
        self.rows.append((depth, text))

    # ---- values and items
    @staticmethod
    def value(v: Value | None) -> str:
        if v is None:
            return ""
        if len(v.items) == 1 and v.kind == "single":
            return v.items[0]
        sep = ":" if v.kind == "range" else ", "
        inner = sep.join(v.items)
        return f"{{{inner}}}" if v.kind == "alternatives" else f"[{inner}]"

    def psk(self, it: Item) -> str:
        key = mp.psk_bytes(it.value)
        if key is not None:
            return show_key(key, self.reveal)
        n = len(self.value(it.value))
        return self.value(it.value) if self.reveal else f"(not hex octets, {n} characters)"

    def item(self, depth: int, it: Item) -> None:
        key = self.profile.key_of(it.name)
        rel = f" {it.relation} " if it.relation else ""
        if key == "psk":
            text = f"{mp.MEANINGS[key]} ({it.name}){rel or ': '}{self.psk(it)}"
        elif key is not None:
            text = f"{mp.MEANINGS[key]} ({it.name})" + (rel + self.value(it.value) if rel else "")
        else:
            text = (f"{it.stamp}:" if it.stamp else "") + it.name + rel + self.value(it.value)
            pkg = package_of(it.name) if "/" in it.name else None
            if pkg is not None:
                text += f" [package {pkg.name} 0x{pkg.value:04x}]"
        if it.raw is not None:
            text += f" {{{it.raw.strip()}}}"
        self.add(depth, text)
        for c in it.children or ():
            self.item(depth + 1, c)

    def event(self, depth: int, name: str, stamp: str | None, parms: tuple[Item, ...]) -> None:
        key = self.profile.key_of(name)
        label = f"{mp.MEANINGS[key]} ({name})" if key is not None else name
        self.add(depth, f"{stamp} {label}" if stamp else label)
        for p in parms:
            self.item(depth + 1, p)

    def error(self, depth: int, e: ErrorDescriptor) -> None:
        text = f"Error Descriptor: {e.code} {ERROR_CODES.label(e.code)}"
        self.add(depth, text + (f' "{e.text}"' if e.text is not None else ""))

    # ---- descriptors
    def sdp(self, depth: int, d: LocalRemoteDescriptor) -> None:
        n = len(d.sessions)
        self.add(depth, f"{d.name} Descriptor: {n} SDP session{'s' if n != 1 else ''}")
        for i, s in enumerate(d.sessions, 1):
            if n > 1:
                self.add(depth + 1, f"SDP session {i}")
            lines = list(s.session) + [ln for md in s.media for ln in md.lines]
            for ln in lines:
                self.add(depth + 1 + (n > 1), str(ln))

    def local_control(self, depth: int, lc: LocalControlDescriptor) -> None:
        self.add(depth, "Local Control Descriptor")
        if lc.mode is not None:
            self.add(depth + 1, f"Mode: {lc.mode}")
        if lc.reserve_value is not None:
            self.add(depth + 1, f"Reserve Value: {'ON' if lc.reserve_value else 'OFF'}")
        if lc.reserve_group is not None:
            self.add(depth + 1, f"Reserve Group: {'ON' if lc.reserve_group else 'OFF'}")
        for p in lc.properties:
            self.item(depth + 1, p)

    def stream_parm(self, depth: int, p: object) -> None:
        if isinstance(p, LocalControlDescriptor):
            self.local_control(depth, p)
        elif isinstance(p, LocalRemoteDescriptor):
            self.sdp(depth, p)
        elif isinstance(p, StatisticsDescriptor):
            self.add(depth, "Statistics Descriptor")
            for i in p.parms:
                self.item(depth + 1, i)
        elif isinstance(p, TerminationStateDescriptor):
            self.add(depth, "Termination State Descriptor")
            for i in p.parms:
                self.item(depth + 1, i)
        elif isinstance(p, StreamDescriptor):
            self.add(depth, f"Stream {p.stream_id}")
            for x in p.parms:
                self.stream_parm(depth + 1, x)

    def descriptor(self, depth: int, d: Descriptor) -> None:
        if isinstance(d, MediaDescriptor):
            self.add(depth, "Media Descriptor")
            for p in d.parms:
                self.stream_parm(depth + 1, p)
        elif isinstance(d, EventsDescriptor):
            rid = f": RequestID {d.request_id}" if d.request_id is not None else " (none)"
            self.add(depth, "Events Descriptor" + rid)
            for e in d.events:
                self.event(depth + 1, e.name, None, e.parms)
        elif isinstance(d, ObservedEventsDescriptor):
            self.add(depth, f"Observed Events Descriptor: RequestID {d.request_id}")
            for o in d.events:
                self.event(depth + 1, o.name, o.timestamp, o.parms)
        elif isinstance(d, ErrorDescriptor):
            self.error(depth, d)
        elif isinstance(d, DigitMapDescriptor):
            body = f" {{{d.body.strip()}}}" if d.body is not None else ""
            self.add(depth, f"DigitMap Descriptor: {d.name or ''}{body}".rstrip())
        elif isinstance(d, PackagesDescriptor):
            self.add(depth, "Packages Descriptor: " + ", ".join(d.packages))
        elif isinstance(d, StatisticsDescriptor | TerminationStateDescriptor):
            self.stream_parm(depth, d)
        else:
            title, items = self._generic(d)
            self.add(depth, title)
            for i in items:
                self.item(depth + 1, i)

    @staticmethod
    def _generic(d: Descriptor) -> tuple[str, tuple[Item, ...]]:
        if isinstance(d, SignalsDescriptor):
            return "Signals Descriptor", d.signals
        if isinstance(d, AuditDescriptor):
            return "Audit Descriptor", d.items
        if isinstance(d, ServiceChangeDescriptor):
            return "Services Descriptor", d.parms
        if isinstance(d, EventBufferDescriptor):
            return "Event Buffer Descriptor", d.events
        assert isinstance(d, OtherDescriptor)
        return f"{d.item.name} Descriptor", (d.item,)

    def command(self, depth: int, c: Command) -> None:
        flags = ("O-" if c.optional else "") + ("W-" if c.wildcard else "")
        self.add(depth, f"Command: {flags}{c.name}")
        if c.context_audit:
            self.add(depth + 1, "Context audit")
        for tid in c.termination_ids:
            self.add(depth + 1, f"Termination ID: {tid}")
        for d in c.descriptors:
            self.descriptor(depth + 1, d)

    def action(self, depth: int, a: Action) -> None:
        meaning = _CONTEXT_MEANING.get(a.context)
        self.add(depth, f"Context: {a.context}" + (f" ({meaning})" if meaning else ""))
        for p in a.properties:
            self.item(depth + 1, p)
        for c in a.commands:
            self.command(depth + 1, c)
        if a.error is not None:
            self.error(depth + 1, a.error)

    def transaction(self, depth: int, t: Transaction) -> None:
        if isinstance(t, TransactionRequest):
            self.add(depth, f"Transaction: Request {t.id}")
            for a in t.actions:
                self.action(depth + 1, a)
        elif isinstance(t, TransactionReply):
            seg = f" segment {t.segment}" if t.segment is not None else ""
            self.add(depth, f"Transaction: Reply {t.id}{seg}")
            if t.imm_ack_required:
                self.add(depth + 1, "ImmAckRequired")
            if t.error is not None:
                self.error(depth + 1, t.error)
            for a in t.actions:
                self.action(depth + 1, a)
        elif isinstance(t, TransactionPending):
            self.add(depth, f"Transaction: Pending {t.id}")
        elif isinstance(t, SegmentReply):
            self.add(depth, f"Transaction: Segment Reply {t.id} segment {t.segment}")
        elif isinstance(t, TransactionResponseAck):
            acks = ", ".join(_ack(a, b) for a, b in t.acks)
            self.add(depth, f"Transaction: Response Ack {acks}")


def detail_tree(
    msg: MegacoMessage, profile: mp.MpProfile = mp.DEFAULT_PROFILE, reveal: bool = False
) -> Rows:
    """tshark -V style rows: header, transactions, contexts, commands, descriptors."""
    tree = _Tree(profile, reveal)
    tree.add(0, "MEGACO" + (" (binary, shown to command level)" if msg.binary else ""))
    tree.add(1, f"Version: {msg.version}")
    tree.add(1, f"Message ID: {msg.mid}")
    if msg.auth is not None:
        a = msg.auth
        tree.add(1, f"Authentication: SPI 0x{a.spi:08x}, sequence {a.sequence}")
    if msg.error is not None:
        tree.error(1, msg.error)
    for t in msg.transactions:
        tree.transaction(1, t)
    for e in msg.problems:
        tree.add(1, f"[Malformed: {e}]")
    return tree.rows


__all__ = ["column_info", "detail_tree", "info_line"]
