"""MSRP and BFCP over one TCP connection: from in-order plaintext to located messages.

A session object takes the plaintext of both directions as :class:`~mikeyshark.model.StreamChunk`
pieces (from ``mikeyshark.decrypt`` for TLS, or straight from ``mikeyshark.flows`` for a plain
``TCP/MSRP`` / ``TCP/BFCP`` m-line), frames it with the sans-IO framers of ``dissectors``,
and keeps, per message, the frame where it starts and the frame where it ends. On top of the
messages it correlates what the reports need: MSRP transaction responses, REPORTs, chunk
reassembly and the chat transcript (message/cpim unwrapped); BFCP transaction pairs and the
floor timeline.
"""

from __future__ import annotations

import base64
import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from mikeyshark.dissectors import bfcp, cpim, msrp
from mikeyshark.dissectors.consts import ValueTable
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.framing import FramingError
from mikeyshark.model import Endpoint, Problem, Severity, StreamChunk

M = TypeVar("M", msrp.Message, bfcp.Message)


# Not frozen, though never changed: one is made for every message, and a frozen dataclass
# sets each field through object.__setattr__ (several times slower); nothing hashes one.
@dataclass(slots=True)
class Located(Generic[M]):
    """One message with where it was: frames of its first and last byte, stream offsets."""

    index: int  # position in the session's message list (both directions, in arrival order)
    sender: Endpoint
    receiver: Endpoint
    frame: int
    last_frame: int
    ts_ns: int
    start: int  # stream offset (per direction) of the first byte
    end: int  # stream offset after the last byte
    raw: bytes
    message: M


MsrpRecord = Located[msrp.Message]
BfcpRecord = Located[bfcp.Message]


class _FrameMap:
    """Which frame carried a given stream offset; forgets what the framer no longer needs."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._spans: list[tuple[int, int]] = []  # (frame, ts_ns) of the piece at that start

    def add(self, start: int, frame: int, ts_ns: int) -> None:
        self._starts.append(start)
        self._spans.append((frame, ts_ns))

    def locate(self, offset: int) -> tuple[int, int]:
        if len(self._starts) == 1:  # (a message in one piece, most)
            return self._spans[0]
        i = bisect.bisect_right(self._starts, offset) - 1
        if i < 0:
            i = 0
        return self._spans[i]

    def forget_before(self, offset: int) -> None:
        i = bisect.bisect_right(self._starts, offset) - 1
        if i > 0:
            del self._starts[:i]
            del self._spans[:i]


@dataclass
class _Direction:
    sender: Endpoint
    receiver: Endpoint
    framer: msrp.MsrpFramer | bfcp.BfcpFramer
    frames: _FrameMap = field(default_factory=_FrameMap)
    expected: int = 0  # stream offset of the next byte the framer wants


class _Session(Generic[M]):
    layer = ""

    def __init__(self, a: Endpoint, b: Endpoint, *, file: str | None = None) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.messages: list[Located[M]] = []
        self.response_of: dict[int, int] = {}  # request index -> response index
        self.request_of: dict[int, int] = {}  # response index -> request index
        self._dirs = {a: self._direction(a, b), b: self._direction(b, a)}
        self._closed = False
        # the two endpoints as the JSON report writes them: every message names one
        self._names = {a: str(a), b: str(b)}

    def _pair(self, request: int, response: int) -> None:
        self.response_of[request] = response
        self.request_of[response] = request

    def pair_frames(self, index: int) -> dict[str, object]:
        """For the JSON report: the frame of message ``index``'s response or request."""
        d: dict[str, object] = {}
        self._add_pair_frames(index, d)
        return d

    def _add_pair_frames(self, index: int, d: dict[str, object]) -> None:
        if (i := self.response_of.get(index)) is not None:
            d["response_frame"] = self.messages[i].frame
        if (i := self.request_of.get(index)) is not None:
            d["request_frame"] = self.messages[i].frame

    def fields(self, rec: Located[M]) -> dict[str, object]:
        """:meth:`to_json` without ``frame`` and ``from``, the fields the report's messages
        hold (``MediaMessage.fields``: the message's frame and sender are beside them)."""
        raise NotImplementedError

    def to_json(self, rec: Located[M]) -> dict[str, object]:
        """The JSON report's dict for one message of the session."""
        return {"frame": rec.frame, "from": self._names[rec.sender], **self.fields(rec)}

    def _direction(self, sender: Endpoint, receiver: Endpoint) -> _Direction:
        raise NotImplementedError

    def feed(self, sender: Endpoint, chunk: StreamChunk) -> list[Located[M]]:
        """Take the next plaintext piece sent by ``sender``; return the messages it completed."""
        return self.feed_data(sender, chunk.frame, chunk.ts_ns, chunk.offset, chunk.data)

    def feed_data(
        self, sender: Endpoint, frame: int, ts_ns: int, offset: int, data: bytes
    ) -> list[Located[M]]:
        """:meth:`feed` with the piece's fields (no StreamChunk made for each record)."""
        d = self._dirs[sender]
        gap = offset - d.expected
        if gap < 0:  # overlap with what was already fed: keep only the new bytes
            data = data[-gap:]
            gap = 0
            if not data:
                return []
        start = d.expected + gap
        d.frames.add(start, frame, ts_ns)
        d.expected = start + len(data)
        out = self._take(d, d.framer.feed(data, gap))
        d.frames.forget_before(d.framer.oldest)
        return out

    def feed_all(self, chunks: Iterable[tuple[Endpoint, StreamChunk]]) -> None:
        for sender, chunk in chunks:
            self.feed(sender, chunk)
        self.close()

    def close(self) -> None:
        """End of the connection: report unfinished messages and unanswered transactions."""
        if self._closed:
            return
        self._closed = True
        for d in self._dirs.values():
            self._take(d, d.framer.close())
        self._finish()

    def _finish(self) -> None:
        pass

    def _take(
        self, d: _Direction, framed: Sequence[msrp.Framed] | Sequence[bfcp.Framed]
    ) -> list[Located[M]]:
        out: list[Located[M]] = []
        for f in framed:
            if isinstance(f, FramingError):
                self._problem(d, f.error)
                continue
            frame, ts = d.frames.locate(f.start)
            last, _ = d.frames.locate(f.end - 1)
            rec: Located[M] = Located(
                len(self.messages),
                d.sender,
                d.receiver,
                frame,
                last,
                ts,
                f.start,
                f.end,
                f.raw,
                f.message,  # type: ignore[arg-type]
            )
            self.messages.append(rec)
            self._correlate(rec)
            out.append(rec)
        return out

    def _correlate(self, rec: Located[M]) -> None:
        pass

    def _problem(self, d: _Direction, e: DissectError) -> None:
        frame = d.frames.locate(min(e.offset, d.expected - 1))[0] if d.expected else None
        self.problems.append(
            Problem(
                self.layer,
                f"{d.sender} -> {d.receiver}: {e.reason}",
                frame=frame,
                file=self.file,
                field=e.field,
                offset=e.offset,
            )
        )

    def _note(self, rec: Located[M], reason: str, severity: Severity, fld: str | None) -> None:
        self.problems.append(
            Problem(
                self.layer,
                f"{rec.sender} -> {rec.receiver}: {reason}",
                frame=rec.frame,
                file=self.file,
                field=fld,
                offset=rec.start,
                severity=severity,
            )
        )


# --------------------------------------------------------------------------- MSRP


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One whole SEND message (its chunks reassembled), as the transcript shows it."""

    sender: Endpoint
    receiver: Endpoint
    message_id: str
    state: str  # complete | aborted | incomplete
    frame: int  # frame of the first chunk's first byte
    last_frame: int  # frame of the last chunk's end-line
    ts_ns: int
    chunks: tuple[int, ...]  # indexes into MsrpSession.messages
    content_type: str | None
    content: bytes  # the reassembled body (for message/cpim: the whole CPIM object)
    cpim: cpim.CpimMessage | None
    inner_type: str | None  # media type of what the user sent (CPIM unwrapped)
    text: str | None  # the inner content as text when it decodes as UTF-8
    delivered: bool | None  # every chunk got a 200 (None: no chunk asked for a response)
    report: str | None  # Status of the last REPORT about this message, e.g. "000 200 OK"
    problems: tuple[str, ...] = ()


class MsrpSession(_Session[msrp.Message]):
    """MSRP between two endpoints over one connection (both directions)."""

    layer = msrp.LAYER

    def __init__(
        self,
        a: Endpoint,
        b: Endpoint,
        *,
        file: str | None = None,
        max_message: int = msrp.DEFAULT_MAX_MESSAGE,
    ) -> None:
        self._max = max_message
        self._pending: dict[tuple[Endpoint, str], int] = {}  # (request sender, tid) -> index
        self.reports: dict[tuple[Endpoint, str], list[int]] = {}  # (SEND sender, Message-ID)
        self._reassembly = {
            a: msrp.Reassembler[int](max_message),
            b: msrp.Reassembler[int](max_message),
        }
        self.chat: list[ChatMessage] = []
        super().__init__(a, b, file=file)

    def _direction(self, sender: Endpoint, receiver: Endpoint) -> _Direction:
        return _Direction(sender, receiver, msrp.MsrpFramer(self._max))

    def _correlate(self, rec: MsrpRecord) -> None:
        m = rec.message
        if m.is_request:
            self._pending[(rec.sender, m.transaction_id)] = rec.index
            if m.method == "REPORT" and m.message_id is not None:
                self.reports.setdefault((rec.receiver, m.message_id), []).append(rec.index)
            for done in self._reassembly[rec.sender].add(m, rec.index):
                if done.state == msrp.STATE_DUPLICATE:
                    self._note(
                        rec,
                        f"chunk of Message-ID {done.message_id} after the message was complete",
                        Severity.WARNING,
                        "Message-ID",
                    )
                else:
                    self._chat(done)
            return
        req = self._pending.pop((rec.receiver, m.transaction_id), None)
        if req is None:
            self._note(
                rec,
                f"response {m.status} to unknown transaction {m.transaction_id}",
                Severity.WARNING,
                "transaction_id",
            )
            return
        self._pair(req, rec.index)

    def _finish(self) -> None:
        for r in self._reassembly.values():
            for done in r.flush():
                self._chat(done)
        self.chat.sort(key=lambda c: c.chunks[0])
        for (_, tid), idx in sorted(self._pending.items(), key=lambda kv: kv[1]):
            rec = self.messages[idx]
            if _wants_response(rec.message):
                self._note(
                    rec, f"{rec.message.method} {tid} got no response", Severity.WARNING, None
                )

    def _chat(self, done: msrp.Reassembled[int]) -> None:
        recs = [self.messages[i] for i in done.refs]
        first = min(recs, key=lambda r: r.index)
        last = max(recs, key=lambda r: r.index)
        issues = list(done.conflicts)
        if done.state != msrp.STATE_COMPLETE:
            holes = ", ".join(f"{a}-{b}" for a, b in done.missing)
            issues.append(f"message {done.state}" + (f", missing bytes {holes}" if holes else ""))
        if done.duplicates:
            issues.append(f"{done.duplicates} duplicate chunk(s)")
        wrapped = None
        inner_type = (done.content_type or "").split(";", 1)[0].strip().lower() or None
        inner = done.body
        if inner_type == cpim.MEDIA_TYPE and done.state == msrp.STATE_COMPLETE:
            try:
                wrapped = cpim.parse_cpim(done.body)
            except DissectError as e:
                issues.append(f"message/cpim: {e}")
            else:
                inner_type = wrapped.media_type
                inner = wrapped.body
        text = _text(inner)
        delivered, report = self._delivery(first.sender, done.message_id, done.refs)
        for msg in issues:
            self._note(
                first, f"Message-ID {done.message_id}: {msg}", Severity.WARNING, "Byte-Range"
            )
        self.chat.append(
            ChatMessage(
                first.sender,
                first.receiver,
                done.message_id,
                done.state,
                first.frame,
                last.last_frame,
                first.ts_ns,
                tuple(done.refs),
                done.content_type,
                done.body,
                wrapped,
                inner_type,
                text,
                delivered,
                report,
                tuple(issues),
            )
        )

    def _delivery(
        self, sender: Endpoint, message_id: str, chunks: Iterable[int]
    ) -> tuple[bool | None, str | None]:
        """Did every chunk that asked for a 200 get one; the Status of the last REPORT."""
        asked = [i for i in chunks if _wants_response(self.messages[i].message)]
        delivered = None
        if asked:
            delivered = all(
                (resp := self.response_of.get(i)) is not None
                and self.messages[resp].message.status == 200
                for i in asked
            )
        reps = self.reports.get((sender, message_id), [])
        report = self.messages[reps[-1]].message.header("Status") if reps else None
        return delivered, report

    def transcript(self) -> list[ChatMessage]:
        """Chat messages in the order their first chunk arrived, with delivery and REPORT
        status as of everything seen so far (complete after :meth:`close`)."""
        out = []
        for c in self.chat:
            delivered, report = self._delivery(c.sender, c.message_id, c.chunks)
            same = delivered is c.delivered and report == c.report  # (mostly, at the end)
            out.append(c if same else replace(c, delivered=delivered, report=report))
        return out

    def unanswered(self) -> list[MsrpRecord]:
        """Requests that required a transaction response and got none."""
        return [
            r
            for r in self.messages
            if r.message.is_request
            and _wants_response(r.message)
            and r.index not in self.response_of
        ]

    def paths(self) -> dict[Endpoint, tuple[set[str], set[str]]]:
        """Per sender: the To-Path and From-Path URIs it used (for the SDP a=path check)."""
        out: dict[Endpoint, tuple[set[str], set[str]]] = {}
        for r in self.messages:
            to, frm = out.setdefault(r.sender, (set(), set()))
            to.update((r.message.header("To-Path") or "").split())
            frm.update((r.message.header("From-Path") or "").split())
        return out

    def fields(self, rec: MsrpRecord) -> dict[str, object]:
        return _msrp_fields(rec, self._names[rec.receiver], self)


def _wants_response(m: msrp.Message) -> bool:
    """RFC 4975 7.1: a SEND gets a transaction response unless Failure-Report is "no";
    REPORTs never get one."""
    if m.method == "REPORT":
        return False
    return (m.failure_report or "yes") != "no"


def _text(b: bytes) -> str | None:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return None


def msrp_json(rec: MsrpRecord, session: MsrpSession | None = None) -> dict[str, object]:
    """The JSON report's dict for one MSRP message (schema/report.schema.json)."""
    return {
        "frame": rec.frame,
        "from": str(rec.sender),
        **_msrp_fields(rec, str(rec.receiver), session),
    }


def _msrp_fields(rec: MsrpRecord, receiver: str, session: MsrpSession | None) -> dict[str, object]:
    """:func:`msrp_json` but ``frame`` and ``from``; ``receiver``: ``rec.receiver`` as text."""
    m = rec.message
    h = m.first_headers()
    d: dict[str, object] = {"last_frame": rec.last_frame, "to": receiver}
    if m.method is not None:
        d["method"] = m.method
    else:
        d["status"] = m.status
        d["comment"] = m.comment
    content_type = h.get("content-type")
    d["transaction_id"] = m.transaction_id
    d["message_id"] = h.get("message-id")
    d["byte_range"] = h.get("byte-range")
    d["content_type"] = content_type
    d["flag"] = m.flag
    if m.body is None:
        d["body"] = None
    elif (t := _text(m.body)) is not None:
        d["body"] = t
    else:
        d["body"] = None
        d["body_base64"] = base64.b64encode(m.body).decode()
    d["to_path"] = h.get("to-path")
    d["from_path"] = h.get("from-path")
    if (status := h.get("status")) is not None:
        d["report_status"] = status
    if (
        content_type is not None
        and m.media_type == cpim.MEDIA_TYPE
        and m.body is not None
        and m.flag == msrp.FLAG_COMPLETE
        and ((br := m.byte_range) is None or br.start == 1)
    ):
        try:
            w = cpim.parse_cpim(m.body)
        except DissectError:
            pass
        else:
            d["cpim"] = {
                "from": w.header("From"),
                "to": list(w.all("To")),
                "datetime": w.datetime,
                "content_type": w.content_type,
                "body": _text(w.body),
            }
    if session is not None:
        session._add_pair_frames(rec.index, d)
    return d


# --------------------------------------------------------------------------- BFCP

_REQUESTS = frozenset(
    bfcp.PRIMITIVES[n]
    for n in (
        "FloorRequest",
        "FloorRelease",
        "FloorRequestQuery",
        "UserQuery",
        "FloorQuery",
        "ChairAction",
        "Hello",
        "Goodbye",
    )
)
_RESPONSES = frozenset(
    bfcp.PRIMITIVES[n]
    for n in (
        "FloorRequestStatus",
        "UserStatus",
        "FloorStatus",
        "ChairActionAck",
        "HelloAck",
        "Error",
        "GoodbyeAck",
    )
)
# RFC 8855: server-initiated messages that the client acknowledges (UDP).
_ACKED = {
    bfcp.PRIMITIVES["FloorRequestStatus"]: bfcp.PRIMITIVES["FloorRequestStatusAck"],
    bfcp.PRIMITIVES["FloorStatus"]: bfcp.PRIMITIVES["FloorStatusAck"],
    bfcp.PRIMITIVES["Error"]: bfcp.PRIMITIVES["ErrorAck"],
}


_ACKS = frozenset(_ACKED.values())


def _answers(request: int, reply: int) -> bool:
    if request in _REQUESTS:
        return reply in _RESPONSES
    return _ACKED.get(request) == reply


@dataclass(frozen=True, slots=True)
class FloorEvent:
    """One step of the floor timeline."""

    frame: int
    ts_ns: int
    sender: Endpoint
    primitive: str
    user_id: int
    floor_ids: tuple[int, ...]
    floor_request_id: int | None
    status: str | None  # Pending, Granted, Released, ... (None for requests)
    queue_position: int | None
    beneficiary_id: int | None = None


class BfcpSession(_Session[bfcp.Message]):
    """BFCP between a floor control client and server over one connection."""

    layer = bfcp.LAYER

    def __init__(self, a: Endpoint, b: Endpoint, *, file: str | None = None) -> None:
        # (request sender, conference, transaction, user) -> index
        self._pending: dict[tuple[Endpoint, int, int, int], int] = {}
        super().__init__(a, b, file=file)

    @property
    def timeline(self) -> list[FloorEvent]:
        """The floor events of the messages so far, in order (worked out when asked: the
        reports read them through :meth:`floor_requests`, the HTML alone)."""
        return [e for r in self.messages for e in _floor_events(r)]

    def _direction(self, sender: Endpoint, receiver: Endpoint) -> _Direction:
        return _Direction(sender, receiver, bfcp.BfcpFramer())

    def _correlate(self, rec: BfcpRecord) -> None:
        m = rec.message
        p = m.primitive
        reply_to = (rec.receiver, m.conference_id, m.transaction_id, m.user_id)
        req = self._pending.get(reply_to)
        paired = req is not None and _answers(self.messages[req].message.primitive, p)
        if req is not None and paired:
            del self._pending[reply_to]
            self._pair(req, rec.index)
        elif p in _ACKS or (
            p in _RESPONSES and m.transaction_id != 0 and not (m.version == 2 and p in _ACKED)
        ):
            self._note(
                rec,
                f"{m.primitive_name} (transaction {m.transaction_id}) answers no request",
                Severity.WARNING,
                "transaction_id",
            )
        own = (rec.sender, m.conference_id, m.transaction_id, m.user_id)
        if p in _REQUESTS:
            if m.transaction_id == 0:
                self._note(rec, "request with Transaction ID 0", Severity.WARNING, "transaction_id")
            self._pending[own] = rec.index
        elif p in _ACKED and not paired and m.version == 2 and m.transaction_id != 0:
            self._pending[own] = rec.index  # an RFC 8855 notification awaiting its Ack
        count, deep = bfcp.size(m.attributes)
        if count > MAX_ATTRIBUTES or deep > MAX_ATTRIBUTE_DEPTH:
            self._note(
                rec,
                f"{count} attributes nested {deep} deep: the report lists {MAX_ATTRIBUTES} "
                f"at most, {MAX_ATTRIBUTE_DEPTH} deep, and counts the rest",
                Severity.WARNING,
                "attributes",
            )

    def _finish(self) -> None:
        for idx in sorted(self._pending.values()):
            rec = self.messages[idx]
            self._note(
                rec,
                f"{rec.message.primitive_name} (transaction {rec.message.transaction_id}) "
                "got no response",
                Severity.WARNING,
                "transaction_id",
            )

    def identifiers(self) -> dict[str, set[int]]:
        """Conference IDs, User IDs and Floor IDs seen (for the a=confid/userid/floorid check)."""
        confs: set[int] = set()
        users: set[int] = set()
        floors: set[int] = set()
        for r in self.messages:
            confs.add(r.message.conference_id)
            users.add(r.message.user_id)
            for a in bfcp.walk(r.message.attributes):
                if isinstance(a, bfcp.FloorId | bfcp.FloorRequestStatus):
                    floors.add(a.value if isinstance(a, bfcp.FloorId) else a.id)
        return {"conference_id": confs, "user_id": users, "floor_id": floors}

    def floor_requests(self) -> dict[int, list[FloorEvent]]:
        """Floor request id -> its events (FloorRequest, statuses, FloorRelease) in order.

        A FloorRequest carries no request id; it is attached through its response."""
        out: dict[int, list[FloorEvent]] = {}
        id_of_request: dict[int, int] = {}  # FloorRequest index -> id its response assigned
        for r in self.messages:
            if r.index in self.request_of:
                ids = [e.floor_request_id for e in _floor_events(r)]
                if ids and ids[0] is not None:
                    id_of_request[self.request_of[r.index]] = ids[0]
        for r in self.messages:
            for e in _floor_events(r):
                frid = e.floor_request_id
                if frid is None:
                    frid = id_of_request.get(r.index)
                if frid is not None:
                    out.setdefault(frid, []).append(e)
        return out

    def fields(self, rec: BfcpRecord) -> dict[str, object]:
        return _bfcp_fields(rec, self._names[rec.receiver], self)


def _floor_events(rec: BfcpRecord) -> list[FloorEvent]:
    m = rec.message
    name = m.primitive_name

    def ev(
        floors: tuple[int, ...],
        frid: int | None,
        status: int | None,
        qpos: int | None,
        ben: int | None = None,
    ) -> FloorEvent:
        st = None if status is None else bfcp.REQUEST_STATUS.label(status)
        return FloorEvent(
            rec.frame, rec.ts_ns, rec.sender, name, m.user_id, floors, frid, st, qpos, ben
        )

    top = m.attributes
    if m.primitive == bfcp.PRIMITIVES["FloorRequest"]:
        floors = tuple(a.value for a in top if isinstance(a, bfcp.FloorId))
        ben = next((a.value for a in top if isinstance(a, bfcp.BeneficiaryId)), None)
        return [ev(floors, None, None, None, ben)]
    if m.primitive == bfcp.PRIMITIVES["FloorRelease"]:
        frid = next((a.value for a in top if isinstance(a, bfcp.FloorRequestId)), None)
        return [ev((), frid, None, None)]
    out = []
    for fri in (a for a in top if isinstance(a, bfcp.FloorRequestInformation)):
        floors = tuple(a.id for a in fri.attributes if isinstance(a, bfcp.FloorRequestStatus))
        overall = next(
            (a for a in fri.attributes if isinstance(a, bfcp.OverallRequestStatus)), None
        )
        rs = None
        if overall is not None:
            rs = next((a for a in overall.attributes if isinstance(a, bfcp.RequestStatus)), None)
        if rs is None:
            for frs in fri.attributes:
                if isinstance(frs, bfcp.FloorRequestStatus):
                    rs = next((a for a in frs.attributes if isinstance(a, bfcp.RequestStatus)), rs)
        ben = next(
            (a.id for a in fri.attributes if isinstance(a, bfcp.BeneficiaryInformation)), None
        )
        out.append(
            ev(
                floors,
                fri.id,
                rs.status if rs else None,
                rs.queue_position if rs else None,
                ben,
            )
        )
    return out


# How much of a BFCP message's attribute tree the report keeps. Real messages nest three
# deep (FLOOR-REQUEST-INFORMATION > FLOOR-REQUEST-STATUS > REQUEST-STATUS) with a handful
# of attributes; the 8-bit Length allows 63 levels, whose tree in JSON is some 770 times
# the message. Past either bound a grouped attribute keeps only the count of what it holds.
MAX_ATTRIBUTE_DEPTH = 4
MAX_ATTRIBUTES = 64  # attributes kept per message


def attributes_json(attrs: Iterable[bfcp.Attribute]) -> list[dict[str, object]]:
    """The report's list for a message's attributes, within the budgets above."""
    budget = [MAX_ATTRIBUTES]
    return [attribute_json(a, 1, budget) for a in attrs if _take(budget)]


def attributes_json_count(listed: object) -> int:
    """Attributes a JSON attribute list stands for in full."""
    return sum(_kept(d) for d in listed) if isinstance(listed, list) else 0


def _kept(d: dict[str, object]) -> int:
    """Attributes a JSON node stands for in full (itself and what it lists)."""
    below = d.get("attributes")
    return 1 + (sum(_kept(c) for c in below) if isinstance(below, list) else 0)


def _take(budget: list[int]) -> bool:
    budget[0] -= 1
    return budget[0] >= 0


# The names a SUPPORTED-ATTRIBUTES or SUPPORTED-PRIMITIVES attribute lists, by its table and
# octets: the Hello and HelloAck of every BFCP connection list the same ones. Bounded: emptied
# when full (an attribute holds 253 octets at most).
_SUPPORTED_NAMES: dict[tuple[str, tuple[int, ...]], list[str]] = {}
MAX_SUPPORTED_NAMES = 64


def supported_names(table: ValueTable, octets: tuple[int, ...], shift: int) -> list[str]:
    """The name of each value of ``octets`` (a type in its upper bits past ``shift``), a
    list of the caller's own."""
    key = (table.name, octets)
    names = _SUPPORTED_NAMES.get(key)
    if names is None:
        if len(_SUPPORTED_NAMES) >= MAX_SUPPORTED_NAMES:
            _SUPPORTED_NAMES.clear()
        names = _SUPPORTED_NAMES[key] = [table.label(o >> shift) for o in octets]
    return list(names)


def attribute_json(
    a: bfcp.Attribute, depth: int = 1, budget: list[int] | None = None
) -> dict[str, object]:
    d: dict[str, object] = {"type": bfcp.attribute_name(a), "mandatory": a.mandatory}
    if isinstance(a, bfcp.BeneficiaryId | bfcp.FloorId | bfcp.FloorRequestId):
        d["value"] = a.value
    elif isinstance(a, bfcp.Priority):
        d["value"] = a.priority
        d["name"] = bfcp.PRIORITIES.label(a.priority)
    elif isinstance(a, bfcp.RequestStatus):
        d["value"] = a.status
        d["name"] = bfcp.REQUEST_STATUS.label(a.status)
        d["queue_position"] = a.queue_position
    elif isinstance(a, bfcp.ErrorCode):
        d["value"] = a.code
        d["name"] = bfcp.ERROR_CODES.label(a.code)
        if a.details:
            d["details"] = a.details.hex()
    elif isinstance(
        a,
        bfcp.ErrorInfo
        | bfcp.ParticipantProvidedInfo
        | bfcp.StatusInfo
        | bfcp.UserDisplayName
        | bfcp.UserUri,
    ):
        d["value"] = a.text
    elif isinstance(a, bfcp.SupportedAttributes):
        d["value"] = supported_names(bfcp.ATTRIBUTES, a.octets, 1)
    elif isinstance(a, bfcp.SupportedPrimitives):
        d["value"] = supported_names(bfcp.PRIMITIVES, a.primitives, 0)
    elif isinstance(a, bfcp.UnknownAttribute):
        d["type_value"] = a.type
        d["value"] = a.contents.hex()
    else:
        d["id"] = a.id
        budget = budget if budget is not None else [MAX_ATTRIBUTES]
        kept = []
        if depth < MAX_ATTRIBUTE_DEPTH:
            kept = [attribute_json(n, depth + 1, budget) for n in a.attributes if _take(budget)]
        d["attributes"] = kept
        omitted = bfcp.size(a.attributes)[0] - sum(_kept(k) for k in kept)
        if omitted:
            d["omitted"] = omitted  # nested attributes past the budgets, not listed
    return d


def bfcp_json(rec: BfcpRecord, session: BfcpSession | None = None) -> dict[str, object]:
    """The JSON report's dict for one BFCP message (schema/report.schema.json)."""
    return {
        "frame": rec.frame,
        "from": str(rec.sender),
        **_bfcp_fields(rec, str(rec.receiver), session),
    }


def _bfcp_fields(rec: BfcpRecord, receiver: str, session: BfcpSession | None) -> dict[str, object]:
    """:func:`bfcp_json` but ``frame`` and ``from``; ``receiver``: ``rec.receiver`` as text."""
    m = rec.message
    d: dict[str, object] = {
        "last_frame": rec.last_frame,
        "to": receiver,
        "primitive": m.primitive_name,
        "version": m.version,
        "conference_id": m.conference_id,
        "transaction_id": m.transaction_id,
        "user_id": m.user_id,
        "attributes": attributes_json(m.attributes),
    }
    total, deep = bfcp.size(m.attributes)
    # within both budgets the list holds every attribute (most messages): nothing to count
    if total > MAX_ATTRIBUTES or deep > MAX_ATTRIBUTE_DEPTH:
        listed = attributes_json_count(d["attributes"])
        if total > listed:
            d["attributes_omitted"] = total - listed
    if session is not None:
        session._add_pair_frames(rec.index, d)
    return d


# --------------------------------------------------------------------------- sniffing


def sniff(data: bytes) -> str | None:
    """``"msrp"``, ``"bfcp"`` or None for the first plaintext bytes of a stream (used to spot
    cleartext media on a TLS m-line)."""
    if msrp.looks_like_msrp(data):
        return "msrp"
    if bfcp.looks_like_bfcp(data):
        return "bfcp"
    return None


def make_session(
    protocol: str, a: Endpoint, b: Endpoint, *, file: str | None = None
) -> MsrpSession | BfcpSession:
    """A session for ``protocol`` ("msrp" or "bfcp", as in the JSON ``media.protocol``)."""
    if protocol == "msrp":
        return MsrpSession(a, b, file=file)
    if protocol == "bfcp":
        return BfcpSession(a, b, file=file)
    raise ValueError(f"no MSRP/BFCP session for protocol {protocol!r}")
