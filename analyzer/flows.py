"""From frames to UDP datagrams and reassembled TCP byte streams.

:class:`FlowTable` decodes the link, IP and transport headers of each frame (the sans-IO hot
paths of ``mikeyshark.dissectors.link/ip/transport``), reassembles IPv4/IPv6 fragments and TCP byte
streams, and hands the results to a :class:`FlowHandler`.

TCP reassembly is per direction. Bytes are delivered in stream order as
:class:`~mikeyshark.model.StreamChunk` s, each from the frame that carried them. When the same
stream bytes arrive twice the first copy wins; a later copy that disagrees is reported. A hole
that will not be filled (the peer acknowledged past it, the out-of-order buffer is full, or
the connection ends) is passed on as ``StreamChunk.gap``. All state is per open flow and is
released when a connection closes or goes idle, so memory does not grow with the capture.
"""

from __future__ import annotations

import bisect
import struct
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from mikeyshark.capture import MAX_RECORD
from mikeyshark.dissectors import esp as esplib
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.gtp import GTPU_PORT, MT_GPDU, decode_gtpu
from mikeyshark.dissectors.ip import (
    PROTO_SCTP,
    PROTO_TCP,
    PROTO_UDP,
    decode_ipv4,
    decode_ipv6,
    ntop,
    skip_ipv6_extensions,
)
from mikeyshark.dissectors.link import (
    LINKTYPE_RAW,
    NET_IPV4,
    NET_IPV6,
    SUPPORTED_LINKTYPES,
    network_offset,
)
from mikeyshark.dissectors.transport import (
    TCP_ACK,
    TCP_FIN,
    TCP_RST,
    TCP_SYN,
    decode_tcp,
    decode_udp,
    parse_sctp,
    parse_sctp_data,
)
from mikeyshark.model import Endpoint, Frame, Problem, Severity, StreamChunk, Tunnel, TunnelFrame

_ESP = esplib.PROTO_ESP
# Ethernet + IPv4 without options + TCP, the headers a busy capture's frames mostly have, in
# one unpack: type, version/IHL, total length, id, flags/fragment offset, protocol, addresses,
# ports, sequence, acknowledgement, data offset/flags (RFC 894, 791, 9293). Anything else, or
# any field the general decoders would object to, goes through them (_plain_tcp).
_PLAIN_TCP = struct.Struct("!12xHBxHHHxB2x4s4sHHIIH")
# integrity algorithms an ESP-NULL ICV length may come from (TS 33.203 Gm)
_ICV_ALGS = {
    12: "HMAC-SHA-1-96, HMAC-MD5-96 or AES-XCBC-MAC-96",
    16: "HMAC-SHA-256-128",
    0: "no integrity",
}
_NAT_T = esplib.NAT_T_PORT
_MOD = 1 << 32
_HALF = 1 << 31
_NS = 1_000_000_000
# GTP-U endpoint pairs (gNB/eNB-UPF) whose inner traffic has a table of its own at once; each
# table has the limits of the outer one, so past this many the least recently active ends.
MAX_TUNNEL_ZONES = 256
# SCTP user messages split over DATA chunks: held at once, and the bytes of one.
MAX_SCTP_PARTIAL = 256
MAX_SCTP_MESSAGE = 1 << 16
# endpoint pairs kept decoded (a cache, emptied when full): each call's connections add theirs,
# so a bound far above what the open connections need makes memory grow with the calls.
MAX_CACHED_ENDPOINTS = 1024


class FlowHandler(Protocol):
    """What the flow table calls. Subclass :class:`NullHandler` to implement only some.

    A handler that will never look at one direction of a connection again sets that
    :class:`TcpDirection`'s ``unwanted``: its bytes are still reassembled (counters,
    problems, the close) but no longer handed to ``on_tcp_data``."""

    def on_udp(self, frame: Frame, src: Endpoint, dst: Endpoint, payload: bytes) -> None: ...

    def on_tcp_open(self, conn: TcpConnection) -> None: ...

    def on_tcp_data(self, conn: TcpConnection, from_client: bool, chunk: StreamChunk) -> None: ...

    def on_tcp_close(self, conn: TcpConnection) -> None: ...

    def on_problem(self, problem: Problem) -> None: ...


class SctpHandler(Protocol):
    """What a handler that reads SCTP defines besides (the Mp leg's H.248): each user
    message of a DATA chunk (or of chunks reassembled) with its payload protocol id. The
    flow table never hands SCTP to a handler without ``on_sctp``."""

    def on_sctp(
        self, frame: Frame, src: Endpoint, dst: Endpoint, ppid: int, payload: bytes
    ) -> None: ...


class NullHandler:
    """A handler that ignores everything (benchmarks, and a base to override from)."""

    def on_udp(self, frame: Frame, src: Endpoint, dst: Endpoint, payload: bytes) -> None:
        pass

    def on_tcp_open(self, conn: TcpConnection) -> None:
        pass

    def on_tcp_data(self, conn: TcpConnection, from_client: bool, chunk: StreamChunk) -> None:
        pass

    def on_tcp_close(self, conn: TcpConnection) -> None:
        pass

    def on_problem(self, problem: Problem) -> None:
        pass


class TcpState(StrEnum):
    """TcpConnection.state."""

    OPENING = "opening"  # SYN seen, no data yet
    ESTABLISHED = "established"
    CLOSING = "closing"  # one FIN seen
    CLOSED = "closed"  # FIN both ways, everything up to them delivered (or declared missing)
    RESET = "reset"
    EVICTED = "evicted"  # idle too long, or too many connections
    REUSED = "reused"  # a new SYN on the same 4-tuple replaced it
    ENDED = "ended"  # still open at the end of the capture


class OpenedBy(StrEnum):
    """How a connection's client was decided (TcpConnection.opened_by)."""

    SYN = "syn"
    SYNACK = "syn-ack"  # SYN not captured; the SYN-ACK's receiver is the client
    MIDSTREAM = "midstream"  # no handshake captured; the first sender is called the client


OPENING, ESTABLISHED, CLOSING = TcpState.OPENING, TcpState.ESTABLISHED, TcpState.CLOSING
CLOSED, RESET, EVICTED = TcpState.CLOSED, TcpState.RESET, TcpState.EVICTED
REUSED, ENDED = TcpState.REUSED, TcpState.ENDED
_FINAL = frozenset({CLOSED, RESET, EVICTED, REUSED, ENDED})
BY_SYN, BY_SYNACK, BY_MIDSTREAM = OpenedBy.SYN, OpenedBy.SYNACK, OpenedBy.MIDSTREAM


class TcpDirection:
    """One direction of a connection: reassembly state and counters."""

    __slots__ = (
        "_hist",
        "_hist_bytes",
        "_last_end",
        "_pend_bytes",
        "_pending",
        "_wild",
        "base",
        "bytes",
        "conflicts",
        "dropped_bytes",
        "fin_frame",
        "fin_off",
        "fin_ts_ns",
        "gap_bytes",
        "gaps",
        "isn",
        "keepalives",
        "next",
        "overlaps",
        "retransmissions",
        "rst_frame",
        "rst_ts_ns",
        "segments",
        "unwanted",
    )

    def __init__(self) -> None:
        self.isn: int | None = None  # sequence number of the SYN, when seen
        self.base: int | None = None  # absolute sequence number of stream offset 0
        self.next = 0  # stream offset of the next byte to deliver
        self.bytes = 0  # bytes delivered to the handler
        self.segments = 0  # segments carrying data
        self.retransmissions = 0  # segments (or parts) that repeated delivered bytes
        self.overlaps = 0  # segments partly overlapping bytes already seen
        self.keepalives = 0
        self.conflicts = 0  # overlaps whose bytes differ from the first copy
        self.gaps = 0  # holes passed on as StreamChunk.gap
        self.gap_bytes = 0
        self.dropped_bytes = 0  # bytes discarded: wild jumps, data after close, late data
        self.fin_off: int | None = None
        self.fin_frame: int | None = None
        self.fin_ts_ns = 0
        self.rst_frame: int | None = None  # a RST this side sent (it ends the connection)
        self.rst_ts_ns = 0
        # end of the last chunk handed on: the next chunk's gap is measured from here
        self._last_end = 0
        # sorted, non-overlapping out-of-order pieces: (offset, data, frame, ts_ns)
        self._pending: list[tuple[int, bytes, int, int]] = []
        self._pend_bytes = 0
        # the most recently delivered chunks (offset, bytes), to compare retransmissions with;
        # references to the chunks' own bytes, so keeping them copies nothing
        # (created on first use: a deque is large, and most closed connections need none)
        self._hist: deque[tuple[int, bytes]] | None = None
        self._hist_bytes = 0
        # a segment dropped as a wild jump, kept to resynchronise if the stream really jumped
        self._wild: tuple[int, bytes, int, int] | None = None
        # Set by the handler when it wants no more of this direction's bytes (not media, not
        # signalling): reassembly goes on, with its counters and problems, but no chunk is
        # built or handed on (most TCP of a busy capture is such noise).
        self.unwanted = False

    @property
    def buffered(self) -> int:
        """Out-of-order bytes held, waiting for a hole to fill."""
        return self._pend_bytes


@dataclass(eq=False)
class TcpConnection:
    """One TCP connection; a reused 4-tuple gives a new object (and a new ``index``)."""

    index: int  # 0-based, in order of first appearance, like Wireshark's tcp.stream
    client: Endpoint
    server: Endpoint
    first_frame: int
    first_ts_ns: int
    opened_by: OpenedBy
    syn_frame: int | None = None
    synack_frame: int | None = None
    close_frame: int | None = None  # the second FIN or the RST; None when evicted or ended
    rst_frame: int | None = None
    last_frame: int = 0
    last_ts_ns: int = 0
    state: TcpState = TcpState.OPENING
    c2s: TcpDirection = field(default_factory=TcpDirection, repr=False)
    s2c: TcpDirection = field(default_factory=TcpDirection, repr=False)
    # free for handlers to keep their per-connection state (TLS session, parser, ...)
    app: dict[str, object] = field(default_factory=dict, repr=False)
    tunnel: Tunnel | None = None  # set when the connection runs inside GTP-U
    # raw (address, port) of both ends: the table's keys, compared on every segment
    _ckey: tuple[bytes, int] = field(default=(b"", 0), repr=False)
    _skey: tuple[bytes, int] = field(default=(b"", 0), repr=False)

    @property
    def midstream(self) -> bool:
        """No handshake was captured, so ``client`` is only the first sender."""
        return self.opened_by == BY_MIDSTREAM

    @property
    def client_fin_frame(self) -> int | None:
        return self.c2s.fin_frame

    @property
    def server_fin_frame(self) -> int | None:
        return self.s2c.fin_frame

    @property
    def is_open(self) -> bool:
        return self.state not in _FINAL

    @property
    def retransmissions(self) -> int:
        return self.c2s.retransmissions + self.s2c.retransmissions

    @property
    def overlaps(self) -> int:
        return self.c2s.overlaps + self.s2c.overlaps

    @property
    def conflicts(self) -> int:
        return self.c2s.conflicts + self.s2c.conflicts

    @property
    def gaps(self) -> int:
        return self.c2s.gaps + self.s2c.gaps

    @property
    def gap_bytes(self) -> int:
        return self.c2s.gap_bytes + self.s2c.gap_bytes

    @property
    def dropped_bytes(self) -> int:
        return self.c2s.dropped_bytes + self.s2c.dropped_bytes


@dataclass(slots=True)
class _FragBuf:
    first_ts: int
    first_frame: int
    pieces: list[tuple[int, bytes]]  # (offset, bytes) in arrival order
    size: int
    total: int | None = None  # known once the last fragment (no MF) arrived


@dataclass(slots=True)
class EspUnread:
    """ESP packets of one SPI that could (not) be read, and how or why."""

    count: int
    first: int
    last: int
    reason: str


@dataclass(slots=True)
class FlowStats:
    frames: int = 0
    non_ip: int = 0
    ip: int = 0
    udp: int = 0
    tcp: int = 0
    other_ip: int = 0
    fragments: int = 0
    reassembled: int = 0
    duplicate_fragments: int = 0
    bad: int = 0  # frames whose headers did not decode as captured
    # of those, frames cut by the snapshot length (TCP ones still drive their connection)
    snapped: int = 0
    connections: int = 0
    peak_connections: int = 0
    gtpu: int = 0  # G-PDUs decapsulated
    gtpu_other: int = 0  # GTP-U signalling (echo, end marker, ...): no inner packet
    esp: int = 0  # ESP packets
    esp_read: int = 0  # of those, read (NULL found by the heuristic, or opened with a key)


class FlowTable:
    """Feed frames in capture order; the handler receives datagrams and stream bytes.

    Limits (all per table): ``max_buffer`` out-of-order bytes per TCP direction before a hole
    is given up as a gap; ``history`` delivered bytes per direction kept to compare
    retransmissions with; ``max_jump`` the sequence jump beyond which a segment is taken as
    wild; ``idle_timeout`` / ``linger`` seconds (capture time) after which an idle open /
    a closed connection is released; ``max_connections`` open connections before the least
    recently active is evicted; fragments are kept ``frag_timeout`` seconds, at most
    ``max_frag_bytes`` in all. ``max_memory`` bounds the reassembly bytes of all connections
    together: past it, the least recently active connections first lose their history, then
    their holes are given up as gaps.

    Tunnels: a UDP datagram to or from port 2152 is GTP-U; its inner packet goes to a table
    of its own per pair of tunnel endpoints (so that the private addresses of UEs behind
    different gNBs/eNBs cannot mix), whose connections carry the :class:`Tunnel` and share
    this table's stream numbering and handler. GTP-U TEIDs differ per direction (the uplink
    one is the UPF's, the downlink one the gNB's), so the endpoint pair, not one TEID, is
    what both directions of an inner connection have in common. IP protocol 50 (and UDP
    4500, RFC 3948) is ESP: opened with ``esp_sas`` (SPI -> :class:`dissectors.esp.EspSa`)
    when the SPI is there, else read when it is ESP-NULL; what cannot be read is reported
    per SPI (first frame, count, why).
    """

    def __init__(
        self,
        handler: FlowHandler,
        *,
        max_buffer: int = 1 << 20,
        history: int = 1 << 16,
        max_jump: int = 1 << 24,
        idle_timeout: float = 600.0,
        linger: float = 60.0,
        max_connections: int = 100_000,
        frag_timeout: float = 30.0,
        max_frag_bytes: int = 4 << 20,
        max_memory: int = 256 << 20,
        file: str | None = None,
        esp_sas: Mapping[int, esplib.EspSa] | None = None,
        _ids: list[int] | None = None,
    ) -> None:
        self.handler = handler
        self._on_sctp = getattr(handler, "on_sctp", None)  # see SctpHandler
        # SCTP user messages begun and not ended: (addresses, ports, stream) -> parts
        self._sctp_parts: OrderedDict[tuple[object, ...], list[bytes]] = OrderedDict()
        # the ESP SPI of the packet being read, while its inner packet is handed on
        self.esp_spi: int | None = None
        self.file = file
        self.esp_sas: Mapping[int, esplib.EspSa] = esp_sas or {}
        # the next stream index, shared with the tables of tunnelled traffic
        self._ids = _ids if _ids is not None else [0]
        self._limits = (
            max_buffer,
            history,
            max_jump,
            idle_timeout,
            linger,
            max_connections,
            frag_timeout,
            max_frag_bytes,
            max_memory,
        )
        # GTP-U: one table per (lower, higher) outer address pair, least recently active first
        self._zones: OrderedDict[tuple[bytes, bytes], FlowTable] = OrderedDict()
        self._zones_dropped = 0  # pairs ended for MAX_TUNNEL_ZONES
        # the tunnel of the packet being fed (set by the parent table on a zone's table)
        self.tunnel: Tunnel | None = None
        self._tunnel_src = b""
        # ESP packets not read, per SPI
        self.esp_unread: dict[int, EspUnread] = {}
        # ESP packets read, per SPI: how (packets, first frame, description)
        self.esp_read: dict[int, EspUnread] = {}
        self.max_buffer = max_buffer
        self.history = history
        self.max_jump = max_jump
        self.idle_ns = int(idle_timeout * _NS)
        self.linger_ns = int(linger * _NS)
        self.max_connections = max_connections
        self.frag_ns = int(frag_timeout * _NS)
        self.max_frag_bytes = max_frag_bytes
        self.max_memory = max_memory
        self._held = 0  # out-of-order and history bytes of all connections
        self.stats = FlowStats()
        # both directions' 4-tuples map to the same connection
        self._conns: dict[tuple[bytes, int, bytes, int], TcpConnection] = {}
        self._open: OrderedDict[int, TcpConnection] = OrderedDict()  # by last activity
        self._closed: OrderedDict[int, TcpConnection] = OrderedDict()  # by close time
        self._frags: OrderedDict[tuple[bytes, bytes, int, int], _FragBuf] = OrderedDict()
        self._frag_bytes = 0
        # recently reassembled datagrams: key -> (time, digests of their fragments)
        self._done: OrderedDict[
            tuple[bytes, bytes, int, int], tuple[int, frozenset[tuple[int, int, int]]]
        ] = OrderedDict()
        # (src, sport, dst, dport) -> endpoints: one lookup per datagram
        self._eps: dict[tuple[bytes, int, bytes, int], tuple[Endpoint, Endpoint]] = {}
        self._next_sweep = 0
        self._unsupported: set[int] = set()  # link types already reported

    # -- public ------------------------------------------------------------------------------

    @property
    def open_connections(self) -> int:
        return len(self._open) + sum(z.open_connections for z in self._zones.values())

    @property
    def tracked_connections(self) -> int:
        """Open plus recently closed connections still held (to absorb late segments)."""
        return (
            len(self._open)
            + len(self._closed)
            + sum(z.tracked_connections for z in self._zones.values())
        )

    @property
    def tunnel_zones(self) -> int:
        """GTP-U endpoint pairs with state held right now."""
        return len(self._zones)

    @property
    def memory_bytes(self) -> int:
        """Payload bytes held for reassembly right now (TCP out-of-order and history, IP
        fragments): what grows with traffic, as opposed to per-connection bookkeeping."""
        return self._held + self._frag_bytes + sum(z.memory_bytes for z in self._zones.values())

    @property
    def buffered_bytes(self) -> int:
        """Out-of-order TCP bytes and IP fragments held right now."""
        return (
            self._frag_bytes
            + sum(c.c2s._pend_bytes + c.s2c._pend_bytes for c in self._open.values())
            + sum(z.buffered_bytes for z in self._zones.values())
        )

    def feed_all(self, frames: Iterable[Frame]) -> None:
        for f in frames:
            self.feed(f)
        self.finish()

    def feed(self, frame: Frame) -> None:
        st = self.stats
        st.frames += 1
        data = frame.data
        ts = frame.ts_ns
        if ts >= self._next_sweep or ts < self._next_sweep - 2 * _NS:
            # (the second test: time went backwards, e.g. a next file, or one wild timestamp)
            self._sweep(ts)
        try:
            if frame.linktype == 1 and (tcp := _plain_tcp(data)) is not None:
                st.ip += 1
                st.tcp += 1
                src, sport, dst, dport, seq, ack, flags, ps, pe = tcp
                self._tcp(frame, src, sport, dst, dport, seq, ack, flags, data[ps:pe])
                return
            # Ethernet + IPv4 is by far the most common frame: decide it without a call.
            if frame.linktype == 1 and data[12:14] == b"\x08\x00":
                kind, off = NET_IPV4, 14
            else:
                kind, off = network_offset(frame.linktype, data)
            if kind == NET_IPV4:
                src, dst, proto, start, end, ident, fragoff, mf = decode_ipv4(data, off)
                st.ip += 1
                if mf or fragoff:
                    st.fragments += 1
                    got = self._defrag(
                        frame, (src, dst, proto, ident), fragoff, mf, data[start:end]
                    )
                    if got is None:
                        return
                    data, start, end = got, 0, len(got)
            elif kind == NET_IPV6:
                src, dst, proto, start, end, frag = decode_ipv6(data, off)
                st.ip += 1
                if frag is not None:
                    st.fragments += 1
                    ident, fragoff, mf, _ = frag
                    got = self._defrag(
                        frame, (src, dst, 0x100, ident), fragoff, mf, data[start:end]
                    )
                    if got is None:
                        return
                    data, start, end = got, 0, len(got)
                    proto, start = skip_ipv6_extensions(data, 0, proto, end)
            else:
                st.non_ip += 1
                lt = frame.linktype
                if lt not in SUPPORTED_LINKTYPES and lt not in self._unsupported:
                    self._unsupported.add(lt)
                    self._problem(
                        frame.number,
                        "link",
                        f"link type {lt} is not supported; frames of this type are skipped",
                        "linktype",
                        severity=Severity.WARNING,
                    )
                return
            if proto == PROTO_UDP:
                sport, dport, ps, pe = decode_udp(data, start, end)
                st.udp += 1
                if dport == GTPU_PORT or sport == GTPU_PORT:
                    self._gtpu(frame, src, dst, data, ps, pe)
                    return
                if (
                    (dport == _NAT_T or sport == _NAT_T)
                    and pe - ps > 8
                    and data[ps : ps + 4] != b"\0\0\0\0"
                ):
                    # RFC 3948: UDP 4500 carries ESP unless the non-ESP marker (4 zeros) leads
                    self._esp(frame, src, dst, data, ps, pe)
                    return
                pair = self._eps.get((src, sport, dst, dport))
                if pair is None:
                    pair = self._endpoints(src, sport, dst, dport)
                self.handler.on_udp(frame, pair[0], pair[1], data[ps:pe])
            elif proto == PROTO_TCP:
                sport, dport, seq, ack, flags, ps, _win = decode_tcp(data, start, end)
                st.tcp += 1
                self._tcp(frame, src, sport, dst, dport, seq, ack, flags, data[ps:end])
            elif proto == _ESP:
                self._esp(frame, src, dst, data, start, end)
            elif proto == PROTO_SCTP and self._on_sctp is not None:
                self._sctp(frame, src, dst, data[start:end])
            else:
                st.other_ip += 1
        except DissectError as e:
            st.bad += 1
            # The wire length is only the record header's claim (up to 4 GiB): pad at most to
            # the largest frame a capture holds, enough for any IP total length to fit.
            short = min(frame.wirelen, MAX_RECORD) - len(frame.data)
            ok, tcp = (
                _decode_padded(frame.linktype, frame.data + bytes(short))
                if short > 0
                else (False, None)
            )
            if ok:
                # Cut by the capture's snapshot length, not malformed: with a small snaplen
                # that is every frame, so say it once and count the rest.
                st.snapped += 1
                if st.snapped == 1:
                    self._problem(
                        frame.number,
                        e.layer,
                        f"{e.reason}: the frame was cut to {len(frame.data)} of "
                        f"{frame.wirelen} bytes by the capture's snapshot length; the "
                        "bytes cut off are missing (reported once; see the counter)",
                        e.field,
                        e.offset,
                        Severity.WARNING,
                    )
                if tcp is not None and tcp[7] <= len(frame.data):
                    # The TCP header was captured: track the segment (flags, sequence) with
                    # the payload bytes that are there; the rest becomes a hole.
                    src, sport, dst, dport, seq, ack, flags, ps, pe = tcp
                    st.tcp += 1
                    self._tcp(
                        frame, src, sport, dst, dport, seq, ack, flags, frame.data[ps:pe], pe - ps
                    )
                return
            self._problem(frame.number, e.layer, e.reason, e.field, e.offset)

    def finish(self) -> None:
        """End of capture: deliver what is buffered, close what is open, release everything."""
        for zone in self._zones.values():
            zone.finish()
            self._add_zone_stats(zone)
        self._zones.clear()
        for spi, u in sorted(self.esp_unread.items()):
            self._problem(
                u.first,
                "esp",
                f"{u.count} ESP packet(s) of SPI 0x{spi:08x} (frames {u.first}..{u.last}) "
                f"not read: {u.reason}",
                "spi",
            )
        self.esp_unread.clear()
        for spi, u in sorted(self.esp_read.items()):
            self._problem(
                u.first,
                "esp",
                f"{u.count} ESP packet(s) of SPI 0x{spi:08x} (frames {u.first}..{u.last}) read: "
                f"{u.reason}",
                "spi",
                severity=Severity.INFO,
            )
        self.esp_read.clear()
        for conn in list(self._open.values()):
            self._close(conn, ENDED, None)
        for key, fb in self._frags.items():
            self._frag_expired(key, fb, "the capture ended")
        self._frags.clear()
        self._frag_bytes = 0
        self._done.clear()
        self._closed.clear()
        self._conns.clear()
        self._eps.clear()

    # -- helpers -----------------------------------------------------------------------------

    def _problem(
        self,
        frame: int | None,
        layer: str,
        reason: str,
        fld: str | None = None,
        offset: int | None = None,
        severity: Severity = Severity.ERROR,
        code: str = "",
    ) -> None:
        self.handler.on_problem(
            Problem(layer, reason, frame, self.file, fld, offset, severity, code)
        )

    def _sctp(self, frame: Frame, src: bytes, dst: bytes, packet: bytes) -> None:
        """The user messages of an SCTP packet's DATA chunks (RFC 9260 3.3.1): a whole one
        at once, a fragmented one when its last fragment arrives (in order; a message whose
        parts exceed the budgets is dropped)."""
        p = parse_sctp(packet)
        sport, dport = p.header.src_port, p.header.dst_port
        pair = self._eps.get((src, sport, dst, dport)) or self._endpoints(src, sport, dst, dport)
        assert self._on_sctp is not None
        for chunk in p.chunks:
            if chunk.type != 0:
                continue  # not DATA (I-DATA and the rest carry no H.248 here)
            d = parse_sctp_data(chunk)
            if d.complete:
                self._on_sctp(frame, pair[0], pair[1], d.ppid, d.payload)
                continue
            key = (src, sport, dst, dport, d.stream_id)
            if d.flags & 0x02:  # B: the first fragment
                self._sctp_parts[key] = [d.payload]
                if len(self._sctp_parts) > MAX_SCTP_PARTIAL:
                    self._sctp_parts.popitem(last=False)
                continue
            parts = self._sctp_parts.get(key)
            if parts is None:
                continue  # its beginning was not captured
            parts.append(d.payload)
            if sum(len(x) for x in parts) > MAX_SCTP_MESSAGE:
                del self._sctp_parts[key]
            elif d.flags & 0x01:  # E: the last fragment
                del self._sctp_parts[key]
                self._on_sctp(frame, pair[0], pair[1], d.ppid, b"".join(parts))

    def _endpoints(
        self, src: bytes, sport: int, dst: bytes, dport: int
    ) -> tuple[Endpoint, Endpoint]:
        eps = self._eps
        if len(eps) >= MAX_CACHED_ENDPOINTS:
            eps.clear()  # a cache, not state: keep it bounded
        pair = eps[(src, sport, dst, dport)] = (
            Endpoint(ntop(src), sport),
            Endpoint(ntop(dst), dport),
        )
        return pair

    def _sweep(self, now: int) -> None:
        self._next_sweep = now + _NS
        if self._zones:
            for zkey, zone in list(self._zones.items()):
                zone._sweep(now)
                if not (zone._open or zone._closed or zone._frags):
                    # nothing held for this tunnel pair: release the table itself
                    zone.finish()
                    self._add_zone_stats(zone)
                    del self._zones[zkey]
        limit = now - self.idle_ns
        while self._open:
            conn = next(iter(self._open.values()))
            if conn.last_ts_ns >= limit:
                break
            self._close(conn, EVICTED, None)
        limit = now - self.linger_ns
        while self._closed:
            conn = next(iter(self._closed.values()))
            if conn.last_ts_ns >= limit:
                break
            self._forget(conn)
        limit = now - self.frag_ns
        while self._frags:
            key, fb = next(iter(self._frags.items()))
            if fb.first_ts >= limit:
                break
            del self._frags[key]
            self._frag_bytes -= fb.size
            self._frag_expired(key, fb, f"no complete datagram within {self.frag_ns // _NS} s")
        while self._done:
            key, (done_ts, _) = next(iter(self._done.items()))
            if done_ts >= limit:
                break
            del self._done[key]

    # -- tunnels -----------------------------------------------------------------------------

    def _add_zone_stats(self, zone: FlowTable) -> None:
        st, zs = self.stats, zone.stats
        st.ip += zs.ip
        st.udp += zs.udp
        st.tcp += zs.tcp
        st.other_ip += zs.other_ip
        st.fragments += zs.fragments
        st.reassembled += zs.reassembled
        st.bad += zs.bad
        st.connections += zs.connections
        st.esp += zs.esp
        st.esp_read += zs.esp_read
        zs.ip = zs.udp = zs.tcp = zs.other_ip = zs.fragments = zs.reassembled = zs.bad = 0
        zs.connections = zs.esp = zs.esp_read = 0

    def _gtpu(self, frame: Frame, src: bytes, dst: bytes, data: bytes, ps: int, pe: int) -> None:
        try:
            teid, mt, qfi, ts, te = decode_gtpu(data, ps, pe)
        except DissectError as e:
            self._problem(frame.number, e.layer, e.reason, e.field, e.offset - ps, Severity.WARNING)
            return
        if mt != MT_GPDU:
            self.stats.gtpu_other += 1
            return
        self.stats.gtpu += 1
        if te <= ts or data[ts] >> 4 not in (4, 6):
            self._problem(
                frame.number,
                "gtp",
                f"G-PDU of TEID 0x{teid:08x} carries no IPv4/IPv6 packet "
                f"(first byte 0x{data[ts : ts + 1].hex() or '--'})",
                "tpdu",
                ts - ps,
                Severity.WARNING,
            )
            return
        zkey = (src, dst) if src <= dst else (dst, src)
        zone = self._zones.get(zkey)
        if zone is not None:
            self._zones.move_to_end(zkey)
        else:
            if len(self._zones) >= MAX_TUNNEL_ZONES:
                self._drop_zone(frame.number)
            (mb, hist, mj, idle, linger, mc, ft, mfb, mm) = self._limits
            zone = self._zones[zkey] = FlowTable(
                self.handler,
                max_buffer=mb,
                history=hist,
                max_jump=mj,
                idle_timeout=idle,
                linger=linger,
                max_connections=mc,
                frag_timeout=ft,
                max_frag_bytes=mfb,
                max_memory=mm,
                file=self.file,
                esp_sas=self.esp_sas,
                _ids=self._ids,
            )
        t = zone.tunnel
        q = qfi if qfi >= 0 else None
        if t is None or t.teid != teid or t.qfi != q or zone._tunnel_src != src:
            # a new tunnel context only when the TEID, QFI or direction changes
            zone.tunnel = t = Tunnel(teid, ntop(src), ntop(dst), q)
            zone._tunnel_src = src
        inner = data[ts:te]
        zone.feed(TunnelFrame(frame.number, frame.ts_ns, LINKTYPE_RAW, inner, len(inner), t))
        zone.stats.frames -= 1  # counted once, as the outer frame

    def _drop_zone(self, frame: int) -> None:
        """End every connection of the least recently active tunnel pair and forget it."""
        zkey, zone = next(iter(self._zones.items()))
        if not self._zones_dropped:
            self._problem(
                frame,
                "gtp",
                f"more than {MAX_TUNNEL_ZONES} GTP-U tunnel endpoint pairs with state at once: "
                "the connections of the least recently active pair are ended",
                severity=Severity.WARNING,
                code="budget.tunnel_pairs",
            )
        self._zones_dropped += 1
        zone.finish()
        self._add_zone_stats(zone)
        del self._zones[zkey]

    def _esp(self, frame: Frame, src: bytes, dst: bytes, data: bytes, start: int, end: int) -> None:
        """An ESP packet at data[start:end] between ``src`` and ``dst``."""
        st = self.stats
        st.esp += 1
        if end - start < 8:
            self._problem(frame.number, "esp", f"ESP packet of {end - start} bytes", "spi")
            return
        spi = int.from_bytes(data[start : start + 4], "big")
        sa = self.esp_sas.get(spi)
        if sa is not None:
            try:
                nh, inner = esplib.open_packet(sa, data[start:end])
            except DissectError as e:
                self._esp_unread(spi, frame.number, f"with the configured key: {e.reason}")
                return
            how = (
                f"{sa.encryption}, {sa.integrity} ICV verified with the key file's [[esp]] SA"
                if sa.integrity != "none"
                else f"{sa.encryption}, tag verified with the key file's [[esp]] SA"
            )
        else:
            found = esplib.find_null(data, start, end)
            if found is None:
                self._esp_unread(
                    spi,
                    frame.number,
                    "no key for this SPI in the key file ([[esp]]) and not ESP-NULL with a "
                    "12- or 16-octet ICV (encrypted?)",
                )
                return
            icv, nh, ps, pe = found
            inner = data[ps:pe]
            how = f"ESP-NULL with a {icv}-octet ICV ({_ICV_ALGS[icv]}), not verified: no key"
        st.esp_read += 1
        got = self.esp_read.get(spi)
        if got is None:
            self.esp_read[spi] = EspUnread(1, frame.number, frame.number, how)
        else:
            got.count += 1
            got.last = frame.number
        self.esp_spi = spi
        try:
            if nh == PROTO_UDP:
                sport, dport, ps, pe = decode_udp(inner, 0, len(inner))
                st.udp += 1
                pair = self._eps.get((src, sport, dst, dport))
                if pair is None:
                    pair = self._endpoints(src, sport, dst, dport)
                self.handler.on_udp(frame, pair[0], pair[1], inner[ps:pe])
            elif nh == PROTO_TCP:
                sport, dport, seq, ack, flags, ps, _win = decode_tcp(inner, 0, len(inner))
                st.tcp += 1
                self._tcp(frame, src, sport, dst, dport, seq, ack, flags, inner[ps:])
            elif nh in (4, 41):
                # tunnel mode: a whole IP packet inside
                self.feed(Frame(frame.number, frame.ts_ns, LINKTYPE_RAW, inner, len(inner)))
                st.frames -= 1
            else:
                st.other_ip += 1
        except DissectError as e:
            self._problem(
                frame.number, e.layer, f"inside ESP SPI 0x{spi:08x}: {e.reason}", e.field, e.offset
            )
        finally:
            self.esp_spi = None

    def _esp_unread(self, spi: int, frame: int, why: str) -> None:
        got = self.esp_unread.get(spi)
        if got is None:
            self.esp_unread[spi] = EspUnread(1, frame, frame, why)
        else:
            got.count += 1
            got.last = frame

    # -- IP fragments ------------------------------------------------------------------------

    def _defrag(
        self, frame: Frame, key: tuple[bytes, bytes, int, int], off: int, mf: bool, data: bytes
    ) -> bytes | None:
        """Add a fragment; the whole datagram's payload once the last piece is in."""
        layer = "ip" if len(key[0]) == 4 else "ipv6"
        if off + len(data) > 65535:
            self._problem(
                frame.number, layer, f"fragment at {off} of {len(data)} bytes passes 64 KiB", "frag"
            )
            return None
        fb = self._frags.get(key)
        if fb is None:
            done = self._done.get(key)
            if done is not None:
                if (off, len(data), hash(data)) in done[1]:
                    # a copy of a fragment of a datagram already delivered
                    self.stats.duplicate_fragments += 1
                    return None
                del self._done[key]  # different bytes: the identification was reused
            fb = self._frags[key] = _FragBuf(frame.ts_ns, frame.number, [], 0)
        if not mf:
            end = off + len(data)
            if fb.total is not None and fb.total != end:
                self._problem(
                    frame.number,
                    layer,
                    f"another last fragment ends the datagram at {end}, the first at {fb.total}",
                    "frag",
                    severity=Severity.WARNING,
                )
            else:
                fb.total = end
        end = off + len(data)
        for o, piece in fb.pieces:
            a, b = max(o, off), min(o + len(piece), end)
            if a < b and piece[a - o : b - o] != data[a - off : b - off]:
                self._problem(
                    frame.number,
                    layer,
                    f"fragment bytes {a}..{b} differ from an earlier fragment's; "
                    "the first copy is kept",
                    "frag",
                    severity=Severity.WARNING,
                )
                break
        fb.pieces.append((off, data))
        fb.size += len(data)
        self._frag_bytes += len(data)
        while self._frag_bytes > self.max_frag_bytes and self._frags:
            k, victim = self._frags.popitem(last=False)
            self._frag_bytes -= victim.size
            self._frag_expired(k, victim, f"fragment memory exceeded {self.max_frag_bytes} bytes")
            if victim is fb:
                return None
        total = fb.total
        if total is None:
            return None
        # complete when the pieces cover 0..total without a hole
        covered = 0
        for o, piece in sorted(fb.pieces, key=_first_of_pair):
            if o > covered:
                return None
            covered = max(covered, o + len(piece))
        if covered < total:
            return None
        out = bytearray(total)
        # earliest arrival written last, so where fragments overlap the first copy wins
        for o, piece in reversed(fb.pieces):
            out[o : o + len(piece)] = piece[: max(0, total - o)]
        del out[total:]
        del self._frags[key]
        self._frag_bytes -= fb.size
        self.stats.reassembled += 1
        # remember which pieces made it, to recognise late copies (digests only: bounded)
        self._done[key] = (frame.ts_ns, frozenset((o, len(p), hash(p)) for o, p in fb.pieces))
        if len(self._done) > 4096:
            self._done.popitem(last=False)
        return bytes(out)

    def _frag_expired(self, key: tuple[bytes, bytes, int, int], fb: _FragBuf, why: str) -> None:
        layer = "ip" if len(key[0]) == 4 else "ipv6"
        self._problem(
            fb.first_frame,
            layer,
            f"incomplete datagram {ntop(key[0])} -> {ntop(key[1])} id {key[3]} dropped "
            f"({len(fb.pieces)} fragments, {fb.size} bytes): {why}",
            "frag",
            severity=Severity.WARNING,
        )

    # -- TCP ---------------------------------------------------------------------------------

    def _new_conn(
        self,
        frame: Frame,
        key: tuple[bytes, int, bytes, int],
        client: tuple[bytes, int],
        server: tuple[bytes, int],
        opened_by: OpenedBy,
    ) -> TcpConnection:
        index = self._ids[0]
        self._ids[0] = index + 1
        conn = TcpConnection(
            index,
            Endpoint(ntop(client[0]), client[1]),
            Endpoint(ntop(server[0]), server[1]),
            frame.number,
            frame.ts_ns,
            opened_by,
            last_frame=frame.number,
            last_ts_ns=frame.ts_ns,
            _ckey=client,
            _skey=server,
            tunnel=self.tunnel,
        )
        self._conns[key] = conn
        self._conns[(key[2], key[3], key[0], key[1])] = conn
        self._open[conn.index] = conn
        st = self.stats
        st.connections += 1
        if len(self._open) > st.peak_connections:
            st.peak_connections = len(self._open)
        if len(self._open) > self.max_connections:
            victim = next(iter(self._open.values()))
            self._problem(
                frame.number,
                "tcp",
                f"more than {self.max_connections} open connections; "
                f"evicting stream {victim.index} ({victim.client} -> {victim.server})",
                severity=Severity.WARNING,
                code="budget.open_connections",
            )
            self._close(victim, EVICTED, None)
        self.handler.on_tcp_open(conn)
        return conn

    def _tcp(
        self,
        frame: Frame,
        src: bytes,
        sport: int,
        dst: bytes,
        dport: int,
        seq: int,
        ack: int,
        flags: int,
        payload: bytes,
        wire_len: int = -1,
    ) -> None:
        """One segment; ``wire_len`` is its payload length on the wire when the capture
        holds only the first ``len(payload)`` bytes of it (snapshot length)."""
        key = (src, sport, dst, dport)
        conn = self._conns.get(key)
        syn = flags & TCP_SYN
        # (``state in _FINAL`` is ``not is_open`` without a property call on every segment)
        if conn is not None and conn.state in _FINAL:
            # A closed connection lingers to absorb late ACKs and retransmissions; only a new
            # SYN starts a new connection on the same 4-tuple.
            if syn and not flags & TCP_ACK:
                self._forget(conn)
                conn = None
            else:
                if payload:
                    self._after_close(conn, src, sport, seq, payload, frame.number)
                return
        if conn is None:
            if syn and flags & TCP_ACK:
                conn = self._new_conn(frame, key, (dst, dport), (src, sport), BY_SYNACK)
            elif syn:
                conn = self._new_conn(frame, key, (src, sport), (dst, dport), BY_SYN)
            else:
                conn = self._new_conn(frame, key, (src, sport), (dst, dport), BY_MIDSTREAM)
        ck = conn._ckey
        # (a connection to itself cannot tell its directions apart: all of it is "client")
        from_client = sport == ck[1] and src == ck[0]
        d = conn.c2s if from_client else conn.s2c
        if syn:
            if d.isn is not None and d.isn != seq:
                if from_client and not flags & TCP_ACK:
                    # A SYN with another ISN on a live 4-tuple: the port was reused.
                    self._close(conn, REUSED, None)
                    conn = self._new_conn(frame, key, (src, sport), (dst, dport), BY_SYN)
                    from_client = True
                    d = conn.c2s
                else:
                    self._problem(
                        frame.number,
                        "tcp",
                        f"SYN with sequence {seq} differs from the first SYN's {d.isn}",
                        "seq",
                        severity=Severity.WARNING,
                    )
                    return
            elif d.isn == seq:
                d.retransmissions += 1
            if d.isn is None:
                if d.base is not None and d.bytes:
                    self._problem(
                        frame.number,
                        "tcp",
                        "SYN after data in the same direction; ignored",
                        "flags",
                        severity=Severity.WARNING,
                    )
                    return
                d.isn = seq
                d.base = (seq + 1) % _MOD
                if flags & TCP_ACK:
                    conn.synack_frame = frame.number
                    other = conn.c2s
                    if other.base is None:
                        other.base = ack
                else:
                    conn.syn_frame = frame.number
                    # (a SYN seen only after data: handlers that declined the bytes see
                    # the next ones again, as they would have without declining)
                    conn.c2s.unwanted = conn.s2c.unwanted = False
            seq = (seq + 1) % _MOD  # the SYN takes one sequence number
        elif conn.state == OPENING:
            conn.state = ESTABLISHED
        conn.last_frame = frame.number
        conn.last_ts_ns = frame.ts_ns
        self._open.move_to_end(conn.index)
        if d.base is None:
            d.base = seq
        if flags & TCP_ACK:
            other = conn.s2c if from_client else conn.c2s
            if other.base is None:
                # Picked up mid-stream: the peer's next byte is what this side acknowledges.
                other.base = ack
            elif other._pending or other.fin_off is not None:
                # (only then can an acknowledgement give up a hole: _acked's own test)
                self._acked(conn, not from_client, ack, frame)
                if conn.state in _FINAL:
                    # that acknowledgement completed the close (both FINs delivered)
                    if payload:
                        self._after_close(conn, src, sport, seq, payload, frame.number)
                    return
        if payload:
            nxt = d.next
            if not d._pending and (seq - d.base - nxt) % _MOD == 0:
                # the common case, _segment's first: the next bytes, nothing waiting
                d.segments += 1
                self._deliver(conn, d, from_client, nxt, payload, frame.number, frame.ts_ns)
            else:
                self._segment(conn, d, from_client, seq, payload, frame)
            if self._held > self.max_memory:
                self._relieve(frame.number)
        if flags & TCP_RST:
            conn.rst_frame = d.rst_frame = frame.number
            d.rst_ts_ns = frame.ts_ns
            self._close(conn, RESET, frame.number)
            return
        if flags & TCP_FIN and d.fin_off is None:
            d.fin_off = self._offset(d, seq) + max(len(payload), wire_len)
            d.fin_frame = frame.number
            d.fin_ts_ns = frame.ts_ns
            if conn.state in (OPENING, ESTABLISHED):
                conn.state = CLOSING
        if conn.c2s.fin_off is not None and conn.s2c.fin_off is not None:
            self._maybe_closed(conn, frame.number)

    def _after_close(
        self, conn: TcpConnection, src: bytes, sport: int, seq: int, payload: bytes, frame: int
    ) -> None:
        from_client = (src, sport) == conn._ckey
        d = conn.c2s if from_client else conn.s2c
        if d.base is None or self._offset(d, seq) + len(payload) <= d.next:
            d.retransmissions += 1  # bytes the stream already had
            return
        first = d.dropped_bytes == 0
        d.dropped_bytes += len(payload)
        if first:
            self._problem(
                frame,
                "tcp",
                f"data after stream {conn.index} was {conn.state} "
                f"(frame {conn.close_frame}) is dropped",
                "payload",
                severity=Severity.WARNING,
            )

    @staticmethod
    def _offset(d: TcpDirection, seq: int) -> int:
        """The stream offset of ``seq``: the one nearest to what is expected next."""
        base = d.base if d.base is not None else seq
        rel = (seq - base) % _MOD
        delta = (rel - d.next) % _MOD
        if delta >= _HALF:
            delta -= _MOD
        return d.next + delta

    def _acked(self, conn: TcpConnection, of_client: bool, ack: int, frame: Frame) -> None:
        """The other side acknowledged ``ack``: a hole it covers will never be filled."""
        d = conn.c2s if of_client else conn.s2c
        if d.base is None or not (d._pending or d.fin_off is not None):
            return
        off = self._offset(d, ack)
        if d.fin_off is not None and off > d.fin_off:
            off = d.fin_off  # the FIN's own sequence number is not stream data
        if off > d.next + self.max_jump:
            return  # not a believable acknowledgement; a wild segment is reported elsewhere
        if off > d.next and (not d._pending or d._pending[0][0] < off):
            self._flush(conn, d, of_client, off, frame.number)
            if conn.c2s.fin_off is not None and conn.s2c.fin_off is not None:
                self._maybe_closed(conn, frame.number)

    def _segment(
        self,
        conn: TcpConnection,
        d: TcpDirection,
        from_client: bool,
        seq: int,
        data: bytes,
        frame: Frame,
    ) -> None:
        off = self._offset(d, seq)
        n = len(data)
        d.segments += 1
        nxt = d.next
        # the common case: the next bytes, nothing waiting
        if off == nxt and not d._pending:
            self._deliver(conn, d, from_client, off, data, frame.number, frame.ts_ns)
            return
        end = off + n
        if off > nxt + self.max_jump or end < nxt - self.max_jump:
            self._wild_jump(conn, d, from_client, off, data, frame)
            return
        d._wild = None
        if n == 1 and off == nxt - 1:
            # A keep-alive: one byte (often garbage) just below the next expected one.
            d.keepalives += 1
            return
        if off < nxt:
            # bytes already delivered come again: a retransmission; compare what we still have
            d.retransmissions += 1
            self._compare_history(d, off, data[: min(n, nxt - off)], frame.number)
            if end <= nxt:
                return
            data = data[nxt - off :]
            off = nxt
            d.overlaps += 1
        self._insert(d, off, data, frame)
        self._drain(conn, d, from_client)
        if d._pend_bytes > self.max_buffer:
            self._problem(
                frame.number,
                "tcp",
                f"out-of-order buffer of stream {conn.index} exceeded {self.max_buffer} bytes; "
                "the missing bytes are passed on as a gap",
                severity=Severity.WARNING,
            )
            while d._pend_bytes > self.max_buffer // 2 and d._pending:
                self._flush(conn, d, from_client, d._pending[0][0] + 1, frame.number)

    def _wild_jump(
        self,
        conn: TcpConnection,
        d: TcpDirection,
        from_client: bool,
        off: int,
        data: bytes,
        frame: Frame,
    ) -> None:
        w = d._wild
        if w is not None and w[0] + len(w[1]) == off and off > d.next:
            # Two segments in a row continue each other far away: the stream really moved
            # (a long stretch was not captured). Resynchronise there.
            d._wild = None
            self._problem(
                frame.number,
                "tcp",
                f"stream {conn.index} resynchronised {w[0] - d.next} bytes ahead at frame {w[2]}",
                "seq",
                severity=Severity.WARNING,
            )
            self._flush(conn, d, from_client, w[0], frame.number)
            # a pending segment delivered by the flush may reach into the kept one
            wo, wd = w[0], w[1]
            if d.next > wo:
                wd = wd[d.next - wo :]
                wo = d.next
            if wd:
                d.dropped_bytes -= len(wd)
                self._deliver(conn, d, from_client, wo, wd, w[2], w[3])
            self._insert(d, off, data, frame)
            self._drain(conn, d, from_client)
            return
        d._wild = (off, data, frame.number, frame.ts_ns)
        d.dropped_bytes += len(data)
        self._problem(
            frame.number,
            "tcp",
            f"sequence jump of {off - d.next} bytes in stream {conn.index} "
            f"(limit {self.max_jump}); segment of {len(data)} bytes dropped",
            "seq",
            severity=Severity.WARNING,
        )

    def _compare_history(self, d: TcpDirection, off: int, data: bytes, frame: int) -> None:
        if d._hist is None:
            return
        end = off + len(data)
        for ho, hd in d._hist:
            a, b = max(off, ho), min(end, ho + len(hd))
            if a < b and hd[a - ho : b - ho] != data[a - off : b - off]:
                d.conflicts += 1
                self._problem(
                    frame,
                    "tcp",
                    f"retransmitted bytes at stream offset {a} differ from the first copy; "
                    "the first copy is kept",
                    "payload",
                    severity=Severity.WARNING,
                )
                return

    def _drop_history(self, d: TcpDirection) -> None:
        self._held -= d._hist_bytes
        d._hist = None
        d._hist_bytes = 0

    def _relieve(self, frame: int) -> None:
        """Over the memory budget: free the least recently active connections' bytes."""
        target = self.max_memory * 3 // 4
        self._problem(
            frame,
            "tcp",
            f"reassembly memory passed {self.max_memory} bytes: the least recently active "
            "connections lose their retransmission history, then their holes become gaps",
            severity=Severity.WARNING,
        )
        conns = list(self._open.values())
        for conn in conns:
            self._drop_history(conn.c2s)
            self._drop_history(conn.s2c)
            if self._held <= target:
                return
        for conn in conns:
            for d, fc in ((conn.c2s, True), (conn.s2c, False)):
                if d._pending:
                    last = d._pending[-1]
                    self._flush(conn, d, fc, last[0] + len(last[1]), frame)
                    self._drop_history(d)
            if self._held <= target:
                return

    def _insert(self, d: TcpDirection, off: int, data: bytes, frame: Frame) -> None:
        """Add out-of-order bytes, keeping the first copy wherever they overlap pending ones."""
        pend = d._pending
        end = off + len(data)
        i = bisect.bisect_right(pend, off, key=_first)
        if i and pend[i - 1][0] + len(pend[i - 1][1]) > off:
            i -= 1
        pieces: list[tuple[int, bytes, int, int]] = []
        cur = off
        j = i
        overlapped = False
        while j < len(pend) and pend[j][0] < end:
            po, pdata, _pf, _pt = pend[j]
            pe = po + len(pdata)
            a, b = max(off, po), min(end, pe)
            overlapped = True
            if data[a - off : b - off] != pdata[a - po : b - po]:
                d.conflicts += 1
                self._problem(
                    frame.number,
                    "tcp",
                    f"overlapping bytes at stream offset {a} differ from the first copy; "
                    "the first copy is kept",
                    "payload",
                    severity=Severity.WARNING,
                )
            if po > cur:
                pieces.append((cur, data[cur - off : po - off], frame.number, frame.ts_ns))
            cur = max(cur, pe)
            j += 1
        if cur < end:
            pieces.append((cur, data[cur - off :], frame.number, frame.ts_ns))
        if overlapped:
            if not pieces:
                d.retransmissions += 1
            else:
                d.overlaps += 1
        for p in pieces:
            k = bisect.bisect_right(pend, p[0], key=_first)
            pend.insert(k, p)
            d._pend_bytes += len(p[1])
            self._held += len(p[1])

    def _drain(self, conn: TcpConnection, d: TcpDirection, from_client: bool) -> None:
        pend = d._pending
        while pend and pend[0][0] <= d.next:
            off, data, fno, ts = pend.pop(0)
            d._pend_bytes -= len(data)
            self._held -= len(data)
            if off < d.next:  # only after a gap flush moved next past part of it
                cut = d.next - off
                d.dropped_bytes += min(cut, len(data))
                data = data[cut:]
                off = d.next
                if not data:
                    continue
            self._deliver(conn, d, from_client, off, data, fno, ts)

    def _flush(
        self,
        conn: TcpConnection,
        d: TcpDirection,
        from_client: bool,
        upto: int,
        frame: int | None,
    ) -> None:
        """Give up on the hole(s) before ``upto``: deliver what follows them with a gap."""
        pend = d._pending
        while d.next < upto:
            if pend and pend[0][0] <= d.next:
                self._drain(conn, d, from_client)
                continue
            if not pend:
                target = upto
                if d.fin_off is not None:
                    target = min(target, d.fin_off)
                if target > d.next:
                    self._gap(conn, d, from_client, target - d.next, target, frame)
                    d.next = target
                return
            off, data, fno, ts = pend.pop(0)
            d._pend_bytes -= len(data)
            self._held -= len(data)
            self._deliver(conn, d, from_client, off, data, fno, ts)
            self._drain(conn, d, from_client)

    def _deliver(
        self,
        conn: TcpConnection,
        d: TcpDirection,
        from_client: bool,
        off: int,
        data: bytes,
        frame: int,
        ts: int,
    ) -> None:
        """Hand on ``data`` at ``off`` (never below ``d.next``); bytes skipped since the
        last chunk, whenever they were given up, become this chunk's gap."""
        n = len(data)
        if off > d.next:
            self._gap(conn, d, from_client, off - d.next, off, frame)
        gap = off - d._last_end
        d.next = d._last_end = off + n
        d.bytes += n
        history = self.history
        if history:
            hist = d._hist
            if hist is None:
                hist = d._hist = deque()
            hist.append((off, data))
            kept = d._hist_bytes + n
            held = self._held + n
            # keep the newest chunks that hold at least ``history`` bytes (below that, none
            # can go: tested first, as most connections never hold that much)
            if kept >= history:
                while kept - len(hist[0][1]) >= history:
                    dropped = len(hist.popleft()[1])
                    kept -= dropped
                    held -= dropped
            d._hist_bytes = kept
            self._held = held
        if not d.unwanted:
            self.handler.on_tcp_data(conn, from_client, StreamChunk(frame, ts, off, data, gap))

    def _gap(
        self,
        conn: TcpConnection,
        d: TcpDirection,
        from_client: bool,
        gap: int,
        off: int,
        frame: int | None,
    ) -> None:
        d.gaps += 1
        d.gap_bytes += gap
        self._drop_history(d)
        way = "client -> server" if from_client else "server -> client"
        self._problem(
            frame,
            "tcp",
            f"{gap} bytes of stream {conn.index} ({way}) before offset {off} were not captured",
            "seq",
            severity=Severity.WARNING,
        )

    def _maybe_closed(self, conn: TcpConnection, frame: int) -> None:
        c, s = conn.c2s, conn.s2c
        if (
            c.fin_off is not None
            and s.fin_off is not None
            and c.next >= c.fin_off
            and s.next >= s.fin_off
            and not c._pending
            and not s._pending
        ):
            self._close(conn, CLOSED, frame)

    def _close(self, conn: TcpConnection, state: TcpState, frame: int | None) -> None:
        """Deliver what is held (across holes), mark the connection final, call the handler."""
        if not conn.is_open:
            return
        for d, fc in ((conn.c2s, True), (conn.s2c, False)):
            if d._pending:
                last = d._pending[-1]
                self._flush(conn, d, fc, last[0] + len(last[1]), frame)
            self._drop_history(d)
            d._wild = None
        conn.state = state
        conn.close_frame = frame
        self._open.pop(conn.index, None)
        if state in (CLOSED, RESET):
            self._closed[conn.index] = conn
            if len(self._closed) > self.max_connections:
                self._forget(next(iter(self._closed.values())))
        else:
            # an evicted connection that wakes up again is picked up as a new one
            self._forget(conn)
        self.handler.on_tcp_close(conn)

    def _forget(self, conn: TcpConnection) -> None:
        self._closed.pop(conn.index, None)
        self._open.pop(conn.index, None)
        ck = conn._ckey
        sk = conn._skey
        for k in ((ck[0], ck[1], sk[0], sk[1]), (sk[0], sk[1], ck[0], ck[1])):
            if self._conns.get(k) is conn:
                del self._conns[k]


_TcpHeaders = tuple[bytes, int, bytes, int, int, int, int, int, int]


def _decode_padded(linktype: int, data: bytes) -> tuple[bool, _TcpHeaders | None]:
    """Decode a frame padded to its wire length: (whether its headers decode, and for an
    unfragmented TCP segment (src, sport, dst, dport, seq, ack, flags, payload start, end)).

    A frame cut short by the snapshot length decodes once padded; a malformed one does not.
    """
    try:
        kind, off = network_offset(linktype, data)
        if kind == NET_IPV4:
            src, dst, proto, start, end, _, fragoff, mf = decode_ipv4(data, off)
            if mf or fragoff:
                return True, None
        elif kind == NET_IPV6:
            src, dst, proto, start, end, frag = decode_ipv6(data, off)
            if frag is not None:
                return True, None
        else:
            return True, None
        if proto == PROTO_UDP:
            decode_udp(data, start, end)
        elif proto == PROTO_TCP:
            sport, dport, seq, ack, flags, ps, _win = decode_tcp(data, start, end)
            return True, (src, sport, dst, dport, seq, ack, flags, ps, end)
    except DissectError:
        return False, None
    return True, None


def _plain_tcp(data: bytes) -> _TcpHeaders | None:
    """An Ethernet frame's unfragmented TCP segment in IPv4 without options, as
    :func:`decode_ipv4` and :func:`decode_tcp` read it (src, sport, dst, dport, seq, ack,
    flags, payload start, end); None for anything else, or anything they would reject."""
    if len(data) < 54:
        return None
    etype, vihl, total, _, ff, proto, src, dst, sport, dport, seq, ack, word = (
        _PLAIN_TCP.unpack_from(data)
    )
    if etype != 0x0800 or vihl != 0x45 or proto != PROTO_TCP or ff & 0x3FFF:
        return None  # not IPv4, options, not TCP, or a fragment
    hlen = (word >> 12) << 2
    if not 40 <= total <= len(data) - 14 or not 20 <= hlen <= total - 20:
        return None  # lengths the general path reports (or a zero total: offloading)
    return src, sport, dst, dport, seq, ack, word & 0x1FF, 34 + hlen, 14 + total


def _first(t: tuple[int, bytes, int, int]) -> int:
    return t[0]


def _first_of_pair(t: tuple[int, bytes]) -> int:
    return t[0]
