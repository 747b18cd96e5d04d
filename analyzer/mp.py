"""The Mp leg: H.248 between the MRFC and the MRFP (docs/mp-profile.md), from the wire to the
evidence of each m-line.

:class:`MpLeg` reads the messages the pipeline hands it (UDP, TCP with TPKT framing, SCTP
with payload protocol id 7; text, or binary recognised as such) and gathers them into
transactions: a request, its Pendings and its final Reply, retransmitted copies folded into
one. Transactions move terminations through their life, per context and peer: ``Add``
creates one (its Reply names it), ``Modify``, ``Move`` and ``Notify`` name it, ``Subtract``
ends it. Which side is the MRFC is told by content (it sends Add, Modify and Subtract), never
by who opened a TCP connection.

Correlation (:mod:`mikeyshark.correlate`) asks :meth:`MpLeg.bind` for the terminations of a
call: one belongs to an m-line when a Remote it was given carries the UE's SDP for it (``c=``
address and ``m=`` port, and for MSRP the ``a=path``), or when a Reply's Local carries the
conference's (address and port); one match is enough. The PSK it carries becomes a TEK
candidate of the m-line like any other, proven only by the TLS handshake, and
:func:`complete` then ties it to the media connection its Local and Remote describe and
draws its arrows on the ladder.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.h248 import PORT_BINARY, PORT_TEXT, parse_any
from mikeyshark.dissectors.h248.framing import TpktFramer, TpktPacket
from mikeyshark.dissectors.h248.model import (
    CONTEXT_ALL,
    CONTEXT_CHOOSE,
    Action,
    Command,
    ErrorDescriptor,
    LocalRemoteDescriptor,
    MegacoMessage,
    TransactionPending,
    TransactionReply,
    TransactionRequest,
)
from mikeyshark.dissectors.h248.mp import DEFAULT_PROFILE, MpProfile, read_command
from mikeyshark.dissectors.ip import canonical_address
from mikeyshark.dissectors.msrp import MsrpUri
from mikeyshark.evidence import (
    CallRecord,
    LadderEvent,
    Lane,
    MediaRecord,
    MpCommand,
    MpFrame,
    MpObserved,
    MpTermination,
    MpTransaction,
    SdpMedia,
)
from mikeyshark.model import Endpoint, Problem, Severity, StreamChunk
from mikeyshark.procedure import Direction, Event, Protocol, Role, flow_for

MP_PORTS = frozenset({PORT_TEXT, PORT_BINARY})
MAX_PROBLEMS = 1000  # located problems of the Mp leg kept per capture
# Held at once: transactions looked up by id (a request's copies and its Reply arrive within
# seconds; older ones are forgotten first), and terminations no call has bound yet.
MAX_TRANSACTIONS = 50_000
MAX_TERMINATIONS = 20_000
MAX_REFUSED = 1_000
# A request that repeats a transaction id this long after its Reply is a new transaction
# (ids wrap), not a retransmission (H.248.1 Annex D: retransmissions end within seconds).
REUSE_NS = 60 * 1_000_000_000
# The commands only the MRFC sends (H.248.1 7.2: the MGC adds, modifies, moves, subtracts).
MRFC_COMMANDS = frozenset({"Add", "Modify", "Move", "Subtract"})
TRANSPORTS = ("udp", "tcp", "sctp")


@dataclass(slots=True)
class _Step:
    """One command of a transaction that concerns a termination: the request's, and the
    Reply's command at the same place once it came."""

    txn: _Txn
    request: Command
    reply: Command | None = None
    term: _Term | None = None  # the termination whose life it is part of


@dataclass(slots=True)
class _Term:
    """A termination as the Mp leg shows it, unbound (or bound) to an m-line."""

    id: str | None  # None until the Reply of its Add names it; stays None when refused
    context: str
    mrfc: Endpoint
    mrfp: Endpoint
    steps: list[_Step] = field(default_factory=list)
    claimed: bool = False

    @property
    def first_frame(self) -> int:
        return min((s.txn.request_frame or 0) for s in self.steps) if self.steps else 0


@dataclass(slots=True)
class _Txn:
    id: int
    requester: Endpoint
    responder: Endpoint
    transport: str
    binary: bool
    ipsec: bool
    request_frame: int
    request_ts_ns: int
    actions: tuple[Action, ...] = ()
    reply_frame: int | None = None
    reply_ts_ns: int | None = None
    reply: TransactionReply | None = None
    frames: list[MpFrame] = field(default_factory=list)
    steps: list[_Step] = field(default_factory=list)

    @property
    def error(self) -> ErrorDescriptor | None:
        """The first Error of its Reply: of the transaction, an action or a command."""
        r = self.reply
        if r is None:
            return None
        if r.error is not None:
            return r.error
        for a in r.actions:
            if a.error is not None:
                return a.error
            for c in a.commands:
                if c.error is not None:
                    return c.error
        return None


class MpLeg:
    """The Mp messages of one capture, as transactions and terminations."""

    def __init__(self, file: str = "", profile: MpProfile = DEFAULT_PROFILE) -> None:
        self.file = file
        self.profile = profile
        self.messages = 0  # Mp messages read: any makes the Mp leg part of the capture
        self.problems: list[Problem] = []
        self._txns: OrderedDict[tuple[Endpoint, Endpoint, int], _Txn] = OrderedDict()
        self._active: dict[tuple[frozenset[Endpoint], str], _Term] = {}
        self.terms: list[_Term] = []
        # refused Adds by their peers and descriptors: a retry joins their termination
        self._refused: dict[tuple[frozenset[Endpoint], tuple[object, ...]], _Term] = {}
        self._framers: dict[tuple[int, bool], tuple[TpktFramer, Endpoint, Endpoint]] = {}
        self._dropped = 0
        self._binary_said = False

    # ---- input ------------------------------------------------------------------------
    @staticmethod
    def is_mp_port(src: Endpoint, dst: Endpoint) -> bool:
        return src.port in MP_PORTS or dst.port in MP_PORTS

    def on_datagram(
        self,
        frame: int,
        ts_ns: int,
        src: Endpoint,
        dst: Endpoint,
        payload: bytes,
        transport: str,
        *,
        ipsec: bool = False,
    ) -> None:
        """One message in a UDP datagram, a TPKT packet or an SCTP user message."""
        try:
            msg = parse_any(payload)
        except DissectError as e:
            self._problem(frame, f"not an H.248 message: {e.reason}", e.field, e.offset)
            return
        self.on_message(frame, ts_ns, src, dst, msg, transport, ipsec=ipsec)

    def on_tcp(
        self,
        stream: int,
        from_client: bool,
        src: Endpoint,
        dst: Endpoint,
        chunk: StreamChunk,
        *,
        ipsec: bool = False,
    ) -> None:
        """Bytes of one direction of a TCP connection to or from an Mp port: TPKT packets
        (H.248.1 Annex D.2), each completed by the chunk's frame."""
        framer = self._framers.get((stream, from_client))
        if framer is None:
            framer = self._framers[(stream, from_client)] = (TpktFramer(), src, dst)
        for got in framer[0].feed(chunk.data, chunk.gap):
            if isinstance(got, TpktPacket):
                self.on_datagram(
                    chunk.frame, chunk.ts_ns, src, dst, got.payload, "tcp", ipsec=ipsec
                )
            else:
                e = got.error
                self._problem(chunk.frame, f"TPKT: {e.reason}", e.field, e.offset)

    def close_tcp(self, stream: int) -> None:
        for d in (True, False):
            got = self._framers.pop((stream, d), None)
            if got is not None:
                for item in got[0].close():
                    if not isinstance(item, TpktPacket):
                        e = item.error
                        self._problem(None, f"TPKT: {e.reason}", e.field, e.offset)

    def finish(self) -> None:
        """The capture ended: what TCP connections still held is judged."""
        for stream, _ in list(self._framers):
            self.close_tcp(stream)

    def _problem(
        self,
        frame: int | None,
        reason: str,
        fld: str | None = None,
        offset: int | None = None,
        severity: Severity = Severity.WARNING,
    ) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem("megaco", reason, frame, self.file, fld, offset, severity))

    def on_message(
        self,
        frame: int,
        ts_ns: int,
        src: Endpoint,
        dst: Endpoint,
        msg: MegacoMessage,
        transport: str,
        *,
        ipsec: bool = False,
    ) -> None:
        self.messages += 1
        if msg.binary and not self._binary_said:
            self._binary_said = True
            self._problem(
                frame,
                "binary H.248 (BER) is read to command level: the Mp items it may carry (SDP, "
                "PSK, roles) are not judged",
                severity=Severity.INFO,
            )
        for p in msg.problems:
            self._problem(frame, p.reason, p.field, p.offset)
        for t in msg.transactions:
            if isinstance(t, TransactionRequest):
                self._request(frame, ts_ns, src, dst, t, transport, msg.binary, ipsec)
            elif isinstance(t, TransactionReply):
                self._reply(frame, ts_ns, src, dst, t)
            elif isinstance(t, TransactionPending):
                txn = self._txns.get((dst, src, t.id))
                if txn is not None:
                    txn.frames.append(MpFrame(frame, ts_ns, False, "pending"))

    # ---- transactions -------------------------------------------------------------------
    def _request(
        self,
        frame: int,
        ts_ns: int,
        src: Endpoint,
        dst: Endpoint,
        t: TransactionRequest,
        transport: str,
        binary: bool,
        ipsec: bool,
    ) -> None:
        key = (src, dst, t.id)
        old = self._txns.get(key)
        if old is not None and (old.reply_ts_ns is None or ts_ns - old.reply_ts_ns < REUSE_NS):
            # a retransmission: the same transaction
            old.frames.append(MpFrame(frame, ts_ns, True, "request again"))
            return
        txn = _Txn(t.id, src, dst, transport, binary, ipsec, frame, ts_ns, t.actions)
        txn.frames.append(MpFrame(frame, ts_ns, True, "request"))
        self._txns.pop(key, None)
        self._txns[key] = txn
        if len(self._txns) > MAX_TRANSACTIONS:
            self._txns.popitem(last=False)
        pair = frozenset((src, dst))
        for a in t.actions:
            for c in a.commands:
                self._on_command(txn, pair, a, c)

    def _on_command(self, txn: _Txn, pair: frozenset[Endpoint], a: Action, c: Command) -> None:
        name = c.name
        tid = c.termination_ids[0] if len(c.termination_ids) == 1 else None
        if tid is None or tid in (CONTEXT_ALL, "ROOT") or tid.lower() == "root":
            return  # the whole MRFP, or several terminations: no one termination's step
        if name == "Add" and tid == CONTEXT_CHOOSE:
            # the same Add sent again after a refusal is the same termination's second try
            retry = self._refused.pop((pair, c.descriptors), None)
            if retry is not None:
                term = retry
            else:
                term = _Term(None, a.context, txn.requester, txn.responder)
                self._new_term(term)
        else:
            known = self._active.get((pair, tid))
            if known is None:
                # a termination created before the capture began
                if name in MRFC_COMMANDS:
                    mrfc, mrfp = txn.requester, txn.responder
                else:
                    mrfc, mrfp = txn.responder, txn.requester
                known = _Term(tid, a.context, mrfc, mrfp)
                self._new_term(known)
                self._active[(pair, tid)] = known
            term = known
        step = _Step(txn, c, term=term)
        term.steps.append(step)
        txn.steps.append(step)

    def _new_term(self, term: _Term) -> None:
        self.terms.append(term)
        if len(self.terms) > MAX_TERMINATIONS:
            # the oldest no call bound: the Mp leg of a call the capture does not show
            drop = next((i for i, x in enumerate(self.terms) if not x.claimed), 0)
            gone = self.terms.pop(drop)
            if gone.id is not None:
                self._active.pop((frozenset((gone.mrfc, gone.mrfp)), gone.id), None)
            if not self._dropped:
                self._problem(
                    term.steps[0].txn.request_frame if term.steps else None,
                    f"more than {MAX_TERMINATIONS} Mp terminations no call binds: the oldest "
                    "are forgotten",
                )
            self._dropped += 1

    def _reply(
        self, frame: int, ts_ns: int, src: Endpoint, dst: Endpoint, t: TransactionReply
    ) -> None:
        txn = self._txns.get((dst, src, t.id))
        if txn is None:
            return  # its request is not in the capture
        if txn.reply is not None:
            # the Reply again (the request was resent)
            txn.frames.append(MpFrame(frame, ts_ns, False, "reply again"))
            return
        txn.reply, txn.reply_frame, txn.reply_ts_ns = t, frame, ts_ns
        txn.frames.append(MpFrame(frame, ts_ns, False, "reply"))
        pair = frozenset((src, dst))
        replied = [(a, c) for a in t.actions for c in a.commands]
        for i, step in enumerate(txn.steps):
            if i < len(replied):
                a, c = replied[i]
                step.reply = c
            else:
                a = None
            term = step.term
            if term is None:
                continue
            if (
                t.error is not None
                or (a is not None and a.error is not None)
                or (step.reply is not None and step.reply.error is not None)
            ):
                # refused: an Add's termination stays unnamed, unless the MRFC tries again
                if step.request.name == "Add" and term.id is None:
                    self._refused[(pair, step.request.descriptors)] = term
                    if len(self._refused) > MAX_REFUSED:
                        del self._refused[next(iter(self._refused))]
                continue
            if step.request.name == "Add" and term.id is None and step.reply is not None:
                ids = step.reply.termination_ids
                if ids and a is not None:
                    term.id, term.context = ids[0], a.context
                    self._active[(pair, ids[0])] = term
            elif step.request.name == "Subtract" and term.id is not None:
                self._active.pop((pair, term.id), None)

    # ---- binding to a call --------------------------------------------------------------
    def bind(self, call: CallRecord) -> None:
        """Bind this capture's unclaimed terminations to ``call``'s m-lines, each to the
        m-line whose SDP it carries; note whether the capture holds any Mp traffic."""
        call.mp_leg = self.messages > 0
        if not self.terms:
            return
        for m in call.media:
            found = [(t, how) for t in self.terms if not t.claimed
                     for how in (_matches(t, m, call.direction),) if how is not None]  # fmt: skip
            if not found:
                continue
            named = [(t, how) for t, how in found if t.id is not None]
            main, how = named[0] if named else found[0]
            parts = [t for t, _ in found if t is main or t.id is None]
            for t in parts:
                t.claimed = True
            m.mp = _evidence(main, parts, how, self.profile)


# --- SDP of Local and Remote ------------------------------------------------------------


def sdp_of(frame: int, d: LocalRemoteDescriptor | None) -> SdpMedia | None:
    """The first m-line of a Local or Remote as an :class:`SdpMedia`; a ``$`` address or
    port (the MRFP chooses) reads as None / 0."""
    if d is None or not d.sessions or not d.sessions[0].media:
        return None
    sd = d.sessions[0]
    md = sd.media[0]
    parts = md.lines[0].value.split()
    if len(parts) < 3:
        return None
    port = int(parts[1]) if parts[1].isdigit() else 0
    conn = md.connection or sd.connection
    address = canonical_address(conn.address) if conn is not None and conn.address != "$" else None
    paths = tuple(v.strip() for v in md.attrs("path") for v in v.split() if v != "$")
    floorids = tuple(v.split()[0] for v in md.attrs("floorid") if v.split())
    return SdpMedia(
        frame=frame,
        index=0,
        media=parts[0],
        port=port,
        proto=parts[2],
        address=address,
        setup=md.setup,
        path=paths,
        confid=md.attr("confid"),
        userid=md.attr("userid"),
        floorids=floorids,
        floorctrl=" ".join(md.floorctrl) or None,
    )


def _uri_key(uri: str) -> object:
    try:
        return MsrpUri.parse(uri).key
    except DissectError:
        return uri


def same_endpoint(a: SdpMedia | None, b: SdpMedia | None) -> bool:
    """``c=`` address and ``m=`` port both equal (two UEs may use the same port)."""
    return (
        a is not None
        and b is not None
        and a.address is not None
        and a.address == b.address
        and a.port == b.port
        and a.port != 0
    )


def _remote_matches(remote: SdpMedia | None, ue: SdpMedia | None, msrp: bool) -> bool:
    if not same_endpoint(remote, ue):
        return False
    assert remote is not None and ue is not None
    if msrp and remote.path and ue.path:
        return _uri_key(remote.path[-1]) == _uri_key(ue.path[-1])
    return True


def _sides(
    m: MediaRecord, direction: Direction | None
) -> list[tuple[SdpMedia | None, SdpMedia | None]]:
    """(the UE's SDP, the conference's SDP) of the m-line; both ways when the direction is
    not known."""
    dial_in = (m.offer, m.answer)
    dial_out = (m.answer, m.offer)
    if direction is Direction.DIAL_IN:
        return [dial_in]
    if direction is Direction.DIAL_OUT:
        return [dial_out]
    return [dial_in, dial_out]


def _matches(t: _Term, m: MediaRecord, direction: Direction | None) -> str | None:
    """How ``t`` carries ``m``'s SDP: ``"remote"``, ``"local"``, or None."""
    msrp = m.protocol.value == "msrp"
    for ue, conf in _sides(m, direction):
        for s in t.steps:
            media = s.request.media
            for st in media.streams if media is not None else ():
                if _remote_matches(sdp_of(0, st.remote), ue, msrp):
                    return "remote"
        for s in t.steps:
            media = s.reply.media if s.reply is not None else None
            for st in media.streams if media is not None else ():
                if same_endpoint(sdp_of(0, st.local), conf):
                    return "local"
    return None


# --- evidence ----------------------------------------------------------------------------


def _error_text(e: ErrorDescriptor | None) -> str | None:
    if e is None:
        return None
    return f"{e.code} {e.text}" if e.text else str(e.code)


def _transaction(t: _Txn) -> MpTransaction:
    names = [s.request.name for s in t.steps] or [c.name for a in t.actions for c in a.commands]
    return MpTransaction(
        transaction_id=t.id,
        command=", ".join(dict.fromkeys(names)),
        requester=t.requester,
        responder=t.responder,
        request_frame=t.request_frame,
        reply_frame=t.reply_frame,
        frames=sorted(t.frames, key=lambda f: f.frame),
        error=_error_text(t.error),
        transport=t.transport,
        binary=t.binary,
        ipsec=t.ipsec,
    )


def _carried(c: Command, profile: MpProfile) -> tuple[str, ...]:
    """What a command carried, named by meaning: Local, Remote, the PSK, ..."""
    r = read_command(c, profile)
    out: list[str] = []
    if any(s.local is not None for s in r.streams):
        out.append("Local")
    if any(s.remote is not None for s in r.streams):
        out.append("Remote")
    if r.psk is not None:
        out.append("PSK")
    if any(s.pskid is not None for s in r.streams):
        out.append("PSK identity")
    if any(s.role is not None for s in r.streams):
        out.append("TLS role")
    if r.requested:
        out.append("Events")
    out.extend(o.name for o in r.observed)
    return tuple(out)


def _command(s: _Step, profile: MpProfile) -> MpCommand:
    t = s.txn
    frame = t.request_frame or 0
    req = read_command(s.request, profile)
    cmd = MpCommand(
        name=s.request.name,
        transaction_id=t.id,
        sender=t.requester,
        frame=t.request_frame,
        reply_frame=t.reply_frame,
        error=_error_text(t.error),
        events=req.requested,
        observed=tuple(MpObserved(frame, o.key, o.name, o.cause) for o in req.observed),
        carried=_carried(s.request, profile),
    )
    for st in req.streams:  # profile 1 has one stream per termination: the first that says
        cmd.local = cmd.local or sdp_of(frame, st.local)
        cmd.remote = cmd.remote or sdp_of(frame, st.remote)
        if cmd.psk is None and st.psk is not None:
            cmd.psk = st.psk
        cmd.pskid = cmd.pskid or st.pskid
        cmd.role = cmd.role or st.role
        cmd.problems += st.problems
    if s.reply is not None and t.reply_frame is not None:
        for st in read_command(s.reply, profile).streams:
            cmd.reply_local = cmd.reply_local or sdp_of(t.reply_frame, st.local)
    return cmd


def _evidence(main: _Term, parts: list[_Term], how: str, profile: MpProfile) -> MpTermination:
    steps = sorted((s for t in parts for s in t.steps), key=lambda s: s.txn.request_frame or 0)
    txns: list[_Txn] = []
    for s in steps:
        if all(s.txn is not x for x in txns):
            txns.append(s.txn)
    return MpTermination(
        context=main.context,
        termination=main.id,
        mrfc=main.mrfc,
        mrfp=main.mrfp,
        bound_by=how,
        transport=txns[0].transport if txns else "udp",
        binary=any(t.binary for t in txns),
        commands=[_command(s, profile) for s in steps],
        transactions=[_transaction(t) for t in txns],
    )


# --- once the media is bound -----------------------------------------------------------


def joined(t: MpTermination, m: MediaRecord) -> bool | None:
    """Whether the m-line's TCP connection is the one the termination's Local and Remote
    describe: one end where one of them listens, the other end at the other's address."""
    tcp = m.tcp
    if tcp is None:
        return None
    msrp = m.protocol.value == "msrp"
    remote, locals_ = t.remote, t.reply_locals
    local = locals_[-1] if locals_ else None
    if remote is None or local is None:
        return False
    return (tcp.server in remote.listens(msrp)[0] and tcp.client.ip == local.address) or (
        tcp.server in local.listens(msrp)[0] and tcp.client.ip == remote.address
    )


def _event_of(t: MpTermination, c: MpCommand, direction: Direction | None) -> Event | None:
    if c is t.configure:
        return Event.MP_CONFIGURE if direction is Direction.DIAL_OUT else Event.MP
    if c is t.reserve:
        return Event.MP
    return None


def _label(tx: MpTransaction, c: MpCommand | None, kind: str) -> str:
    what = tx.command or (c.name if c is not None else "")
    if kind.startswith("request"):
        carried = f" ({', '.join(c.carried)})" if c is not None and c.carried else ""
        label = f"MEGACO {what} T={tx.transaction_id}{carried}"
    elif kind == "pending":
        return f"MEGACO Pending T={tx.transaction_id} ({what})"
    else:
        label = f"MEGACO Reply T={tx.transaction_id} {what}"
        if tx.error is not None:
            label += f" Error {tx.error}"
        elif c is not None and c.reply_local is not None:
            label += " (Local)"
    return label + (" [retransmission]" if kind.endswith(" again") else "")


def ladder_events(
    t: MpTermination, direction: Direction | None, protocol: Protocol
) -> list[LadderEvent]:
    """One arrow per frame of the termination's transactions, MRFC <-> MRFP, the flow's
    step number on the reserve and configure commands and their Replies."""
    steps = flow_for(protocol, direction).steps if direction is not None else {}
    first: dict[int, MpCommand] = {}
    for cmd in t.commands:
        first.setdefault(cmd.transaction_id, cmd)
    out: list[LadderEvent] = []
    for tx in t.transactions:
        c = first.get(tx.transaction_id)
        event = _event_of(t, c, direction) if c is not None else None
        step = steps.get(event, "") if event is not None else ""
        for f in tx.frames:
            src, dst = (
                (tx.requester, tx.responder) if f.from_requester else (tx.responder, tx.requester)
            )
            out.append(
                LadderEvent(
                    f.frame, f.ts_ns, src, dst, Lane.H248, _label(tx, c, f.kind), step, event
                )
            )
    return out


def complete(call: CallRecord, m: MediaRecord) -> list[LadderEvent]:
    """Once the m-line's connection is bound: whether it joins the termination's Local and
    Remote, the MRFC and MRFP columns of the ladder, and the termination's arrows."""
    t = m.mp
    if t is None:
        return []
    t.connection_joined = joined(t, m)
    call.roles.setdefault(t.mrfc, Role.MRFC)
    call.roles.setdefault(t.mrfp, Role.MRFP)
    return ladder_events(t, call.direction, m.protocol)


def candidate(m: MediaRecord) -> tuple[bytes, str] | None:
    """The PSK the MRFC gave the MRFP for ``m``, as a TEK candidate: (key, label)."""
    t = m.mp
    c = t.configure if t is not None else None
    if c is None or c.psk is None:
        return None
    return c.psk, f"the PSK the MRFC gave on Mp ({c.name}, frame {c.frame})"


__all__ = [
    "MP_PORTS",
    "MpLeg",
    "candidate",
    "complete",
    "joined",
    "ladder_events",
    "same_endpoint",
    "sdp_of",
]
