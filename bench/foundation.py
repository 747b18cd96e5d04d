"""Foundation benchmark: capture reading + flow layer (+ SIP when available) against tshark.

Writes a synthetic capture (mostly RTP over UDP and TCP bulk traffic with some reordering,
a little IPv6 and ARP, SIP dialogs over UDP) into bench/out/, assembled with struct so that
writing a million frames takes seconds. Then, each in its own child process so that peak
memory is measured per run:

- ``read``: CaptureReader alone;
- ``flows``: CaptureReader + FlowTable with a handler that does nothing;
- ``sip``: the same with ``mikeyshark.calls.SipFlowHandler`` when that module offers it;
- ``tshark -n -r FILE -Y sip`` (a display filter makes tshark dissect every frame).

Prints frames/s for each, the ratio to tshark, and peak RSS (ru_maxrss of each child).
"""

from __future__ import annotations

import argparse
import importlib
import random
import resource
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import launch

OUT = Path(__file__).resolve().parent / "out"
ROOT = Path(__file__).resolve().parent.parent

T0 = 1_700_000_000
MAC = bytes.fromhex("020000000001020000000002")
_REC = struct.Struct("<IIII")


def _ipv4(src: bytes, dst: bytes, proto: int, payload_len: int, ident: int = 0) -> bytes:
    # checksums are left 0: neither reader validates them by default
    return struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident, 0x4000, 64, proto, 0, src, dst
    )


def _udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def _eth4(src: bytes, dst: bytes, proto: int, l4: bytes) -> bytes:
    return MAC + b"\x08\x00" + _ipv4(src, dst, proto, len(l4)) + l4


def _tcp(sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes = b"") -> bytes:
    return (
        struct.pack(
            "!HHIIHHHH",
            sport,
            dport,
            seq & 0xFFFFFFFF,
            ack & 0xFFFFFFFF,
            (5 << 12) | flags,
            65535,
            0,
            0,
        )
        + payload
    )


def _ip(n: int) -> bytes:
    return bytes([10, (n >> 16) & 255, (n >> 8) & 255, n & 255])


SDP = (
    "v=0\r\no=- {n} 1 IN IP4 10.1.0.{h}\r\ns=-\r\nc=IN IP4 10.1.0.{h}\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def _sip(method_or_status: str, n: int, cseq: str, sdp: str = "") -> bytes:
    start = (
        f"{method_or_status} sip:bob@example.org SIP/2.0"
        if not method_or_status[0].isdigit()
        else f"SIP/2.0 {method_or_status}"
    )
    body = sdp.encode()
    head = (
        f"{start}\r\nVia: SIP/2.0/UDP 10.1.0.1:5060;branch=z9hG4bK{n:08x}{cseq[:3]}\r\n"
        f"From: <sip:alice@example.org>;tag=a{n}\r\nTo: <sip:bob@example.org>"
        + (
            f";tag=b{n}"
            if method_or_status[0].isdigit() or method_or_status in ("ACK", "BYE")
            else ""
        )
        + f"\r\nCall-ID: call-{n}@example.org\r\nCSeq: {cseq}\r\n"
        "Contact: <sip:alice@10.1.0.1:5060>\r\nMax-Forwards: 70\r\n"
        + ("Content-Type: application/sdp\r\n" if body else "")
        + f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _sip_call(n: int) -> list[bytes]:
    a, b = bytes([10, 1, 0, 1]), bytes([10, 1, 0, 2])
    offer = SDP.format(n=n, h=1, port=20000 + 2 * (n % 5000))
    answer = SDP.format(n=n, h=2, port=30000 + 2 * (n % 5000))
    msgs = [
        (a, b, _sip("INVITE", n, "1 INVITE", offer)),
        (b, a, _sip("100 Trying", n, "1 INVITE")),
        (b, a, _sip("180 Ringing", n, "1 INVITE")),
        (b, a, _sip("200 OK", n, "1 INVITE", answer)),
        (a, b, _sip("ACK", n, "1 ACK")),
        (a, b, _sip("BYE", n, "2 BYE")),
        (b, a, _sip("200 OK", n, "2 BYE")),
    ]
    return [_eth4(s, d, 17, _udp(5060, 5060, m)) for s, d, m in msgs]


def _record(content_type: int, version: int, hs_type: int, body: bytes) -> bytes:
    hs = struct.pack("!B", hs_type) + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", content_type, version, len(hs)) + hs


# RFC 5246 7.4.1.2/7.4.1.3: ECDHE_RSA / RSA AES-GCM suites (RFC 5289, 5288), no extensions
CLIENT_HELLO = _record(
    22,
    0x0301,
    1,
    struct.pack("!H32sBH3HBB", 0x0303, bytes(range(32)), 0, 6, 0xC02F, 0xC030, 0x009C, 1, 0),
)
SERVER_HELLO = _record(22, 0x0303, 2, struct.pack("!H32sBHB", 0x0303, bytes(32), 0, 0xC02F, 0))
# RFC 5246 7.1, 7.4.9: ChangeCipherSpec, then a Finished under the new keys (opaque here: an
# AES-GCM record of 8 bytes explicit nonce, 12 of verify_data with its header, 16 of tag)
CHANGE_CIPHER_SPEC = struct.pack("!BHHB", 20, 0x0303, 1, 1)
ENCRYPTED_FINISHED = struct.pack("!BHH", 22, 0x0303, 40) + bytes(range(40))


class _Tcp:
    """One bulk TCP connection: handshake, 1000-byte segments both ways, FIN."""

    def __init__(self, n: int, rng: random.Random, size: int = 1000, tls: bool = False) -> None:
        self.c = _ip(0x020000 + n)
        self.s = _ip(0x030000 + n % 50)
        self.cp = 1024 + n % 60000
        self.sp = 443
        self.cs = rng.randrange(1 << 32)
        self.ss = rng.randrange(1 << 32)
        self.left = rng.randrange(200, 4000)
        self.body = bytes(rng.randrange(256) for _ in range(size))
        if tls:  # HTTPS-like: every segment one application data record
            self.body = struct.pack("!BHH", 23, 0x0303, size - 5) + self.body[5:]
        self.held: bytes | None = None  # a segment kept back to be sent out of order
        self.queue: list[bytes] = [
            self._c(self.cs, 0, 0x02),
            self._s(self.ss, self.cs + 1, 0x12),
            self._c(self.cs + 1, self.ss + 1, 0x10),
        ]
        self.cs += 1
        self.ss += 1
        if tls:  # certificate TLS 1.2 hellos (no PSK suite), both Finished, then records
            # ChangeCipherSpec + an encrypted Finished each way, as a real handshake has: an
            # application data record before them is a protocol error a dissector reports.
            client = CLIENT_HELLO
            server = SERVER_HELLO + CHANGE_CIPHER_SPEC + ENCRYPTED_FINISHED
            client_fin = CHANGE_CIPHER_SPEC + ENCRYPTED_FINISHED
            self.queue += [self._c(self.cs, self.ss, 0x18, client)]
            self.cs += len(client)
            self.queue += [self._s(self.ss, self.cs, 0x18, server)]
            self.ss += len(server)
            self.queue += [self._c(self.cs, self.ss, 0x18, client_fin)]
            self.cs += len(client_fin)

    def _c(self, seq: int, ack: int, flags: int, data: bytes = b"") -> bytes:
        return _eth4(self.c, self.s, 6, _tcp(self.cp, self.sp, seq, ack, flags, data))

    def _s(self, seq: int, ack: int, flags: int, data: bytes = b"") -> bytes:
        return _eth4(self.s, self.c, 6, _tcp(self.sp, self.cp, seq, ack, flags, data))

    def next(self, rng: random.Random) -> bytes | None:
        if self.queue:
            return self.queue.pop(0)
        if self.left <= 0:
            if self.held is not None:
                f, self.held = self.held, None
                return f
            return None
        self.left -= 1
        if rng.random() < 0.5:
            f = self._c(self.cs, self.ss, 0x18, self.body)
            self.cs += len(self.body)
        else:
            f = self._s(self.ss, self.cs, 0x18, self.body)
            self.ss += len(self.body)
        if self.held is not None:
            self.queue.append(self.held)
            self.held = None
        elif rng.random() < 0.02:
            self.held = f  # reordering: this one goes out after the next
            return self.next(rng) if self.left > 0 else f
        if self.left == 0:
            self.queue += [
                self._c(self.cs, self.ss, 0x11),
                self._s(self.ss, self.cs + 1, 0x11),
                self._c(self.cs + 1, self.ss + 1, 0x10),
            ]
        return f


class _Rtp:
    __slots__ = ("hdr", "seq", "ssrc", "ts")

    def __init__(self, hdr: bytes, rng: random.Random) -> None:
        self.hdr = hdr  # Ethernet + IPv4 + UDP headers of this stream
        self.seq = 0
        self.ts = rng.randrange(1 << 32)
        self.ssrc = struct.pack("!I", rng.randrange(1 << 32))


def _dns(n: int) -> tuple[bytes, bytes]:
    """A DNS A query and its answer (RFC 1035), client 10.4.x.x to a resolver."""
    name = b"".join(bytes([len(p)]) + p for p in (b"host%d" % (n % 997), b"example", b"org"))
    question = name + b"\x00" + struct.pack("!HH", 1, 1)
    q = struct.pack("!HHHHHH", n & 0xFFFF, 0x0100, 1, 0, 0, 0) + question
    a = (
        struct.pack("!HHHHHH", n & 0xFFFF, 0x8180, 1, 1, 0, 0)
        + question
        + struct.pack("!HHHIH", 0xC00C, 1, 1, 300, 4)
        + _ip(0x050000 + n % 5000)
    )
    client, server = _ip(0x040000 + n % 300), bytes([10, 0, 0, 53])
    sport = 1024 + n % 60000
    return (
        _eth4(client, server, 17, _udp(sport, 53, q)),
        _eth4(server, client, 17, _udp(53, sport, a)),
    )


def frames(
    total: int, seed: int = 1, *, tcp_body: int = 1000, dns: float = 0.0, tls: float = 0.0
) -> Iterator[bytes]:
    """``total`` frames: ~64% RTP (less ``dns``), ~30% TCP, ~3% IPv6 UDP, ~1% ARP, ~1.5% SIP,
    and with ``dns`` > 0 that share of DNS queries and answers; ``tls`` is the share of TCP
    connections that are certificate TLS (hellos, then application data records)."""
    rng = random.Random(seed)
    rtp_streams = []
    for i in range(200):
        src, dst = _ip(0x010000 + i), _ip(0x010100 + i)
        udp = struct.pack("!HHHH", 20000 + 2 * i, 30000 + 2 * i, 180, 0)
        hdr = MAC + b"\x08\x00" + _ipv4(src, dst, 17, 8 + 12 + 160) + udp
        rtp_streams.append(_Rtp(hdr, rng))
    payload = bytes(160)
    conns = [_Tcp(i, rng, tcp_body, tls > 0 and rng.random() < tls) for i in range(40)]
    next_conn = 40
    v6 = (
        MAC
        + b"\x86\xdd"
        + struct.pack("!IHBB", 6 << 28, 8 + 100, 17, 64)
        + bytes.fromhex("20010db8000000000000000000000001")
        + bytes.fromhex("20010db8000000000000000000000002")
        + struct.pack("!HHHH", 4000, 4001, 108, 0)
        + bytes(100)
    )
    arp = MAC + b"\x08\x06" + bytes(28)
    call = 0
    sip_queue: list[bytes] = []
    dns_answer: bytes | None = None
    n = 0
    while n < total:
        r = rng.random()
        if dns_answer is not None and r < 0.2:
            yield dns_answer
            dns_answer = None
        elif r < dns:
            query, dns_answer = _dns(n)
            yield query
        elif r < 0.64:
            s = rtp_streams[rng.randrange(200)]
            s.seq = (s.seq + 1) & 0xFFFF
            s.ts = (s.ts + 160) & 0xFFFFFFFF
            yield s.hdr + struct.pack("!BBHI", 0x80, 0, s.seq, s.ts) + s.ssrc + payload
        elif r < 0.94:
            i = rng.randrange(len(conns))
            f = conns[i].next(rng)
            if f is None:
                conns[i] = _Tcp(next_conn, rng, tcp_body, tls > 0 and rng.random() < tls)
                next_conn += 1
                f = conns[i].next(rng)
                assert f is not None
            yield f
        elif r < 0.97:
            yield v6
        elif r < 0.98:
            yield arp
        else:
            if not sip_queue:
                call += 1
                sip_queue = _sip_call(call)
            yield sip_queue.pop(0)
        n += 1


_PCAPNG_HEAD = (
    # section header (little-endian, no options) and one Ethernet interface, microseconds
    struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
    + struct.pack("<IIHHII", 1, 20, 1, 0, 262144, 20)
)
_EPB = struct.Struct("<IIIIIII")


def write_capture(path: Path, total: int, fmt: str = "pcap") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    ng = fmt == "pcapng"
    with open(tmp, "wb", buffering=1 << 20) as f:
        if ng:
            f.write(_PCAPNG_HEAD)
        else:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        buf: list[bytes] = []
        for i, fr in enumerate(frames(total)):
            us = T0 * 1_000_000 + i * 10  # 100,000 frames per second of capture time
            n = len(fr)
            if ng:
                pad = -n % 4
                blen = 32 + n + pad
                buf.append(_EPB.pack(6, blen, 0, us >> 32, us & 0xFFFFFFFF, n, n))
                buf.append(fr + bytes(pad) + struct.pack("<I", blen))
            else:
                buf.append(_REC.pack(us // 1_000_000, us % 1_000_000, n, n))
                buf.append(fr)
            if len(buf) >= 20000:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))
    tmp.replace(path)


# -- measured runs (each in a child process) -----------------------------------------------------


def _measure(mode: str, path: str) -> None:
    """Child process: read the capture through the flow layer, print frames and seconds."""
    sys.path.insert(0, str(ROOT))
    from mikeyshark.capture import CaptureReader
    from mikeyshark.flows import FlowTable, NullHandler

    if mode == "read":
        t = time.perf_counter()
        reader = CaptureReader(path)
        nbytes = sum(len(f.data) for f in reader)
        dt = time.perf_counter() - t
        print(f"frames={reader.frames_read} seconds={dt:.3f} bytes={nbytes}")
        return
    finish = None
    handler: object = NullHandler()
    if mode == "sip":
        calls = importlib.import_module("mikeyshark.calls")
        sip_handler = calls.SipFlowHandler(file=path)
        handler = sip_handler
        finish = sip_handler.finish
    t = time.perf_counter()
    reader = CaptureReader(path)
    table = FlowTable(handler, file=path)  # type: ignore[arg-type]
    table.feed_all(reader)
    if finish is not None:
        finish()
    dt = time.perf_counter() - t
    extra = ""
    if mode == "sip":
        tracker = handler.tracker  # type: ignore[attr-defined]
        extra = f" calls={len(getattr(tracker, 'calls', {}))}"
    st = table.stats
    print(
        f"frames={reader.frames_read} seconds={dt:.3f} udp={st.udp} tcp={st.tcp} "
        f"connections={st.connections} peak_open={st.peak_connections}{extra}"
    )


def _child(cmd: list[str]) -> tuple[str, float, int]:
    """Run a child, return (stdout, wall seconds, peak RSS in KiB) of that child alone."""
    proc = launch.Child(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read()
    u = proc.wait()
    if u.code != 0:
        raise SystemExit(f"{cmd[0]} failed with exit code {u.code}")
    return out.decode(errors="replace"), u.seconds, u.maxrss


def _rate(frames: int, secs: float, rss_kib: int) -> str:
    return f"{frames / secs:10,.0f} frames/s  {secs:7.2f} s  peak RSS {rss_kib / 1024:6.1f} MiB"


def _has_sip_handler() -> bool:
    sys.path.insert(0, str(ROOT))
    try:
        calls = importlib.import_module("mikeyshark.calls")
    except ImportError:
        return False
    return hasattr(calls, "SipFlowHandler")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1_000_000, help="frames in the capture")
    ap.add_argument("--regenerate", action="store_true", help="write the capture even if present")
    ap.add_argument("--format", choices=["pcap", "pcapng"], default="pcap")
    ap.add_argument("--no-tshark", action="store_true", help="skip the tshark run")
    ap.add_argument("--measure", choices=["read", "flows", "sip"], help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        _measure(args.measure, args.file)
        return 0
    path = OUT / f"foundation-{args.frames}.{args.format}"
    if args.regenerate or not path.exists():
        t = time.perf_counter()
        write_capture(path, args.frames, args.format)
        size = path.stat().st_size / 1e6
        print(
            f"wrote {path} ({args.frames} frames, {size:.0f} MB) in {time.perf_counter() - t:.1f} s"
        )
    me = [sys.executable, str(Path(__file__).resolve())]
    results: dict[str, tuple[float, int]] = {}
    modes = ["read", "flows"] + (["sip"] if _has_sip_handler() else [])
    for mode in modes:
        out, dt, rss = _child([*me, "--measure", mode, "--file", str(path)])
        line = out.strip().splitlines()[-1]
        secs = float(line.split("seconds=")[1].split()[0])
        results[mode] = (secs, rss)
        print(f"ours ({mode:5}): {_rate(args.frames, secs, rss)}  | {line}")
    if "sip" not in results:
        print("ours (sip  ): mikeyshark.calls offers no SipFlowHandler; skipped")
    tshark = shutil.which("tshark")
    if tshark and not args.no_tshark:
        _, dt, rss = _child([tshark, "-n", "-r", str(path), "-Y", "sip"])
        results["tshark"] = (dt, rss)
        print(f"tshark -Y sip: {_rate(args.frames, dt, rss)}")
        for mode in modes:
            print(f"ratio ours({mode}) / tshark speed: {dt / results[mode][0]:.2f}x")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"bench process (capture writer) peak RSS {own / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
