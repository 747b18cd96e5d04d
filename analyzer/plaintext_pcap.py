"""``--decrypted-pcap``: the capture again, frame for frame, with the TLS of every decrypted
connection replaced by its plaintext, so that Wireshark dissects MSRP and BFCP directly.

Frame N of the output is frame N of the input (same time, same order): a frame of no
decrypted connection is copied as it is; a frame of a decrypted connection is rebuilt with
the same addresses, ports, flags, window and options, and as payload the plaintext of the
TLS records that end inside it (a record's plaintext replaces its ciphertext in the frame
where the record ends; a frame carrying only handshake bytes, or no record end, keeps its
TCP header with an empty payload). Sequence and acknowledgement numbers are rewritten by
one map per direction (stream offset -> plaintext bytes of the records ended before it), so
that retransmissions, reordering and the FIN stay what they were and tshark reassembles the
plaintext stream. SACK blocks, which name ciphertext offsets, are dropped.

Tunnels (GTP-U, ESP) are removed from every frame of a decrypted connection and from none
of the others: the rebuilt frame is the inner IP packet behind the original link header.
IP fragments of a decrypted connection are copied as captured (their TCP segment is whole
only after reassembly); the output is pcapng, one interface per link type.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mikeyshark.capture import iter_frames
from mikeyshark.decrypt import DecodedConnection
from mikeyshark.dissectors import esp as esplib
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.gtp import GTPU_PORT, MT_GPDU, decode_gtpu
from mikeyshark.dissectors.ip import (
    PROTO_TCP,
    PROTO_UDP,
    IPv4Packet,
    IPv6Header,
    IPv6Packet,
    build_ipv4,
    build_ipv6,
    decode_ipv4,
    decode_ipv6,
    ipv4_header,
    ntop,
)
from mikeyshark.dissectors.link import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_RAW,
    NET_IPV4,
    NET_IPV6,
    network_offset,
)
from mikeyshark.dissectors.transport import (
    TCP_ACK,
    TCP_FIN,
    TCP_SYN,
    build_tcp_options,
    decode_tcp,
    decode_udp,
    parse_tcp_options,
    tcp_segment,
)
from mikeyshark.keylog import PcapngWriter
from mikeyshark.model import Frame

HELP = (
    "write the captures frame for frame (pcapng) with each decrypted TLS connection's "
    "records replaced by their plaintext (frame N is frame N of the capture; sequence "
    "numbers rewritten); GTP-U and ESP are removed from every frame of a decrypted "
    "connection and kept on all others"
)

_MOD = 1 << 32
_HALF = 1 << 31
_TCP_OPT_SACK = 5  # RFC 2018
_ETHERTYPE = {4: b"\x08\x00", 6: b"\x86\xdd"}
_ESP = esplib.PROTO_ESP


@dataclass(slots=True)
class _Segment:
    """A TCP segment found in a frame, with what it takes to write it again."""

    link: bytes  # the frame's link header
    linktype: int
    outer_version: int  # IP version the link header announces
    tunnelled: bool
    version: int
    src: str
    dst: str
    ip_fields: tuple[int, int, int, int]  # v4: tos, id, flags, ttl; v6: tc, flow, hlim
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    options: bytes
    length: int  # payload bytes


@dataclass(slots=True)
class _Direction:
    ends: list[int]  # stream offsets just past each decrypted application-data record
    before: list[int]  # plaintext bytes of the records before each one
    plain: list[bytes]
    base: int | None = None  # sequence number of stream offset 0 (as the flow table has it)
    fin: int | None = None  # stream offset of the FIN

    def offset(self, seq: int) -> int:
        assert self.base is not None
        rel = (seq - self.base) % _MOD
        return rel - _MOD if rel >= _HALF else rel

    def mapped(self, off: int) -> int:
        """Plaintext offset of stream offset ``off``: the plaintext of the records that
        ended before it (past the FIN, its sequence number counts as well)."""
        if off <= 0:
            return off
        if self.fin is not None and off > self.fin:
            return self.mapped(self.fin) + off - self.fin
        i = bisect.bisect_right(self.ends, off)
        return self.before[i - 1] + len(self.plain[i - 1]) if i else 0

    def payload(self, lo: int, hi: int) -> bytes:
        """The plaintext of the records that end inside stream bytes [lo, hi)."""
        i = bisect.bisect_right(self.ends, lo)
        j = bisect.bisect_right(self.ends, hi)
        return b"".join(self.plain[i:j])


@dataclass(slots=True)
class _Conn:
    decoded: DecodedConnection
    dirs: dict[bool, _Direction] = field(default_factory=dict)
    isn: int | None = None  # the client's SYN, to tell a reuse of the 4-tuple
    ended: bool = False


def _direction(conn: DecodedConnection, from_client: bool) -> _Direction:
    items = sorted(
        (a.record_end, a.data) for a in conn.data if a.from_client == from_client and a.data
    )
    ends: list[int] = []
    before: list[int] = []
    plain: list[bytes] = []
    total = 0
    for end, data in items:
        ends.append(end)
        before.append(total)
        plain.append(data)
        total += len(data)
    return _Direction(ends, before, plain)


def write_plaintext_pcap(
    captures: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    connections: Sequence[DecodedConnection],
    esp_sas: Mapping[int, esplib.EspSa] | None = None,
) -> int:
    """Write ``out``; returns the number of frames written (that of the captures)."""
    by_pair: dict[frozenset[tuple[str, int]], list[_Conn]] = {}
    for c in connections:
        if not c.info.decrypted:
            continue
        conn = _Conn(c, {True: _direction(c, True), False: _direction(c, False)})
        pair = frozenset({(c.client.ip, c.client.port), (c.server.ip, c.server.port)})
        by_pair.setdefault(pair, []).append(conn)
    for conns in by_pair.values():
        conns.sort(key=lambda k: k.decoded.first_frame)
    sas = esp_sas or {}
    with open(out, "wb") as f:
        w = PcapngWriter(f)
        for frame in iter_frames(*captures):
            rebuilt = _rewrite(frame, by_pair, sas) if by_pair else None
            if rebuilt is None:
                w.write(frame.linktype, frame.ts_ns, frame.data, frame.wirelen)
            else:
                linktype, data = rebuilt
                w.write(linktype, frame.ts_ns, data, len(data))
    return w.frames


def _rewrite(
    frame: Frame,
    by_pair: Mapping[frozenset[tuple[str, int]], list[_Conn]],
    sas: Mapping[int, esplib.EspSa],
) -> tuple[int, bytes] | None:
    try:
        seg = _find_segment(frame, sas)
    except DissectError:
        return None
    if seg is None:
        return None
    conns = by_pair.get(frozenset({(seg.src, seg.sport), (seg.dst, seg.dport)}))
    if not conns:
        return None
    conn = None
    for k in conns:  # the latest one started by this frame
        if k.decoded.first_frame <= frame.number:
            conn = k
    if conn is None:
        return None
    client = conn.decoded.client
    from_client = (seg.src, seg.sport) == (client.ip, client.port)
    if seg.flags & TCP_SYN and not seg.flags & TCP_ACK and from_client:
        if conn.isn is None:
            conn.isn = seg.seq
        elif seg.seq != conn.isn:
            conn.ended = True  # the 4-tuple was reused by a connection not decrypted
    if conn.ended:
        return None
    return _rebuild(seg, conn, from_client)


def _rebuild(seg: _Segment, conn: _Conn, from_client: bool) -> tuple[int, bytes]:
    d = conn.dirs[from_client]
    other = conn.dirs[not from_client]
    seq = seg.seq
    # the sequence bases exactly as the flow table sets them, so that stream offsets agree
    if seg.flags & TCP_SYN:
        if d.base is None:
            d.base = (seq + 1) % _MOD
        if seg.flags & TCP_ACK and other.base is None:
            other.base = seg.ack
    if d.base is None:
        d.base = seq
    if seg.flags & TCP_ACK and other.base is None:
        other.base = seg.ack
    lo = d.offset(seq) + (1 if seg.flags & TCP_SYN else 0)
    hi = lo + seg.length
    if seg.flags & TCP_FIN and d.fin is None:
        d.fin = hi
    payload = d.payload(lo, hi) if seg.length else b""
    new_seq = (d.base + d.mapped(lo) - (1 if seg.flags & TCP_SYN else 0)) % _MOD
    new_ack = seg.ack
    if seg.flags & TCP_ACK and other.base is not None:
        new_ack = (other.base + other.mapped(other.offset(seg.ack))) % _MOD
    tcp = tcp_segment(
        seg.src,
        seg.dst,
        seg.sport,
        seg.dport,
        new_seq,
        new_ack,
        seg.flags,
        payload,
        window=seg.window,
        options=_without_sack(seg.options),
    )
    if seg.version == 4:
        tos, ident, flags, ttl = seg.ip_fields
        h = ipv4_header(
            seg.src,
            seg.dst,
            PROTO_TCP,
            len(tcp),
            identification=ident,
            flags=flags,
            ttl=ttl,
            tos=tos,
        )
        ip = build_ipv4(IPv4Packet(h, tcp))
    else:
        tc, flow, hlim, _ = seg.ip_fields
        ip = build_ipv6(
            IPv6Packet(
                IPv6Header(tc, flow, len(tcp), PROTO_TCP, hlim, seg.src, seg.dst), (), 6, tcp
            )
        )
    return _link(seg, ip)


def _link(seg: _Segment, ip: bytes) -> tuple[int, bytes]:
    """The rebuilt packet behind the frame's own link header (its protocol field set to the
    inner IP version when a tunnel was removed), or as raw IP when that header cannot say it."""
    link = seg.link
    if seg.version == seg.outer_version:
        return seg.linktype, link + ip
    if seg.linktype in (LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL):
        return seg.linktype, link[:-2] + _ETHERTYPE[seg.version] + ip
    if seg.linktype == LINKTYPE_LINUX_SLL2:
        return seg.linktype, _ETHERTYPE[seg.version] + link[2:] + ip
    return LINKTYPE_RAW, ip


def _without_sack(options: bytes) -> bytes:
    if not options:
        return b""
    try:
        kept = tuple(o for o in parse_tcp_options(options) if o.kind != _TCP_OPT_SACK)
    except DissectError:
        return b""
    return build_tcp_options(kept)


# -- finding the TCP segment of a frame, through GTP-U and ESP ------------------------------------


def _find_segment(frame: Frame, sas: Mapping[int, esplib.EspSa]) -> _Segment | None:
    kind, off = network_offset(frame.linktype, frame.data)
    if kind not in (NET_IPV4, NET_IPV6):
        return None
    version = 4 if kind == NET_IPV4 else 6
    base = (frame.data[:off], frame.linktype, version)
    return _in_ip(frame.data, off, version, base, False, sas)


def _in_ip(
    data: bytes,
    off: int,
    version: int,
    base: tuple[bytes, int, int],
    tunnelled: bool,
    sas: Mapping[int, esplib.EspSa],
) -> _Segment | None:
    if version == 4:
        src, dst, proto, start, end, _ident, fragoff, mf = decode_ipv4(data, off)
        if mf or fragoff:
            return None
        fields = (data[off + 1], _ident, data[off + 6] >> 5, data[off + 8])
    else:
        src, dst, proto, start, end, frag = decode_ipv6(data, off)
        if frag is not None:
            return None
        word = int.from_bytes(data[off : off + 4], "big")
        fields = ((word >> 20) & 0xFF, word & 0xFFFFF, data[off + 7], 0)
    if proto == PROTO_TCP:
        return _tcp(data, start, end, ntop(src), ntop(dst), version, fields, base, tunnelled)
    if proto == PROTO_UDP:
        sport, dport, ps, pe = decode_udp(data, start, end)
        if GTPU_PORT in (sport, dport):
            _teid, mt, _qfi, ts, te = decode_gtpu(data, ps, pe)
            if mt != MT_GPDU or te <= ts or data[ts] >> 4 not in (4, 6):
                return None
            inner = data[ts:te]
            return _in_ip(inner, 0, inner[0] >> 4, base, True, sas)
        if esplib.NAT_T_PORT in (sport, dport) and pe - ps > 8 and data[ps : ps + 4] != bytes(4):
            return _in_esp(data, ps, pe, src, dst, version, fields, base, sas)
        return None
    if proto == _ESP:
        return _in_esp(data, start, end, src, dst, version, fields, base, sas)
    return None


def _in_esp(
    data: bytes,
    start: int,
    end: int,
    src: bytes,
    dst: bytes,
    version: int,
    fields: tuple[int, int, int, int],
    base: tuple[bytes, int, int],
    sas: Mapping[int, esplib.EspSa],
) -> _Segment | None:
    if end - start < 8:
        return None
    sa = sas.get(int.from_bytes(data[start : start + 4], "big"))
    if sa is not None:
        nh, inner = esplib.open_packet(sa, data[start:end])
    else:
        found = esplib.find_null(data, start, end)
        if found is None:
            return None
        _icv, nh, ps, pe = found
        inner = data[ps:pe]
    if nh == PROTO_TCP:
        return _tcp(inner, 0, len(inner), ntop(src), ntop(dst), version, fields, base, True)
    if nh in (4, 41) and inner:
        return _in_ip(inner, 0, inner[0] >> 4, base, True, sas)
    return None


def _tcp(
    data: bytes,
    start: int,
    end: int,
    src: str,
    dst: str,
    version: int,
    fields: tuple[int, int, int, int],
    base: tuple[bytes, int, int],
    tunnelled: bool,
) -> _Segment:
    sport, dport, seq, ack, flags, ps, window = decode_tcp(data, start, end)
    link, linktype, outer = base
    return _Segment(
        link,
        linktype,
        outer,
        tunnelled,
        version,
        src,
        dst,
        fields,
        sport,
        dport,
        seq,
        ack,
        flags,
        window,
        data[start + 20 : ps],
        end - ps,
    )
