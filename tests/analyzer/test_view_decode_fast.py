"""FrameDecoder's shortcut for Ethernet + IPv4 without options + UDP/TCP (most frames) gives
what the general path gives, and leaves to it every frame it does not fully understand:
IPv4 options, fragments, a total length of 0 (offload) or past the capture, a UDP length of 0
or past the IP payload, GTP-U and NAT-T ports, frames cut short."""

from __future__ import annotations

from typing import Any

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether

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


# frames plain_udp_row must leave to decode (a tag, another network layer, a tunnel port)
OTHERS: dict[str, bytes] = {
    "vlan": bytes(ETH / Dot1Q(vlan=5) / V4 / UDP(sport=40000, dport=40002) / b"a"),
    "ipv6": bytes(
        ETH / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=40000, dport=40002) / b"a"
    ),
    "gtp-source-port": bytes(ETH / V4 / UDP(sport=2152, dport=40002) / bytes(20)),
    "nat-t-source-port": bytes(ETH / V4 / UDP(sport=4500, dport=40002) / bytes(20)),
    "raw-ip": bytes(V4 / UDP(sport=40000, dport=40002) / b"a"),
}


def _frames(names: dict[str, bytes]) -> list[Frame]:
    return [
        Frame(i, 1_000_000_000 + 1_000 * i, 101 if n == "raw-ip" else 1, raw, len(raw) + 4)
        for i, (n, raw) in enumerate(names.items(), 1)
    ]


def test_the_udp_row_is_the_decoded_row() -> None:
    """plain_udp_row gives the row decode gives, for the frames the shortcut decodes as UDP,
    and nothing for every other frame (then decode shows it)."""
    cases = {**CASES, **OTHERS}
    frames = _frames(cases)
    rows, decoded = FrameDecoder(), FrameDecoder()
    got = {n: rows.plain_udp_row(f) for n, f in zip(cases, frames, strict=True)}
    want = {n: decoded.decode(f).row() for n, f in zip(cases, frames, strict=True)}
    assert {n for n, r in got.items() if r is not None} == {"udp", "udp-empty", "dont-fragment"}
    for name, row in got.items():
        assert row is None or row == want[name], name
    # (tshark -n's row of the same frame: numbers, time from the first frame, columns)
    assert got["udp"] == (
        "    1     0.000000       192.0.2.1 → 192.0.2.2       UDP 146 40000 → 40002 Len=100"
    )
    assert want["vlan"].endswith("UDP 51 40000 → 40002 Len=1")


def test_the_udp_rows_address_columns_are_bounded() -> None:
    """The Source/Destination text kept by address pair is forgotten past the budget, and a
    pair seen again is shown the same."""
    dec = FrameDecoder()
    dec.MAX_DIRECTIONS = 4
    raws = [
        bytes(ETH / IP(src=f"192.0.2.{i}", dst="198.51.100.1") / UDP() / b"a") for i in range(10)
    ]
    got = []
    for i, raw in enumerate([*raws, raws[0], raws[0]], 1):
        row = dec.plain_udp_row(Frame(i, 0, 1, raw, len(raw)))
        assert row is not None and len(dec._pairs) <= 4
        got.append(row.split()[2:5])
    assert got == [[f"192.0.2.{i}", "→", "198.51.100.1"] for i in [*range(10), 0, 0]]


def test_tcp_timestamps_are_shown_like_tshark() -> None:
    """The segments whose only options are NOP NOP timestamps (most) and those with others."""
    dec = FrameDecoder()
    ts = [("NOP", None), ("NOP", None), ("Timestamp", (4_000_000_000, 9))]
    raws = [
        bytes(ETH / V4 / TCP(sport=1, dport=2, flags="S", seq=5, options=ts)),
        bytes(ETH / V4 / TCP(sport=1, dport=2, flags="S", seq=5, options=[("MSS", 1400), *ts])),
        bytes(ETH / V4 / TCP(sport=1, dport=2, flags="S", seq=5, options=ts[2:])),
    ]
    infos = [dec.decode(Frame(i, i, 1, raw, len(raw))).info for i, raw in enumerate(raws, 1)]
    assert infos == [
        "1 → 2 [SYN] Seq=0 Win=8192 Len=0 TSval=4000000000 TSecr=9",
        "1 → 2 [SYN] Seq=0 Win=8192 Len=0 MSS=1400 TSval=4000000000 TSecr=9",
        "1 → 2 [SYN] Seq=0 Win=8192 Len=0 TSval=4000000000 TSecr=9",
    ]
