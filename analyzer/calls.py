"""SIP messages -> calls and dialogs -> SDP offer/answer pairs -> one media session per m-line.

:class:`CallTracker` receives every SIP message seen in a capture (with its frame, time,
addresses and transport), groups them by Call-ID into :class:`Call` objects holding the
dialogs (one per tag pair, so forked early dialogs stay apart), marks retransmissions, and
pairs SDP offers with answers following RFC 3261 13/14, RFC 3262 (reliable provisional
responses and PRACK) and RFC 3311 (UPDATE):

* offer in INVITE (initial or re-INVITE) -> answer in the first reliable 18x or 2xx with SDP
  of each dialog (an unreliable 18x answer counts until a reliable one replaces it);
* offer in a reliable 18x or a 2xx (INVITE without SDP) -> answer in PRACK / ACK;
* offer in PRACK or UPDATE -> answer in its 2xx.

Every m-line of an offer becomes a :class:`MediaSession`; later stages attach the MIKEY
exchange, the TCP connection and the TLS session to it through ``attachments``.

:class:`SipFlowHandler` is the :mod:`mikeyshark.flows` handler that finds SIP in UDP datagrams
and TCP streams and feeds it to a tracker.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, BinaryIO, Protocol

from mikeyshark.dissectors import sdp as sdplib
from mikeyshark.dissectors import sip as siplib
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.ip import canonical_address
from mikeyshark.dissectors.sdp import MediaDescription, SessionDescription
from mikeyshark.dissectors.sip import SipMessage
from mikeyshark.model import (
    Endpoint,
    Frame,
    Problem,
    Severity,
    StreamChunk,
    Tunnel,
    TunnelFrame,
    internal_problem,
)

CLEAR_SIP_PORTS = frozenset({siplib.PORT})  # sips: (TLS) is mikeyshark.siptls's
# Bounds on what one call may accumulate, so a hostile capture cannot exhaust memory: past
# either, the call's later messages are reported once and not tracked.
MAX_RECORDS_PER_CALL = 2_000
MAX_CALL_BYTES = 4 << 20  # SIP bytes (start line, headers, body) of one call's messages
MAX_SEEN_KEYS = 50_000
# Unrelated messages sharing one CSeq, start line and tags, compared with each newcomer.
MAX_FIRSTS_PER_IDENT = 8


class DialogState(StrEnum):
    """Where a dialog is (RFC 3261 12): created early by a provisional answer with a tag."""

    EARLY = "early"
    CONFIRMED = "confirmed"  # a 2xx
    TERMINATED = "terminated"  # a BYE
    FAILED = "failed"  # a final non-2xx while early


class Ending(StrEnum):
    """How a call's initial INVITE ended."""

    ESTABLISHED = "established"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    NO_FINAL_RESPONSE = "no-final-response"


@dataclass(eq=False, slots=True)
class SipRecord:
    """One SIP message as observed in the capture."""

    msg: SipMessage
    frame: int  # the frame that completed the message (where Wireshark shows it)
    first_frame: int  # the frame holding its first byte (differs when split over TCP)
    ts_ns: int
    src: Endpoint
    dst: Endpoint
    transport: str  # "UDP", "TCP", or "TLS" (decrypted with a key log)
    index: int = 0  # arrival order among all SIP messages of the capture
    tunnel: Tunnel | None = None  # the GTP-U tunnel it came through (a capture on N3/S1-U)
    sdp: SessionDescription | None = None
    retransmission: bool = False
    problems: tuple[Problem, ...] = ()
    # The same message forwarded on another hop (a proxy added or removed its Via): the
    # copy points at the first record seen, which lists every copy in ``hops``.
    hop_of: SipRecord | None = None
    hops: tuple[SipRecord, ...] = ()  # a shared empty tuple: no cost for most records

    @property
    def is_request(self) -> bool:
        return self.msg.is_request

    def summary(self) -> str:
        """Like tshark's Info column: ``Request: INVITE sip:...`` / ``Status: 200 OK``."""
        return sip_info(self.msg)


def sip_info(msg: SipMessage) -> str:
    start = msg.start
    if isinstance(start, siplib.RequestLine):
        return f"Request: {start.method} {start.uri}"
    return f"Status: {start.status} {start.reason}".rstrip()


@dataclass(eq=False, slots=True)
class Dialog:
    """A dialog (RFC 3261 12): Call-ID plus the two tags; early while only 1xx have been seen."""

    call_id: str
    caller_tag: str | None
    callee_tag: str | None
    caller: Endpoint  # signalling address of the side that sent the initial INVITE
    callee: Endpoint
    caller_uri: str | None
    callee_uri: str | None
    records: list[SipRecord] = field(default_factory=list)
    state: DialogState = DialogState.EARLY
    caller_focus: bool = False  # Contact carried the isfocus feature tag (TS 24.147)
    callee_focus: bool = False

    @property
    def tags(self) -> frozenset[str | None]:
        return frozenset({self.caller_tag, self.callee_tag})


@dataclass(eq=False, slots=True)
class OfferAnswer:
    """One SDP offer and (when seen) its answer, in one dialog."""

    kind: str  # INVITE/answer, 18x/PRACK, 2xx/ACK, PRACK/2xx, UPDATE/2xx
    offer: SipRecord
    offer_sdp: SessionDescription
    dialog: Dialog | None
    answer: SipRecord | None = None
    answer_sdp: SessionDescription | None = None
    answer_reliable: bool = False  # False while only an unreliable 18x answered

    @property
    def offer_hops(self) -> tuple[SipRecord, ...]:
        """The offer as seen on the other hops of the path (a capture taken in the core)."""
        return self.offer.hops

    @property
    def answer_hops(self) -> tuple[SipRecord, ...]:
        return self.answer.hops if self.answer is not None else ()


@dataclass(eq=False, slots=True)
class MediaSession:
    """One m-line of an offer/answer pair and everything later stages attach to it."""

    call_id: str
    index: int  # m-line index in the SDP
    protocol: str  # msrp | bfcp | audio | video | other
    proto: str  # TCP/TLS/MSRP, ...
    negotiation: OfferAnswer
    offer_media: MediaDescription
    offerer: Endpoint  # signalling address of the offerer
    answerer: Endpoint
    offerer_uri: str | None
    answerer_uri: str | None
    offer_address: Endpoint | None  # c= and m= port of the offer
    offer_setup: str | None
    offer_key_mgmt: bytes | None  # a=key-mgmt:mikey data (media level over session level)
    answer_media: MediaDescription | None = None
    answer_address: Endpoint | None = None
    answer_setup: str | None = None
    answer_key_mgmt: bytes | None = None
    # Filled by later stages: "mikey", "tcp", "tls", "messages", ...
    attachments: dict[str, Any] = field(default_factory=dict)

    @property
    def offer(self) -> SipRecord:
        return self.negotiation.offer

    @property
    def answer(self) -> SipRecord | None:
        return self.negotiation.answer

    @property
    def offer_frame(self) -> int:
        return self.negotiation.offer.frame

    @property
    def answer_frame(self) -> int | None:
        a = self.negotiation.answer
        return a.frame if a is not None else None

    @property
    def dialog(self) -> Dialog | None:
        return self.negotiation.dialog

    @property
    def rejected(self) -> bool:
        """The answer set the port to 0 (RFC 3264 6)."""
        return self.answer_address is not None and self.answer_address.port == 0

    def active_side(self) -> str | None:
        """Which side opens TCP per RFC 4145 (4): "offerer", "answerer" or None.

        Without an answer nothing is decided; an absent attribute means active in the offer
        and passive in the answer.
        """
        if self.answer_media is None:
            return None
        a = self.answer_setup or "passive"
        if a == "active":
            return "answerer"
        if a == "passive":
            return "offerer"
        return None


@dataclass(eq=False, slots=True)
class _InviteTx:
    """State of one INVITE / PRACK / UPDATE transaction relevant to offer/answer."""

    request: SipRecord
    offer: OfferAnswer | None  # the request's own offer
    # Per dialog (tag pair): the pair this transaction negotiates there.
    per_dialog: dict[frozenset[str | None], OfferAnswer] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """How the call's initial INVITE ended (RFC 3261 13.2.2, 9.1)."""

    state: Ending
    frame: int | None  # the final response (for "cancelled": the CANCEL)
    status: int | None = None
    reason: str | None = None

    @property
    def reached_media(self) -> bool:
        """Only an accepted INVITE leads to media (an early-media answer aside)."""
        return self.state is Ending.ESTABLISHED

    def __str__(self) -> str:
        final = f"{self.status} {self.reason}" if self.status is not None else None
        where = f" (frame {self.frame})" if self.frame is not None else ""
        if self.state is Ending.ESTABLISHED:
            return f"established: {final}{where}"
        if self.state is Ending.CANCELLED:
            return f"cancelled by the caller{where}" + (
                f", INVITE answered {final}" if final else ""
            )
        if self.state is Ending.REJECTED:
            return f"rejected: {final}{where}"
        return "no final response to the INVITE in the capture"


@dataclass(eq=False, slots=True)
class Call:
    call_id: str
    records: list[SipRecord] = field(default_factory=list)
    dialogs: list[Dialog] = field(default_factory=list)
    negotiations: list[OfferAnswer] = field(default_factory=list)
    media: list[MediaSession] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    last_ns: int = 0  # capture time of its latest message
    size: int = 0  # SIP bytes of its records (see MAX_CALL_BYTES)
    overflow: bool = False  # a budget was passed: later messages are not tracked
    _txs: dict[tuple[int, str, str | None], _InviteTx] = field(default_factory=dict)
    _reliable: dict[tuple[int, int, str, str | None], SipRecord] = field(default_factory=dict)
    _seen: set[tuple[object, ...]] = field(default_factory=set)
    # First-seen records by transaction-and-message identity, to find hop copies.
    # (a list only when unrelated messages share the identity: rare)
    _firsts: dict[tuple[object, ...], SipRecord | list[SipRecord]] = field(default_factory=dict)

    @property
    def first_invite(self) -> SipRecord | None:
        for r in self.records:
            if r.msg.is_request and r.msg.method == "INVITE":
                return r
        return None

    @property
    def outcome(self) -> CallOutcome | None:
        """How the initial INVITE ended; None when the capture has no INVITE of the call."""
        inv = self.first_invite
        cs = inv.msg.cseq if inv is not None else None
        if cs is None:
            return None
        cancel: SipRecord | None = None
        failure: SipRecord | None = None
        for r in self.records:
            m = r.msg
            rcs = m.cseq
            if rcs is None or rcs.number != cs.number or r.retransmission:
                continue
            if m.is_request:
                if m.method == "CANCEL" and cancel is None:
                    cancel = r
                continue
            status = m.status or 0
            if rcs.method != "INVITE" or status < 200:
                continue
            if status < 300:
                return CallOutcome(Ending.ESTABLISHED, r.frame, status, _reason(m))
            if failure is None:
                failure = r
        st = failure.msg.status if failure is not None else None
        why = _reason(failure.msg) if failure is not None else None
        if cancel is not None:
            return CallOutcome(Ending.CANCELLED, cancel.frame, st, why)
        if failure is not None:
            return CallOutcome(Ending.REJECTED, failure.frame, st, why)
        return CallOutcome(Ending.NO_FINAL_RESPONSE, None)


def message_size(msg: SipMessage) -> int:
    """About the message's size on the wire (start line, headers and body), without
    rebuilding it: what it weighs in the budgets."""
    hs = msg.headers
    return 64 + len(msg.body) + sum([len(h.name) + len(h.value) for h in hs]) + 4 * len(hs)


def _reason(msg: SipMessage) -> str | None:
    start = msg.start
    return start.reason if isinstance(start, siplib.StatusLine) else None


def _tag(na: siplib.NameAddr | None) -> str | None:
    return na.tag if na is not None else None


def _is_focus(msg: SipMessage) -> bool:
    # (in the header as on the wire: the name holds no comma, space or line break, so it is
    # there exactly when one of the values holds it)
    if not any("isfocus" in h.value.lower() for h in msg.get_all("contact")):
        return False  # no Contact can carry the parameter: nothing to parse
    try:
        return any(c.param("isfocus") is not None for c in msg.contacts)
    except DissectError:
        return False


def _branches(msg: SipMessage) -> tuple[str | None, ...]:
    try:
        return tuple(v.branch for v in msg.vias)
    except DissectError:
        return ()


def _deeper(a: tuple[str | None, ...], b: tuple[str | None, ...]) -> bool:
    """One Via list is the other with proxies' Vias on top (same branch further down)."""
    short, long = (a, b) if len(a) < len(b) else (b, a)
    if not short or len(short) == len(long) or short[0] is None:
        return False
    return short[0] in long[1:]


def _media_address(sd: SessionDescription, index: int) -> Endpoint | None:
    try:
        c = sd.media_connection(index)
        port = sd.media[index].m.port
    except DissectError:
        return None
    return Endpoint(canonical_address(c.address), port) if c is not None else None


_SERVED = frozenset({"msrp", "bfcp"})  # the m-lines whose addresses TCP connections serve


class CallTracker:
    """Groups SIP records into calls and dialogs and pairs offers with answers."""

    def __init__(self, file: str | None = None) -> None:
        self.file = file
        self.calls: dict[str, Call] = {}
        self.records: list[SipRecord] = []
        self.problems: list[Problem] = []
        self.held = 0  # SIP bytes of the records of the calls in ``calls``
        # Where the MSRP/BFCP m-lines of the calls in ``calls`` listen (offer and answer
        # addresses), with how many name each: kept as they change, so that a new TCP
        # connection is told at once whether an SDP names its server. Bounded by the calls
        # held (a released call takes its addresses with it).
        self.media_servers: dict[Endpoint, int] = {}

    def __iter__(self) -> Iterator[Call]:
        return iter(self.calls.values())

    @property
    def media_sessions(self) -> list[MediaSession]:
        return [m for c in self.calls.values() for m in c.media]

    def release(self, call: Call) -> None:
        """Forget ``call`` (it was reported, or given up)."""
        del self.calls[call.call_id]
        self.held -= call.size
        for ms in call.media:
            if ms.protocol in _SERVED:
                self._named(ms.offer_address, -1)
                self._named(ms.answer_address, -1)

    def _named(self, ep: Endpoint | None, by: int) -> None:
        if ep is None:
            return
        n = self.media_servers.get(ep, 0) + by
        if n > 0:
            self.media_servers[ep] = n
        else:
            del self.media_servers[ep]

    def add(
        self,
        msg: SipMessage,
        *,
        frame: int,
        ts_ns: int,
        src: Endpoint,
        dst: Endpoint,
        transport: str,
        first_frame: int | None = None,
        problems: tuple[Problem, ...] = (),
        tunnel: Tunnel | None = None,
    ) -> SipRecord:
        """Record one message and update its call; never raises on malformed content."""
        rec = SipRecord(
            msg,
            frame,
            first_frame if first_frame is not None else frame,
            ts_ns,
            src,
            dst,
            transport,
            len(self.records),
            tunnel,
            problems=problems,
        )
        self.records.append(rec)
        extra = self._attach_sdp(rec)
        if extra:
            rec.problems = rec.problems + tuple(extra)
            self.problems.extend(extra)
        try:
            self._track(rec)
        except DissectError as e:
            p = self._problem(e, rec.frame)
            rec.problems = (*rec.problems, p)
            self.problems.append(p)
        except Exception as e:  # the fault barrier of a message: the next one goes on
            p = internal_problem(e, "the SIP message", rec.frame, self.file)
            rec.problems = (*rec.problems, p)
            self.problems.append(p)
        return rec

    def _problem(self, e: DissectError, frame: int) -> Problem:
        return Problem(e.layer, e.reason, frame, self.file, e.field, None, code=e.code)

    def _attach_sdp(self, rec: SipRecord) -> list[Problem]:
        try:
            body = rec.msg.sdp_body()
        except DissectError as e:
            return [self._problem(e, rec.frame)]
        if not body:
            return []
        sd, errors = sdplib.decode(body)
        rec.sdp = sd
        return [
            Problem(e.layer, e.reason, rec.frame, self.file, e.field, e.offset, Severity.ERROR)
            for e in errors
        ]

    # ---- dialogs and transactions

    def _track(self, rec: SipRecord) -> None:
        msg = rec.msg
        call_id = msg.call_id
        if call_id is None:
            raise DissectError("sip", 0, "no Call-ID", "call-id")
        # Read before the message joins its call: a malformed CSeq raises here, as a problem of
        # this message, instead of later from every walk over the call's records.
        cseq = msg.cseq
        if cseq is None:
            raise DissectError("sip", 0, "no CSeq", "cseq")
        # The tags too: dialog matching reads From and To of every record of the call.
        from_tag, to_tag = _tag(msg.from_), _tag(msg.to)
        call = self.calls.get(call_id)
        if call is None:
            call = self.calls[call_id] = Call(call_id)
        size = message_size(msg)
        if call.overflow or (
            call.records  # the first message always joins: it makes the call
            and (len(call.records) >= MAX_RECORDS_PER_CALL or call.size + size > MAX_CALL_BYTES)
        ):
            if not call.overflow:
                call.overflow = True
                p = Problem(
                    "sip",
                    f"call {call_id}: more than {MAX_RECORDS_PER_CALL} messages or "
                    f"{MAX_CALL_BYTES >> 20} MiB of SIP; this and later messages of the call "
                    "are not tracked",
                    rec.frame,
                    self.file,
                    "call-id",
                    severity=Severity.WARNING,
                    code="budget.call_messages",
                )
                call.problems.append(p)
                self.problems.append(p)
            return
        call.records.append(rec)
        call.size += size
        call.last_ns = max(call.last_ns, rec.ts_ns)
        self.held += size
        key = self._retrans_key(rec, cseq, from_tag, to_tag)
        seen = call._seen
        held = len(seen)
        if held < MAX_SEEN_KEYS:
            seen.add(key)  # (one hash of the key: it was there when the set did not grow)
            if len(seen) == held:
                rec.retransmission = True
                return
        elif key in seen:
            rec.retransmission = True
            return
        first = self._hop_original(call, rec, cseq, from_tag, to_tag)
        dialog = self._dialog(call, rec, from_tag, to_tag)
        if dialog is not None:
            dialog.records.append(rec)
        if first is not None:
            # The transaction already did its offer/answer work at its first hop.
            rec.hop_of = first
            first.hops = (*first.hops, rec)
            return
        if msg.is_request:
            self._request(call, rec, cseq, from_tag, dialog)
        else:
            self._response(call, rec, cseq, from_tag, dialog)

    @staticmethod
    def _retrans_key(
        rec: SipRecord, cseq: siplib.CSeq, from_tag: str | None, to_tag: str | None
    ) -> tuple[object, ...]:
        try:
            via = rec.msg.top_via
        except DissectError:
            via = None  # a malformed Via does not keep the message out of its dialog
        src, dst = rec.src, rec.dst
        return (
            # (the endpoints' fields: a tuple of them hashes without a call into the class)
            src.ip,
            src.port,
            dst.ip,
            dst.port,
            str(rec.msg.start),
            cseq.number,
            cseq.method,
            via.branch if via else None,
            from_tag,
            to_tag,
            rec.msg.get("rseq"),
            hash(rec.msg.body),  # a digest, not the body: the set stays small
        )

    @staticmethod
    def _hop_original(
        call: Call, rec: SipRecord, cseq: siplib.CSeq, from_tag: str | None, to_tag: str | None
    ) -> SipRecord | None:
        """The first-seen record of which ``rec`` is a copy on another hop, else None.

        Same Call-ID (the call), CSeq, start (method or status), tags and RSeq, on another
        src/dst pair, and either the Via list of one is the other's plus Vias of proxies (the
        shorter list's top branch sits deeper in the longer one) or, when Vias do not tell
        (rewritten, malformed), the same non-empty body. A retransmission on the same hop
        never gets here; a fork answers with another To-tag; a B2BUA starts another Call-ID.
        """
        msg = rec.msg
        ident = (
            msg.method if msg.is_request else msg.status,
            cseq.number,
            cseq.method,
            from_tag,
            to_tag,
            msg.get("rseq"),
        )
        known = call._firsts.get(ident)
        if known is None:
            if len(call._firsts) < MAX_SEEN_KEYS:
                call._firsts[ident] = rec
            return None
        firsts = known if isinstance(known, list) else [known]
        branches = _branches(msg)
        for f in firsts:
            if (f.src, f.dst) == (rec.src, rec.dst):
                continue
            if _deeper(branches, _branches(f.msg)) or (msg.body and msg.body == f.msg.body):
                return f
        if len(firsts) < MAX_FIRSTS_PER_IDENT:
            # the same CSeq on an unrelated path: a first of its own
            call._firsts[ident] = [*firsts, rec]
        return None

    def _dialog(
        self, call: Call, rec: SipRecord, from_tag: str | None, to_tag: str | None
    ) -> Dialog | None:
        if to_tag is None:
            return None
        for d in call.dialogs:
            # (``d.tags == {from_tag, to_tag}`` without building the two sets)
            ct, et = d.caller_tag, d.callee_tag
            if (ct == from_tag and et == to_tag) or (ct == to_tag and et == from_tag):
                self._note_focus(d, rec)
                return d
        msg = rec.msg
        if msg.is_request:
            # A mid-dialog request for a dialog whose set-up we did not capture.
            caller, callee, c_tag, e_tag = rec.src, rec.dst, from_tag, to_tag
            c_uri, e_uri = self._uri(msg.from_), self._uri(msg.to)
        elif msg.method == "INVITE" and rec.msg.status != 100:
            caller, callee, c_tag, e_tag = rec.dst, rec.src, from_tag, to_tag
            cseq = msg.cseq
            tx = call._txs.get((cseq.number, "INVITE", from_tag)) if cseq else None
            if tx is not None:
                # In the core the response may first show up a hop away from the caller.
                caller = tx.request.src
            c_uri, e_uri = self._uri(msg.from_), self._uri(msg.to)
        else:
            return None
        d = Dialog(call.call_id, c_tag, e_tag, caller, callee, c_uri, e_uri)
        call.dialogs.append(d)
        # Requests sent before the dialog existed (the INVITE) belong to it too.
        for r in call.records:
            if (
                r is not rec
                and r.msg.is_request
                and _tag(r.msg.to) is None
                and _tag(r.msg.from_) == c_tag
                and r not in d.records
            ):
                d.records.append(r)
                self._note_focus(d, r)
        self._note_focus(d, rec)
        return d

    @staticmethod
    def _uri(na: siplib.NameAddr | None) -> str | None:
        return na.uri if na is not None else None

    @staticmethod
    def _note_focus(d: Dialog, rec: SipRecord) -> None:
        if not _is_focus(rec.msg):
            return
        from_caller = _tag(rec.msg.from_) == d.caller_tag
        sender_is_caller = from_caller if rec.msg.is_request else not from_caller
        if sender_is_caller:
            d.caller_focus = True
        else:
            d.callee_focus = True

    def _request(
        self,
        call: Call,
        rec: SipRecord,
        cseq: siplib.CSeq,
        from_tag: str | None,
        dialog: Dialog | None,
    ) -> None:
        method = rec.msg.method or ""
        sd = rec.sdp
        if method in ("INVITE", "UPDATE", "PRACK"):
            tx = _InviteTx(rec, None)
            call._txs[(cseq.number, method, from_tag)] = tx
            if method == "PRACK" and self._prack_answers(call, rec, from_tag, dialog):
                return
            if sd is not None:
                kind = {"INVITE": "INVITE/answer", "UPDATE": "UPDATE/2xx"}.get(method, "PRACK/2xx")
                tx.offer = OfferAnswer(kind, rec, sd, dialog)
                call.negotiations.append(tx.offer)
                self._media_from_offer(call, tx.offer)
        elif method == "ACK":
            itx = call._txs.get((cseq.number, "INVITE", from_tag))
            if itx is not None and sd is not None and dialog is not None:
                oa = itx.per_dialog.get(dialog.tags)
                if oa is not None and oa.offer is not itx.request and oa.answer is None:
                    self._answer(call, oa, rec, reliable=True)
        elif method == "BYE" and dialog is not None:
            dialog.state = DialogState.TERMINATED

    def _prack_answers(
        self, call: Call, rec: SipRecord, from_tag: str | None, dialog: Dialog | None
    ) -> bool:
        """A PRACK carrying the answer to an offer made in a reliable 18x."""
        try:
            rack = rec.msg.rack
        except DissectError:
            return False
        if rack is None or rec.sdp is None:
            return False
        prov = call._reliable.get((rack.rseq, rack.cseq, rack.method, from_tag))
        if prov is None:
            return False
        tx = call._txs.get((rack.cseq, rack.method, from_tag))
        if tx is None or dialog is None:
            return False
        oa = tx.per_dialog.get(dialog.tags)
        if oa is None or oa.offer is not prov or oa.answer is not None:
            return False
        self._answer(call, oa, rec, reliable=True)
        return True

    def _response(
        self,
        call: Call,
        rec: SipRecord,
        cseq: siplib.CSeq,
        from_tag: str | None,
        dialog: Dialog | None,
    ) -> None:
        status = rec.msg.status or 0
        tx = call._txs.get((cseq.number, cseq.method, from_tag))
        try:
            reliable = rec.msg.reliable
        except DissectError:
            reliable = False  # a malformed RSeq: treated as an unreliable provisional
        if reliable and dialog is not None:
            rseq = rec.msg.rseq
            if rseq is not None:
                call._reliable[(rseq, cseq.number, cseq.method, from_tag)] = rec
        if dialog is not None and cseq.method == "INVITE":
            if 200 <= status < 300:
                dialog.state = DialogState.CONFIRMED
            elif status >= 300 and dialog.state is DialogState.EARLY:
                dialog.state = DialogState.FAILED
        if tx is None or dialog is None or status < 101 or status >= 300:
            return
        sd = rec.sdp
        if sd is None:
            return
        definitive = status >= 200 or reliable
        oa = tx.per_dialog.get(dialog.tags)
        if tx.offer is not None:
            if oa is None:
                if tx.offer.dialog is None or tx.offer.dialog is dialog:
                    oa = tx.offer
                else:
                    # A second fork answers the same offer: a pair of its own.
                    oa = OfferAnswer(tx.offer.kind, tx.request, tx.offer.offer_sdp, dialog)
                    call.negotiations.append(oa)
                    self._media_from_offer(call, oa)
                oa.dialog = dialog
                tx.per_dialog[dialog.tags] = oa
            if oa.answer is None or (definitive and not oa.answer_reliable):
                self._answer(call, oa, rec, reliable=definitive)
        elif cseq.method == "INVITE" and definitive and oa is None:
            # INVITE without SDP: this response is the offer, the answer comes in PRACK/ACK.
            kind = "18x/PRACK" if status < 200 else "2xx/ACK"
            oa = OfferAnswer(kind, rec, sd, dialog)
            tx.per_dialog[dialog.tags] = oa
            call.negotiations.append(oa)
            self._media_from_offer(call, oa)

    # ---- media sessions

    def _media_from_offer(self, call: Call, oa: OfferAnswer) -> None:
        rec, sd = oa.offer, oa.offer_sdp
        msg = rec.msg
        if msg.is_request:
            o_uri, a_uri = self._uri(msg.from_), self._uri(msg.to)
        else:
            o_uri, a_uri = self._uri(msg.to), self._uri(msg.from_)
        for i, md in enumerate(sd.media):
            try:
                proto, protocol = md.proto, md.protocol
            except DissectError:
                continue
            offer_address = _media_address(sd, i)
            if protocol in _SERVED:
                self._named(offer_address, 1)
            call.media.append(
                MediaSession(
                    call_id=call.call_id,
                    index=i,
                    protocol=protocol,
                    proto=proto,
                    negotiation=oa,
                    offer_media=md,
                    offerer=rec.src,
                    answerer=rec.dst,
                    offerer_uri=o_uri,
                    answerer_uri=a_uri,
                    offer_address=offer_address,
                    offer_setup=sd.media_setup(i),
                    offer_key_mgmt=self._key_mgmt(sd, i, rec, call),
                )
            )

    def _key_mgmt(
        self, sd: SessionDescription, index: int, rec: SipRecord, call: Call
    ) -> bytes | None:
        """The a=key-mgmt:mikey data for m-line ``index``; a bad one is a located problem."""
        try:
            km = sd.media_key_mgmt(index)
        except DissectError as e:
            p = self._problem(e, rec.frame)
            call.problems.append(p)
            self.problems.append(p)
            rec.problems = (*rec.problems, p)
            return None
        return km.data if km is not None else None

    def _answer(self, call: Call, oa: OfferAnswer, rec: SipRecord, *, reliable: bool) -> None:
        sd = rec.sdp
        if sd is None:
            return
        oa.answer, oa.answer_sdp, oa.answer_reliable = rec, sd, reliable
        for ms in call.media:
            if ms.negotiation is not oa:
                continue
            ms.answerer = rec.src
            if ms.index >= len(sd.media):
                ms.answer_media = None
                continue
            md = sd.media[ms.index]
            ms.answer_media = md
            address = _media_address(sd, ms.index)
            if ms.protocol in _SERVED:
                self._named(ms.answer_address, -1)
                self._named(address, 1)
            ms.answer_address = address
            ms.answer_setup = sd.media_setup(ms.index)
            ms.answer_key_mgmt = self._key_mgmt(sd, ms.index, rec, call)


# --------------------------------------------------------------------------------------------
# Flow handler: find SIP in UDP datagrams and TCP streams


class TcpConn(Protocol):
    """What this handler needs of :class:`mikeyshark.flows.TcpConnection`."""

    @property
    def client(self) -> Endpoint: ...

    @property
    def server(self) -> Endpoint: ...


@dataclass(slots=True)
class _Direction:
    src: Endpoint
    dst: Endpoint
    framer: siplib.SipStreamFramer | None = None  # None until the stream is known to be SIP
    pending: bytearray = field(default_factory=bytearray)  # bytes held while deciding
    pending_offset: int = 0
    pending_frames: deque[tuple[int, int, int]] = field(default_factory=deque)
    # (stream offset, frame, ts_ns) of chunks still (partly) in the framer's buffer
    chunks: deque[tuple[int, int, int]] = field(default_factory=deque)
    not_sip: bool = False
    transport: str = "TCP"  # "TLS" for the decrypted stream of a SIP/TLS connection
    tunnel: Tunnel | None = None


# The state of every direction found not to carry SIP (most TCP of a capture): one object.
_NOT_SIP = _Direction(Endpoint("", 0), Endpoint("", 0), not_sip=True)


class SipFlowHandler:
    """A :mod:`mikeyshark.flows` handler that feeds SIP to a :class:`CallTracker`.

    UDP: port 5060 on either side or a datagram that starts like SIP. TCP: each direction
    whose first line is a SIP start line (or which uses port 5060) goes through a
    :class:`~dissectors.sip.SipStreamFramer`; per-direction state is dropped on close and is
    bounded by the framer's limits.
    """

    def __init__(
        self,
        tracker: CallTracker | None = None,
        file: str | None = None,
        ports: frozenset[int] = CLEAR_SIP_PORTS,
    ) -> None:
        self.tracker = tracker if tracker is not None else CallTracker(file)
        self.file = file
        self.ports = ports
        # One list for framing, SIP, SDP and key-mgmt problems: the tracker's.
        self.problems: list[Problem] = self.tracker.problems
        self._tcp: dict[tuple[int, bool], _Direction] = {}

    def _report(self, e: DissectError, frame: int | None) -> Problem:
        p = Problem(e.layer, e.reason, frame, self.file, e.field, e.offset, Severity.ERROR)
        self.problems.append(p)
        return p

    def on_problem(self, problem: Problem) -> None:
        self.problems.append(problem)

    def on_udp(self, frame: Frame, src: Endpoint, dst: Endpoint, payload: bytes) -> None:
        if not (src.port in self.ports or dst.port in self.ports or siplib.looks_like_sip(payload)):
            return
        if not payload or (payload[0] in (0x0A, 0x0D) and not payload.strip(b"\r\n")):
            return  # CRLF keep-alive (RFC 5626 4.4.1) (tested without a copy of a message)
        if payload[0] < 0x20 and payload[0] not in (0x0A, 0x0D):
            return  # binary on the SIP port: STUN keep-alives (RFC 5626 4.4.2), not SIP
        try:
            d = siplib.decode_datagram(payload)
        except DissectError as e:
            if src.port in self.ports or dst.port in self.ports:
                self._report(e, frame.number)
            return
        probs = tuple(self._report(e, frame.number) for e in d.errors) if d.errors else ()
        self.tracker.add(
            d.message,
            frame=frame.number,
            ts_ns=frame.ts_ns,
            src=src,
            dst=dst,
            transport="UDP",
            problems=probs,
            tunnel=frame.tunnel if isinstance(frame, TunnelFrame) else None,
        )

    def on_tcp_open(self, conn: TcpConn) -> None:
        for from_client in (True, False):
            self._tcp.pop((id(conn), from_client), None)

    def on_tcp_data(self, conn: TcpConn, from_client: bool, chunk: StreamChunk) -> None:
        key = (id(conn), from_client)
        st = self._tcp.get(key)
        if st is None:
            data = chunk.data
            if data and data[0] < 0x20 and data[0] not in (0x0A, 0x0D):
                # binary from the first byte (TLS, ...): what _decide would find, without
                # the state of a direction to find it with
                self._tcp[key] = _NOT_SIP
                return
            src, dst = (conn.client, conn.server) if from_client else (conn.server, conn.client)
            st = self._tcp[key] = _Direction(
                src,
                dst,
                pending_offset=chunk.offset,
                transport=getattr(conn, "transport", "TCP"),
                tunnel=getattr(conn, "tunnel", None),
            )
        if st.not_sip:
            return
        src, dst = st.src, st.dst
        if st.framer is None:
            if chunk.gap or (st.pending and chunk.offset != st.pending_offset + len(st.pending)):
                st.pending.clear()
                st.pending_frames.clear()
                st.pending_offset = chunk.offset
            if not st.pending:
                st.pending_offset = chunk.offset
            st.pending += chunk.data
            st.pending_frames.append((chunk.offset, chunk.frame, chunk.ts_ns))
            framer = self._decide(key, st, src, dst)
            if framer is None:
                return
            data, offset = bytes(st.pending), st.pending_offset
            st.chunks = st.pending_frames
            st.pending = bytearray()
            st.pending_frames = deque()
            self._deliver(st, framer.feed(data, offset), src, dst)
            return
        st.chunks.append((chunk.offset, chunk.frame, chunk.ts_ns))
        self._deliver(st, st.framer.feed(chunk.data, chunk.offset), src, dst)

    def _decide(
        self, key: tuple[int, bool], st: _Direction, src: Endpoint, dst: Endpoint
    ) -> siplib.SipStreamFramer | None:
        """The framer once the direction is known to carry SIP; None while undecided or not SIP."""
        buf = bytes(st.pending)
        if not siplib.looks_like_sip(buf.lstrip(b"\r\n")):
            binary = bool(buf) and buf[0] < 0x20 and buf[0] not in (0x0A, 0x0D)  # TLS, ...
            if b"\n" not in buf and len(buf) < 64 and not binary:
                return None  # the first line is not complete yet
            if binary or (src.port not in self.ports and dst.port not in self.ports):
                self._tcp[key] = _NOT_SIP  # all there is to know of it now, shared
                return None
        st.framer = siplib.SipStreamFramer(st.pending_offset)
        return st.framer

    def declined(self, conn: TcpConn, from_client: bool) -> bool:
        """This direction of ``conn`` was found not to carry SIP: its later bytes are ignored."""
        return self._tcp.get((id(conn), from_client)) is _NOT_SIP

    def on_tcp_close(self, conn: TcpConn) -> None:
        for from_client in (True, False):
            st = self._tcp.pop((id(conn), from_client), None)
            if st is not None and st.framer is not None:
                self._deliver(st, st.framer.close(), st.src, st.dst)

    def finish(self) -> None:
        """End of capture: deliver what streams that never closed still hold."""
        for st in self._tcp.values():
            if st.framer is not None:
                self._deliver(st, st.framer.close(), st.src, st.dst)
        self._tcp.clear()

    def oldest_pending_frame(self) -> int | None:
        """The earliest frame whose bytes a stream still holds (a message may yet end there)."""
        oldest: int | None = None
        for st in self._tcp.values():
            f: int | None = None
            if st.framer is not None and st.framer.buffered and st.chunks:
                f = st.chunks[0][1]
            elif st.framer is None and st.pending_frames:
                f = st.pending_frames[0][1]
            if f is not None and (oldest is None or f < oldest):
                oldest = f
        return oldest

    def _frame_at(self, st: _Direction, offset: int) -> tuple[int, int]:
        """(frame, ts) of the chunk holding stream byte ``offset``."""
        best = st.chunks[0] if st.chunks else (0, 0, 0)
        for c in st.chunks:
            if c[0] <= offset:
                best = c
            else:
                break
        return best[1], best[2]

    def _deliver(
        self,
        st: _Direction,
        items: list[siplib.Decoded | DissectError],
        src: Endpoint,
        dst: Endpoint,
    ) -> None:
        for item in items:
            if isinstance(item, DissectError):
                frame, _ = self._frame_at(st, item.offset)
                self._report(item, frame or None)
                continue
            first, _ = self._frame_at(st, item.start)
            last, ts = self._frame_at(st, max(item.start, item.end - 1))
            probs = tuple(
                self._report(e, self._frame_at(st, e.offset)[0] or None) for e in item.errors
            )
            self.tracker.add(
                item.message,
                frame=last,
                ts_ns=ts,
                src=src,
                dst=dst,
                transport=st.transport,
                first_frame=first,
                problems=probs,
                tunnel=st.tunnel,
            )
        assert st.framer is not None
        # Forget chunks wholly before what the framer still holds.
        keep_from = st.framer.buffer_start
        while len(st.chunks) > 1 and st.chunks[1][0] <= keep_from:
            st.chunks.popleft()


def track_capture(
    source: str | os.PathLike[str] | BinaryIO, name: str | None = None
) -> tuple[CallTracker, list[Problem]]:
    """Read a capture and return its calls and every located problem (capture, flows, SIP).

    Raises :class:`mikeyshark.capture.CaptureError` when the input is not a capture.
    """
    from mikeyshark.capture import CaptureReader
    from mikeyshark.flows import FlowTable

    reader = CaptureReader(source, name)
    handler = SipFlowHandler(file=reader.name)
    table = FlowTable(handler, file=reader.name)
    table.feed_all(reader)
    handler.finish()
    return handler.tracker, [*reader.problems, *handler.problems]
