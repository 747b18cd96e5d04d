"""The Mp leg of a synthesized capture taken at the MRF (capture point ``mrf``): the MRFC's
H.248 commands to the MRFP, the MRFP's Replies and failure Notifies, in mikeyshark Mp profile
1 (docs/mp-profile.md), over UDP or over one TCP connection with TPKT framing.

A call (:mod:`.scenarios`) says when each step happens and with which SDP; this module writes
the messages, with the Mp faults applied, and records them with their capture time. They go
on the wire at the end, in time order (one TCP connection carries every call's messages, and
the calls are built one after the other), drawing from a random source of their own: the
same seed gives the same calls at both capture points.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field

from mikeyshark.dissectors import sdp
from mikeyshark.dissectors.h248 import PORT_TEXT
from mikeyshark.dissectors.h248.framing import build_tpkt
from mikeyshark.dissectors.h248.model import (
    CONTEXT_CHOOSE,
    CONTEXT_NULL,
    Action,
    Command,
    Descriptor,
    ErrorDescriptor,
    Item,
    LocalControlDescriptor,
    LocalRemoteDescriptor,
    MediaDescriptor,
    MegacoMessage,
    Mid,
    MidKind,
    ServiceChangeDescriptor,
    StreamDescriptor,
    StreamParm,
    TransactionReply,
    TransactionRequest,
    Value,
)
from mikeyshark.dissectors.h248.mp import (
    DEFAULT_PROFILE,
    MpProfile,
    events_descriptor,
    observed_events_descriptor,
)
from mikeyshark.dissectors.h248.text import build_message
from mikeyshark.synth.net import Cursor, Host, Network, TcpConnection

TRANSPORTS = ("udp", "tcp")
ROOT = "ROOT"  # the termination that stands for the whole MRFP (H.248.1 6.2)
# Transaction, context and termination numbers: each call has a block of its own, so that
# they grow with time although the calls are built one after the other.
_BLOCK = 100
_NS_MS = 1_000_000
# the MRFP's answer to a command it cannot carry out (the mp-error-reply fault)
INSUFFICIENT = ErrorDescriptor(510, "Insufficient resources")
# SDP attributes of a UE's m-line the MRFC does not copy into Remote (docs/mp-profile.md)
_NOT_COPIED = frozenset({"connection", "key-mgmt", "msrp-cema"})
# attributes of the conference's m-line the MRFP chooses and returns in its Local
_LOCAL_ATTRS = ("path", "floorctrl", "confid", "userid", "floorid")


def media_descriptor(
    local: sdp.SessionDescription | None,
    remote: sdp.SessionDescription | None,
    control: LocalControlDescriptor | None,
) -> MediaDescriptor:
    """Media with one stream: LocalControl, Local and Remote as given (profile 1 has one
    stream per termination)."""
    parms: list[StreamParm] = []
    if control is not None:
        parms.append(control)
    if local is not None:
        parms.append(LocalRemoteDescriptor.of(False, [local]))
    if remote is not None:
        parms.append(LocalRemoteDescriptor.of(True, [remote]))
    return MediaDescriptor((StreamDescriptor(1, tuple(parms)),))


def stamp(ts_ns: int) -> str:
    """An H.248 time stamp (H.248.1 Annex B): ``yyyymmddThhmmsshh``, hundredths, UTC."""
    t = datetime.datetime.fromtimestamp(ts_ns // 1_000_000_000, datetime.UTC)
    return t.strftime("%Y%m%dT%H%M%S") + f"{ts_ns // 10_000_000 % 100:02d}"


def _attr_name(line: sdp.SdpLine) -> str:
    return line.value.split(":", 1)[0].lower()


def remote_sdp(
    ue: sdp.SessionDescription, index: int, port: int | None = None
) -> sdp.SessionDescription:
    """Remote: the UE's SDP for one m-line as the UE sent it, without a=connection,
    a=key-mgmt and a=msrp-cema; ``port`` replaces the m= port (the mp-wrong-remote fault)."""
    md = ue.media[index]
    lines = [ln for ln in md.lines if not (ln.type == "a" and _attr_name(ln) in _NOT_COPIED)]
    if port is not None:
        media, _, rest = lines[0].value.split(" ", 2)
        lines[0] = sdp.SdpLine("m", f"{media} {port} {rest}")
    session = tuple(ln for ln in ue.session if ln.type in "vosct")
    return sdp.SessionDescription(session, (sdp.MediaDescription(tuple(lines)),))


def local_sdp(
    conf: sdp.MediaDescription,
    setup: str,
    ip: str | None,
    port: int | None = None,
) -> sdp.SessionDescription:
    """Local of the conference's m-line ``conf``: with ``ip`` None the request's form (``$``
    where the MRFP chooses), else the concrete values the MRFP returns (``port`` replacing
    the m-line's: the mp-local-mismatch fault)."""
    mline = conf.m
    ip6 = ip is not None and ":" in ip
    family = "IP6" if ip6 else "IP4"
    attrs: list[sdp.SdpLine] = [sdp.attribute("setup", setup)]
    for ln in conf.lines[1:]:
        if ln.type == "a" and _attr_name(ln) in _LOCAL_ATTRS:
            if _attr_name(ln) == "path" and ip is None:
                attrs.append(sdp.attribute("path", "$"))
            else:
                attrs.append(ln)
    if ip is None:
        chosen = (sdp.SdpLine("v", "0"), sdp.SdpLine("c", f"IN {family} $"))
        m = sdp.SdpLine("m", f"{mline.media} $ {mline.proto} {' '.join(mline.fmts)}")
        return sdp.SessionDescription(chosen, (sdp.MediaDescription((m, *attrs)),))
    session = (
        sdp.SdpLine("v", "0"),
        sdp.SdpLine("o", f"- 0 0 IN {family} {ip}"),
        sdp.SdpLine("s", "-"),
        sdp.SdpLine("c", f"IN {family} {ip}"),
        sdp.SdpLine("t", "0 0"),
    )
    md = sdp.media_description(
        mline.media, mline.port if port is None else port, mline.proto, mline.fmts, attrs
    )
    return sdp.SessionDescription(session, (md,))


@dataclass(slots=True)
class Termination:
    """A termination the MRFP created: its context and id."""

    context: str
    id: str
    rid: int  # the request id of its Events


@dataclass(frozen=True, slots=True)
class Sent:
    ts_ns: int
    from_mrfc: bool
    message: MegacoMessage


@dataclass(slots=True)
class CallMp:
    """The numbering of one call's Mp messages: transaction ids, its context, its
    terminations and the Events request ids."""

    tid: int
    context: int
    term: int
    rid: int
    mrfp_tid: int
    made: str | None = None  # the call's context once the MRFP created it


@dataclass(slots=True)
class MpLeg:
    """The Mp messages of one capture, recorded by the calls and put on the wire by
    :meth:`emit`."""

    net: Network
    rng: random.Random
    mrfc: Host
    mrfp: Host
    transport: str = "udp"
    profile: MpProfile = DEFAULT_PROFILE
    sent: list[Sent] = field(default_factory=list)
    _base: int = 0

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise ValueError(f"Mp transport must be one of {', '.join(TRANSPORTS)}")
        self._base = self.rng.randrange(10, 90) * 100

    def _mid(self, mrfc: bool) -> Mid:
        host = self.mrfc if mrfc else self.mrfp
        kind = MidKind.IPV6 if host.ipv6 else MidKind.IPV4
        return Mid(kind, host.ip, PORT_TEXT)

    def delay(self, cursor: Cursor, lo_ms: float, hi_ms: float) -> None:
        """Advance ``cursor`` with this leg's random source (never the call's)."""
        cursor.now_ns += int(self.rng.uniform(lo_ms, hi_ms) * 1000) * 1000

    def _send(self, cursor: Cursor, from_mrfc: bool, *transactions: object) -> None:
        msg = MegacoMessage(1, self._mid(from_mrfc), tuple(transactions))  # type: ignore[arg-type]
        self.sent.append(Sent(cursor.now_ns, from_mrfc, msg))

    def numbering(self, call_index: int) -> CallMp:
        b = self._base + call_index * _BLOCK
        # termination ids are the MRFP's, unique among all it holds (H.248.1 6.2)
        return CallMp(tid=b + 1, context=b // _BLOCK + 1, term=b + 1, rid=b + 1, mrfp_tid=b + 51)

    # ---- the MRFP registers (before any call) ----------------------------------------
    def service_change(self, ts_ns: int) -> None:
        """The MRFP's ServiceChange (Restart, cold boot) on ROOT and the MRFC's Reply: what
        an MRFP sends first when it comes up (H.248.1 7.2.8), seen at the capture's start."""
        cur = Cursor(self.rng, ts_ns)
        tid = self._base // 2
        services = ServiceChangeDescriptor(
            (Item.prop("Method", "Restart"), Item("Reason", "=", Value.quoted("901 Cold Boot")))
        )
        request = Command("ServiceChange", (ROOT,), (services,))
        self._send(cur, False, TransactionRequest(tid, (Action(CONTEXT_NULL, (request,)),)))
        self.delay(cur, 1, 3)
        reply = Command("ServiceChange", (ROOT,))
        self._send(cur, True, TransactionReply(tid, (Action(CONTEXT_NULL, (reply,)),)))

    # ---- the MRFC's commands ----------------------------------------------------------
    def _media(
        self,
        local: sdp.SessionDescription | None,
        remote: sdp.SessionDescription | None,
        control: LocalControlDescriptor | None,
    ) -> MediaDescriptor:
        return media_descriptor(local, remote, control)

    def _transact(
        self,
        cursor: Cursor,
        call: CallMp,
        context: str,
        request: Command,
        reply: Command,
        reply_context: str,
        error: bool = False,
    ) -> None:
        """One request of the MRFC and the MRFP's Reply a few milliseconds later (with the
        Error of the mp-error-reply fault instead of the command's reply)."""
        tid = call.tid
        call.tid += 1
        self._send(cursor, True, TransactionRequest(tid, (Action(context, (request,)),)))
        self.delay(cursor, 1.5, 4)
        if error:
            self._send(cursor, False, TransactionReply(tid, (), INSUFFICIENT))
        else:
            self._send(cursor, False, TransactionReply(tid, (Action(reply_context, (reply,)),)))
        self.delay(cursor, 0.5, 2)

    def add(
        self,
        cursor: Cursor,
        call: CallMp,
        prefix: str,
        local: sdp.SessionDescription,
        reply_local: sdp.SessionDescription,
        *,
        remote: sdp.SessionDescription | None = None,
        control: LocalControlDescriptor | None = None,
        events: bool = False,
        error_first: bool = False,
    ) -> Termination:
        """``Add`` of a new termination (in the call's context, or a new one for the first):
        the dial-in reserve-and-configure, or the dial-out reserve. ``error_first``: the
        first attempt is refused with an Error and the MRFC tries again."""
        context = call.made or CONTEXT_CHOOSE
        made = call.made or str(call.context)
        term = Termination(made, f"{prefix}/{call.term}", call.rid)
        call.term += 1
        call.rid += 1
        descs: list[Descriptor] = [self._media(local, remote, control)]
        if events:
            descs.append(events_descriptor(term.rid, self.profile))
        request = Command("Add", (CONTEXT_CHOOSE,), tuple(descs))
        reply = Command("Add", (term.id,), (self._media(reply_local, None, None),))
        if error_first:
            self._transact(cursor, call, context, request, reply, made, error=True)
            self.delay(cursor, 5, 15)
        self._transact(cursor, call, context, request, reply, made)
        call.made = made
        return term

    def modify(
        self,
        cursor: Cursor,
        call: CallMp,
        term: Termination,
        local: sdp.SessionDescription,
        remote: sdp.SessionDescription,
        control: LocalControlDescriptor,
        *,
        events: bool = True,
    ) -> None:
        """The dial-out configure: ``Modify`` with Remote, Local and the PSK; a Reply with no
        descriptors."""
        descs: list[Descriptor] = [self._media(local, remote, control)]
        if events:
            descs.append(events_descriptor(term.rid, self.profile))
        request = Command("Modify", (term.id,), tuple(descs))
        self._transact(
            cursor, call, term.context, request, Command("Modify", (term.id,)), term.context
        )

    def subtract(self, cursor: Cursor, call: CallMp, term: Termination) -> None:
        request = Command("Subtract", (term.id,))
        self._transact(
            cursor, call, term.context, request, Command("Subtract", (term.id,)), term.context
        )

    def notify(
        self, cursor: Cursor, call: CallMp, term: Termination, key: str, cause: int | None
    ) -> None:
        """The MRFP tells the MRFC that TCP or TLS establishment failed (ObservedEvents)."""
        observed = observed_events_descriptor(
            term.rid, key, stamp(cursor.now_ns), cause, self.profile
        )
        tid = call.mrfp_tid
        call.mrfp_tid += 1
        request = Command("Notify", (term.id,), (observed,))
        self._send(cursor, False, TransactionRequest(tid, (Action(term.context, (request,)),)))
        self.delay(cursor, 1, 3)
        reply = Command("Notify", (term.id,))
        self._send(cursor, True, TransactionReply(tid, (Action(term.context, (reply,)),)))

    # ---- on the wire --------------------------------------------------------------------
    def emit(self) -> None:
        """Every recorded message as frames, in time order: a UDP datagram each (2944 both
        ways), or TPKT packets on one TCP connection the MRFP opens 2944 -> 2944 just
        before its first message and keeps open."""
        order = sorted(self.sent, key=lambda s: s.ts_ns)
        if not order:
            return
        if self.transport == "udp":
            for s in order:
                src, dst = (self.mrfc, self.mrfp) if s.from_mrfc else (self.mrfp, self.mrfc)
                data = build_message(s.message)
                self.net.udp(Cursor(self.rng, s.ts_ns), src, PORT_TEXT, dst, PORT_TEXT, data)
            return
        cursor = Cursor(self.rng, order[0].ts_ns - 3 * _NS_MS)
        conn = TcpConnection(self.net, cursor, self.mrfp, PORT_TEXT, self.mrfc, PORT_TEXT)
        conn.connect(rtt_ms=(0.2, 1.0))
        for s in order:
            cursor.now_ns = max(cursor.now_ns, s.ts_ns)
            framed = build_tpkt(build_message(s.message))
            conn.send(not s.from_mrfc, framed, peer_answers=True, rtt_ms=(0.1, 0.4))


__all__ = [
    "TRANSPORTS",
    "CallMp",
    "MpLeg",
    "Sent",
    "Termination",
    "local_sdp",
    "media_descriptor",
    "remote_sdp",
    "stamp",
]
