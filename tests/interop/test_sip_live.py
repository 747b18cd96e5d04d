"""SIP over real loopback sockets, captured by tcpdump, read by us and by tshark.

The kernel does the segmentation: the INVITE is written in three pieces with TCP_NODELAY
(three segments), the 100 and 200 in one write (one segment); a second call goes over UDP.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from mikeyshark.calls import track_capture
from tests.support.sip_captures import ANSWER, OFFER, sip
from tests.support.sip_fields import FIELDS, our_fields

pytestmark = [pytest.mark.tshark, pytest.mark.live]


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _invite(transport: str, cport: int, call_id: str) -> bytes:
    return sip(
        "INVITE sip:conf1@conf.example.org SIP/2.0",
        f"Via: SIP/2.0/{transport} 127.0.0.1:{cport};branch=z9hG4bK-live-{call_id}",
        "From: <sip:alice@example.org>;tag=la",
        "To: <sip:conf1@conf.example.org>",
        f"Call-ID: {call_id}",
        "CSeq: 1 INVITE",
        f"Contact: <sip:alice@127.0.0.1:{cport}>",
        "Content-Type: application/sdp",
        body=OFFER,
    )


def _resp(status: str, transport: str, cport: int, call_id: str, body: str = "") -> bytes:
    lines = [
        f"SIP/2.0 {status}",
        f"Via: SIP/2.0/{transport} 127.0.0.1:{cport};branch=z9hG4bK-live-{call_id}",
        "From: <sip:alice@example.org>;tag=la",
        "To: <sip:conf1@conf.example.org>" + (";tag=lc" if not status.startswith("100") else ""),
        f"Call-ID: {call_id}",
        "CSeq: 1 INVITE",
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    return sip(*lines, body=body)


def test_live_sip_over_tcp_and_udp(tmp_path: Path, tcpdump: str, tshark: str) -> None:
    tport, uport = _free_port(socket.SOCK_STREAM), _free_port(socket.SOCK_DGRAM)
    cap = tmp_path / "live.pcap"
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", tport))
    srv.listen(1)
    usrv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    usrv.bind(("127.0.0.1", uport))
    errors: list[BaseException] = []

    def serve_tcp() -> None:
        try:
            conn, addr = srv.accept()
            with conn:
                conn.settimeout(10)
                want = _invite("TCP", addr[1], "live-tcp")
                got = b""
                while len(got) < len(want):
                    got += conn.recv(65536)
                trying = _resp("100 Trying", "TCP", addr[1], "live-tcp")
                ok = _resp("200 OK", "TCP", addr[1], "live-tcp", ANSWER)
                conn.sendall(trying + ok)
                while conn.recv(65536):
                    pass
        except BaseException as e:  # reported in the test thread
            errors.append(e)

    flt = f"port {tport} or port {uport}"
    proc = subprocess.Popen(
        # --immediate-mode: without it libpcap hands packets over in blocks, and those still
        # in a block when tcpdump is stopped are counted as received but never written.
        [tcpdump, "-i", "lo", "-U", "--immediate-mode", "-w", str(cap), flt],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    th = threading.Thread(target=serve_tcp, daemon=True)
    try:
        time.sleep(1.0)  # let tcpdump open the interface
        th.start()
        with socket.create_connection(("127.0.0.1", tport), timeout=10) as c:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            inv = _invite("TCP", c.getsockname()[1], "live-tcp")
            third = len(inv) // 3
            for piece in (inv[:third], inv[third : 2 * third], inv[2 * third :]):
                c.sendall(piece)
                time.sleep(0.05)
            want = len(_resp("100 Trying", "TCP", 0, "live-tcp")) + len(
                _resp("200 OK", "TCP", 0, "live-tcp", ANSWER)
            )
            got = b""
            while len(got) < want - 10:  # the port digits differ in length; near enough
                got += c.recv(65536)
            c.shutdown(socket.SHUT_WR)
            time.sleep(0.05)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            u.settimeout(10)
            cport = u.getsockname()[1]
            u.sendto(_invite("UDP", cport, "live-udp"), ("127.0.0.1", uport))
            _, peer = usrv.recvfrom(65536)
            usrv.sendto(_resp("200 OK", "UDP", cport, "live-udp", ANSWER), peer)
            u.recvfrom(65536)
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
        usrv.close()
    assert not errors, errors
    assert b"\n0 packets dropped by kernel" in err, err

    tracker, problems = track_capture(cap)
    assert problems == []
    assert [(r.transport, r.msg.call_id, r.summary()) for r in tracker.records] == [
        ("TCP", "live-tcp", "Request: INVITE sip:conf1@conf.example.org"),
        ("TCP", "live-tcp", "Status: 100 Trying"),
        ("TCP", "live-tcp", "Status: 200 OK"),
        ("UDP", "live-udp", "Request: INVITE sip:conf1@conf.example.org"),
        ("UDP", "live-udp", "Status: 200 OK"),
    ]
    invite = tracker.records[0]
    assert invite.first_frame < invite.frame  # three segments
    assert [n.kind for c in tracker for n in c.negotiations] == ["INVITE/answer"] * 2
    # each INVITE's offer is answered by its call's 200 OK, with the bytes that were sent
    assert [
        (n.offer.msg.body, n.answer.msg.status, n.answer.msg.body)
        for c in tracker
        for n in c.negotiations
        if n.answer is not None
    ] == [(OFFER.encode(), 200, ANSWER.encode())] * 2

    cmd = [tshark, "-r", str(cap), "-d", f"tcp.port=={tport},sip", "-d", f"udp.port=={uport},sip"]
    cmd += ["-Y", "sip", "-T", "fields", "-E", "separator=/t", "-E", "aggregator=|"]
    cmd += ["-E", "occurrence=a", "-e", "frame.number"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    theirs = {
        int(cols[0]): dict(zip(FIELDS, cols[1:], strict=True))
        for cols in (ln.split("\t") for ln in out.splitlines())
    }
    assert our_fields(cap) == theirs
