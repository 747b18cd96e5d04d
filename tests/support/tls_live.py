"""Helpers for the live TLS tests: free loopback ports, a bounded tcpdump capture, and
openssl s_server / s_client or our engine driven over real sockets.  Not a test module."""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from mikeyshark.dissectors.tls.engine import ApplicationData, PskConfig, TlsPskEngine

TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class OpenSslPsk:
    """A TLS 1.0-1.2 PSK suite as OpenSSL's s_server and s_client negotiate it."""

    name: str
    cipher: str  # OpenSSL's name
    code: int  # the IANA value
    version_flag: str = "-tls1_2"
    etm: bool = False  # encrypt-then-MAC negotiated (CBC suites, unless -no_etm)
    extra: tuple[str, ...] = ()

    @property
    def args(self) -> list[str]:
        return [self.version_flag, "-cipher", f"{self.cipher}:@SECLEVEL=0", *self.extra]


_NO_ETM = ("-no_etm",)
# every PSK suite the live tests record between two OpenSSL peers
OPENSSL_PSK_PAIRS = (
    OpenSslPsk("psk-aes128-cbc-sha", "PSK-AES128-CBC-SHA", 0x008C, etm=True),
    OpenSslPsk("psk-aes128-cbc-sha-no-etm", "PSK-AES128-CBC-SHA", 0x008C, extra=_NO_ETM),
    OpenSslPsk("psk-aes256-cbc-sha", "PSK-AES256-CBC-SHA", 0x008D, etm=True),
    OpenSslPsk("psk-aes256-cbc-sha-no-etm", "PSK-AES256-CBC-SHA", 0x008D, extra=_NO_ETM),
    OpenSslPsk("psk-aes128-cbc-sha256", "PSK-AES128-CBC-SHA256", 0x00AE, etm=True),
    OpenSslPsk("psk-aes128-cbc-sha256-no-etm", "PSK-AES128-CBC-SHA256", 0x00AE, extra=_NO_ETM),
    OpenSslPsk("psk-aes256-cbc-sha384", "PSK-AES256-CBC-SHA384", 0x00AF, etm=True),
    OpenSslPsk("psk-aes256-cbc-sha384-no-etm", "PSK-AES256-CBC-SHA384", 0x00AF, extra=_NO_ETM),
    OpenSslPsk("psk-aes128-gcm-sha256", "PSK-AES128-GCM-SHA256", 0x00A8),
    OpenSslPsk("psk-aes256-gcm-sha384", "PSK-AES256-GCM-SHA384", 0x00A9),
    OpenSslPsk("psk-aes128-ccm", "PSK-AES128-CCM", 0xC0A4),
    OpenSslPsk("psk-aes256-ccm", "PSK-AES256-CCM", 0xC0A5),
    OpenSslPsk("psk-aes128-ccm8", "PSK-AES128-CCM8", 0xC0A8),
    OpenSslPsk("psk-aes256-ccm8", "PSK-AES256-CCM8", 0xC0A9),
    OpenSslPsk("psk-chacha20-poly1305", "PSK-CHACHA20-POLY1305", 0xCCAB),
    OpenSslPsk("psk-null-sha", "PSK-NULL-SHA", 0x002C),
    OpenSslPsk("psk-null-sha256", "PSK-NULL-SHA256", 0x00B0),
    OpenSslPsk("psk-null-sha384", "PSK-NULL-SHA384", 0x00B1),
    OpenSslPsk("tls10-psk-aes128-cbc-sha", "PSK-AES128-CBC-SHA", 0x008C, "-tls1", etm=True),
    OpenSslPsk(
        "tls10-psk-aes128-cbc-sha-no-etm", "PSK-AES128-CBC-SHA", 0x008C, "-tls1", extra=_NO_ETM
    ),
    OpenSslPsk("tls11-psk-aes256-cbc-sha", "PSK-AES256-CBC-SHA", 0x008D, "-tls1_1", etm=True),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int, host: str | None = None) -> bool:
    want = f":{port:04X} "
    if host is not None:
        # /proc/net/tcp writes an IPv4 address as the hex of its bytes in host order
        want = socket.inet_aton(host)[::-1].hex().upper() + want
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if (cols[1] + " ").endswith(want) and cols[3] == "0A":
                        return True
        except OSError:
            continue
    return False


def wait_listening(port: int, proc: subprocess.Popen[bytes], host: str | None = None) -> None:
    end = time.monotonic() + TIMEOUT
    while not _listening(port, host):
        if proc.poll() is not None or time.monotonic() > end:
            err = proc.stderr.read() if proc.stderr else b""
            raise RuntimeError(f"server on {port} did not start: {err[-500:]!r}")
        time.sleep(0.02)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=TIMEOUT)
    for s in (proc.stdin, proc.stdout, proc.stderr):
        if s is not None:
            s.close()


@contextmanager
def tcpdump_capture(
    tcpdump: str, path: Path, ports: list[int], net: str | None = None
) -> Iterator[None]:
    """Capture loopback TCP on ``ports`` (between addresses of ``net`` only, when given)
    into ``path`` while the block runs.

    The end is a marker: a UDP datagram sent once the block is done, waited for in the
    file (tcpdump writes in order, so every segment before it is there), then removed. A
    file that merely stops growing proves nothing on a busy machine: tcpdump may not have
    been scheduled, and segments still in the kernel's ring when it is interrupted are lost.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as marker:
        marker.bind(("127.0.0.1", 0))
        mport = int(marker.getsockname()[1])
        token = b"tcpdump-capture-end-" + os.urandom(8).hex().encode()
        filt = " or ".join(f"tcp port {p}" for p in sorted(set(ports)))
        if net is not None:
            filt = f"net {net} and ({filt})"
        filt = f"({filt}) or (udp and dst port {mport})"
        cmd = [tcpdump, "-i", "lo", "--immediate-mode", "-B", "8192", "-U", "-s", "0"]
        proc = subprocess.Popen(
            [*cmd, "-w", str(path), filt],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            assert proc.stderr is not None
            end = time.monotonic() + TIMEOUT
            seen = b""
            while b"listening on" not in seen:
                if proc.poll() is not None or time.monotonic() > end:
                    raise RuntimeError(f"tcpdump did not start: {seen!r}")
                r, _, _ = select.select([proc.stderr], [], [], 0.1)
                if r:
                    seen += os.read(proc.stderr.fileno(), 4096)
            time.sleep(0.2)
            yield
            marker.sendto(token, ("127.0.0.1", mport))
            end = time.monotonic() + TIMEOUT
            while token not in (path.read_bytes() if path.exists() else b""):
                if time.monotonic() > end:
                    raise RuntimeError(f"tcpdump did not write the end marker to {path}")
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
    if path.exists():
        _drop_records(path, token)


def _drop_records(path: Path, token: bytes) -> None:
    """Rewrite the pcap at ``path`` (tcpdump's native byte order) without the records that
    hold ``token``."""
    data = path.read_bytes()
    order = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" or data[:4] == b"\x4d\x3c\xb2\xa1" else ">"
    out = bytearray(data[:24])
    at = 24
    while at + 16 <= len(data):
        (caplen,) = struct.unpack_from(order + "I", data, at + 8)
        record = data[at : at + 16 + caplen]
        if token not in record:
            out += record
        at += 16 + caplen
    path.write_bytes(bytes(out))


def _read_until(proc: subprocess.Popen[bytes], want: bytes) -> bytes:
    assert proc.stdout is not None
    got = b""
    end = time.monotonic() + TIMEOUT
    while want not in got:
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"waited for {want[:40]!r}, got {got[-200:]!r}")
        r, _, _ = select.select([proc.stdout], [], [], left)
        if r:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"peer exited; got {got[-200:]!r}")
            got += chunk
    return got


def _psk_args(psk: bytes, identity: bytes) -> list[str]:
    return ["-psk", psk.hex(), "-psk_identity", identity.decode()]


def _s_server(
    openssl: str, port: int, psk: bytes, identity: bytes, args: list[str], host: str = "127.0.0.1"
) -> subprocess.Popen[bytes]:
    cmd = [openssl, "s_server", "-nocert", "-accept", f"{host}:{port}", "-naccept", "1"]
    cmd += ["-quiet", *_psk_args(psk, identity), *args]
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    wait_listening(port, proc, None if host == "127.0.0.1" else host)
    return proc


def _s_client(
    openssl: str, port: int, psk: bytes, identity: bytes, args: list[str], host: str = "127.0.0.1"
) -> subprocess.Popen[bytes]:
    cmd = [openssl, "s_client", "-connect", f"{host}:{port}", "-quiet", "-no_ign_eof"]
    cmd += ["-nocommands", *_psk_args(psk, identity), *args]
    return subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def openssl_pair(
    openssl: str,
    port: int,
    psk: bytes,
    identity: bytes,
    server_args: list[str],
    client_args: list[str],
    c2s: bytes,
    s2c: bytes,
    host: str = "127.0.0.1",
) -> tuple[bytes, bytes]:
    """s_client sends ``c2s``, s_server sends ``s2c``; returns (what the server printed,
    what the client printed)."""
    srv = _s_server(openssl, port, psk, identity, server_args, host)
    cli: subprocess.Popen[bytes] | None = None
    try:
        cli = _s_client(openssl, port, psk, identity, client_args, host)
        assert cli.stdin is not None and srv.stdin is not None
        cli.stdin.write(c2s)
        cli.stdin.flush()
        got_server = _read_until(srv, c2s)
        srv.stdin.write(s2c)
        srv.stdin.flush()
        got_client = _read_until(cli, s2c)
        cli.stdin.close()
        cli.wait(timeout=TIMEOUT)
        srv.wait(timeout=TIMEOUT)
        return got_server, got_client
    finally:
        if cli is not None:
            _stop(cli)
        _stop(srv)


def _pump(sock: socket.socket, eng: TlsPskEngine, until: bytes | None) -> bytes:
    """Run ``eng`` over ``sock`` until the handshake is done and ``until`` was received."""
    got = b""
    sock.settimeout(TIMEOUT)
    while not eng.handshake_complete or (until is not None and until not in got):
        out = eng.data_to_send()
        if out:
            sock.sendall(out)
        data = sock.recv(65536)
        if not data:
            raise RuntimeError(f"peer closed; got {got[-200:]!r}")
        for ev in eng.receive_data(data):
            if isinstance(ev, ApplicationData):
                got += ev.data
    out = eng.data_to_send()
    if out:
        sock.sendall(out)
    return got


def engine_client_vs_openssl(
    openssl: str,
    port: int,
    config: PskConfig,
    server_args: list[str],
    c2s: bytes,
    s2c: bytes,
    host: str = "127.0.0.1",
) -> tuple[bytes, bytes, TlsPskEngine]:
    """Our client against s_server: returns (server printed, client received, engine)."""
    srv = _s_server(openssl, port, config.psk, config.identity, server_args, host)
    try:
        assert srv.stdin is not None
        with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
            eng = TlsPskEngine(config, is_client=True)
            eng.start()
            _pump(sock, eng, None)
            eng.send_application_data(c2s)
            sock.sendall(eng.data_to_send())
            got_server = _read_until(srv, c2s)
            srv.stdin.write(s2c)
            srv.stdin.flush()
            got_client = _pump(sock, eng, s2c)
            eng.close()
            sock.sendall(eng.data_to_send())
        srv.wait(timeout=TIMEOUT)
        return got_server, got_client, eng
    finally:
        _stop(srv)


def openssl_client_vs_engine(
    openssl: str, port: int, config: PskConfig, client_args: list[str], c2s: bytes, s2c: bytes
) -> tuple[bytes, bytes, TlsPskEngine]:
    """s_client against our server: returns (server received, client printed, engine)."""
    with socket.socket() as ls:
        ls.bind(("127.0.0.1", port))
        ls.listen(1)
        ls.settimeout(TIMEOUT)
        cli = _s_client(openssl, port, config.psk, config.identity, client_args)
        try:
            assert cli.stdin is not None
            cli.stdin.write(c2s)
            cli.stdin.flush()
            sock, _ = ls.accept()
            with sock:
                eng = TlsPskEngine(config, is_client=False)
                eng.start()
                got_server = _pump(sock, eng, c2s)
                eng.send_application_data(s2c)
                sock.sendall(eng.data_to_send())
                got_client = _read_until(cli, s2c)
                cli.stdin.close()
                cli.wait(timeout=TIMEOUT)
                with suppress(OSError):
                    eng.receive_data(sock.recv(65536))
            return got_server, got_client, eng
        finally:
            _stop(cli)


def follow_tls(text: str) -> dict[int, tuple[str, bytes, bytes]]:
    """Parse ``tshark -z follow,tls,raw,N`` output: stream -> (node 0, node-0 bytes,
    node-1 bytes); node 1's lines are the tab-indented ones."""
    out: dict[int, tuple[str, bytes, bytes]] = {}
    for block in text.split("Follow: tls,raw")[1:]:
        stream, node0, a, b = -1, "", b"", b""
        for line in block.splitlines():
            if line.startswith("Filter: tcp.stream eq "):
                stream = int(line.split()[-1])
            elif line.startswith("Node 0: "):
                node0 = line[len("Node 0: ") :].strip()
            elif line.startswith("\t"):
                b += bytes.fromhex(line.strip())
            elif line.strip() and all(c in "0123456789abcdef" for c in line.strip()):
                a += bytes.fromhex(line.strip())
        out[stream] = (node0, a, b)
    return out


def write_tcp_pcap(
    path: Path, connections: list[tuple[int, list[tuple[bool, bytes]]]], seg: int = 65000
) -> None:
    """An Ethernet/IPv4/TCP pcap (nanosecond) of several connections 192.0.2.1:40000+i ->
    192.0.2.2:PORT, each a SYN handshake, its flights in ``seg``-byte segments with correct
    sequence and acknowledgement numbers, and FINs."""
    import struct

    mac = bytes.fromhex("020000000002020000000001")
    ts = 1_700_000_000 * 10**9
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))
        for i, (port, flights) in enumerate(connections):
            ends = {True: (bytes([192, 0, 2, 1]), 40000 + i), False: (bytes([192, 0, 2, 2]), port)}
            seq = {True: 1000, False: 90000}
            segments: list[tuple[bool, int, bytes]] = [(True, 0x02, b""), (False, 0x12, b"")]
            segments.append((True, 0x10, b""))
            for fc, data in flights:
                segments += [(fc, 0x18, data[k : k + seg]) for k in range(0, len(data), seg)]
            segments += [(True, 0x11, b""), (False, 0x11, b""), (True, 0x10, b"")]
            for fc, flags, payload in segments:
                (sip, sport), (dip, dport) = ends[fc], ends[not fc]
                tcp = struct.pack(
                    "!HHIIBBHHH", sport, dport, seq[fc], seq[not fc], 0x50, flags, 65535, 0, 0
                )
                ip = struct.pack(
                    "!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, sip, dip
                )
                frame = mac + b"\x08\x00" + ip + tcp + payload
                f.write(struct.pack("<IIII", *divmod(ts, 10**9), len(frame), len(frame)) + frame)
                ts += 10_000
                seq[fc] = (seq[fc] + len(payload) + (1 if flags & 0x03 else 0)) % (1 << 32)
