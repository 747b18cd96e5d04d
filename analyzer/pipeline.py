"""One capture through every stage: capture -> flows -> SIP/calls -> keys -> decrypt -> media.

The frames are read once, in order. SIP goes to :mod:`mikeyshark.calls` as it arrives; the
bytes of every other TCP connection that can be media are kept (bounded per connection and
in all) because which m-line a connection belongs to, and with which keys to decrypt it, is
known only once both the offer and the answer were seen — and in a dial-in the MRFP
connects before the answer. Once a call's dialogs have ended (and 64*T1 more of capture
time has passed) :mod:`mikeyshark.correlate` binds and decodes that call alone and only its
compact report entry is kept (``_Finalizer``); the calls still open at the end are done
together there. The rules judge the entries afterwards.

What cannot matter is dropped as early as possible (docs/scale.md): UDP datagrams that
cannot be SIP, from a few bytes of the frame (``_skippable``); SIP calls that negotiate
neither MSRP nor BFCP, held unparsed (``_QuietCalls``); TCP connections whose first bytes
are no media protocol, or whose ClientHello offers no PSK while no SDP names them.
"""

from __future__ import annotations

import os
import re
import struct
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mikeyshark.calls import Call, CallTracker, DialogState, SipFlowHandler, SipRecord
from mikeyshark.capture import MergedReader
from mikeyshark.correlate import (
    MEDIA_PROTOCOLS,
    Bindings,
    ConnPool,
    ConnRecord,
    claim,
    correlate,
)
from mikeyshark.decrypt import DecodedConnection, KnownSecrets
from mikeyshark.dissectors import sip as siplib
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.esp import NAT_T_PORT
from mikeyshark.dissectors.gtp import GTPU_PORT
from mikeyshark.dissectors.h248 import SCTP_PPID
from mikeyshark.dissectors.http import looks_like_http
from mikeyshark.dissectors.sip import SIP_PORTS
from mikeyshark.dissectors.tls.constants import (
    CIPHER_SUITES,
    CT_HANDSHAKE,
    EXT_PRE_SHARED_KEY,
    HT_CLIENT_HELLO,
    Kx,
)
from mikeyshark.dissectors.tls.records import ClientHello, parse_client_hello, parse_record
from mikeyshark.evidence import CallRecord, CaptureInfo, UnboundMedia
from mikeyshark.flows import FlowTable, TcpConnection
from mikeyshark.keyfile import KeyFile
from mikeyshark.keylog import keylog_from
from mikeyshark.media import sniff
from mikeyshark.model import Endpoint, Frame, Problem, Severity, StreamChunk, internal_problem
from mikeyshark.mp import MP_PORTS, MpLeg
from mikeyshark.signalling import annotate_calls
from mikeyshark.siptls import SipTlsHandler, encrypted_call
from mikeyshark.unbound import unbound_media
from mikeyshark.wiretext import scrub

# UDP ports whose datagrams the flow layer must always see: SIP, the tunnels it opens, H.248
FLOW_UDP_PORTS = SIP_PORTS | {GTPU_PORT, NAT_T_PORT} | MP_PORTS
MAX_CONN_BYTES = 16 << 20  # bytes kept per TCP connection (both directions)
MAX_TOTAL_BYTES = 512 << 20  # bytes kept for all connections of one capture
MAX_PROBLEMS = 10_000  # located problems kept per capture; the count of the rest is reported
# TCP connections open at once (the flow table evicts the least recently active past it), and
# connection records held for calls not seen yet (the oldest dropped past it).
MAX_OPEN_CONNECTIONS = 20_000
MAX_HELD_CONNECTIONS = 20_000
# A call whose dialogs have all ended is finalized this long (capture time) after that was
# first seen: 64*T1 (RFC 3261 timer J), long enough for the BYE's answer and retransmissions
# and for its media connections to close.
CALL_LINGER_NS = 64 * 500_000_000
SWEEP_NS = 1_000_000_000  # capture time between two looks for ended calls
# A call without BYE is judged once it has been silent this long (capture time): twice the
# usual session refresh interval (RFC 4028's recommended 1800 s), so that a call which
# refreshes its session is never cut.
CALL_IDLE_NS = 3600 * 1_000_000_000
# Calls held open at once, and the SIP bytes of their messages: past either, the least
# recently active calls are judged early with what was seen of them (a located warning
# each), so memory follows these budgets and not the dialogs a capture never ends. An open
# call costs about 50 KB (its SIP parsed, SDP, MIKEY, records), some ten times its SIP bytes:
# 1,000 calls or 8 MiB of SIP, with 10,000 never-ending dialogs judged, stay well under
# 300 MB (bench/bombs.py; 5,000 calls took 436 MB).
MAX_OPEN_CALLS = 1_000
MAX_OPEN_SIP_BYTES = 8 << 20

Progress = Callable[[int, int, int], None]  # (frames, bytes read, file size)


@dataclass(slots=True)
class CaptureResult:
    info: CaptureInfo
    calls: list[CallRecord] = field(default_factory=list)
    # the decrypted TLS connections: bound to m-lines, then those no call claims
    connections: list[DecodedConnection] = field(default_factory=list)
    unbound: list[UnboundMedia] = field(default_factory=list)  # TLS no call claims
    # what the sink kept of each call of ``calls`` elsewhere (analyze_capture's ``sink``)
    spooled: list[Any] = field(default_factory=list)


# TcpConnection.app keys (by direction: server to client, client to server): the direction
# carries neither SIP nor H.248 (see _Collector._tcp_data)
_DECLINED = ("pipeline: s2c not signalling", "pipeline: c2s not signalling")


class _Collector:
    """The flow handler: SIP to the call tracker, H.248 to the Mp leg, other TCP bytes kept
    for correlation."""

    def __init__(self, sip: SipFlowHandler, file: str, mp: MpLeg | None = None) -> None:
        self.sip = sip
        self.file = file
        self.mp = mp if mp is not None else MpLeg(file)
        self.table: FlowTable | None = None  # set once built: which packets came in ESP
        self.conns: dict[int, ConnRecord] = {}
        self.pool = ConnPool()  # held for calls not correlated yet, in the order seen
        self.stored = 0  # bytes kept of connections no SDP seen so far names
        self.problems: list[Problem] = []
        self.dropped_problems = 0
        self.dropped_connections = 0
        self.broken: set[int] = set()  # connections whose handling raised (by id)
        self.quiet = _QuietCalls(sip)
        self.siptls: SipTlsHandler | None = None  # SIP inside TLS, decrypted with a key log

    def _named_by_sdp(self, rec: ConnRecord) -> bool:
        """Whether an MSRP/BFCP m-line seen so far names the connection's server."""
        return rec.server in self.sip.tracker.media_servers

    def _in_esp(self) -> bool:
        return self.table is not None and self.table.esp_spi is not None

    def on_udp(self, frame: Frame, src: Endpoint, dst: Endpoint, payload: bytes) -> None:
        if src.port in MP_PORTS or dst.port in MP_PORTS:
            self.mp.on_datagram(
                frame.number, frame.ts_ns, src, dst, payload, "udp", ipsec=self._in_esp()
            )
            return
        if self.quiet.hold(frame, src, dst, payload):
            return
        self.sip.on_udp(frame, src, dst, payload)

    def on_sctp(
        self, frame: Frame, src: Endpoint, dst: Endpoint, ppid: int, payload: bytes
    ) -> None:
        if ppid == SCTP_PPID or src.port in MP_PORTS or dst.port in MP_PORTS:
            self.mp.on_datagram(
                frame.number, frame.ts_ns, src, dst, payload, "sctp", ipsec=self._in_esp()
            )

    def _conn(self, conn: TcpConnection) -> ConnRecord:
        rec = self.conns.get(id(conn))
        if rec is not None:
            # The flow table announces a connection at its first segment, before it has
            # classified that segment as the SYN.
            if rec.syn_frame is None:
                rec.syn_frame = conn.syn_frame
        else:
            rec = ConnRecord(
                index=conn.index,
                client=conn.client,
                server=conn.server,
                syn_frame=conn.syn_frame,
                first_frame=conn.first_frame,
                first_ts_ns=conn.first_ts_ns,
            )
            self.conns[id(conn)] = rec
            self.pool.add(rec)
            if len(self.pool) > MAX_HELD_CONNECTIONS:
                self._shed(conn.first_frame)
        return rec

    def _logged(self, first: bytes) -> bool:
        """Whether the TLS key log holds the session the ClientHello of ``first`` opens."""
        log = self.siptls.keylog if self.siptls is not None else None
        if log is None or not log.available():
            return False
        hello = _client_hello(first)
        if hello is None:
            return False
        return log.master_secret(hello.random) is not None or (
            log.tls13_secrets(hello.random) is not None
        )

    def _shed(self, frame: int) -> None:
        """Drop the oldest tenth of the connection records no call has bound yet."""
        if not self.dropped_connections:
            self.on_problem(
                Problem(
                    "tcp",
                    f"more than {MAX_HELD_CONNECTIONS} TCP connections held for calls not "
                    "seen yet: the oldest are dropped (a call naming one later will not find it)",
                    frame,
                    self.file,
                    severity=Severity.WARNING,
                    code="budget.held_connections",
                )
            )
        cut = len(self.pool) - MAX_HELD_CONNECTIONS * 9 // 10
        for rec in self.pool.oldest(cut):
            if not rec.expected:
                self.stored -= rec.size
            rec.chunks = []
            rec.ignored = True  # should it send again, nothing more is kept
            self.pool.discard(rec)
        self.dropped_connections += cut

    def on_tcp_open(self, conn: TcpConnection) -> None:
        self.sip.on_tcp_open(conn)
        if conn.client.port in MP_PORTS or conn.server.port in MP_PORTS:
            return  # H.248 (TPKT): read by the Mp leg, never media
        if siplib.PORT not in (conn.client.port, conn.server.port):
            self._conn(conn)

    def on_tcp_data(self, conn: TcpConnection, from_client: bool, chunk: StreamChunk) -> None:
        if id(conn) in self.broken:
            return
        try:
            self._tcp_data(conn, from_client, chunk)
        except Exception as e:
            # the fault barrier of a connection: reported once, its later bytes left alone
            self.broken.add(id(conn))
            what = f"TCP connection {conn.client} -> {conn.server}"
            self.on_problem(internal_problem(e, what, chunk.frame, self.file))

    def _tcp_data(self, conn: TcpConnection, from_client: bool, chunk: StreamChunk) -> None:
        if conn.app.get(_DECLINED[from_client]):
            # (every later chunk of a media connection: the routing below is decided)
            in_tls = tls_port = False
        else:
            if conn.client.port in MP_PORTS or conn.server.port in MP_PORTS:
                src, dst = (conn.client, conn.server) if from_client else (conn.server, conn.client)
                self.mp.on_tcp(conn.index, from_client, src, dst, chunk, ipsec=self._in_esp())
                return
            in_tls = self.siptls is not None and self.siptls.on_tcp_data(conn, from_client, chunk)
            if not in_tls:
                self.sip.on_tcp_data(conn, from_client, chunk)
            if siplib.PORT in (conn.client.port, conn.server.port):
                return
            # TLS on the SIP/TLS port is kept as well (when its ClientHello offers a PSK, or
            # the key log knows it) until its plaintext says it is SIP: it may be media
            tls_port = siplib.TLS_PORT in (conn.client.port, conn.server.port)
            if in_tls and not tls_port:
                return  # SIP the key log opened on another port
            if (
                not in_tls
                and not tls_port
                and self.sip.declined(conn, from_client)
                and (self.siptls is None or self.siptls.declined(conn))
            ):
                # Neither SIP handler will look at this direction's bytes again (so they
                # need not see them), nor is it H.248 or on a SIP port: what follows holds
                # for each of its later chunks.
                conn.app[_DECLINED[from_client]] = True
        rec = self.conns.get(id(conn))
        if rec is None or rec.syn_frame is None:
            rec = self._conn(conn)
        if rec.truncated or rec.ignored:
            if (
                not in_tls
                and self.sip.declined(conn, from_client)
                and (self.siptls is None or self.siptls.declined(conn))
            ):
                # nobody will look at this direction's bytes again: the flow table need not
                # hand them on
                (conn.c2s if from_client else conn.s2c).unwanted = True
            return
        if tls_port and self.siptls is not None and conn.index in self.siptls.sip_streams:
            rec.ignored = True  # it is SIP after all: its bytes are of no use here
            if not rec.expected:
                self.stored -= rec.size
            rec.chunks, rec.size = [], 0
            self.pool.emptied(rec)
            return
        if not rec.chunks and chunk.data and not _may_be_media(chunk.data):
            # Neither TLS, MSRP, BFCP nor the KMS's HTTP: no m-line can use it; keep nothing.
            rec.ignored = True
            return
        size = len(chunk.data)
        if not rec.chunks:
            # Connections an SDP names are the media: the capture's budget is for the rest
            # (TLS of other applications, connections opened before their offer).
            rec.expected = self._named_by_sdp(rec)
            if (
                not rec.expected
                and from_client
                and _offers_psk(chunk.data) is False
                and not self._logged(chunk.data)
            ):
                # Only a TEK could bind it (by key), and its ClientHello offers no PSK; only
                # the key log could open it, and it has nothing for this session.
                rec.ignored = True
                return
        over_budget = not rec.expected and self.stored + size > MAX_TOTAL_BYTES
        if rec.size + size > MAX_CONN_BYTES or over_budget:
            rec.truncated = True
            self.on_problem(
                Problem(
                    "tcp",
                    f"connection {rec.client} -> {rec.server}: more than "
                    f"{MAX_CONN_BYTES >> 20} MiB (or the capture's budget); the rest is not "
                    "analyzed",
                    chunk.frame,
                    self.file,
                    severity=Severity.WARNING,
                )
            )
            return
        if not rec.expected:
            self.stored += size
        rec.size += size
        if from_client and chunk.data and not rec.client_data:
            rec.client_data = True
            self.pool.first_client_data(rec, chunk.data)
        rec.chunks.append((from_client, chunk))

    def on_tcp_close(self, conn: TcpConnection) -> None:
        self.broken.discard(id(conn))  # the id may be reused by a later connection
        if conn.client.port in MP_PORTS or conn.server.port in MP_PORTS:
            self.mp.close_tcp(conn.index)
        if self.siptls is not None:
            self.siptls.on_tcp_close(conn)
        self.sip.on_tcp_close(conn)
        if id(conn) in self.conns:
            rec = self._conn(conn)
            for from_client, d in ((True, conn.c2s), (False, conn.s2c)):
                if d.fin_frame is not None:
                    rec.closes.append((from_client, d.fin_frame, d.fin_ts_ns, "FIN"))
                if d.rst_frame is not None:
                    rec.closes.append((from_client, d.rst_frame, d.rst_ts_ns, "RST"))
            del self.conns[id(conn)]  # the id may be reused by a later connection

    def on_problem(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.dropped_problems += 1


class _RecordCount(list[SipRecord]):
    """The tracker's flat list of records, counted but not kept: the pipeline reads records
    through their calls, and the list would hold every message of the capture to the end.
    Only its length numbers the records (``SipRecord.index``), so the count goes on."""

    def __init__(self) -> None:
        super().__init__()
        self.numbered = 0

    def append(self, rec: SipRecord) -> None:
        self.numbered += 1

    def __len__(self) -> int:
        return self.numbered


class _CappedProblems(list[Problem]):
    """The SIP layer's problem list (one per malformed message, so as many as the capture
    has messages): the first ``MAX_PROBLEMS`` kept, the rest counted."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def append(self, p: Problem) -> None:
        if len(self) < MAX_PROBLEMS:
            super().append(p)
        else:
            self.dropped += 1

    def extend(self, ps: Iterable[Problem]) -> None:
        for p in ps:
            self.append(p)


_DIALOG_ENDED = frozenset({DialogState.TERMINATED, DialogState.FAILED})


def _ended(call: Call) -> bool:
    """Every dialog of the call is over: a BYE was sent, or the INVITE failed (rejected,
    cancelled). A call without a dialog (no response yet) is open."""
    ds = call.dialogs
    if len(ds) == 1:  # (most calls: each sweep asks it of every open call)
        return ds[0].state in _DIALOG_ENDED
    return bool(ds) and all(d.state in _DIALOG_ENDED for d in ds)


@dataclass(slots=True)
class Finalized:
    """One call out of the finalizer: its report entry and the TLS it decrypted."""

    first: int  # the index of its first SIP record: calls are reported in that order
    record: CallRecord
    connections: list[DecodedConnection]
    spooled: Any = None  # what a sink kept of it elsewhere (see :mod:`mikeyshark.spool`)


# What becomes of the finalized calls of a batch where the batch is processed (in a worker
# process, with --workers): judged and written to a spool, for instance.
CallSink = Callable[[list[Finalized]], list[Finalized]]


@dataclass(slots=True)
class CallWork:
    """What turning a batch of ended calls into report entries needs."""

    keys: KeyFile
    path: str
    reveal: bool
    secrets: KnownSecrets | None = None  # the TLS key log, for the media too
    detail: bool = True  # what only the HTML report shows (correlate's ``detail``)
    sink: CallSink | None = None


@dataclass(slots=True)
class Batch:
    """Calls finalized together and the connections they claimed, with what was seen of
    those connections when they were claimed (their SYN and closes: a connection may go on
    after its call was finalized, and a worker process may start later). ``failed``: the
    claiming itself failed (the fault barrier): the call is reported with the problem."""

    calls: list[Call]
    bindings: Bindings
    seen: list[tuple[ConnRecord, int | None, int]] = field(default_factory=list)
    failed: Problem | None = None

    def process(self, work: CallWork) -> list[Finalized]:
        for conn, syn, closes in self.seen:
            conn.syn_frame = syn
            del conn.closes[closes:]
        out = self._correlated(work)
        for f in out:  # call by call: what the walk remembers stays one call's worth
            scrub(f.record)
        return work.sink(out) if work.sink is not None else out

    def _correlated(self, work: CallWork) -> list[Finalized]:
        """With a fault barrier per call: should correlating the calls together fail, each
        is correlated alone (with what it claimed), and a call that fails alone is still
        reported, with the failure as its problem."""
        if self.failed is not None:
            return _failed(self.calls[0], self.failed, work.path)
        try:
            return _correlated(self.calls, self.bindings, work)
        except Exception as e:
            if len(self.calls) == 1:
                return _failed(self.calls[0], _internal(e, self.calls[0], work.path), work.path)
        out = []
        for i, call in enumerate(self.calls):
            try:
                out += _correlated([call], self.bindings.of_call(i), work)
            except Exception as e:
                out += _failed(call, _internal(e, call, work.path), work.path)
        return out

    def release(self) -> None:
        """The claimed connections' bytes are of no further use here."""
        for conn, _, _ in self.seen:
            conn.chunks = []


def _correlated(calls: list[Call], bindings: Bindings, work: CallWork) -> list[Finalized]:
    corr = correlate(
        calls,
        bindings,
        work.keys,
        capture=work.path,
        reveal=work.reveal,
        secrets=work.secrets,
        detail=work.detail,
    )
    sub = CallTracker(work.path)
    sub.calls = {c.call_id: c for c in calls}
    annotate_calls(corr.calls, sub)
    first = {c.call_id: c.records[0].index for c in calls}
    return [
        Finalized(first[rec.call_id], rec, conns)
        for rec, conns in zip(corr.calls, corr.call_connections, strict=True)
    ]


def _internal(e: BaseException, call: Call, path: str) -> Problem:
    frame = call.records[0].frame if call.records else None
    return internal_problem(e, f"call {call.call_id}", frame, path)


def _failed(call: Call, problem: Problem, path: str) -> list[Finalized]:
    """A call whose correlation failed: reported with the problem, without its media (none
    for a call that would have had no entry)."""
    if not any(ms.protocol in MEDIA_PROTOCOLS for ms in call.media):
        return []
    rec = CallRecord(call_id=call.call_id, capture=path)
    rec.problems.append(problem)
    first = call.records[0].index if call.records else 0
    return [Finalized(first, rec, [])]


class InProcess:
    """Batches processed as they come, in this process."""

    def __init__(self, work: CallWork) -> None:
        self.work = work
        self.done: list[Finalized] = []

    def submit(self, batch: Batch) -> None:
        self.done.extend(batch.process(self.work))
        batch.release()

    def poll(self) -> None:
        pass

    def finish(self) -> list[Finalized]:
        return self.done

    def close(self) -> None:
        pass


class Runner(Protocol):
    """Where batches of ended calls are processed: :class:`InProcess`, or worker processes
    (:class:`mikeyshark.workers.Forks`)."""

    work: CallWork

    def submit(self, batch: Batch) -> None: ...

    def poll(self) -> None: ...

    def finish(self) -> list[Finalized]: ...

    def close(self) -> None: ...


class _Finalizer:
    """Correlates and releases each call once it has ended, instead of all at the end.

    A call is finalized ``CALL_LINGER_NS`` after its dialogs were seen ended: the connections
    its m-lines bind are claimed (:func:`~mikeyshark.correlate.claim`) and the call with them
    goes to the runner, which turns them into the call's compact :class:`CallRecord` (here,
    or in a worker process: :mod:`mikeyshark.workers`); its SIP records, the bytes of the
    connections it bound and their decoders are then released, so memory follows the calls
    open at once, not the calls of the capture. Connections it did not bind stay for the
    calls still open. The calls open at the end are correlated together, and the records are
    put back in the order the calls were first seen.
    """

    def __init__(self, tracker: CallTracker, collector: _Collector, runner: Runner) -> None:
        self.tracker = tracker
        self.collector = collector
        self.runner = runner
        self.next_sweep = 0
        self.ended_at: dict[str, int] = {}
        # What the last look at the calls saw: the SIP records counted then, and the capture
        # time from which a call it left open could be due (its linger or idle time over).
        self._records_seen = -1
        self._next_due = 0

    def sweep(self, now: int) -> None:
        self.next_sweep = now + SWEEP_NS
        records = len(self.tracker.records)
        if records == self._records_seen and now < self._next_due:
            # No SIP message since the last look: no call began, ended or reopened, so none
            # is due before the soonest deadline that look found.
            return
        self._records_seen = records
        due: list[Call] = []
        soonest = now + CALL_IDLE_NS
        for cid, call in self.tracker.calls.items():
            if not _ended(call):
                self.ended_at.pop(cid, None)  # a new dialog (re-INVITE forked late) reopens it
                if now - call.last_ns >= CALL_IDLE_NS:
                    self._early(
                        call, f"no SIP message for {CALL_IDLE_NS // 10**9} s", "budget.call_idle"
                    )
                    due.append(call)
                elif call.last_ns + CALL_IDLE_NS < soonest:
                    soonest = call.last_ns + CALL_IDLE_NS
                continue
            since = self.ended_at.setdefault(cid, now)
            if now - since >= CALL_LINGER_NS:
                due.append(call)
            elif since + CALL_LINGER_NS < soonest:
                soonest = since + CALL_LINGER_NS
        self._next_due = soonest
        if due:
            self._finalize(due)

    def over_budget(self) -> bool:
        t = self.tracker
        return len(t.calls) > MAX_OPEN_CALLS or t.held > MAX_OPEN_SIP_BYTES

    def shed(self) -> None:
        """Judge the least recently active calls now, until a tenth of each budget is free
        (so that this runs once per many new calls, not for each)."""
        t = self.tracker
        calls = sorted(t.calls.values(), key=lambda c: c.last_ns)
        count, held = len(calls), t.held
        due: list[Call] = []
        for call in calls:
            if count <= MAX_OPEN_CALLS * 9 // 10 and held <= MAX_OPEN_SIP_BYTES * 9 // 10:
                break
            self._early(
                call,
                f"more than {MAX_OPEN_CALLS} calls or {MAX_OPEN_SIP_BYTES >> 20} MiB of SIP "
                "open at once",
                "budget.open_calls",
            )
            due.append(call)
            count -= 1
            held -= call.size
        self._finalize(due)

    @staticmethod
    def _early(call: Call, why: str, code: str) -> None:
        last = call.records[-1] if call.records else None
        call.problems.append(
            Problem(
                "sip",
                f"call {call.call_id} judged before it ended ({why}); what follows of it "
                "is not part of this entry",
                last.frame if last is not None else None,
                field="call-id",
                severity=Severity.WARNING,
                code=code,
            )
        )

    def _finalize(self, calls: list[Call]) -> None:
        for c in calls:
            self.tracker.release(c)
            self.ended_at.pop(c.call_id, None)
        # Calls without an MSRP/BFCP m-line have no report entry: released without
        # correlating (that looks at every connection held).
        calls = [c for c in calls if any(ms.protocol in MEDIA_PROTOCOLS for ms in c.media)]
        if not calls:
            return
        try:
            batches = [self._batch(calls)]
        except Exception:  # claimed together they fail: each call alone
            batches = [self._batch([c]) for c in calls]
        for b in batches:
            self.runner.submit(b)
        self.runner.poll()

    def _batch(self, calls: list[Call]) -> Batch:
        col, work = self.collector, self.runner.work
        try:
            bindings = claim(calls, col.pool, work.keys, secrets=work.secrets, mp=col.mp)
        except Exception as e:  # the fault barrier of the calls' claims
            if len(calls) > 1:
                raise
            return Batch(calls, Bindings(), failed=_internal(e, calls[0], work.path))
        batch = Batch(calls, bindings)
        for conn in bindings.claimed():
            # Bound: should it still send, the rest is not kept (it is no longer in the pool
            # for any call to bind).
            col.pool.discard(conn)
            if not conn.expected:
                col.stored -= conn.size
            conn.ignored = True
            batch.seen.append((conn, conn.syn_frame, len(conn.closes)))
        return batch

    def finish(self) -> list[Finalized]:
        """Correlate the calls still open and merge them with those finalized before."""
        calls = list(self.tracker.calls.values())
        if calls:
            try:
                last = [self._batch(calls)]
            except Exception:
                last = [self._batch([c]) for c in calls]
            for b in last:  # (with workers, beside the calls still queued)
                self.runner.submit(b)
        merged = self.runner.finish()
        merged.sort(key=lambda f: f.first)
        return merged


_CALL_ID = re.compile(rb"\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
QUIET_MAX_DATAGRAMS = 256  # held per quiet call; past that it is parsed like any other
QUIET_ENDED_NS = 64 * 500_000_000  # 64*T1 (RFC 3261 timer J): a quiet call's BYE is done
QUIET_IDLE_NS = 3600 * 1_000_000_000  # a quiet call silent this long is over
# Quiet calls held at once, and their bytes: past either the oldest is dropped unparsed.
MAX_QUIET_CALLS = 20_000
MAX_QUIET_BYTES = 16 << 20


@dataclass(slots=True)
class _Quiet:
    datagrams: list[tuple[Frame, Endpoint, Endpoint, bytes]]
    last_ns: int
    ended: bool = False


class _QuietCalls:
    """SIP calls over UDP that negotiate neither MSRP nor BFCP, held instead of parsed.

    Such a call is never reported, yet parsing its messages is most of the work on a busy
    signalling link. A call whose first message is an INVITE with an SDP body that mentions
    neither is held as raw datagrams (bounded); should a later message of it mention MSRP or
    BFCP (a re-INVITE adding chat), everything held is handed to the SIP parser in order,
    and the call is tracked from then on as if it had been from the start. Held calls are
    dropped 64*T1 after their BYE/CANCEL, or after an hour of silence. Located problems in
    messages of calls that stay quiet are therefore not listed.
    """

    def __init__(self, sip: SipFlowHandler) -> None:
        self.sip = sip
        self.calls: dict[bytes, _Quiet] = {}  # least recently active first
        self.held = 0  # bytes of the datagrams held
        self.dropped = 0  # calls dropped for the budgets
        self._next_sweep = 0

    def hold(self, frame: Frame, src: Endpoint, dst: Endpoint, payload: bytes) -> bool:
        """True when the datagram belongs to a quiet call (held, not to be parsed now)."""
        if not payload[:1].isupper():
            return False
        m = _CALL_ID.search(payload, 0, 4096)
        if m is None:
            return False
        cid = m.group(1).strip()
        ts = frame.ts_ns
        if ts >= self._next_sweep:
            self._sweep(ts)
        q = self.calls.get(cid)
        if q is None and not payload.startswith(b"INVITE "):
            # only an INVITE starts a quiet call: every other message of a call not held
            # (most SIP the tracker gets) is decided without a lower-case copy
            return False
        lowered = payload.lower()
        media = b"msrp" in lowered or b"bfcp" in lowered
        if q is None:
            if (
                media
                or b"application/sdp" not in lowered
                or cid.decode("utf-8", "replace") in self.sip.tracker.calls
            ):
                return False
            self.calls[cid] = _Quiet([(frame, src, dst, payload)], ts)
            self.held += len(payload)
            if len(self.calls) > MAX_QUIET_CALLS or self.held > MAX_QUIET_BYTES:
                self._shed(frame)
            return True
        if (
            media
            or len(q.datagrams) >= QUIET_MAX_DATAGRAMS
            # the call reached the tracker by another way (SIP over TCP or TLS)
            or cid.decode("utf-8", "replace") in self.sip.tracker.calls
        ):
            self._drop(cid)
            for f, s, d, p in q.datagrams:
                self.sip.on_udp(f, s, d, p)
            return False
        q.datagrams.append((frame, src, dst, payload))
        q.last_ns = ts
        self.held += len(payload)
        self.calls[cid] = self.calls.pop(cid)  # now the most recently active
        if payload.startswith((b"BYE ", b"CANCEL ")):
            q.ended = True
        if self.held > MAX_QUIET_BYTES:
            self._shed(frame)
        return True

    def _drop(self, cid: bytes) -> None:
        q = self.calls.pop(cid)
        self.held -= sum(len(d[3]) for d in q.datagrams)

    def _shed(self, frame: Frame) -> None:
        """Drop the least recently active quiet calls until both budgets hold (they would
        never be reported; only a later MSRP/BFCP re-INVITE of theirs loses its start)."""
        if not self.dropped:
            self.sip.on_problem(
                Problem(
                    "sip",
                    f"more than {MAX_QUIET_CALLS} calls without MSRP/BFCP (or "
                    f"{MAX_QUIET_BYTES >> 20} MiB of their SIP) at once: the least recently "
                    "active are dropped unparsed",
                    frame.number,
                    severity=Severity.WARNING,
                    code="budget.quiet_calls",
                )
            )
        while self.calls and (len(self.calls) > MAX_QUIET_CALLS or self.held > MAX_QUIET_BYTES):
            self._drop(next(iter(self.calls)))
            self.dropped += 1

    def _sweep(self, now: int) -> None:
        self._next_sweep = now + 1_000_000_000
        gone = [
            cid
            for cid, q in self.calls.items()
            if now - q.last_ns > (QUIET_ENDED_NS if q.ended else QUIET_IDLE_NS)
        ]
        for cid in gone:
            self._drop(cid)


# The fields _skippable reads, in one unpack each (a dozen single-byte reads cost more):
# Ethernet type, IPv4 version/IHL, total length, flags/fragment offset, protocol, UDP ports,
# UDP length, first payload byte
_ETH_IPV4_UDP = struct.Struct("!12xHBxH2xHxB10xHHH2xB")
# IPv6 version/traffic class byte, payload length, next header, UDP ports, length, first byte
_ETH_IPV6_UDP = struct.Struct("!14xB3xHB33xHHH2xB")


def _skippable(frame: Frame) -> bool:
    """A whole, unfragmented UDP datagram over Ethernet on no port the flow layer decodes,
    whose payload cannot start a SIP message: nothing in the analysis can use it, so it is
    decided from a few bytes before any object is built (most of a capture is RTP)."""
    d = frame.data
    if frame.linktype != 1 or len(d) < 63 or d[23] == 6:
        # (byte 23: IPv4's protocol, TCP: the flow table's to decide; should the frame be
        # something else, it is merely not skipped)
        return False
    etype, vihl, total, ff, proto, sport, dport, ulen, first = _ETH_IPV4_UDP.unpack_from(d)
    if etype == 0x0800:
        if proto != 17 or vihl != 0x45 or ff & 0x3FFF:
            return False  # options, not UDP, or a fragment
        if total + 14 > len(d) or ulen != total - 20:
            return False  # cut by the snapshot length, or lengths that disagree
        u = 34
    elif etype == 0x86DD:
        vtc, plen, nh, sport, dport, ulen, first = _ETH_IPV6_UDP.unpack_from(d)
        if nh != 17 or vtc >> 4 != 6:
            return False  # extension headers (fragments among them), not UDP
        if plen + 54 > len(d) or ulen != plen:
            return False
        u = 54
    else:
        return False
    if sport in FLOW_UDP_PORTS or dport in FLOW_UDP_PORTS or ulen <= 8:
        return False
    if not 0x41 <= first <= 0x5A:
        return True  # SIP starts with an upper-case method or "SIP/2.0"
    # the SIP handler's own test for datagrams off the SIP ports
    return not siplib.looks_like_sip(d[u + 8 : u + 8 + 512])


PSK_KX = frozenset({Kx.PSK, Kx.DHE_PSK, Kx.ECDHE_PSK, Kx.RSA_PSK})


def _client_hello(first: bytes) -> ClientHello | None:
    """The ClientHello that opens ``first``; None when there is no whole one."""
    try:
        got = parse_record(first)
    except DissectError:
        return None
    if got is None or got[0].content_type != CT_HANDSHAKE:
        return None
    body = got[0].fragment
    if len(body) < 4 or body[0] != HT_CLIENT_HELLO:
        return None
    end = 4 + int.from_bytes(body[1:4], "big")
    if end > len(body):
        return None  # the hello goes on in the next record
    try:
        return parse_client_hello(body[4:end])
    except DissectError:
        return None


def _offers_psk(first: bytes) -> bool | None:
    """Whether the ClientHello that opens ``first`` can use a PSK (a PSK cipher suite, or
    TLS 1.3's pre_shared_key); None when there is no whole ClientHello to tell."""
    hello = _client_hello(first)
    if hello is None:
        return None
    if hello.ext(EXT_PRE_SHARED_KEY) is not None:
        return True
    return any(
        (cs := CIPHER_SUITES.get(s)) is not None and cs.kx in PSK_KX for s in hello.cipher_suites
    )


def _may_be_media(first: bytes) -> bool:
    if len(first) >= 2 and 0x14 <= first[0] <= 0x17 and first[1] == 3:
        return True  # a TLS record (SSL 3.0 .. TLS 1.3 record versions)
    if looks_like_http(first):
        return True
    return sniff(first) is not None


class _Counted:
    """The frames of ``reader``, with ``progress`` told every ``every`` frames (once each
    was handled) of the frames and bytes read so far."""

    def __init__(self, reader: Iterable[Frame], progress: Progress, every: int, size: int) -> None:
        self.reader = reader
        self.progress = progress
        self.every = every
        self.size = size
        self.read = 0

    def __iter__(self) -> Iterator[Frame]:
        for frames, frame in enumerate(self.reader, 1):
            yield frame
            self.read += len(frame.data) + 16  # the record header of classic pcap
            if frames % self.every == 0:
                self.progress(frames, self.read, self.size)


def _with_file(p: Problem, file: str) -> Problem:
    if p.file is not None:
        return p
    return Problem(p.layer, p.reason, p.frame, file, p.field, p.offset, p.severity)


GROUP_SEPARATOR = " + "  # the name of a group of files read as one capture


def _size(path: str) -> int:
    try:
        return os.path.getsize(path) if path != "-" else 0
    except OSError:
        return 0


def analyze_capture(
    path: str | Sequence[str],
    keys: KeyFile,
    *,
    reveal: bool = False,
    progress: Progress | None = None,
    progress_every: int = 2000,
    workers: int = 0,
    detail: bool = True,
    sink: CallSink | None = None,
) -> CaptureResult:
    """Read ``path`` and return its calls, correlated but not yet judged.

    ``path`` may be several files: pieces of one capture (rotated files of one probe), read
    as one stream merged in timestamp order, frame numbers running on from file to file; they
    are reported as one capture named by the files joined with ``GROUP_SEPARATOR``.

    ``workers`` > 0: the calls are correlated in up to that many worker processes while this
    one reads on (:mod:`mikeyshark.workers`); the result is the same. ``detail``: with what
    only the HTML report shows. ``sink``: what becomes of each finalized call, where it is
    correlated (``CaptureResult.spooled`` keeps what it returns beside each call).
    """
    started = time.monotonic()
    paths = [path] if isinstance(path, str) else list(path)
    path = GROUP_SEPARATOR.join(paths)
    info = CaptureInfo(path=path, files=tuple(paths))
    tracker = CallTracker(path)
    tracker.records = records = _RecordCount()
    tracker.problems = sip_problems = _CappedProblems()
    sip = SipFlowHandler(tracker, path)
    collector = _Collector(sip, path, MpLeg(path, keys.mp))
    table = FlowTable(
        collector,
        file=path,
        esp_sas={sa.spi: sa for sa in keys.esp},
        max_connections=MAX_OPEN_CONNECTIONS,
    )
    collector.table = table
    # several files: merged by timestamp (rotated files may overlap), numbered on
    reader = MergedReader(paths)
    # the --tls-keylog secrets and those of the capture's own secrets blocks: SIP over TLS
    # and the media alike
    known = keylog_from([keys.tls_keylog], reader.secrets)
    siptls = collector.siptls = SipTlsHandler(sip, known)
    work = CallWork(keys, path, reveal, known, detail, sink)
    runner: Runner = InProcess(work)
    if workers > 0:
        from mikeyshark.workers import Forks, available  # only --workers needs it

        if available():
            runner = Forks(work, workers)
    finalizer = _Finalizer(tracker, collector, runner)
    size = sum(_size(p) for p in paths)
    feed = table.feed
    budget_seen = 0  # the SIP records counted when the budgets were last looked at
    counted = _Counted(reader, progress, progress_every, size) if progress is not None else None
    frames: Iterable[Frame] = counted if counted is not None else reader
    try:
        for frame in frames:
            if not _skippable(frame):
                try:
                    feed(frame)
                    # only a SIP message adds to what the budgets count
                    if records.numbered != budget_seen:
                        budget_seen = records.numbered
                        if finalizer.over_budget():
                            finalizer.shed()
                except Exception as e:  # the fault barrier of a frame: the next one goes on
                    collector.on_problem(internal_problem(e, "the frame", frame.number, path))
            if frame.ts_ns >= finalizer.next_sweep:
                try:
                    finalizer.sweep(frame.ts_ns)
                except Exception as e:
                    collector.on_problem(internal_problem(e, "ended calls", frame.number, path))
        info.frames = reader.frames_read
        table.finish()
        collector.mp.finish()
        siptls.finish()
        sip.finish()
        done = finalizer.finish()
    finally:
        runner.close()
    # SIP over TLS no key opened: a call each, after the others (as the tracker's order ends)
    late = [Finalized(-1, encrypted_call(e, path), []) for e in siptls.encrypted]
    for f in late:
        scrub(f.record)
    done += sink(late) if sink is not None and late else late
    calls = [f.record for f in done]
    connections = [d for f in done for d in f.connections]
    unbound, opened = unbound_media(
        list(collector.pool),
        keys,
        known,
        capture=path,
        sip_streams=frozenset(siptls.sip_streams),
    )
    connections.extend(opened)
    problems = [
        *reader.problems,
        *collector.problems,
        *collector.mp.problems,
        *sip.problems,
        *siptls.problems,
    ]
    for c in calls:
        problems.extend(c.problems)
    seen: set[tuple[object, ...]] = set()
    for p in problems:
        key = (p.layer, p.reason, p.frame, p.field)
        if key in seen:
            continue
        seen.add(key)
        info.errors.append(_with_file(p, path))
    dropped = collector.dropped_problems + sip_problems.dropped
    if dropped:
        info.errors.append(
            Problem(
                "analyzer",
                f"{dropped} more problems not listed",
                None,
                path,
                severity=Severity.WARNING,
                code="budget.problems",
            )
        )
    info.errors.sort(key=lambda p: p.frame or 0)
    info.seconds = time.monotonic() - started
    if progress is not None:
        progress(info.frames, size or (counted.read if counted is not None else 0), size)
    # undecodable wire bytes as \xNN in every string a writer will see (each call's when it
    # was finalized: Batch.process)
    scrub(info.errors)
    scrub(unbound)
    return CaptureResult(info, calls, connections, unbound, [f.spooled for f in done])
