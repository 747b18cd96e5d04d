"""Cross-checks of capture reading and TCP reassembly against tshark, and a live loopback run.

tshark is the independent reference: its frame numbers and timestamps, its tcp.stream index
and endpoints per stream, and the payload bytes per direction it counts (without the frames
it flags as retransmissions) must equal ours.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from mikeyshark.capture import CaptureReader
from mikeyshark.flows import FlowTable
from tests.support.flows import Rec
from tests.support.pcapfiles import pcap

pytestmark = [pytest.mark.tshark, pytest.mark.live]

T0 = 1_700_000_000


def seg(
    src: tuple[str, int], dst: tuple[str, int], seq: int, ack: int, flags: str, data: bytes = b""
) -> bytes:
    p = (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src=src[0], dst=dst[0])
        / TCP(sport=src[1], dport=dst[1], seq=seq % 2**32, ack=ack % 2**32, flags=flags)
    )
    return bytes(p / Raw(data)) if data else bytes(p)


def conversation(
    c: tuple[str, int], s: tuple[str, int], isn_c: int, isn_s: int, reorder: bool
) -> list[bytes]:
    """Handshake, three client segments (the last two swapped if ``reorder``), a reply, a
    retransmission of the first client segment, FIN both ways."""
    d = [b"a" * 100, b"b" * 200, b"c" * 300]
    out = [
        seg(c, s, isn_c, 0, "S"),
        seg(s, c, isn_s, isn_c + 1, "SA"),
        seg(c, s, isn_c + 1, isn_s + 1, "A"),
    ]
    segs = [
        seg(c, s, isn_c + 1, isn_s + 1, "PA", d[0]),
        seg(c, s, isn_c + 101, isn_s + 1, "PA", d[1]),
        seg(c, s, isn_c + 301, isn_s + 1, "PA", d[2]),
    ]
    if reorder:
        segs[1], segs[2] = segs[2], segs[1]
    out += segs
    out.append(seg(s, c, isn_s + 1, isn_c + 601, "PA", b"R" * 50))
    out.append(seg(c, s, isn_c + 1, isn_s + 51, "PA", d[0]))  # retransmission
    out.append(seg(c, s, isn_c + 601, isn_s + 51, "FA"))
    out.append(seg(s, c, isn_s + 51, isn_c + 602, "FA"))
    out.append(seg(c, s, isn_c + 602, isn_s + 52, "A"))
    return out


def interleave(*convs: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for i in range(max(len(c) for c in convs)):
        out += [c[i] for c in convs if i < len(c)]
    return out


def ours(path: Path) -> tuple[Rec, dict[tuple[int, bool], int], dict[int, tuple[str, str]]]:
    rec = Rec()
    FlowTable(rec, file=str(path)).feed_all(CaptureReader(path))
    per_dir: dict[tuple[int, bool], int] = defaultdict(int)
    for idx, fc, ch in rec.chunks:
        per_dir[(idx, fc)] += len(ch.data)
    ends = {c.index: (str(c.client), str(c.server)) for c in rec.opened}
    return rec, dict(per_dir), ends


def theirs(
    tshark: str, path: Path
) -> tuple[dict[tuple[int, bool], int], dict[int, tuple[str, str]]]:
    out = subprocess.run(
        [
            tshark,
            "-n",
            "-r",
            str(path),
            "-Y",
            "tcp",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "tcp.stream",
            "-e",
            "ip.src",
            "-e",
            "tcp.srcport",
            "-e",
            "ip.dst",
            "-e",
            "tcp.dstport",
            "-e",
            "tcp.len",
            "-e",
            "tcp.flags.syn",
            "-e",
            "tcp.flags.ack",
            "-e",
            "tcp.analysis.retransmission",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    ends: dict[int, tuple[str, str]] = {}
    per_dir: dict[tuple[int, bool], int] = defaultdict(int)
    for line in out.splitlines():
        st, src, sp, dst, dp, ln, syn, ack, retr = line.split("|")
        idx = int(st)
        a, b = f"{src}:{sp}", f"{dst}:{dp}"
        if idx not in ends:
            # the client is the SYN's sender (the SYN-ACK's receiver), else the first sender
            ends[idx] = (b, a) if syn in ("1", "True") and ack in ("1", "True") else (a, b)
        if int(ln) and not retr:
            per_dir[(idx, a == ends[idx][0])] += int(ln)
    return dict(per_dir), ends


def test_streams_endpoints_and_bytes_agree_with_tshark(tmp_path: Path, tshark: str) -> None:
    a = conversation(("10.0.0.1", 40001), ("10.0.0.9", 443), 1000, 90_000, reorder=True)
    b = conversation(("10.0.0.2", 40002), ("10.0.0.9", 5061), 4_294_967_000, 7, reorder=False)
    c = conversation(("10.0.0.3", 40003), ("10.0.0.9", 443), 55, 66, reorder=True)
    # the same 4-tuple as ``a`` again, after it closed: a new stream
    again = conversation(("10.0.0.1", 40001), ("10.0.0.9", 443), 800_000, 123, reorder=False)
    frames = interleave(a, b, c) + again
    p = tmp_path / "streams.pcap"
    p.write_bytes(pcap([(T0 + i // 1000, i % 1000, f) for i, f in enumerate(frames)]))
    rec, our_bytes, our_ends = ours(p)
    their_bytes, their_ends = theirs(tshark, p)
    assert our_ends == their_ends
    assert len(our_ends) == 4
    assert our_bytes == their_bytes
    assert our_bytes[(0, True)] == 600 and our_bytes[(0, False)] == 50
    assert rec.stream(0, True) == b"a" * 100 + b"b" * 200 + b"c" * 300
    assert [c.state for c in rec.closed] == ["closed"] * 4


def test_frame_numbers_and_times_agree_with_tshark(tmp_path: Path, tshark: str) -> None:
    a = conversation(("10.0.0.1", 40001), ("10.0.0.9", 443), 1000, 90_000, reorder=True)
    p = tmp_path / "times.pcap"
    p.write_bytes(pcap([(T0 + i, 7 * i, f) for i, f in enumerate(a)], nano=True))
    out = subprocess.run(
        [
            tshark,
            "-n",
            "-r",
            str(p),
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "frame.time_epoch",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    want = [
        (int(n), int(t.split(".")[0]) * 10**9 + int(t.split(".")[1].ljust(9, "0"))) for n, t in rows
    ]
    assert [(f.number, f.ts_ns) for f in CaptureReader(p)] == want
    assert len(want) == len(a)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_live_loopback_streams_reassemble_to_what_was_sent(
    tmp_path: Path, tcpdump: str, tshark: str
) -> None:
    port = _free_port()
    cap = tmp_path / "live.pcap"
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(8)
    received: dict[int, bytes] = {}

    def serve() -> None:
        for _ in range(3):
            conn, addr = srv.accept()
            with conn:
                buf = b""
                while chunk := conn.recv(65536):
                    buf += chunk
                received[addr[1]] = buf
                conn.sendall(b"ok:" + str(len(buf)).encode())

    # a large kernel buffer: with 64 KiB loopback segments the default ring holds few frames
    proc = subprocess.Popen(
        [tcpdump, "-i", "lo", "-U", "-B", "32768", "-w", str(cap), f"tcp port {port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    th = threading.Thread(target=serve, daemon=True)
    sent: dict[int, bytes] = {}
    try:
        time.sleep(1.0)  # let tcpdump open the interface
        th.start()
        for i in range(3):
            payload = os.urandom(50_000 + 70_000 * i)
            time.sleep(0.1)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                sent[c.getsockname()[1]] = payload
                c.sendall(payload)
                c.shutdown(socket.SHUT_WR)
                while c.recv(4096):
                    pass
        th.join(timeout=10)
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        srv.close()
    assert b"\n0 packets dropped by kernel" in err, err
    rec, our_bytes, our_ends = ours(cap)
    their_bytes, their_ends = theirs(tshark, cap)
    assert our_ends == their_ends and our_bytes == their_bytes
    assert len(our_ends) == 3
    for conn in rec.opened:
        cport = conn.client.port
        assert rec.stream(conn.index, True) == sent[cport] == received[cport]
        assert rec.stream(conn.index, False) == b"ok:" + str(len(sent[cport])).encode()
        assert conn.opened_by == "syn" and conn.gaps == 0
    assert rec.problems == []
