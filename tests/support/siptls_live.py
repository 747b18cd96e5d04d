"""SIP over TLS between real peers: the SIP messages of a synthesized call sent through
``openssl s_client`` / ``openssl s_server`` (self-signed certificate, key logs written by
both), captured with tcpdump, and merged with the call's media frames in time. Not a test
module."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from mikeyshark.capture import read_all
from mikeyshark.model import Frame
from mikeyshark.synth import SynthResult
from tests.support.tls_live import TIMEOUT, _read_until, _stop, tcpdump_capture, wait_listening


@dataclass(frozen=True, slots=True)
class LiveSipTls:
    frames: list[Frame]  # the SIP/TLS connection (live) and the media (synthesized), in time
    keylog: str  # s_client's key log
    server_keylog: str
    sip_frames: int  # how many of ``frames`` are the live connection's


def _sip_messages(r: SynthResult) -> list[tuple[int, bytes, bool]]:
    """(index in r.frames, UDP payload, sent by the first sender) of each SIP datagram."""
    out: list[tuple[int, bytes, bool]] = []
    first_src: bytes | None = None
    for i, f in enumerate(r.frames):
        d = f.data
        if d[23] != 17:
            continue
        sport, dport = int.from_bytes(d[34:36], "big"), int.from_bytes(d[36:38], "big")
        if 5060 not in (sport, dport):
            continue
        src = d[26:30]
        if first_src is None:
            first_src = src
        out.append((i, d[42:], src == first_src))
    return out


def make_cert(openssl: str, tmp: Path) -> tuple[Path, Path]:
    key, cert = tmp / "pcscf.key", tmp / "pcscf.crt"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-subj", "/CN=pcscf.example.org",
            "-days", "2",
        ],
        check=True, capture_output=True, timeout=TIMEOUT,
    )  # fmt: skip
    return key, cert


def sip_over_tls(
    openssl: str,
    tcpdump: str,
    tmp: Path,
    r: SynthResult,
    port: int,
    tls_args: list[str],
) -> LiveSipTls:
    """Send the call's SIP through one TLS connection on ``port`` and return the capture."""
    key, cert = make_cert(openssl, tmp)
    msgs = _sip_messages(r)
    pcap = tmp / f"siptls-{port}.pcap"
    ckl, skl = tmp / "client.keylog", tmp / "server.keylog"
    marks: list[tuple[int, int]] = []  # (wall time before sending, after it was received)
    with tcpdump_capture(tcpdump, pcap, [port]):
        srv = subprocess.Popen(
            [
                openssl, "s_server", "-accept", f"127.0.0.1:{port}", "-naccept", "1",
                "-quiet", "-cert", str(cert), "-key", str(key), "-keylogfile", str(skl),
                *tls_args,
            ],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        cli: subprocess.Popen[bytes] | None = None
        try:
            wait_listening(port, srv)
            cli = subprocess.Popen(
                [
                    openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-quiet",
                    "-no_ign_eof", "-nocommands", "-keylogfile", str(ckl), *tls_args,
                ],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            time.sleep(0.3)  # the handshake, before the first message
            assert cli.stdin is not None and srv.stdin is not None
            for _, payload, from_client in msgs:
                w = time.time_ns()
                sender, receiver = (cli, srv) if from_client else (srv, cli)
                assert sender.stdin is not None
                sender.stdin.write(payload)
                sender.stdin.flush()
                _read_until(receiver, payload[-40:])
                marks.append((w, time.time_ns()))
                time.sleep(0.03)
            cli.stdin.close()
            cli.wait(timeout=TIMEOUT)
            srv.wait(timeout=TIMEOUT)
        finally:
            if cli is not None:
                _stop(cli)
            _stop(srv)
    live, problems = read_all([pcap])
    assert not problems and live
    return LiveSipTls(_merge(r, msgs, marks, live), ckl.read_text(), skl.read_text(), len(live))


def _merge(
    r: SynthResult,
    msgs: list[tuple[int, bytes, bool]],
    marks: list[tuple[int, int]],
    live: list[Frame],
) -> list[Frame]:
    """The live SIP/TLS frames and the call's other (media) frames, the media moved in time
    so that each stays between the same two SIP messages as in the synthesized call."""
    sip_idx = [i for i, _, _ in msgs]
    sip_ts = [r.frames[i].ts_ns for i in sip_idx]
    sip_set = set(sip_idx)
    out: list[Frame] = list(live)
    for i, f in enumerate(r.frames):
        if i in sip_set:
            continue
        k = max((j for j, t in enumerate(sip_ts) if t <= f.ts_ns), default=-1)
        if k < 0:
            ts = marks[0][0] - (sip_ts[0] - f.ts_ns) // 1000
        elif k + 1 < len(sip_ts):
            lo, hi = marks[k][1], marks[k + 1][0]
            frac = (f.ts_ns - sip_ts[k]) / (sip_ts[k + 1] - sip_ts[k])
            ts = lo + int(frac * (hi - lo) * 0.9)
        else:
            ts = marks[k][1] + (f.ts_ns - sip_ts[k])
        out.append(Frame(0, ts, f.linktype, f.data, f.wirelen))
    out.sort(key=lambda f: f.ts_ns)
    return [Frame(n, f.ts_ns, f.linktype, f.data, f.wirelen) for n, f in enumerate(out, 1)]
