"""Property tests: GTP-U headers round-trip; damaged or random GTP-U and ESP never crash
the flow table (every failure is a located problem)."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from mikeyshark.dissectors import esp, gtp
from mikeyshark.dissectors.errors import DissectError
from mikeyshark.dissectors.ip import internet_checksum
from mikeyshark.flows import FlowTable, NullHandler
from mikeyshark.model import Frame, Problem


@st.composite
def headers(draw: st.DrawFn) -> gtp.GtpuPacket:
    exts = tuple(
        gtp.GtpExtension(
            draw(st.integers(1, 255)), draw(st.binary(min_size=2, max_size=2)) + b"\0" * (4 * k)
        )
        for k in draw(st.lists(st.integers(0, 3), max_size=3))
    )
    flags = draw(st.integers(1, 7)) if exts else draw(st.integers(0, 7))
    h = gtp.GtpuHeader(
        1,
        1,
        draw(st.integers(0, 255)),
        0,
        draw(st.integers(0, 2**32 - 1)),
        flags,
        draw(st.integers(0, 0xFFFF)) if flags else None,
        draw(st.integers(0, 255)) if flags else None,
        exts if flags else (),
    )
    payload = draw(st.binary(max_size=64))
    raw = gtp.build(gtp.GtpuPacket(h, payload))
    return gtp.parse(raw)


@settings(max_examples=200, deadline=None)
@given(headers())
def test_build_parse_roundtrip(p: gtp.GtpuPacket) -> None:
    raw = gtp.build(p)
    assert gtp.parse(raw) == p
    assert gtp.build(gtp.parse(raw)) == raw
    teid, mt, _qfi, start, end = gtp.decode_gtpu(raw, 0, len(raw))
    assert (teid, mt, raw[start:end]) == (p.header.teid, p.header.message_type, p.payload)


class _Problems(NullHandler):
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def on_problem(self, problem: Problem) -> None:
        self.problems.append(problem)


def _udp_frame(n: int, sport: int, dport: int, payload: bytes, proto: int = 17) -> Frame:
    body = (
        struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        if proto == 17
        else payload
    )
    hdr = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), n, 0, 64, proto, 0, b"\x0a\0\0\1", b"\x0a\0\0\2"
    )
    hdr = hdr[:10] + struct.pack("!H", internet_checksum(hdr)) + hdr[12:]
    data = b"\x02\0\0\0\0\2\x02\0\0\0\0\1\x08\0" + hdr + body
    return Frame(n, n * 1000, 1, data, len(data))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=120), min_size=1, max_size=8), st.sampled_from([2152, 4500, -1]))
def test_random_tunnel_payloads_never_crash(payloads: list[bytes], port: int) -> None:
    h = _Problems()
    table = FlowTable(h)
    for i, p in enumerate(payloads, 1):
        if port == -1:
            table.feed(_udp_frame(i, 0, 0, p, proto=50))
        else:
            table.feed(_udp_frame(i, port, port, p))
    table.finish()
    assert all(p.frame is None or 1 <= p.frame <= len(payloads) for p in h.problems)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_esp_codecs_raise_only_dissect_errors(data: bytes) -> None:
    esp.find_null(data, 0, len(data))
    for sa in (
        esp.EspSa(1, "null", "hmac-sha1-96", b"", bytes(20)),
        esp.EspSa(1, "aes-cbc", "aes-xcbc-mac-96", bytes(16), bytes(16)),
        esp.EspSa(1, "aes-gcm", "none", bytes(20)),
    ):
        try:
            esp.open_packet(sa, data)
        except DissectError as e:
            assert e.layer == "esp"
