"""The pipeline's fast paths: datagrams skipped from their bytes, SIP calls held unparsed.

Frames are built byte by byte here (RFC 791 / 768 / 8200 layouts), independently of the
flow layer's decoders.
"""

from __future__ import annotations

import struct

from mikeyshark.calls import CallTracker, SipFlowHandler
from mikeyshark.dissectors.tls.records import ClientHello, Extension, build_record
from mikeyshark.model import Endpoint, Frame
from mikeyshark.pipeline import _offers_psk, _QuietCalls, _skippable

MAC = bytes(12)
RTP = bytes([0x80, 0x00]) + bytes(170)


def _v4(sport: int, dport: int, payload: bytes, flags_frag: int = 0x4000, cut: int = 0) -> Frame:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, flags_frag, 64, 17, 0, bytes(4), bytes(4)
    )
    data = MAC + b"\x08\x00" + ip + udp
    if cut:
        data = data[:-cut]
    return Frame(1, 0, 1, data, len(data) + cut)


def _v6(sport: int, dport: int, payload: bytes, next_header: int = 17) -> Frame:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!IHBB", 6 << 28, len(udp), next_header, 64) + bytes(32)
    data = MAC + b"\x86\xdd" + ip + udp
    return Frame(1, 0, 1, data, len(data))


def test_rtp_is_skipped_and_everything_the_flow_layer_may_need_is_not() -> None:
    assert _skippable(_v4(20000, 30000, RTP))
    assert _skippable(_v6(20000, 30000, RTP))
    # SIP on any port starts with an upper-case letter
    assert not _skippable(_v4(20000, 30000, b"OPTIONS sip:a@b SIP/2.0\r\n" + bytes(40)))
    # the SIP port, GTP-U and NAT-T ESP always go to the flow layer
    for port in (5060, 5061, 2152, 4500):
        assert not _skippable(_v4(port, 30000, RTP))
        assert not _skippable(_v4(30000, port, RTP))
    # a fragment (MF set, or an offset), a frame cut by the snapshot length
    assert not _skippable(_v4(20000, 30000, RTP, flags_frag=0x2000))
    assert not _skippable(_v4(20000, 30000, RTP, flags_frag=0x0001))
    assert not _skippable(_v4(20000, 30000, RTP, cut=10))
    # IPv6 with an extension header (44 = fragment header) first
    assert not _skippable(_v6(20000, 30000, RTP, next_header=44))


def _sip(first: str, call_id: str, body: str = "") -> bytes:
    head = (
        f"{first}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{len(body)}{first[:3]}\r\n"
        "From: <sip:a@example.org>;tag=1\r\nTo: <sip:b@example.org>"
        + (";tag=2" if first.startswith("SIP/") else "")
        + f"\r\nCall-ID: {call_id}\r\nCSeq: {2 if 'm=message' in body else 1} INVITE\r\n"
        "Contact: <sip:a@10.0.0.1>\r\n"
        + ("Content-Type: application/sdp\r\n" if body else "")
        + f"Content-Length: {len(body)}\r\n\r\n{body}"
    )
    return head.encode()


AUDIO = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n" + (
    "m=audio 4000 RTP/AVP 0\r\n"
)
CHAT = AUDIO + "m=message 5000 TCP/TLS/MSRP *\r\na=path:msrps://10.0.0.1:5000/x;tcp\r\n"


def test_a_quiet_call_is_held_and_replayed_in_order_when_it_adds_chat() -> None:
    tracker = CallTracker("x")
    sip = SipFlowHandler(tracker, "x")
    quiet = _QuietCalls(sip)
    a, b = Endpoint("10.0.0.1", 5060), Endpoint("10.0.0.2", 5060)
    msgs = [
        (a, b, _sip("INVITE sip:b@example.org SIP/2.0", "c1", AUDIO)),
        (b, a, _sip("SIP/2.0 200 OK", "c1", AUDIO)),
        (a, b, _sip("INVITE sip:b@example.org SIP/2.0", "c1", CHAT)),  # re-INVITE adds MSRP
    ]
    held = []
    for n, (s, d, p) in enumerate(msgs, 1):
        frame = Frame(n, n * 1_000_000_000, 1, p, len(p))
        h = quiet.hold(frame, s, d, p)
        held.append(h)
        if not h:
            sip.on_udp(frame, s, d, p)
    assert held == [True, True, False]
    call = tracker.calls["c1"]
    assert [r.frame for r in call.records] == [1, 2, 3]
    assert [m.protocol for m in call.media] == ["audio", "audio", "msrp"]
    assert quiet.calls == {}


def test_a_quiet_call_is_released_after_its_bye() -> None:
    tracker = CallTracker("x")
    quiet = _QuietCalls(SipFlowHandler(tracker, "x"))
    a, b = Endpoint("10.0.0.1", 5060), Endpoint("10.0.0.2", 5060)
    invite = _sip("INVITE sip:b@example.org SIP/2.0", "c2", AUDIO)
    bye = _sip("BYE sip:b@example.org SIP/2.0", "c2")
    assert quiet.hold(Frame(1, 10**9, 1, invite, 0), a, b, invite)
    assert quiet.hold(Frame(2, 2 * 10**9, 1, bye, 0), a, b, bye)
    assert list(quiet.calls) == [b"c2"]
    later = _sip("OPTIONS sip:b@example.org SIP/2.0", "other")
    # 64*T1 = 32 s after the BYE the call is gone; nothing reached the tracker
    assert not quiet.hold(Frame(3, 35 * 10**9, 1, later, 0), a, b, later)
    assert quiet.calls == {}
    assert tracker.calls == {}


def _hello(suites: tuple[int, ...], exts: tuple[Extension, ...] | None = None) -> bytes:
    body = ClientHello(0x0303, bytes(32), b"", suites, b"\x00", exts).build()
    return build_record(22, 0x0301, body)


def test_only_a_client_hello_offering_a_psk_keeps_an_unnamed_connection() -> None:
    # 0x00A8 TLS_PSK_WITH_AES_128_GCM_SHA256 (RFC 5487); 0xC02F ECDHE_RSA (RFC 5289) and
    # 0x009C TLS_RSA (RFC 5288) AES-128-GCM
    assert _offers_psk(_hello((0xC02F, 0x00A8))) is True
    assert _offers_psk(_hello((0xC02F, 0x009C))) is False
    # TLS 1.3: the suite names no key exchange; pre_shared_key (41, RFC 8446 4.2.11) does
    assert _offers_psk(_hello((0x1301,), (Extension(41, b"\x00"),))) is True
    assert _offers_psk(_hello((0x1301,), (Extension(43, b"\x02\x03\x04"),))) is False
    # not a whole ClientHello: undecided, the connection is kept
    assert _offers_psk(_hello((0xC02F,))[:30]) is None
    assert _offers_psk(b"\x17\x03\x03\x00\x05hello") is None


def test_a_quiet_call_the_tracker_got_another_way_is_handed_over() -> None:
    tracker = CallTracker("x")
    sip = SipFlowHandler(tracker, "x")
    quiet = _QuietCalls(sip)
    a, b = Endpoint("10.0.0.1", 5060), Endpoint("10.0.0.2", 5060)
    invite = _sip("INVITE sip:b@example.org SIP/2.0", "c3", AUDIO)
    ok = _sip("SIP/2.0 200 OK", "c3", AUDIO)
    assert quiet.hold(Frame(1, 10**9, 1, invite, 0), a, b, invite)
    # the 200 OK reaches the tracker without the quiet calls (as SIP over TCP would)
    sip.on_udp(Frame(2, 2 * 10**9, 1, ok, 0), b, a, ok)
    ack = _sip("ACK sip:b@example.org SIP/2.0", "c3")
    assert not quiet.hold(Frame(3, 3 * 10**9, 1, ack, 0), a, b, ack)
    sip.on_udp(Frame(3, 3 * 10**9, 1, ack, 0), a, b, ack)
    # what was held went to the tracker when the next datagram came
    assert [r.frame for r in tracker.calls["c3"].records] == [2, 1, 3]
    assert quiet.calls == {}


def _tcp(n: int, src: int, dst: int, seq: int, ack: int, data: bytes) -> Frame:
    # 10.0.0.<src>:<40000 + src> -> 10.0.0.<dst>:<40000 + dst>, ACK and PSH set
    tcp = struct.pack("!HHIIBBHHH", 40000 + src, 40000 + dst, seq, ack, 5 << 4, 0x18, 8192, 0, 0)
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        40 + len(data),
        n,
        0x4000,
        64,
        6,
        0,
        bytes([10, 0, 0, src]),
        bytes([10, 0, 0, dst]),
    )
    raw = MAC + b"\x08\x00" + ip + tcp + data
    return Frame(n, n * 1000, 1, raw, len(raw))


def test_a_direction_nobody_reads_is_no_longer_handed_on_by_the_flow_table() -> None:
    from mikeyshark.flows import FlowTable
    from mikeyshark.mp import MpLeg
    from mikeyshark.pipeline import _Collector
    from mikeyshark.siptls import SipTlsHandler

    tracker = CallTracker("x")
    sip = SipFlowHandler(tracker, "x")
    col = _Collector(sip, "x", MpLeg("x"))
    col.siptls = SipTlsHandler(sip, None)
    table = FlowTable(col)
    hello = _hello((0xC02F, 0x009C))  # offers no PSK, and no SDP names the server: not media
    options = b"OPTIONS sip:b@example.org SIP/2.0\r\nCall-ID: t1\r\nCSeq: 1 OPTIONS\r\n"
    frames = [
        _tcp(1, 1, 2, 100, 500, hello),
        _tcp(2, 1, 2, 100 + len(hello), 500, b"\x17\x03\x03\x00\x01x"),
        # the server answers with SIP (on no SIP port): the SIP handler reads that direction
        _tcp(3, 2, 1, 500, 106 + len(hello), options),
        _tcp(4, 2, 1, 500 + len(options), 106 + len(hello), b"Content-Length: 0\r\n\r\n"),
    ]
    for f in frames:
        table.feed(f)
    [conn] = table._open.values()
    # the client's: not media (ignored after its first bytes), not SIP, not SIP/TLS
    assert conn.c2s.unwanted and not conn.s2c.unwanted
    assert [r.frame for r in tracker.calls["t1"].records] == [4]
    assert conn.c2s.bytes == len(hello) + 6  # reassembled all the same


def _eth_ipv4_tcp(
    *,
    ihl: int = 5,
    total: int | None = None,
    ff: int = 0x4000,
    proto: int = 6,
    doff: int = 5,
    pad: bool = True,
) -> bytes:
    # built by hand (RFC 894 / 791 / 9293 layouts): 10.0.0.1:40000 -> 10.0.0.2:443
    options = bytes(4 * (ihl - 5))
    tcp = struct.pack("!HHIIBBHHH", 40000, 443, 1234, 5678, doff << 4, 0x18, 512, 0, 0)
    tcp += bytes(max(0, 4 * (doff - 5)) if pad else 0) + b"payload"
    length = 4 * ihl + len(tcp) if total is None else total
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x40 | ihl, 0, length, 7, ff, 64, proto, 0, b"\n\0\0\1", b"\n\0\0\2"
    )
    return bytes(12) + b"\x08\x00" + ip + options + tcp


def test_the_plain_tcp_shortcut_reads_what_the_general_decoders_read() -> None:
    from mikeyshark.dissectors.ip import decode_ipv4
    from mikeyshark.dissectors.transport import decode_tcp
    from mikeyshark.flows import _plain_tcp

    for doff in (5, 8):
        data = _eth_ipv4_tcp(doff=doff)
        src, dst, proto, start, end, _, fragoff, mf = decode_ipv4(data, 14)
        sport, dport, seq, ack, flags, ps, _ = decode_tcp(data, start, end)
        assert (proto, fragoff, mf) == (6, 0, False)
        assert _plain_tcp(data) == (src, sport, dst, dport, seq, ack, flags, ps, end)
        assert _plain_tcp(data) == (
            b"\n\0\0\1",
            40000,
            b"\n\0\0\2",
            443,
            1234,
            5678,
            0x18,
            34 + 4 * doff,
            len(data),
        )
    # everything else is left to the general path (which decodes, defragments or reports it)
    assert _plain_tcp(_eth_ipv4_tcp(ihl=6)) is None  # IPv4 options
    assert _plain_tcp(_eth_ipv4_tcp(ff=0x2000)) is None  # more fragments
    assert _plain_tcp(_eth_ipv4_tcp(ff=0x0001)) is None  # a fragment offset
    assert _plain_tcp(_eth_ipv4_tcp(proto=17)) is None
    assert _plain_tcp(_eth_ipv4_tcp(total=0)) is None  # segmentation offload: no length
    assert _plain_tcp(_eth_ipv4_tcp(total=200)) is None  # longer than captured
    assert _plain_tcp(_eth_ipv4_tcp(doff=4)) is None  # a TCP header below 20 bytes
    assert _plain_tcp(_eth_ipv4_tcp(doff=15, pad=False)) is None  # header past the datagram
    assert _plain_tcp(_eth_ipv4_tcp()[:53]) is None
    assert _plain_tcp(bytes(12) + b"\x86\xdd" + _eth_ipv4_tcp()[14:]) is None
    # the reserved and don't-fragment bits do not matter to either path
    data = _eth_ipv4_tcp(ff=0xC000)
    assert _plain_tcp(data) is not None and decode_ipv4(data, 14)[6:] == (0, False)


def test_a_syn_seen_after_declined_bytes_still_reaches_the_connection_record() -> None:
    # Picked up mid-stream: the client's bytes are declined (not media) and no longer handed
    # on; a pure SYN then comes from the other side (hostile, but a capture may hold it). The
    # record learns that SYN with the next bytes, as it did before bytes could be declined.
    from mikeyshark.flows import FlowTable
    from mikeyshark.mp import MpLeg
    from mikeyshark.pipeline import _Collector
    from mikeyshark.siptls import SipTlsHandler

    sip = SipFlowHandler(CallTracker("x"), "x")
    col = _Collector(sip, "x", MpLeg("x"))
    col.siptls = SipTlsHandler(sip, None)
    table = FlowTable(col)
    text = b"hello, not media\n"
    table.feed(_tcp(1, 1, 2, 100, 500, text))
    table.feed(_tcp(2, 1, 2, 100 + len(text), 500, text))
    [conn] = table._open.values()
    rec = col.conns[id(conn)]
    assert (conn.c2s.unwanted, rec.ignored, rec.syn_frame) == (True, True, None)
    f = _tcp(3, 2, 1, 499, 0, b"")
    table.feed(Frame(3, f.ts_ns, 1, f.data[:47] + b"\x02" + f.data[48:], f.wirelen))  # SYN
    assert (conn.syn_frame, conn.c2s.unwanted) == (3, False)
    table.feed(_tcp(4, 1, 2, 100 + 2 * len(text), 500, text))
    assert (rec.syn_frame, conn.c2s.unwanted) == (3, True)


def test_a_direction_decided_not_signalling_skips_the_sip_handlers_and_keeps_its_bytes() -> None:
    # Once the SIP handlers declined a direction, its later chunks go straight to the
    # connection record; a direction still undecided (a SIP start line split over two
    # segments) goes on reaching the SIP handler.
    from mikeyshark.flows import FlowTable
    from mikeyshark.mp import MpLeg
    from mikeyshark.pipeline import _DECLINED, _Collector
    from mikeyshark.siptls import SipTlsHandler

    tracker = CallTracker("x")
    sip = SipFlowHandler(tracker, "x")
    col = _Collector(sip, "x", MpLeg("x"))
    col.siptls = SipTlsHandler(sip, None)
    table = FlowTable(col)
    hello = _hello((0x00A8,))  # TLS_PSK_WITH_AES_128_GCM_SHA256: a TEK may open it
    ok = b"SIP/2.0 200 OK\r\nCall-ID: t2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    record = b"\x17\x03\x03\x00\x01x"
    frames = [
        _tcp(1, 1, 2, 100, 500, hello),
        _tcp(2, 1, 2, 100 + len(hello), 500, record),
        _tcp(3, 2, 1, 500, 106 + len(hello), ok[:5]),  # "SIP/2": not decided yet
        _tcp(4, 2, 1, 505, 106 + len(hello), ok[5:]),
        _tcp(5, 1, 2, 106 + len(hello), 500 + len(ok), record),
    ]
    for f in frames:
        table.feed(f)
    [conn] = table._open.values()
    rec = col.conns[id(conn)]
    assert conn.app.get(_DECLINED[True]) and not conn.app.get(_DECLINED[False])
    assert [(fc, c.frame, c.data) for fc, c in rec.chunks] == [
        (True, 1, hello),
        (True, 2, record),
        (False, 3, ok[:5]),
        (False, 4, ok[5:]),
        (True, 5, record),
    ]
    assert [r.frame for r in tracker.calls["t2"].records] == [4]
