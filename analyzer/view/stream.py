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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar, cast

from mikeyshark import media as medialib
from mikeyshark.calls import Call, SipFlowHandler, SipRecord, TcpConn
from mikeyshark.capture import CaptureReader
from mikeyshark.decrypt import (
    KEYS_MAY_FIX,
    AppData,
    KnownSecrets,
    PskCandidate,
    RecordEvent,
    RecordOpened,
    TlsConnectionDecoder,
)
from mikeyshark.dissectors import bfcp as bfcplib
from mikeyshark.dissectors import h248
from mikeyshark.dissectors import mikey as mikeylib
from mikeyshark.dissectors import msrp as msrplib
from mikeyshark.dissectors import sdp as sdplib
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.framing import FramingError
from mikeyshark.dissectors.h248 import mp as h248mp
from mikeyshark.dissectors.h248.framing import TpktFramer, TpktPacket
from mikeyshark.dissectors.mikey.constants import UDP_PORT as MIKEY_PORT
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
from mikeyshark.flows import FlowTable, TcpConnection
from mikeyshark.keyfile import KeyFile, TekKey, parse_psk
from mikeyshark.keylog import keylog_from
from mikeyshark.keys import Resolution, resolve_exchange
from mikeyshark.model import Endpoint, Frame, Problem, Severity, StreamChunk
from mikeyshark.view.frame import FrameDecoder, FrameView, Node, Pdu
from mikeyshark.view.megaco import MegacoPdu
from mikeyshark.view.sip import KeyedSip, MikeyDatagram, _response_node, _ticket_node
from mikeyshark.view.tls import PREVIEW, TlsConnView, TlsFrame, TlsRecordView

# How often (in frames) what may still change a frame is looked at before printing.
CHECK_EVERY = 256
# Frames waiting to be printed before connections still waiting for a key are given up.
MAX_PENDING_FRAMES = 50_000
# The frames held back at most (their count and captured bytes): past either, the oldest are
# shown as they are, and a message that completes in one of them later is reported instead.
MAX_HELD_FRAMES = 20_000
MAX_HELD_BYTES = 32 << 20
# SIP calls whose offers and answers are kept to pair MIKEY exchanges (the least recently
# active are forgotten first).
MAX_CALLS = 1024
# MIKEY exchanges whose resolution is kept (the list and the tree ask for the same ones).
MAX_RESOLUTIONS = 256
_RESOLVED = "dissect.resolved"  # MediaSession.attachments: resolved with its answer or not


Key = tuple[str, int, str, int]  # a TCP direction: (src, sport, dst, dport)


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
        ports = (src.port, dst.port)
        if not _MEGACO_PORTS.isdisjoint(ports):
            self.apps.megaco(frame.number, payload)
        elif MIKEY_PORT in ports:
            self.apps.mikey(frame.number, src, dst, payload)
        else:
            super().on_udp(frame, src, dst, payload)

    def on_sctp(
        self, frame: Frame, src: Endpoint, dst: Endpoint, ppid: int, payload: bytes
    ) -> None:
        if ppid == h248.SCTP_PPID or not _MEGACO_PORTS.isdisjoint((src.port, dst.port)):
            self.apps.megaco(frame.number, payload)

    def on_tcp_open(self, conn: TcpConn) -> None:
        super().on_tcp_open(conn)
        self.apps.on_tcp_close(conn)  # a reused object id is a new connection

    def on_tcp_data(self, conn: TcpConn, from_client: bool, chunk: StreamChunk) -> None:
        super().on_tcp_data(conn, from_client, chunk)
        self.apps.on_tcp_data(conn, from_client, chunk)
        if self.apps.ignores(conn) and self.declined(conn, from_client):
            # neither SIP nor TLS/MSRP/BFCP/H.248 will look at this direction again (most
            # plain TCP): the flow table need not hand its bytes on
            flow = cast(TcpConnection, conn)  # (what the flow table hands on)
            (flow.c2s if from_client else flow.s2c).unwanted = True

    def on_tcp_close(self, conn: TcpConn) -> None:
        super().on_tcp_close(conn)
        self.apps.on_tcp_close(conn)

    def oldest_partial_frame(self) -> int | None:
        """The earliest frame whose bytes wait in a SIP message not complete yet. (Bytes a
        direction holds while it is not known to be SIP hold no frame back: the message that
        may come of them completes in a later frame.)"""
        oldest: int | None = None
        for st in self._tcp.values():
            if st.framer is not None and st.framer.buffered and st.chunks:
                f = st.chunks[0][1]
                if oldest is None or f < oldest:
                    oldest = f
        return oldest

    def partial_frames(self, out: dict[int, tuple[Key, bool]]) -> None:
        """Add the frames whose bytes wait in a SIP message not complete yet."""
        for st in self._tcp.values():
            if st.framer is not None and st.framer.buffered:
                key = (st.src.ip, st.src.port, st.dst.ip, st.dst.port)
                for _, frame, _ in st.chunks:
                    out[frame] = (key, False)


class FrameStream:
    """Feeds frames through the flow table and the SIP and TLS/MSRP/BFCP handlers; iterating
    yields each frame's view, in capture order, once nothing can change it any more.
    ``on_problem`` receives every located problem as it is found; ``on_batch`` is called
    after each run of frames yielded (a printer flushes its output there, so that rows
    appear while the capture is still being read). With ``max_frames`` only that many frames
    are read (tshark's ``-c``)."""

    def __init__(
        self,
        reader: CaptureReader,
        keys: KeyFile | None = None,
        psks: Sequence[PskCandidate] = (),
        reveal: bool = False,
        on_problem: Callable[[Problem], None] | None = None,
        on_batch: Callable[[], None] | None = None,
        max_frames: int | None = None,
        secrets: KnownSecrets | None = None,
        apps: AppDecoder | None = None,
    ) -> None:
        self.reader = reader
        self.max_frames = max_frames
        self.on_problem = on_problem
        self.on_batch = on_batch
        self.keys = keys
        self.reveal = reveal
        esp_sas = {sa.spi: sa for sa in keys.esp} if keys is not None else {}
        self.decoder = FrameDecoder(esp_sas)
        mp_profile = keys.mp if keys is not None else h248mp.DEFAULT_PROFILE
        self.apps = apps or AppDecoder(
            reader.name, keys is not None or bool(psks), reveal, mp_profile, secrets
        )
        self.sip = _Handler(reader.name, self.apps)
        self.table = FlowTable(self.sip, file=reader.name, esp_sas=esp_sas)
        self.pending: OrderedDict[int, FrameView] = OrderedDict()
        self.held_bytes = 0  # captured bytes of the pending frames
        self.forced = 0  # frames shown before what held them back was done
        self.forgotten_calls = 0
        self._resolutions: OrderedDict[tuple[bytes, bytes | None, int], Resolution] = OrderedDict()
        self.first_read_problem: Problem | None = None
        direct = list(psks)
        if keys is not None:
            direct += [
                PskCandidate(t.key, t.identity or "[[tek]] of the key file") for t in keys.tek
            ]
        self.apps.add_candidates(direct)

    def __iter__(self) -> Iterator[FrameView]:
        for n, frame in enumerate(self.reader, 1):
            self.pending[frame.number] = self.decoder.decode(frame)
            self.held_bytes += len(frame.data)
            self.table.feed(frame)
            self._attach()
            if n % CHECK_EVERY == 0:
                yield from self._release(final=False)
                if self.on_batch is not None:
                    self.on_batch()
            if n == self.max_frames:
                break
        self.table.finish()
        self.sip.finish()
        self.apps.finish()
        self._attach()
        yield from self._release(final=True)
        self._warn_end()

    def _warn_end(self) -> None:
        """What the budgets changed, said once at the end."""
        if self.forced:
            self._problem(
                Problem(
                    "dissect",
                    f"{self.forced} frames were shown before all that may change them was known",
                    None,
                    self.reader.name,
                    severity=Severity.WARNING,
                )
            )
        if self.forgotten_calls:
            self._problem(
                Problem(
                    "sip",
                    f"{self.forgotten_calls} SIP calls were forgotten, the least recently active "
                    f"beyond {MAX_CALLS}: an answer of theirs seen later is not paired with its "
                    "offer",
                    None,
                    self.reader.name,
                    severity=Severity.WARNING,
                )
            )

    def _attach(self) -> None:
        if self.sip.datagrams:
            self._datagrams((f, s.port, d.port, n) for f, s, d, n in self.sip.datagrams)
            self.sip.datagrams.clear()
        self._calls()
        self._attach_apps()
        self._report()

    def _datagrams(self, datagrams: Iterable[tuple[int, int, int, int]]) -> None:
        """The frames that completed a reassembled datagram show it as UDP (each given as
        frame, source port, destination port, length)."""
        for num, sport, dport, n in datagrams:
            v = self.pending.get(num)
            if v is not None and v.protocol in ("IPv4", "IPv6"):
                v.protocol, v.info = "UDP", f"{sport} → {dport} Len={n}"

    def _calls(self) -> None:
        """The SIP messages completed since the last call: placed in their frames, their
        calls kept (the least recently active forgotten past MAX_CALLS) and, with keys, the
        MIKEY exchanges they touched resolved for the TLS decoder."""
        tracker = self.sip.tracker
        if tracker.records:
            # (the tracker's list of every record is not kept: the frames hold them)
            recs, tracker.records = tracker.records, []
            calls = tracker.calls
            touched: dict[str, Call] = {}
            for rec in recs:
                self._place(rec)
                cid = rec.msg.call_id
                call = calls.pop(cid, None) if cid is not None else None
                if call is not None:
                    calls[call.call_id] = touched[call.call_id] = call  # the most recent last
            while len(calls) > MAX_CALLS:
                del calls[next(iter(calls))]
                self.forgotten_calls += 1
            if self.keys is not None:
                self._resolve_sessions(touched.values())

    def _attach_apps(self) -> None:
        """What the TLS/MSRP/BFCP decoder completed: attached to its frames."""
        if self.apps.attach:
            for num, pdu in self.apps.attach:
                v = self.pending.get(num)
                if v is None:
                    self._problem(
                        Problem(pdu.kind, "message completed late", num, self.reader.name)
                    )
                else:
                    v.pdus.append(pdu)
            self.apps.attach.clear()
        if self.apps.segments:
            for num, end, key, bare in self.apps.segments:
                seg = self.pending.get(num)
                if seg is not None and seg.conn == key and seg.has_payload:
                    seg.segment_of = end
                    seg.segment_bare = bare
            self.apps.segments.clear()

    def _resolve_sessions(self, calls: Iterable[Call]) -> None:
        """TEK candidates of the MIKEY exchanges of the calls a message just touched (an
        offer alone, then again with its answer)."""
        assert self.keys is not None
        for ms in (ms for call in calls for ms in call.media):
            answered = ms.answer_key_mgmt is not None
            seen: bool | None = ms.attachments.get(_RESOLVED)
            if seen is not None and (seen or not answered):
                continue
            ms.attachments[_RESOLVED] = answered
            if ms.offer_key_mgmt is None:
                continue
            try:
                res = self._resolve(ms.offer_key_mgmt, ms.answer_key_mgmt, ms.offer.ts_ns)
            except DissectError:
                continue  # the SDP stage already reported the malformed key-mgmt
            if not res.ticket_opened and seen is None:
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
            v.pdus.append(Pdu("sip-keys", KeyedSip(rec, _Tickets(self, rec))))
        else:
            v.pdus.append(Pdu("sip", rec))
        v.problems.extend(rec.problems)
        if rec.first_frame != rec.frame:
            key = (rec.src.ip, rec.src.port, rec.dst.ip, rec.dst.port)
            for num in range(rec.first_frame, rec.frame):
                seg = self.pending.get(num)
                if seg is not None and seg.conn == key and seg.has_payload:
                    seg.segment_of = rec.frame

    def _answered(self, rec: SipRecord) -> list[tuple[bytes, bytes | None, int, int]]:
        """(answer key-mgmt, offer key-mgmt, offer time, offer frame) of each m-line of the
        message's call answered so far: what its tickets need of the call as it is now."""
        call = self.sip.tracker.calls.get(rec.msg.call_id or "")
        if call is None:
            return []
        return [
            (ms.answer_key_mgmt, ms.offer_key_mgmt, ms.offer.ts_ns, ms.offer_frame)
            for ms in call.media
            if ms.answer_key_mgmt is not None
        ]

    def tickets(
        self, rec: SipRecord, answered: list[tuple[bytes, bytes | None, int, int]]
    ) -> dict[bytes, Node]:
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
                    res = self._resolve(km.data, None, rec.ts_ns)
                    out[km.data] = _ticket_node(res, self.keys, self.reveal)
                    continue
                ms = next((a for a in answered if a[0] == km.data), None)
                if ms is None or ms[1] is None:
                    continue
                res = self._resolve(ms[1], km.data, ms[2])
            except DissectError:
                continue  # reported with the SDP
            out[km.data] = _response_node(res, ms[3], self.reveal)
        return out

    def _resolve(self, offer: bytes, answer: bytes | None, ts_ns: int) -> Resolution:
        """resolve_exchange, remembered for the latest exchanges (a message's tickets are
        resolved once for the keys to try and once for its tree)."""
        assert self.keys is not None
        key = (offer, answer, ts_ns)
        got = self._resolutions.get(key)
        if got is None:
            got = self._resolutions[key] = resolve_exchange(offer, answer, self.keys, ts_ns)
            if len(self._resolutions) > MAX_RESOLUTIONS:
                self._resolutions.popitem(last=False)
        return got

    def _release(self, final: bool) -> Iterator[FrameView]:
        """The frames nothing can change any more, in order; past the budget (frames or
        bytes held) also the oldest of the others."""
        limit: int | None = None
        if not final:
            if len(self.pending) > MAX_PENDING_FRAMES:
                self.apps.stop_holding_all(f"{MAX_PENDING_FRAMES} frames waited")
            buffered, sip_held = self._flows_held()
            if buffered:
                # out-of-order bytes or IP fragments: they may yet complete any frame's message
                limit = next(iter(self.pending), None)
            else:
                held = [sip_held, self.apps.oldest_held_frame()]
                limit = min((h for h in held if h is not None), default=None)
        pending = self.pending
        partial: dict[int, tuple[Key, bool]] | None = None
        while pending:
            num = next(iter(pending))
            v = pending[num]
            if limit is not None and num >= limit:
                if len(pending) <= MAX_HELD_FRAMES and self.held_bytes <= MAX_HELD_BYTES:
                    break
                # over budget: shown as it is now, a segment of a message still incomplete
                # marked as such (as tshark's single pass does)
                if partial is None:
                    partial = self._sip_partial()
                    self.apps.partial_frames(partial)
                    if not self.forced:
                        self._forcing(limit)
                self.forced += 1
                mark = partial.get(num)
                if mark is not None and v.conn == mark[0] and v.has_payload:
                    v.segment_of, v.segment_bare = 0, mark[1]
            del pending[num]
            self.held_bytes -= len(v.data)
            yield v

    def _flows_held(self) -> tuple[bool, int | None]:
        """Whether the flow table holds out-of-order bytes or IP fragments and, if not, the
        oldest frame of a SIP message not complete yet."""
        if self.table.buffered_bytes:
            return True, None
        return False, self.sip.oldest_partial_frame()

    def _sip_partial(self) -> dict[int, tuple[Key, bool]]:
        """The frames whose bytes wait in a SIP message not complete yet."""
        partial: dict[int, tuple[Key, bool]] = {}
        self.sip.partial_frames(partial)
        return partial

    def _forcing(self, held: int) -> None:
        self._problem(
            Problem(
                "dissect",
                f"more than {MAX_HELD_FRAMES} frames or {MAX_HELD_BYTES >> 20} MiB waited for "
                "what may still change their rows (a message not complete since this frame, "
                "out-of-order bytes, a TLS key): frames are shown from now on when the budget "
                "is full; a message that completes in one already shown is reported instead",
                held,
                self.reader.name,
                severity=Severity.WARNING,
            )
        )

    def _report(self) -> None:
        """Pass on the problems found since the last call (and forget them: the frames
        that have one hold it)."""
        if not (self.reader.problems or self.sip.problems or self.apps.problems):
            return  # (most frames)
        if self.reader.problems and self.first_read_problem is None:
            self.first_read_problem = self.reader.problems[0]
        sources = (self.reader.problems, self.sip.problems, self.apps.problems)
        for i, src in enumerate(sources):
            for p in src:
                self._problem(p)
                v = self.pending.get(p.frame) if i == 2 and p.frame is not None else None
                if v is not None:
                    v.problems.append(p)  # also in the frame's JSON (SIP's come with rec)
            src.clear()

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
_FRAMED = frozenset({"msrp", "bfcp", "megaco"})  # what _MediaDir frames
_MEGACO_PORTS = frozenset({h248.PORT_TEXT, h248.PORT_BINARY})
MAX_KEY_GROUPS = 4096  # m-lines whose TEK candidates are kept (the newest)
MAX_CANDIDATES = 256  # keys one TLS connection is offered
MAX_AWAITING = 4096  # encrypted records of one connection waiting for their plaintext


class _MediaDir:
    """One direction of plaintext MSRP/BFCP (or H.248 in TPKT): the framer and which frame
    carried which stream offset (forgotten as the framer moves on, so bounded by the
    framer's buffer)."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.framer: msrplib.MsrpFramer | bfcplib.BfcpFramer | TpktFramer = (
            msrplib.MsrpFramer()
            if protocol == "msrp"
            else TpktFramer()
            if protocol == "megaco"
            else bfcplib.BfcpFramer()
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

    def __init__(
        self,
        file: str,
        candidates_wanted: bool,
        reveal: bool = False,
        mp_profile: h248mp.MpProfile = h248mp.DEFAULT_PROFILE,
        secrets: KnownSecrets | None = None,
    ) -> None:
        self.file = file
        self.secrets = secrets  # the TLS key log (--tls-keylog, the capture's secrets blocks)
        self.reveal = reveal
        self.mp_profile = mp_profile
        self.keys_wanted = candidates_wanted
        self._direct: list[PskCandidate] = []
        # the key groups by arrival (oldest first), and which of them name each endpoint and
        # each host: a new connection's ranking reads these instead of every group
        self._groups: dict[int, tuple[frozenset[Endpoint], list[PskCandidate]]] = {}
        self._next_group = 0
        self._by_ep: dict[Endpoint, set[int]] = {}
        self._by_ip: dict[str, set[int]] = {}
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
            gid = self._next_group
            self._next_group += 1
            eps = frozenset(endpoints)
            self._groups[gid] = (eps, new)
            for ep in eps:
                self._by_ep.setdefault(ep, set()).add(gid)
                self._by_ip.setdefault(ep.ip, set()).add(gid)
            if len(self._groups) > MAX_KEY_GROUPS:
                self._forget_group(next(iter(self._groups)))
        for c in self.conns.values():
            dec = c.decoder
            if dec is not None and not c.confirmed and c.retaining:
                room = MAX_CANDIDATES - len(dec.candidates)
                known = {k.key for k in dec.candidates}
                fresh = [k for k in self._candidates_for(c) if k.key not in known]
                if room > 0 and fresh:
                    dec.add_candidates(fresh[:room])
                    self._settle(c)

    def _forget_group(self, gid: int) -> None:
        eps, _ = self._groups.pop(gid)
        for ep in eps:
            _unindex(self._by_ep, ep, gid)
            _unindex(self._by_ip, ep.ip, gid)

    def _candidates_for(self, c: _Conn) -> list[PskCandidate]:
        """The keys for one connection: direct ones, then those of the m-lines whose SDP
        names its server, then whose addresses share its hosts, then the newest others
        (each newest first); at most MAX_CANDIDATES (the oracle tries them in order)."""
        out = list(self._direct)
        groups = self._groups
        named = self._by_ep.get(c.server, set())
        hosts: set[int] = set()
        for ip in {c.client.ip, c.server.ip}:
            hosts |= self._by_ip.get(ip, set())
        hosts -= named
        for ranked in (named, hosts):
            for gid in sorted(ranked, reverse=True):
                if len(out) >= MAX_CANDIDATES:
                    return out[:MAX_CANDIDATES]
                out.extend(groups[gid][1])
        for gid in reversed(groups):
            if len(out) >= MAX_CANDIDATES:
                break
            if gid not in named and gid not in hosts:
                out.extend(groups[gid][1])
        return out[:MAX_CANDIDATES]

    def _new_decoder(self, c: _Conn) -> TlsConnectionDecoder:
        cands = self._candidates_for(c) if self.keys_wanted else []
        c.retaining = self.keys_wanted
        return TlsConnectionDecoder(
            cands,
            on_data=lambda a: self._decrypted(c, a),
            on_record=lambda ev: self._record(c, ev),
            retain=MAX_HELD_CONN if self.keys_wanted else 0,
            secrets=self.secrets,
        )

    # ---------------------------------------------------------------- flow events

    def on_tcp_data(self, conn: TcpConn, from_client: bool, chunk: StreamChunk) -> None:
        c = self.conns.get(id(conn))
        if c is None:
            if not chunk.data:
                return
            kind = _classify(chunk.data, (conn.client.port, conn.server.port))
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

    def ignores(self, conn: TcpConn) -> bool:
        """``conn``'s first bytes were none of TLS, MSRP, BFCP or TPKT: its later bytes are
        not looked at."""
        c = self.conns.get(id(conn))
        return c is not None and not c.kind

    def on_tcp_close(self, conn: TcpConn) -> None:
        c = self.conns.pop(id(conn), None)
        if c is not None:
            self._close(c)

    def finish(self) -> None:
        for c in list(self.conns.values()):
            self._close(c)
        self.conns.clear()

    def partial_frames(self, out: dict[int, tuple[Key, bool]]) -> None:
        """Add the frames whose bytes wait in a TLS record or a plaintext MSRP/BFCP message
        not complete yet (tshark's "[TCP segment of a reassembled PDU]"; a TLS one replaces
        the Info column)."""
        for c in self.conns.values():
            if c.decoder is not None:
                for from_client, frame in c.decoder.partial_frames():
                    out[frame] = (_key(c, from_client), True)
            elif c.kind in _FRAMED:
                for from_client, m in c.media.items():
                    if m.framer.buffered and m.starts:
                        first = max(bisect.bisect_right(m.starts, m.framer.oldest) - 1, 0)
                        for frame in m.frames[first:]:
                            out[frame] = (_key(c, from_client), False)

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
        elif info.from_key_log:
            c.view.decrypted = bool(info.decryptable) or info.records_ok > 0
            c.view.key_note = "secrets from the TLS key log"
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

    # ---------------------------------------------------------------- MSRP / BFCP / H.248

    def mikey(self, frame: int, src: Endpoint, dst: Endpoint, payload: bytes) -> None:
        """A MIKEY message on its own UDP port."""
        try:
            msg = mikeylib.parse(payload)
        except DissectError as e:
            self._problem(e.layer, e.reason, frame, e.field, e.offset)
            return
        shown = MikeyDatagram(src.port, dst.port, len(payload), msg)
        self.attach.append((frame, Pdu("mikey", shown)))

    def megaco(self, frame: int, payload: bytes) -> None:
        """An H.248 message (a UDP datagram, an SCTP or TPKT payload) to show in ``frame``."""
        try:
            msg = h248.parse_any(payload)
        except DissectError as e:
            self._problem(e.layer, e.reason, frame, e.field, e.offset)
            return
        self.attach.append((frame, Pdu("megaco", MegacoPdu(msg, self.mp_profile, self.reveal))))

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
            proto = c.kind if c.kind in _FRAMED else medialib.sniff(data)
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
            if isinstance(f, FramingError):
                src, dst = (c.client, c.server) if from_client else (c.server, c.client)
                e = f.error
                self._problem(m.protocol, f"{src} -> {dst}: {e.reason}", first, e.field, e.offset)
                continue
            if isinstance(f, TpktPacket):
                self.megaco(last, f.payload)
            else:
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


class _Tickets(Mapping[bytes, Node]):
    """What a SIP message's key-mgmt lines open (FrameStream.tickets), worked out when its
    detail tree is first shown: the packet list never needs it. The call's answers are
    noted now (the call changes as the capture goes on); the rest depends only on the
    message and the key file."""

    def __init__(self, stream: FrameStream, rec: SipRecord) -> None:
        self._stream, self._rec = stream, rec
        self._answered = stream._answered(rec)
        self._got: dict[bytes, Node] | None = None

    def _all(self) -> dict[bytes, Node]:
        if self._got is None:
            self._got = self._stream.tickets(self._rec, self._answered)
        return self._got

    def __getitem__(self, key: bytes) -> Node:
        return self._all()[key]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


_K = TypeVar("_K")


def _unindex(index: dict[_K, set[int]], k: _K, gid: int) -> None:
    ids = index.get(k)
    if ids is not None:
        ids.discard(gid)
        if not ids:
            del index[k]


def _key(c: _Conn, from_client: bool) -> tuple[str, int, str, int]:
    if from_client:
        return c.key
    return (c.key[2], c.key[3], c.key[0], c.key[1])


def _classify(first: bytes, ports: tuple[int, int]) -> str | None:
    """ "tls", "msrp" or "bfcp" from a connection's first bytes (any port, like the heuristic
    dissectors), "megaco" for TPKT on the H.248 ports; None for anything else."""
    if first[:2] == b"\x03\x00" and not _MEGACO_PORTS.isdisjoint(ports):
        return "megaco"  # (a TPKT header: no TLS record starts with content type 3)
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
    tls_keylog: str | os.PathLike[str] | None = None,
) -> Iterator[FrameView]:
    """The frames of a capture as ``mikeyshark dissect`` shows them, in order, streaming.

    ``keys`` is a loaded :class:`~mikeyshark.keys.KeyFile` or the path of a key file (its
    KMS keys open the MIKEY tickets of the SDP, whose TEKs and its ``[[tek]]`` keys are tried
    on every TLS connection); ``psk`` adds TLS PSKs, each as ``bytes`` or as the text
    ``"HEX[:IDENTITY]"`` of ``--psk``. ``reveal_keys`` shows keys instead of fingerprints in
    the detail trees. ``on_problem`` receives every located problem (damaged frames,
    undecryptable records, ...) as it is found; those of a frame are also in its
    ``problems``. ``tls_keylog`` names the endpoints' NSS key log, for the TLS sessions a
    PSK alone cannot open (TLS 1.3 psk_dhe_ke, certificates); a pcapng's Decryption
    Secrets Blocks are used too.

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
    log = "" if tls_keylog is None else Path(tls_keylog).read_text(encoding="ascii")
    with open(capture, "rb"):
        pass  # an unreadable file is an OSError now, not at the first frame
    return _frames(os.fspath(capture), keyfile, psks, reveal_keys, on_problem, log)


def _frames(
    path: str,
    keys: KeyFile | None,
    psks: list[PskCandidate],
    reveal: bool,
    on_problem: Callable[[Problem], None] | None,
    keylog: str,
) -> Iterator[FrameView]:
    reader = CaptureReader(path)
    secrets = keylog_from([keylog], reader.secrets)
    stream = FrameStream(reader, keys, psks, reveal, on_problem, None, None, secrets)
    yield from stream
    if reader.format is None:
        first = stream.first_read_problem
        why = first.reason if first is not None else "not a capture"
        raise ValueError(f"{reader.name}: {why}")
