"""The hostile inputs of the reliability review, as builders, and a way to run the command line
on them while measuring what it cost (peak memory of that child, wall time).

Each builder makes the review's reproducer at a size given by the caller; the tests use sizes
that run in seconds, the bench the review's sizes and ten times them.
"""

from __future__ import annotations

import os
import random
import re
import signal
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mikeyshark.synth.media as synth_media
import mikeyshark.synth.net as synth_net
from mikeyshark.dissectors import bfcp
from mikeyshark.synth import SynthResult, synthesize, write_capture

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
# Address space a measured child may take before it fails with MemoryError: a safety net so
# that a regression cannot take the machine's memory; the tests' ceilings are far below.
CHILD_ADDRESS_SPACE = 3 << 30


def record(data: bytes, orig_len: int | None = None, ts: int = 1_700_000_000) -> bytes:
    """One classic pcap record (microsecond timestamps)."""
    wire = len(data) if orig_len is None else orig_len
    return struct.pack("<IIII", ts, 0, len(data), wire) + data


def claimed_length_pcap(orig_len: int, records: int = 1) -> bytes:
    """Defect 1: a malformed IPv4 frame (IHL 15 in a 29-byte packet) whose record header
    claims ``orig_len`` bytes on the wire."""
    frame = (
        b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00"
        + bytes([0x4F, 0, 0, 29, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2])
        + struct.pack(">HHHH", 5060, 5060, 9, 0)
        + b"x"
    )
    return PCAP_HEADER + record(frame, orig_len) * records


_MAC = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00"


def _csum(b: bytes) -> int:
    s = sum((b[i] << 8) | b[i + 1] for i in range(0, len(b) - 1, 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4_frame(
    proto: int, l4: bytes, src: bytes = b"\x0a\0\0\x01", dst: bytes = b"\x0a\0\0\x02"
) -> bytes:
    """Ethernet + IPv4 (checksum right) around ``l4``."""
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0, src, dst)
    return _MAC + h[:10] + struct.pack(">H", _csum(h)) + h[12:] + l4


def tcp_segment(sp: int, dp: int, seq: int, ack: int, flags: int, payload: bytes = b"") -> bytes:
    return struct.pack(">HHIIBBHHH", sp, dp, seq, ack, 0x50, flags, 65535, 0, 0) + payload


def hole_frames(udp_frames: int, with_hole: bool = True) -> list[bytes]:
    """Defect 3: a TCP handshake and 11 bytes that never become a message ("hello world"),
    then ``udp_frames`` unrelated datagrams."""
    a, b = b"\x0a\0\0\x01", b"\x0a\0\0\x02"
    frames = [
        ipv4_frame(6, tcp_segment(40000, 5000, 1000, 0, 0x02)),
        ipv4_frame(6, tcp_segment(5000, 40000, 9000, 1001, 0x12), b, a),
        ipv4_frame(6, tcp_segment(40000, 5000, 1001, 9001, 0x10)),
    ]
    if with_hole:
        frames.append(ipv4_frame(6, tcp_segment(40000, 5000, 1001, 9001, 0x18, b"hello world")))
    udp = ipv4_frame(17, struct.pack(">HHHH", 7000, 7001, 18, 0) + b"0123456789")
    return frames + [udp] * udp_frames


@contextmanager
def patched(name: str, make: Callable[..., object]) -> Iterator[None]:
    """Replace a conversation script of ``mikeyshark.synth.media`` while synthesizing."""
    orig = getattr(synth_media, name)
    setattr(synth_media, name, make(orig))
    try:
        yield
    finally:
        setattr(synth_media, name, orig)


def far_chunks_call(chunks: int) -> SynthResult:
    """Defect 2: after the first SEND and its 200, ``chunks`` SENDs, each its own Message-ID,
    whose Byte-Range starts at byte 4,194,000 (inside the TLS session, before encryption)."""

    def make(orig: Callable[..., list[synth_media.AppWrite]]) -> Callable[..., object]:
        def script(*a: object, **kw: object) -> list[synth_media.AppWrite]:
            s = orig(*a, **kw)
            head = s[0].data.split(b"\r\n")
            to = next(h for h in head if h.startswith(b"To-Path:"))
            frm = next(h for h in head if h.startswith(b"From-Path:"))
            out = s[:2]
            for k in range(chunks):
                out.append(
                    synth_media.AppWrite(
                        s[0].from_ue,
                        b"MSRP tx%08d SEND\r\n%s\r\n%s\r\nMessage-ID: mid%08d\r\n"
                        b"Byte-Range: 4194000-4194009/*\r\nContent-Type: text/plain\r\n\r\n"
                        b"0123456789\r\n-------tx%08d+\r\n" % (k, to, frm, k, k),
                        False,
                    )
                )
            return out

        return script

    with patched("msrp_script", make):
        return synthesize("msrp-dial-in", seed=1)


NESTED_FLOOR_REQUEST_ATTRIBUTES = 63  # FLOOR-REQUEST-INFORMATION in itself, 4 bytes each


def nested_floor_request(confid: int, userid: int) -> bytes:
    """A FloorRequest whose FLOOR-REQUEST-INFORMATION nests 63 deep (the most an 8-bit
    Length allows, 4 bytes per level): 88 bytes."""
    inner = b""
    while len(inner) + 4 <= 255:
        inner = bytes([15 << 1 | 1, len(inner) + 4]) + b"\x00\x01" + inner
    inner += b"\0" * (-len(inner) % 4)
    return struct.pack(">BBHIHH", 0x20, 1, len(inner) // 4, confid, 7, userid) + inner


def nested_bfcp_call(messages: int) -> SynthResult:
    """Defect 9: a BFCP call whose client sends ``messages`` deeply nested FloorRequests."""

    def make(orig: Callable[..., list[synth_media.AppWrite]]) -> Callable[..., object]:
        def script(
            rng: random.Random, *, confid: int, userid: int, floor_id: int
        ) -> list[synth_media.AppWrite]:
            s = orig(rng, confid=confid, userid=userid, floor_id=floor_id)
            bomb = synth_media.AppWrite(True, nested_floor_request(confid, userid), False)
            return s[:2] + [bomb] * messages + s[2:]

        return script

    with patched("bfcp_script", make):
        return synthesize("bfcp-dial-in", seed=1)


def pcap_records(data: bytes) -> list[bytes]:
    """The frames of a classic pcap file (microsecond, little-endian, as synth writes)."""
    out, pos = [], 24
    while pos < len(data):
        incl = struct.unpack_from("<I", data, pos + 8)[0]
        out.append(data[pos + 16 : pos + 16 + incl])
        pos += 16 + incl
    return out


def endless_dialogs_pcap(dialogs: int, tmp: Path, spacing_us: int = 1000) -> tuple[bytes, str]:
    """Defect 10: the INVITE/100/200/ACK of a real msrp-dial-in call repeated with a new
    Call-ID every ``spacing_us`` (a millisecond), never a BYE. Returns the capture and the
    call's key file."""
    one = synthesize("msrp-dial-in", seed=1)
    base = tmp / "one.pcap"
    write_capture(one, base)
    data = base.read_bytes()
    sip = [b for b in pcap_records(data) if b"SIP/2.0" in b and not re.search(rb"CSeq: \d+ BYE", b)]
    m = re.search(rb"Call-ID: (\S+)", sip[0])
    assert m is not None
    cid = m.group(1)
    out = [data[:24]]
    for k in range(dialogs):
        for j, body in enumerate(sip):
            b = body.replace(cid, b"%08d" % k + cid[8:])
            t = k * spacing_us + j * 50
            out.append(struct.pack("<IIII", 1_700_000_000 + t // 10**6, t % 10**6, len(b), len(b)))
            out.append(b)
    return b"".join(out), one.keyfile_text


@dataclass(frozen=True, slots=True)
class Run:
    rc: int
    seconds: float
    peak_mib: float  # the child's peak resident set size
    stdout: str
    stderr: str


# The measured command runs under a small Python parent that forks it and reports its
# rusage: a child forked straight from the test process would count the test process's
# pages (already resident when it forks) in its own peak until it execs.
_TRAMPOLINE = """
import os, resource, sys, time
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
t = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[3], sys.argv[3:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[2], "w") as f:
    f.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss} {time.monotonic() - t}")
"""


def measured(*args: str, cwd: Path, timeout: float = 300.0) -> Run:
    """``mikeyshark ARGS`` in a child process (in ``cwd``): exit status, wall time, and the
    peak RSS of that process alone (``wait4`` on it)."""
    out, err, res = cwd / ".measured.out", cwd / ".measured.err", cwd / ".measured.rusage"
    res.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "mikeyshark", *args]
    with out.open("wb") as fo, err.open("wb") as fe:
        p = subprocess.Popen(
            [sys.executable, "-S", "-c", _TRAMPOLINE, str(CHILD_ADDRESS_SPACE), str(res), *cmd],
            stdout=fo,
            stderr=fe,
            cwd=cwd,
            start_new_session=True,
        )
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    rc_text, rss_kib, seconds = (
        res.read_text().split() if res.exists() else ("-9", "0", str(timeout))
    )
    return Run(
        int(rc_text),
        float(seconds),
        int(rss_kib) / 1024,
        out.read_text(errors="replace"),
        err.read_text(errors="replace"),
    )


def clear_after_close_call() -> SynthResult:
    """bfcp-dial-in whose peers, after both close_notify alerts, say BFCP Goodbye and
    GoodbyeAck (RFC 8855 13.2) in the clear before the FIN: media outside TLS records."""
    goodbye = bfcp.build_message(bfcp.Message(bfcp.PRIMITIVES["Goodbye"], 1, 9, 2, version=2))
    ack = bfcp.build_message(
        bfcp.Message(bfcp.PRIMITIVES["GoodbyeAck"], 1, 9, 2, version=2, responder=True)
    )
    orig = synth_net.TcpConnection.close

    def close(self: synth_net.TcpConnection, from_client: bool, *a: Any, **kw: Any) -> None:
        self.send(True, goodbye, peer_answers=True)
        self.send(False, ack)
        orig(self, from_client, *a, **kw)

    synth_net.TcpConnection.close = close  # type: ignore[method-assign]
    try:
        return synthesize("bfcp-dial-in", seed=1)
    finally:
        synth_net.TcpConnection.close = orig  # type: ignore[method-assign]
