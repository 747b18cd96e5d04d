"""FrameDecoder's shortcut for Ethernet + IPv4 without options + UDP/TCP (most frames) gives
what the general path gives, and leaves to it every frame it does not fully understand:
IPv4 options, fragments, a total length of 0 (offload) or past the capture, a UDP length of 0
or past the IP payload, GTP-U and NAT-T ports, frames cut short."""

from __future__ import annotations

from typing import Any

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from mikeyshark.model import Frame
from mikeyshark.view.frame import FrameDecoder, FrameView

ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
V4 = IP(src="192.0.2.1", dst="192.0.2.2", id=7)


def _patched(raw: bytes, offset: int, value: bytes) -> bytes:
    return raw[:offset] + value + raw[offset + len(value) :]


UDP_FRAME = bytes(ETH / V4 / UDP(sport=40000, dport=40002) / bytes(100))
CASES: dict[str, bytes] = {
    "udp": UDP_FRAME,
    "udp-empty": bytes(ETH / V4 / UDP(sport=1, dport=2)),
    "tcp-syn": bytes(ETH / V4 / TCP(sport=1024, dport=443, flags="S", seq=5)),
    "tcp-data": bytes(ETH / V4 / TCP(sport=1024, dport=443, flags="PA", seq=6, ack=9) / b"x"),
    "ip-options": bytes(
        ETH / IP(src="192.0.2.1", dst="192.0.2.2", options=b"\x01\x01\x01\x00") / UDP() / b"a"
    ),
    "fragment": bytes(ETH / IP(src="192.0.2.1", dst="192.0.2.2", flags="MF") / UDP() / b"a"),
    "fragment-offset": bytes(
        ETH / IP(src="192.0.2.1", dst="192.0.2.2", frag=3, proto=17) / bytes(20)
    ),
    "dont-fragment": bytes(ETH / IP(src="192.0.2.1", dst="192.0.2.2", flags="DF") / UDP() / b"a"),
    "total-0": _patched(UDP_FRAME, 16, b"\x00\x00"),
    "total-19": _patched(UDP_FRAME, 16, b"\x00\x13"),
    "total-past-capture": _patched(UDP_FRAME, 16, b"\x05\x00"),
    "udp-length-0": _patched(UDP_FRAME, 38, b"\x00\x00"),
    "udp-length-7": _patched(UDP_FRAME, 38, b"\x00\x07"),
    "udp-length-past-ip": _patched(UDP_FRAME, 38, b"\x04\x00"),
    "udp-short": bytes(ETH / IP(src="192.0.2.1", dst="192.0.2.2", proto=17) / b"abc"),
    "gtp-port": bytes(ETH / V4 / UDP(sport=2152, dport=2152) / bytes(20)),
    "nat-t": bytes(ETH / V4 / UDP(sport=4500, dport=4500) / (b"\x00\x00\x10\x01" + bytes(30))),
    "icmp": bytes(ETH / IP(src="192.0.2.1", dst="192.0.2.2", proto=1) / bytes(8)),
    "cut-in-ip": UDP_FRAME[:30],
    "tcp-bad-offset": _patched(bytes(ETH / V4 / TCP()), 46, b"\x30"),
}


def _view(dec: FrameDecoder, raw: bytes, number: int) -> tuple[Any, ...]:
    v: FrameView = dec.decode(Frame(number, 1_000_000_000 + number, 1, raw, len(raw)))
    return (
        v.src, v.dst, v.protocol, v.info, v.lower, v.has_payload, v.conn, v.tcp_numbers,
        [str(p) for p in v.problems], v.row(),
    )  # fmt: skip


def _all(shortcut: bool, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    if not shortcut:
        monkeypatch.setattr(FrameDecoder, "_plain_ipv4", lambda self, v, data: False)
    dec = FrameDecoder()
    out = [_view(dec, raw, i) for i, raw in enumerate(CASES.values(), 1)]
    monkeypatch.undo()
    return out


def test_the_shortcut_decodes_as_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, general = _all(True, monkeypatch), _all(False, monkeypatch)
    for name, a, b in zip(CASES, fast, general, strict=True):
        assert a == b, name
    rows = dict(zip(CASES, (r[-1] for r in fast), strict=True))
    # (tshark -n's columns for the same frames)
    assert rows["udp"].endswith("192.0.2.1 → 192.0.2.2       UDP 142 40000 → 40002 Len=100")
    assert rows["tcp-syn"].endswith("TCP 54 1024 → 443 [SYN] Seq=0 Win=8192 Len=0")
    assert "IPv4" in rows["fragment"] and "Fragmented IP protocol (proto=UDP 17" in rows["fragment"]
    assert "[Malformed: " in rows["udp-length-7"]


def test_the_shortcut_takes_the_common_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[bool] = []
    real = FrameDecoder._plain_ipv4

    def spy(self: FrameDecoder, v: FrameView, data: bytes) -> bool:
        taken.append(real(self, v, data))
        return taken[-1]

    monkeypatch.setattr(FrameDecoder, "_plain_ipv4", spy)
    dec = FrameDecoder()
    got = set()
    for i, (name, raw) in enumerate(CASES.items(), 1):
        taken.clear()
        dec.decode(Frame(i, i, 1, raw, len(raw)))
        if any(taken):
            got.add(name)
    assert got == {"udp", "udp-empty", "tcp-syn", "tcp-data", "dont-fragment"}
