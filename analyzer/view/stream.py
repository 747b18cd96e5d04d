"""From a capture to the frames of the packet list, in order and streaming.

:class:`FrameStream` reads frames, decodes their lower layers, feeds them to the flow table
and hands what it reassembles to the SIP handler and to :class:`AppDecoder` (TLS, MSRP and
BFCP on any TCP connection, recognised by their first bytes, as Wireshark's heuristic
dissectors do). A frame is yielded once nothing can change it any more: it is held back only
while a TCP stream still buffers bytes from it (a SIP message or TLS record split over
segments is shown in the frame that completes it, like tshark) or while a TLS connection waits
for a key (bounded per connection and in all, so memory stays bounded).

With keys, the TEK candidates of every MIKEY exchange seen in the SDP so far (plus ``[[tek]]``
and ``--psk``) are offered to every TLS connection: the decoder's oracle (Finished, binder,
AEAD tag) picks the right one, so no address binding is needed here
(:mod:`mikeyshark.correlate` binds connections to m-lines for the analyze report after the
whole capture; this view must decide as it streams).
"""

from __future__ import annotations

import bisect
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence

from mikeyshark import media as medialib
from mikeyshark.calls import MediaSession, SipFlowHandler, SipRecord, TcpConn
from mikeyshark.capture import CaptureReader
from mikeyshark.decrypt import (
    KEYS_MAY_FIX,
    AppData,
    PskCandidate,
    RecordEvent,
    RecordOpened,
    TlsConnectionDecoder,
)
from mikeyshark.dissectors import bfcp as bfcplib
from mikeyshark.dissectors import mikey as mikeylib
from mikeyshark.dissectors import msrp as msrplib
from mikeyshark.dissectors import sdp as sdplib
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.mikey.payloads import Ticket
from mikeyshark.dissectors.secret import fingerprint
from mikeyshark.dissectors.tls.constants import (
    CIPHER_SUITES,
    CT_APPLICATION_DATA,
    CT_HANDSHAKE,
    HT_SERVER_HELLO,
    TLS13,
    Kx,
)
from mikeyshark.dissectors.tls.records import (
    RECORD_HEADER_LEN,
    plausible_header,
)
from mikeyshark.flows import FlowTable
from mikeyshark.keyfile import KeyFile, TekKey, parse_psk
from mikeyshark.keys import resolve_exchange
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

# Protected records of one TLS connection no key opened yet, kept for keys a later MIKEY
# exchange may bring (bytes), and the same for all connections of the capture.
MAX_HELD_CONN = 1 << 20
MAX_HELD_TOTAL = 16 << 20
_PSK_KX = frozenset({Kx.PSK, Kx.DHE_PSK, Kx.ECDHE_PSK, Kx.RSA_PSK})  # RFC 4279, 5489
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


class _Conn:
    def __init__(self, conn: TcpConn, kind: str) -> None:
        self.client, self.server = conn.client, conn.server
        self.key = (conn.client.ip, conn.client.port, conn.server.ip, conn.server.port)
        self.kind = kind  # "tls" | "msrp" | "bfcp"
        self.view = TlsConnView()
        self.media: dict[bool, _MediaDir] = {}
        self.decoder: TlsConnectionDecoder | None = None
        self.shown: TlsFrame | None = None  # the records read from the chunk being fed
        self.protected_handshakes = {True: 0, False: 0}
        self.awaiting: dict[tuple[bool, int], TlsRecordView] = {}  # protected, not opened
        self.problems_seen = 0  # of the decoder's problems
        self.retaining = False
        self.retained = 0  # bytes the decoder keeps for later keys (part of held_total)
        self.first_frame: int | None = None
        self.closed = False

    @property
    def confirmed(self) -> bool:
        return self.decoder is not None and self.decoder.info.psk is not None


class AppDecoder:
    """Finds TLS, MSRP and BFCP on TCP connections (by their first bytes, any port), shows
    the TLS records :class:`~mikeyshark.decrypt.TlsConnectionDecoder` reads, decrypts with
    the PSK candidates it is given and frames the MSRP/BFCP inside. Results are (frame, Pdu)
    pairs to attach and located problems."""

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
            dec = c.decoder
            if dec is not None and not c.confirmed and c.retaining:
                room = MAX_CANDIDATES - len(dec.candidates)
                known = {k.key for k in dec.candidates}
                fresh = [k for k in self._candidates_for(c) if k.key not in known]
                if room > 0 and fresh:
                    dec.add_candidates(fresh[:room])
                    self._settle(c)

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
        cands = self._candidates_for(c) if self.keys_wanted else []
        c.retaining = self.keys_wanted
        return TlsConnectionDecoder(
            cands,
            on_data=lambda a: self._decrypted(c, a),
            on_record=lambda ev: self._record(c, ev),
            retain=MAX_HELD_CONN if self.keys_wanted else 0,
        )

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
        dec = c.decoder
        if dec is None:
            dec = c.decoder = self._new_decoder(c)
        dec.feed(from_client, chunk)
        shown, c.shown = c.shown, None
        if shown is not None:
            v = c.view.version
            shown.version = v if v is not None else shown.records[-1].version
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
            if c.decoder is not None:
                f = c.decoder.oldest_frame()
                if f is not None:
                    found.append(f)
            for m in c.media.values():
                f = m.oldest_frame()
                if f is not None:
                    found.append(f)
        return min(found) if found else None

    # ---------------------------------------------------------------- TLS records

    def _record(self, c: _Conn, ev: RecordEvent) -> None:
        """A record the decoder read (shown in the frame that completes it) or opened."""
        if isinstance(ev, RecordOpened):
            r = c.awaiting.pop((ev.from_client, ev.offset), None)
            if r is None:
                return
            content = ev.content
            if c.view.version == TLS13:
                r.inner_type = content.content_type
                r.messages = list(content.messages)
                r.fragment_of = content.fragment_of
            if content.alert is not None:
                r.alert = content.alert
            return
        v = c.view
        label = v.version if v.version is not None else ev.version
        r = TlsRecordView(
            v,
            ev.from_client,
            ev.frame,
            ev.offset,
            ev.content_type,
            ev.version,
            len(ev.fragment),
            label,
            encrypted=ev.protected,
        )
        if c.shown is None:
            # attached before what the records carry (MSRP/BFCP), as the tree shows them
            c.shown = TlsFrame(c.view, [], ev.version)
            self.attach.append((ev.frame, Pdu("tls", c.shown)))
        c.shown.records.append(r)
        key = _key(c, ev.from_client)
        for f in ev.frames:
            self.segments.append((f, ev.frame, key, True))
        ct = ev.content_type
        if ev.protected:
            if ct == CT_APPLICATION_DATA:
                r.preview = ev.fragment[: PREVIEW + 1]
            elif ct == CT_HANDSHAKE:
                c.protected_handshakes[ev.from_client] += 1
                r.first_protected_handshake = c.protected_handshakes[ev.from_client] == 1
            if self.keys_wanted:
                c.awaiting[(ev.from_client, ev.offset)] = r
                if len(c.awaiting) > MAX_AWAITING:  # never opened: forget the oldest
                    del c.awaiting[next(iter(c.awaiting))]
            return
        shown = ev.content
        if shown is None:
            return
        r.alert = shown.alert
        r.messages = list(shown.messages)
        r.fragment_of = shown.fragment_of
        info = c.decoder.info if c.decoder is not None else None
        if info is not None and any(t == HT_SERVER_HELLO for t, _ in shown.messages):
            suite = CIPHER_SUITES.get(info.cipher_suite) if info.cipher_suite is not None else None
            v.psk_suite = suite is not None and suite.kx in _PSK_KX
            v.version = info.version

    # ---------------------------------------------------------------- decryption

    def _decrypted(self, c: _Conn, a: AppData) -> None:
        r = c.awaiting.get((a.from_client, a.record_offset))
        m = c.media.get(a.from_client)
        if m is None:
            proto = medialib.sniff(a.data)
            if proto is None:
                if r is not None:
                    r.plaintext = len(a.data)
                return
            m = c.media[a.from_client] = _MediaDir(proto)
        if r is not None:
            r.plaintext = len(a.data)
            r.app_protocol = m.protocol
        self._media(c, a.from_client, a.stream_offset, a.frame, a.data, decrypted=True)

    def _settle(self, c: _Conn) -> None:
        """After the decoder moved: report its new problems, note the confirmed key, keep the
        held bytes within bounds."""
        dec = c.decoder
        if dec is None:
            return
        info = dec.info
        for p in info.problems[c.problems_seen :]:
            if p.severity is Severity.ERROR:
                frame = p.frame if p.frame is not None else c.first_frame
                self._problem(p.layer, p.reason, frame, p.field, p.offset)
        c.problems_seen = len(info.problems)
        if info.psk is not None:
            c.view.decrypted = bool(info.decryptable) or info.records_ok > 0
            if c.view.key_note is None:
                shown = info.psk.hex() if self.reveal else fingerprint(info.psk)
                c.view.key_note = f"PSK {shown} ({info.psk_label}), confirmed by: {info.oracle}"
        self.held_total += dec.retained_bytes - c.retained
        c.retained = dec.retained_bytes
        if c.retaining and not dec.retaining:
            c.retaining = False  # confirmed, or no key can help (DHE, certificates, ...)
            if not c.confirmed and info.undecryptable_reason in KEYS_MAY_FIX and dec.retain == 0:
                self._stopped(c, f"more than {MAX_HELD_CONN} bytes")
        elif c.retaining and self.held_total > MAX_HELD_TOTAL:
            self.stop_holding(c, f"more than {self.held_total} bytes in all")

    def stop_holding(self, c: _Conn, why: str) -> None:
        """Show the connection as it is now: keys found later are not tried on it."""
        if not c.retaining or c.decoder is None:
            return
        c.retaining = False
        c.decoder.stop_retaining()
        self.held_total -= c.retained
        c.retained = 0
        self._stopped(c, why)

    def _stopped(self, c: _Conn, why: str) -> None:
        self._problem(
            "tls",
            f"{c.client} -> {c.server}: {why} before a key was confirmed; later keys are not "
            "tried on it",
            c.first_frame,
            severity=Severity.WARNING,
        )

    def stop_holding_all(self, why: str) -> None:
        for c in self.conns.values():
            if c.retaining and not c.confirmed:
                self.stop_holding(c, why)

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
        if dec is not None:
            info = dec.finish()
            if self.keys_wanted and info.psk is None and info.version is not None:
                if dec.candidates:
                    why = f"{len(dec.candidates)} candidate keys tried: "
                    why += info.undecryptable_reason or "no candidate key matched"
                else:
                    why = "no candidate key: no MIKEY ticket opened, no [[tek]] or --psk"
                self._problem(
                    "tls",
                    f"{c.client} -> {c.server}: the key could not be confirmed ({why})",
                    c.first_frame,
                )
            c.retaining = False
            self._settle(c)
            dec.stop_retaining()
        self.held_total -= c.retained
        c.retained = 0
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


# --------------------------------------------------------------------------------------------
# The public iterator


def dissect(
    capture: str | os.PathLike[str],
    *,
    keys: KeyFile | str | os.PathLike[str] | None = None,
    psk: Iterable[str | bytes | TekKey] = (),
    reveal_keys: bool = False,
    on_problem: Callable[[Problem], None] | None = None,
) -> Iterator[FrameView]:
    """The frames of a capture as ``mikeyshark dissect`` shows them, in order, streaming.

    ``keys`` is a loaded :class:`~mikeyshark.keys.KeyFile` or the path of a key file (its
    KMS keys open the MIKEY tickets of the SDP, whose TEKs and its ``[[tek]]`` keys are tried
    on every TLS connection); ``psk`` adds TLS PSKs, each as ``bytes`` or as the text
    ``"HEX[:IDENTITY]"`` of ``--psk``. ``reveal_keys`` shows keys instead of fingerprints in
    the detail trees. ``on_problem`` receives every located problem (damaged frames,
    undecryptable records, ...) as it is found; those of a frame are also in its
    ``problems``.

    Each :class:`~mikeyshark.view.frame.FrameView` has its row (``row()``), its detail tree
    (``tree()``) and its layers with named fields: ``frame.sip.call_id``,
    ``frame.msrp.transaction_id``, ``frame.bfcp.primitive``, ``frame.tcp.stream``, or
    ``frame.values("sip.Call-ID")`` by Wireshark's field name (docs/fields.md lists them).

    Raises :class:`~mikeyshark.keys.KeyFileError` (a ``ValueError``) for an unusable key
    file, ``ValueError`` for a bad PSK, ``OSError`` when the capture cannot be opened (all
    before the first frame) and ``ValueError`` when it turns out not to be a pcap or pcapng
    file. Damage inside a capture is not an error.
    """
    keyfile = keys if isinstance(keys, KeyFile) or keys is None else KeyFile.load(keys)
    given = [p if isinstance(p, TekKey) else parse_psk(p) for p in psk]
    psks = [PskCandidate(t.key, t.identity or "psk") for t in given]
    with open(capture, "rb"):
        pass  # an unreadable file is an OSError now, not at the first frame
    return _frames(os.fspath(capture), keyfile, psks, reveal_keys, on_problem)


def _frames(
    path: str,
    keys: KeyFile | None,
    psks: list[PskCandidate],
    reveal: bool,
    on_problem: Callable[[Problem], None] | None,
) -> Iterator[FrameView]:
    reader = CaptureReader(path)
    yield from FrameStream(reader, keys, psks, reveal, on_problem)
    if reader.format is None:
        why = reader.problems[0].reason if reader.problems else "not a capture"
        raise ValueError(f"{reader.name}: {why}")
