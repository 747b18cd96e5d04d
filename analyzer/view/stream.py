"""STREAM"""

from __future__ import annotations

import bisect
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from mikeyshark import media as medialib
from mikeyshark.calls import MediaSession, SipFlowHandler, SipRecord, TcpConn
from mikeyshark.capture import CaptureReader
from mikeyshark.decrypt import AppData, PskCandidate, TlsConnectionDecoder, TlsSessionInfo
from mikeyshark.dissectors import bfcp as bfcplib
from mikeyshark.dissectors import mikey as mikeylib
from mikeyshark.dissectors import msrp as msrplib
from mikeyshark.dissectors import sdp as sdplib
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.mikey.payloads import Ticket
from mikeyshark.dissectors.mikey.tree import fingerprint
from mikeyshark.dissectors.tls import keyschedule as ks
from mikeyshark.dissectors.tls.constants import (
    CIPHER_SUITES,
    CT_ALERT,
    CT_APPLICATION_DATA,
    CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
    EXT_SUPPORTED_VERSIONS,
    HT_CLIENT_HELLO,
    HT_CLIENT_KEY_EXCHANGE,
    HT_FINISHED,
    HT_KEY_UPDATE,
    HT_SERVER_HELLO,
    TLS13,
    CipherSuite,
    Kx,
)
from mikeyshark.dissectors.tls.protection import Tls13Aead
from mikeyshark.dissectors.tls.records import (
    RECORD_HEADER_LEN,
    HandshakeBuffer,
    Record,
    parse_client_hello,
    parse_psk_key_exchange,
    parse_record,
    parse_server_hello,
    plausible_header,
)
from mikeyshark.flows import FlowTable
from mikeyshark.keys import KeyFile, resolve_exchange
from mikeyshark.model import Endpoint, Frame, Problem, Severity, StreamChunk
from mikeyshark.view.frame import FrameDecoder, FrameView, Node, Pdu
from mikeyshark.view.sip import KeyedSip, _response_node, _ticket_node
from mikeyshark.view.tls import PREVIEW, TlsConnView, TlsFrame, TlsRecordView

# How often (in frames) the flow table's out-of-order buffers are consulted before printing.
CHECK_EVERY = 256
# Frames waiting to be printed before connections still waiting for a key are given up.
MAX_PENDING_FRAMES = 50_000


class _Handler(SipFlowHandler):
    """The SIP handler, noting which frame completed a datagram (a reassembled IP fragment
    then shows as UDP, like tshark's last fragment) and passing every TCP connection on to
    the TLS/MSRP/BFCP decoder."""

    def __init__(self, file: str, apps: AppDecoder) -> None:
        super().__init__(file=file)
        self.apps = apps
        self.datagrams: list[tuple[int, Endpoint, Endpoint, int]] = []

    def on_udp(self, frame: Frame, src: Endpoint, dst: Endpoint, payload: bytes) -> None:
        self.datagrams.append((frame.number, src, dst, len(payload)))
        super().on_udp(frame, src, dst, payload)

    def on_tcp_open(self, conn: TcpConn) -> None:
        super().on_tcp_open(conn)
        self.apps.on_tcp_close(conn)  # a reused object id is a new connection

    def on_tcp_data(self, conn: TcpConn, from_client: bool, chunk: StreamChunk) -> None:
        super().on_tcp_data(conn, from_client, chunk)
        self.apps.on_tcp_data(conn, from_client, chunk)

    def on_tcp_close(self, conn: TcpConn) -> None:
        super().on_tcp_close(conn)
        self.apps.on_tcp_close(conn)


class FrameStream:
    """Feeds frames through the flow table and the SIP and TLS/MSRP/BFCP handlers; iterating
    yields each frame's view, in capture order, once nothing can change it any more.
    ``on_problem`` receives every located problem as it is found."""

    def __init__(
        self,
        reader: CaptureReader,
        keys: KeyFile | None = None,
        psks: Sequence[PskCandidate] = (),
        reveal: bool = False,
        on_problem: Callable[[Problem], None] | None = None,
    ) -> None:
        self.reader = reader
        self.on_problem = on_problem
        self.keys = keys
        self.reveal = reveal
        self.decoder = FrameDecoder()
        self.apps = AppDecoder(reader.name, keys is not None or bool(psks), reveal)
        self.sip = _Handler(reader.name, self.apps)
        self.table = FlowTable(self.sip, file=reader.name)
        self.pending: OrderedDict[int, FrameView] = OrderedDict()
        self._records = 0
        self._reported = [0, 0, 0]  # problems already printed, per source
        self._resolved: dict[int, tuple[MediaSession, bool]] = {}  # id -> (session, answered)
        direct = list(psks)
        if keys is not None:
            direct += [
                PskCandidate(t.key, t.identity or "[[tek]] of the key file") for t in keys.tek
            ]
        self.apps.add_candidates(direct)

    def __iter__(self) -> Iterator[FrameView]:
        for n, frame in enumerate(self.reader, 1):
            self.pending[frame.number] = self.decoder.decode(frame)
            self.table.feed(frame)
            self._attach()
            if n % CHECK_EVERY == 0:
                yield from self._release(final=False)
        self.table.finish()
        self.sip.finish()
        self.apps.finish()
        self._attach()
        yield from self._release(final=True)

    def _attach(self) -> None:
        for num, src, dst, n in self.sip.datagrams:
            v = self.pending.get(num)
            if v is not None and v.protocol in ("IPv4", "IPv6"):
                v.protocol, v.info = "UDP", f"{src.port} → {dst.port} Len={n}"
        self.sip.datagrams.clear()
        recs = self.sip.tracker.records
        if len(recs) > self._records:
            for rec in recs[self._records :]:
                self._place(rec)
            self._records = len(recs)
            if self.keys is not None:
                self._resolve_sessions()
        for num, pdu in self.apps.attach:
            v = self.pending.get(num)
            if v is None:
                self._problem(Problem(pdu.kind, "message completed late", num, self.reader.name))
            else:
                v.pdus.append(pdu)
        self.apps.attach.clear()
        for num, end, key, bare in self.apps.segments:
            seg = self.pending.get(num)
            if seg is not None and seg.conn == key and seg.has_payload:
                seg.segment_of = end
                seg.segment_bare = bare
        self.apps.segments.clear()
        self._report()

    def _resolve_sessions(self) -> None:
        """TEK candidates of every MIKEY exchange (offer alone, then with its answer)."""
        assert self.keys is not None
        for ms in self.sip.tracker.media_sessions:
            answered = ms.answer_key_mgmt is not None
            seen = self._resolved.get(id(ms))
            if seen is not None and seen[0] is ms and (seen[1] or not answered):
                continue
            self._resolved[id(ms)] = (ms, answered)
            if ms.offer_key_mgmt is None:
                continue
            try:
                res = resolve_exchange(
                    ms.offer_key_mgmt, ms.answer_key_mgmt, self.keys, ms.offer.ts_ns
                )
            except DissectError:
                continue  # the SDP stage already reported the malformed key-mgmt
            if not res.ticket_opened and (seen is None or seen[0] is not ms):
                err = res.error
                why = err.reason if err is not None else "no key in the key file opens it"
                frame = ms.offer_frame
                self._problem(
                    Problem("mikey", f"ticket not opened: {why}", frame, self.reader.name)
                )
            eps = [ep for ep in (ms.offer_address, ms.answer_address) if ep is not None]
            self.apps.add_candidates(
                [PskCandidate(c.key, c.derivation) for c in res.tek_candidates], eps
            )

    def _place(self, rec: SipRecord) -> None:
        v = self.pending.get(rec.frame)
        if v is None:
            # Its frame was already printed (bytes delivered long after they were captured).
            self._problem(
                Problem(
                    "sip", f"message completed late: {rec.summary()}", rec.frame, self.reader.name
                )
            )
            return
        if self.keys is not None and rec.sdp is not None:
            v.pdus.append(Pdu("sip-keys", KeyedSip(rec, self._tickets(rec))))
        else:
            v.pdus.append(Pdu("sip", rec))
        v.problems.extend(rec.problems)
        if rec.first_frame != rec.frame:
            key = (rec.src.ip, rec.src.port, rec.dst.ip, rec.dst.port)
            for num in range(rec.first_frame, rec.frame):
                seg = self.pending.get(num)
                if seg is not None and seg.conn == key and seg.has_payload:
                    seg.segment_of = rec.frame

    def _tickets(self, rec: SipRecord) -> dict[bytes, Node]:
        """By key-mgmt data: the opened ticket of each MIKEY message carrying one, and for
        an answer's TRANSFER_RESP what its exchange with the offer gives."""
        assert self.keys is not None and rec.sdp is not None
        out: dict[bytes, Node] = {}
        lines = [*rec.sdp.session, *(ln for md in rec.sdp.media for ln in md.lines)]
        for ln in lines:
            name, _, value = ln.value.partition(":")
            if ln.type != "a" or name.lower() != "key-mgmt":
                continue
            try:
                km = sdplib.KeyMgmt.parse(value)
                if km.protocol.lower() != "mikey" or km.data in out:
                    continue
                if mikeylib.parse(km.data).find(Ticket) is not None:
                    res = resolve_exchange(km.data, None, self.keys, rec.ts_ns)
                    out[km.data] = _ticket_node(res, self.keys, self.reveal)
                    continue
                ms = next(
                    (m for m in self.sip.tracker.media_sessions if m.answer_key_mgmt == km.data),
                    None,
                )
                if ms is None or ms.offer_key_mgmt is None:
                    continue
                res = resolve_exchange(ms.offer_key_mgmt, km.data, self.keys, ms.offer.ts_ns)
            except DissectError:
                continue  # reported with the SDP
            out[km.data] = _response_node(res, ms.offer_frame, self.reveal)
        return out

    def _release(self, final: bool) -> Iterator[FrameView]:
        if final:
            limit = None
        else:
            if len(self.pending) > MAX_PENDING_FRAMES:
                self.apps.stop_holding_all(f"{MAX_PENDING_FRAMES} frames waited")
            if self.table.buffered_bytes:
                return
            held = [self.sip.oldest_pending_frame(), self.apps.oldest_held_frame()]
            limit = min((h for h in held if h is not None), default=None)
        while self.pending:
            num = next(iter(self.pending))
            if limit is not None and num >= limit:
                break
            yield self.pending.pop(num)

    def _report(self) -> None:
        sources = (self.reader.problems, self.sip.problems, self.apps.problems)
        for i, src in enumerate(sources):
            for p in src[self._reported[i] :]:
                self._problem(p)
                v = self.pending.get(p.frame) if i == 2 and p.frame is not None else None
                if v is not None:
                    v.problems.append(p)  # also in the frame's JSON (SIP's come with rec)
        self._reported = [len(src) for src in sources]

    def _problem(self, p: Problem) -> None:
        if self.on_problem is not None:
            self.on_problem(p)


# --------------------------------------------------------------------------------------------
# TLS, MSRP and BFCP on TCP connections

MAX_HELD_CONN = 1 << 20  # bytes of one unconfirmed TLS connection kept to retry new keys
MAX_HELD_TOTAL = 16 << 20  # the same for all connections of the capture
# What mikeyshark.decrypt says when the candidates so far failed (a later MIKEY exchange may
# bring the right one); any other reason means no key will do.
_REASONS_KEYS_MAY_FIX = frozenset({"no candidate key matched", "no key"})
_PSK_KX = frozenset({Kx.PSK, Kx.DHE_PSK, Kx.ECDHE_PSK, Kx.RSA_PSK})  # RFC 4279, 5489
MAX_T13_BYTES = 1 << 20  # TLS 1.3 record bytes of one direction kept until their key is known
MAX_KEY_GROUPS = 4096  # m-lines whose TEK candidates are kept (the newest)
MAX_CANDIDATES = 256  # keys one TLS connection is offered
MAX_AWAITING = 4096  # encrypted records of one connection waiting for their plaintext


class _MediaDir:
    """One direction of plaintext MSRP/BFCP: the framer and which frame carried which
    stream offset (forgotten as the framer moves on, so bounded by the framer's buffer)."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.framer: msrplib.MsrpFramer | bfcplib.BfcpFramer = (
            msrplib.MsrpFramer() if protocol == "msrp" else bfcplib.BfcpFramer()
        )
        self.starts: list[int] = []
        self.frames: list[int] = []
        self.expected = 0

    def frame_at(self, offset: int) -> int:
        i = max(bisect.bisect_right(self.starts, offset) - 1, 0)
        return self.frames[i]

    def feed(self, offset: int, frame: int, data: bytes) -> list[tuple[int, int, object]]:
        """(first frame, last frame, message or framing error) of what ``data`` completed."""
        gap = offset - self.expected
        if gap < 0:
            data = data[-gap:]
            offset, gap = self.expected, 0
        if not data:
            return []
        self.starts.append(offset)
        self.frames.append(frame)
        self.expected = offset + len(data)
        return self._located(self.framer.feed(data, gap))

    def close(self) -> list[tuple[int, int, object]]:
        return self._located(self.framer.close()) if self.starts else []

    def _located(self, framed: Sequence[object]) -> list[tuple[int, int, object]]:
        out: list[tuple[int, int, object]] = []
        for f in framed:
            start, end = f.start, f.end  # type: ignore[attr-defined]
            out.append((self.frame_at(start), self.frame_at(max(end - 1, start)), f))
        i = bisect.bisect_right(self.starts, self.framer.oldest) - 1
        if i > 0:
            del self.starts[:i]
            del self.frames[:i]
        return out

    def oldest_frame(self) -> int | None:
        return self.frame_at(self.framer.oldest) if self.framer.buffered and self.starts else None


@dataclass(slots=True)
class _RecDir:
    """One direction of a TLS connection as the list shows it: records split from the
    stream (bounded by one record), the handshake joined across records."""

    buf: bytearray = field(default_factory=bytearray)
    base: int = 0  # stream offset of buf[0]
    frames: list[int] = field(default_factory=list)  # frames holding bytes of buf
    hs: HandshakeBuffer = field(default_factory=HandshakeBuffer)
    encrypted: bool = False
    protected_handshakes: int = 0
    lost: bool = False
    pending_type: int | None = None  # handshake type of the message the buffer holds
    # TLS 1.3 records kept until the confirmed key names what they carry (bounded)
    t13_queue: deque[tuple[TlsRecordView, bytes]] = field(default_factory=deque)
    t13_prot: Tls13Aead | None = None
    t13_secret: bytes = b""
    t13_phase: int = 0  # 0 handshake keys, 1 application keys, 2 given up
    t13_hs: HandshakeBuffer = field(default_factory=HandshakeBuffer)
    t13_pending_type: int | None = None
    t13_bytes: int = 0


class _Conn:
    def __init__(self, conn: TcpConn, kind: str) -> None:
        self.client, self.server = conn.client, conn.server
        self.key = (conn.client.ip, conn.client.port, conn.server.ip, conn.server.port)
        self.kind = kind  # "tls" | "msrp" | "bfcp"
        self.view = TlsConnView()
        self.dirs = {True: _RecDir(), False: _RecDir()}
        self.media: dict[bool, _MediaDir] = {}
        self.decoder: TlsConnectionDecoder | None = None
        self.tried = 0  # candidates the current decoder has
        self.alerts_seen = 0
        self.held: list[tuple[bool, StreamChunk]] | None = []  # None: no longer kept
        self.held_bytes = 0
        self.awaiting: dict[tuple[bool, int], TlsRecordView] = {}  # encrypted app data
        self.first_frame: int | None = None
        self.closed = False

    @property
    def confirmed(self) -> bool:
        return self.decoder is not None and self.decoder.info.psk is not None


class AppDecoder:
    """Finds TLS, MSRP and BFCP on TCP connections (by their first bytes, any port), splits
    TLS records for the list, decrypts with the PSK candidates it is given and frames the
    MSRP/BFCP inside. Results are (frame, Pdu) pairs to attach and located problems."""

    def __init__(self, file: str, candidates_wanted: bool, reveal: bool = False) -> None:
        self.file = file
        self.reveal = reveal
        self.keys_wanted = candidates_wanted
        self._direct: list[PskCandidate] = []
        self._groups: list[tuple[frozenset[Endpoint], list[PskCandidate]]] = []
        self._known: set[bytes] = set()
        self.conns: dict[int, _Conn] = {}
        self.attach: list[tuple[int, Pdu]] = []
        self.segments: list[tuple[int, int, tuple[str, int, str, int], bool]] = []
        self.problems: list[Problem] = []
        self.held_total = 0

    # ---------------------------------------------------------------- keys

    def add_candidates(
        self, cands: Sequence[PskCandidate], endpoints: Sequence[Endpoint] | None = None
    ) -> None:
        """Keys to try: ``endpoints`` None for keys given directly (tried on everything,
        first), else the SDP addresses of the m-line whose exchange gave them."""
        new = [c for c in cands if c.key not in self._known]
        if not new:
            return
        self._known.update(c.key for c in new)
        if endpoints is None:
            self._direct.extend(new)
        else:
            self._groups.append((frozenset(endpoints), new))
            if len(self._groups) > MAX_KEY_GROUPS:
                del self._groups[0]
        for c in self.conns.values():
            if c.kind == "tls" and not c.confirmed and c.held is not None:
                self._replay(c)

    def _candidates_for(self, c: _Conn) -> list[PskCandidate]:
        """The keys for one connection: direct ones, then those of the m-lines whose SDP
        names its server, then whose addresses share its hosts, then the newest others;
        at most MAX_CANDIDATES (the oracle tries them in order)."""
        ips = {c.client.ip, c.server.ip}

        def rank(
            item: tuple[int, tuple[frozenset[Endpoint], list[PskCandidate]]],
        ) -> tuple[int, int]:
            i, (eps, _) = item
            score = 2 if c.server in eps else 1 if any(ep.ip in ips for ep in eps) else 0
            return (-score, -i)

        ordered = sorted(enumerate(self._groups), key=rank)
        out = list(self._direct)
        for _, (_, keys) in ordered:
            out.extend(keys)
        return out[:MAX_CANDIDATES]

    def _new_decoder(self, c: _Conn) -> TlsConnectionDecoder:
        cands = self._candidates_for(c)
        c.tried = len(cands)
        c.alerts_seen = 0
        return TlsConnectionDecoder(cands)

    def _replay(self, c: _Conn) -> None:
        c.decoder = self._new_decoder(c)
        for from_client, chunk in c.held or []:
            self._decrypted(c, c.decoder.feed(from_client, chunk))
        self._settle(c)

    # ---------------------------------------------------------------- flow events

    def on_tcp_data(self, conn: TcpConn, from_client: bool, chunk: StreamChunk) -> None:
        c = self.conns.get(id(conn))
        if c is None:
            if not chunk.data:
                return
            kind = _classify(chunk.data)
            if kind is None:
                self.conns[id(conn)] = _Conn(conn, "")  # neither: SIP, HTTP, ...
                return
            c = self.conns[id(conn)] = _Conn(conn, kind)
            c.first_frame = chunk.frame
        if not c.kind:
            return
        if c.kind != "tls":
            self._media(c, from_client, chunk.offset, chunk.frame, chunk.data)
            return
        self._records(c, from_client, chunk)
        if self.keys_wanted:
            if c.decoder is None:
                c.decoder = self._new_decoder(c)
            if c.held is not None:
                c.held.append((from_client, chunk))
                c.held_bytes += len(chunk.data)
                self.held_total += len(chunk.data)
            self._decrypted(c, c.decoder.feed(from_client, chunk))
            self._settle(c)

    def on_tcp_close(self, conn: TcpConn) -> None:
        c = self.conns.pop(id(conn), None)
        if c is not None:
            self._close(c)

    def finish(self) -> None:
        for c in list(self.conns.values()):
            self._close(c)
        self.conns.clear()

    def oldest_held_frame(self) -> int | None:
        """The first frame whose rows may still change (an incomplete record or message,
        a connection still waiting for its key)."""
        found: list[int] = []
        for c in self.conns.values():
            if c.held and not c.confirmed:
                found.append(c.held[0][1].frame)
            for d in c.dirs.values():
                if d.frames:
                    found.append(d.frames[0])
                if d.t13_queue and d.t13_phase < 2 and c.confirmed:
                    found.append(d.t13_queue[0][0].frame)
            for m in c.media.values():
                f = m.oldest_frame()
                if f is not None:
                    found.append(f)
        return min(found) if found else None

    # ---------------------------------------------------------------- TLS records

    def _records(self, c: _Conn, from_client: bool, chunk: StreamChunk) -> None:
        d = c.dirs[from_client]
        if chunk.gap:
            d.buf.clear()
            d.frames.clear()
            d.lost = True
        if not d.buf:
            d.base = chunk.offset
        d.buf += chunk.data
        if chunk.data:
            d.frames.append(chunk.frame)
        records: list[TlsRecordView] = []
        while d.buf:
            if d.lost:
                p = next((i for i in range(len(d.buf)) if plausible_header(d.buf, i)), None)
                if p is None:
                    # Keep what may be the start of a header; the frames before are done.
                    drop = max(len(d.buf) - (RECORD_HEADER_LEN - 1), 0)
                    d.base += drop
                    del d.buf[:drop]
                    d.frames = [chunk.frame] if d.buf else []
                    break
                del d.buf[:p]
                d.base += p
                d.lost = False
            try:
                got = parse_record(d.buf)
            except DissectError as e:
                self._problem("tls", f"{e.reason}; resynchronising", chunk.frame, e.field)
                del d.buf[:1]  # past this header, or a plausible one would be found again
                d.base += 1
                d.lost = True
                continue
            if got is None:
                break
            rec, end = got
            records.append(self._record(c, d, from_client, rec, d.base, chunk.frame))
            del d.buf[:end]
            d.base += end
            for f in d.frames:
                if f != chunk.frame:
                    self.segments.append((f, chunk.frame, _key(c, from_client), True))
            d.frames = [chunk.frame] if d.buf else []
        if records:
            version = c.view.version if c.view.version is not None else records[-1].version
            self.attach.append((chunk.frame, Pdu("tls", TlsFrame(c.view, records, version))))

    def _record(
        self, c: _Conn, d: _RecDir, from_client: bool, rec: Record, offset: int, frame: int
    ) -> TlsRecordView:
        v = c.view
        label = v.version if v.version is not None else rec.version
        r = TlsRecordView(
            v,
            from_client,
            frame,
            offset,
            rec.content_type,
            rec.version,
            len(rec.fragment),
            label,
            encrypted=d.encrypted,
        )
        ct = rec.content_type
        if ct == CT_CHANGE_CIPHER_SPEC:
            if v.version != TLS13:
                d.encrypted = True
        elif ct == CT_APPLICATION_DATA:
            r.encrypted = True
            r.preview = rec.fragment[: PREVIEW + 1]
            if self.keys_wanted:
                c.awaiting[(from_client, offset)] = r
                if v.version == TLS13 and d.t13_phase < 2:
                    if d.t13_bytes + len(rec.fragment) > MAX_T13_BYTES:
                        d.t13_phase = 2  # the key came too late: these stay unnamed
                        d.t13_queue.clear()
                    else:
                        d.t13_queue.append((r, rec.fragment))
                        d.t13_bytes += len(rec.fragment)
            if len(c.awaiting) > MAX_AWAITING:  # never decrypted: forget the oldest
                del c.awaiting[next(iter(c.awaiting))]
        elif ct == CT_ALERT and not d.encrypted and len(rec.fragment) == 2:
            r.alert = (rec.fragment[0], rec.fragment[1])
        elif ct == CT_ALERT:
            r.encrypted = True
        elif ct == CT_HANDSHAKE and d.encrypted:
            d.protected_handshakes += 1
            r.first_protected_handshake = d.protected_handshakes == 1
        elif ct == CT_HANDSHAKE:
            before = len(d.hs)
            done = d.hs.add(rec.fragment)
            left = len(d.hs)
            if left:
                # The unfinished message starts in this record or continues an earlier one.
                start = before + len(rec.fragment) - left
                if start >= before:
                    d.pending_type = rec.fragment[start - before]
                r.fragment_of = d.pending_type
            for msg in done:
                r.messages.append((msg[0], msg[4:]))
                if msg[0] == HT_SERVER_HELLO:
                    self._server_hello(c, msg[4:], frame)
                # a key exchange is PSK only once a ServerHello said so (which the capture
                # may deliver after it)
                elif msg[0] != HT_CLIENT_KEY_EXCHANGE or c.view.psk_suite:
                    self._check_handshake(msg[0], msg[4:], frame)
        return r

    def _check_handshake(self, t: int, body: bytes, frame: int) -> None:
        """Report a malformed hello or key exchange here too (the tree shows it inline)."""
        try:
            if t == HT_CLIENT_HELLO:
                parse_client_hello(body)
            elif t == HT_CLIENT_KEY_EXCHANGE:
                parse_psk_key_exchange(body)
        except DissectError as e:
            self._problem("tls", e.reason, frame, e.field, e.offset)

    def _server_hello(self, c: _Conn, body: bytes, frame: int) -> None:
        try:
            sh = parse_server_hello(body)
        except DissectError as e:
            self._problem("tls", e.reason, frame, e.field, e.offset)
            return
        sv = sh.ext(EXT_SUPPORTED_VERSIONS)
        suite = CIPHER_SUITES.get(sh.cipher_suite)
        c.view.psk_suite = suite is not None and suite.kx in _PSK_KX
        c.view.version = int.from_bytes(sv[:2], "big") if sv else sh.legacy_version
        if c.view.version == TLS13:
            for d in c.dirs.values():
                d.encrypted = True  # everything after the ServerHello is protected (RFC 8446 5)

    # ---------------------------------------------------------------- decryption

    def _decrypted(self, c: _Conn, items: list[AppData]) -> None:
        for a in items:
            r = c.awaiting.pop((a.from_client, a.record_offset), None)
            m = c.media.get(a.from_client)
            if m is None:
                proto = medialib.sniff(a.data)
                if proto is None:
                    if r is not None:
                        r.plaintext = len(a.data)
                    continue
                m = c.media[a.from_client] = _MediaDir(proto)
            if r is not None:
                r.plaintext = len(a.data)
                r.app_protocol = m.protocol
            self._media(c, a.from_client, a.stream_offset, a.frame, a.data, decrypted=True)

    def _settle(self, c: _Conn) -> None:
        dec = c.decoder
        if dec is None:
            return
        for a in dec.info.alerts[c.alerts_seen :]:
            if a.encrypted:
                c.view.alerts.setdefault((a.from_client, a.frame), []).append(
                    (a.level, a.description)
                )
        c.alerts_seen = len(dec.info.alerts)
        info = dec.info
        if info.psk is not None:
            c.view.decrypted = bool(info.decryptable) or info.records_ok > 0
            self._name_tls13(c, info)
            if c.view.key_note is None:
                shown = info.psk.hex() if self.reveal else fingerprint(info.psk)
                c.view.key_note = f"PSK {shown} ({info.psk_label}), confirmed by: {info.oracle}"
            self._release_held(c)
        elif (
            c.held is not None
            and info.decryptable is False
            and (info.undecryptable_reason not in _REASONS_KEYS_MAY_FIX)
        ):
            self._release_held(c)  # no key can help (DHE, certificates, ...): stop holding
        elif c.held is not None and (
            c.held_bytes > MAX_HELD_CONN or self.held_total > MAX_HELD_TOTAL
        ):
            self.stop_holding(c, f"more than {c.held_bytes} bytes")

    def stop_holding(self, c: _Conn, why: str) -> None:
        """Show the connection as it is now: keys found later are not tried on it."""
        if c.held is None:
            return
        self._problem(
            "tls",
            f"{c.client} -> {c.server}: {why} before a key was confirmed; later keys are not "
            "tried on it",
            c.first_frame,
            severity=Severity.WARNING,
        )
        self._release_held(c)

    def stop_holding_all(self, why: str) -> None:
        for c in self.conns.values():
            if c.held and not c.confirmed:
                self.stop_holding(c, why)

    def _name_tls13(self, c: _Conn, info: TlsSessionInfo) -> None:
        """Decrypt the TLS 1.3 records kept for it to name what they carry (Encrypted
        Extensions, Finished, New Session Ticket, Alert, Application Data), as tshark does
        with the session's secrets. The secrets come from the decoder once it confirmed
        the PSK; the records are opened here with the codec's record protection."""
        secrets, code = info.tls13_secrets, info.cipher_suite
        suite = CIPHER_SUITES.get(code) if code is not None else None
        if info.decryptable is False:  # e.g. psk_dhe_ke: the PSK alone opens nothing
            for d in c.dirs.values():
                d.t13_phase = 2
                d.t13_queue.clear()
            return
        if secrets is None or suite is None or not info.decryptable:
            return
        for from_client, d in c.dirs.items():
            side = info.client_hello_from_client
            tls_client = from_client if side is None else from_client == side
            while d.t13_queue and d.t13_phase < 2:
                if d.t13_prot is None:
                    if d.t13_phase == 0:
                        secret = secrets.client_hs if tls_client else secrets.server_hs
                    else:
                        secret = secrets.client_ap if tls_client else secrets.server_ap
                    if not secret:
                        break  # the application secrets follow the server Finished
                    d.t13_secret = secret
                    key, iv = ks.tls13_traffic_keys(suite.prf, secret, suite.key_len)
                    d.t13_prot = Tls13Aead(suite, key, iv)
                r, fragment = d.t13_queue.popleft()
                d.t13_bytes -= len(fragment)
                try:
                    inner, plain = d.t13_prot.unprotect(CT_APPLICATION_DATA, r.version, fragment)
                except DissectError:
                    d.t13_phase = 2
                    d.t13_queue.clear()
                    break
                r.inner_type = inner
                if inner == CT_ALERT and len(plain) == 2:
                    r.alert = (plain[0], plain[1])
                elif inner == CT_HANDSHAKE:
                    self._tls13_handshake(d, r, plain, suite)

    @staticmethod
    def _tls13_handshake(d: _RecDir, r: TlsRecordView, plain: bytes, suite: CipherSuite) -> None:
        before = len(d.t13_hs)
        done = d.t13_hs.add(plain)
        left = len(d.t13_hs)
        if left:
            start = before + len(plain) - left
            if start >= before:
                d.t13_pending_type = plain[start - before]
            r.fragment_of = d.t13_pending_type
        for msg in done:
            r.messages.append((msg[0], msg[4:]))
            if msg[0] == HT_FINISHED and d.t13_phase == 0:
                d.t13_phase, d.t13_prot = 1, None  # application keys from the next record
            elif msg[0] == HT_KEY_UPDATE and d.t13_phase == 1:
                d.t13_secret = ks.tls13_next_traffic_secret(suite.prf, d.t13_secret)
                key, iv = ks.tls13_traffic_keys(suite.prf, d.t13_secret, suite.key_len)
                d.t13_prot = Tls13Aead(suite, key, iv)

    def _release_held(self, c: _Conn) -> None:
        if c.held is not None:
            self.held_total -= c.held_bytes
            c.held, c.held_bytes = None, 0
        if not c.confirmed:
            for d in c.dirs.values():  # nothing will name them now
                d.t13_phase = 2
                d.t13_queue.clear()

    # ---------------------------------------------------------------- MSRP / BFCP

    def _media(
        self,
        c: _Conn,
        from_client: bool,
        offset: int,
        frame: int,
        data: bytes,
        decrypted: bool = False,
    ) -> None:
        m = c.media.get(from_client)
        if m is None:
            proto = c.kind if c.kind in ("msrp", "bfcp") else medialib.sniff(data)
            if proto is None:
                return
            m = c.media[from_client] = _MediaDir(proto)
        self._framed(c, from_client, m, m.feed(offset, frame, data), decrypted)

    def _framed(
        self,
        c: _Conn,
        from_client: bool,
        m: _MediaDir,
        located: list[tuple[int, int, object]],
        decrypted: bool,
    ) -> None:
        for first, last, f in located:
            if isinstance(f, msrplib.FramingError | bfcplib.FramingError):
                src, dst = (c.client, c.server) if from_client else (c.server, c.client)
                e = f.error
                self._problem(m.protocol, f"{src} -> {dst}: {e.reason}", first, e.field, e.offset)
                continue
            self.attach.append((last, Pdu(m.protocol, f.message)))  # type: ignore[attr-defined]
            if not decrypted:
                for num in range(first, last):
                    self.segments.append((num, last, _key(c, from_client), False))

    # ---------------------------------------------------------------- end

    def _close(self, c: _Conn) -> None:
        if c.closed:
            return
        c.closed = True
        for from_client, m in c.media.items():
            self._framed(c, from_client, m, m.close(), c.kind == "tls")
        dec = c.decoder
        if c.kind == "tls" and dec is not None:
            info = dec.finish()
            if info.psk is None and info.version is not None:
                if c.tried:
                    why = f"{c.tried} candidate keys tried: "
                    why += info.undecryptable_reason or "no candidate key matched"
                else:
                    why = "no candidate key: no MIKEY ticket opened, no [[tek]] or --psk"
                self._problem(
                    "tls",
                    f"{c.client} -> {c.server}: the key could not be confirmed ({why})",
                    c.first_frame,
                )
            for p in info.problems:
                if p.severity is Severity.ERROR:
                    frame = p.frame if p.frame is not None else c.first_frame
                    self._problem(p.layer, p.reason, frame, p.field, p.offset)
        self._release_held(c)
        c.dirs.clear()
        c.media.clear()
        c.awaiting.clear()

    def _problem(
        self,
        layer: str,
        reason: str,
        frame: int | None,
        fld: str | None = None,
        offset: int | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        self.problems.append(Problem(layer, reason, frame, self.file, fld, offset, severity))


def _key(c: _Conn, from_client: bool) -> tuple[str, int, str, int]:
    if from_client:
        return c.key
    return (c.key[2], c.key[3], c.key[0], c.key[1])


def _classify(first: bytes) -> str | None:
    """ "tls", "msrp" or "bfcp" from a connection's first bytes (any port, like the heuristic
    dissectors); None for anything else."""
    if plausible_header(first) or (len(first) < RECORD_HEADER_LEN and first[:1] == b"\x16"):
        return "tls"
    return medialib.sniff(first)
