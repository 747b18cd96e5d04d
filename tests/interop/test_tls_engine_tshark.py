"""Our engine's handshakes and records, in every PSK suite and version it offers (RC4, 3DES,
CCM_8, TLS 1.0/1.1 included, which OpenSSL 3 no longer runs), decrypted by tshark with
``-o tls.psk`` (TLS 1.0-1.2) or with the engine's key log (TLS 1.3): an independent check of
the protect side, and of mikeyshark.decrypt reading the same capture."""

from __future__ import annotations

import subprocess

import pytest

from mikeyshark.decrypt import PskCandidate, decrypt_capture
from mikeyshark.dissectors.tls.constants import CIPHER_SUITES, TLS10, TLS11, TLS12, TLS13, Kx
from mikeyshark.dissectors.tls.engine import PskConfig, TlsPskEngine
from tests.support.tls_live import follow_tls, write_tcp_pcap

pytestmark = pytest.mark.tshark

PSK = bytes.fromhex("657bf44e8247bee72094eafe0283ab2f")
C2S = b"MSRP a786hjs2 SEND\r\nTo-Path: msrps://192.0.2.2:5061/x;tcp\r\n\r\n-------a786hjs2$\r\n"
S2C = bytes.fromhex("200c00090000000100010002170e0102030405060708090a0b0c0000")

_psk = sorted(c for c, s in CIPHER_SUITES.items() if s.kx is Kx.PSK)
CASES: list[tuple[int, int, bool, bool]] = (
    [(c, TLS12, True, True) for c in _psk]
    + [(c, TLS12, False, False) for c in _psk if not CIPHER_SUITES[c].aead]
    + [
        (c, v, e, e)
        for c in (0x008A, 0x008B, 0x008C, 0x00AF)
        for v in (TLS10, TLS11)
        for e in (True, False)
    ]
    + [(c, TLS13, False, False) for c in (0x1301, 0x1302, 0x1303)]
)


def _session(
    code: int, version: int, ems: bool, etm: bool
) -> tuple[list[tuple[bool, bytes]], list[str]]:
    h = CIPHER_SUITES[code].prf if version == TLS13 else "SHA256"
    cfg = PskConfig(
        PSK,
        b"mikey:12345678:01",
        versions=(version,),
        cipher_suites=(code,),
        ems=ems,
        etm=etm,
        tls13_psk_hash=h,
    )
    c, s = TlsPskEngine(cfg, True), TlsPskEngine(cfg, False)
    c.start()
    s.start()
    wire: list[tuple[bool, bytes]] = []
    for _ in range(3):
        for eng, peer, fc in ((c, s, True), (s, c, False)):
            out = eng.data_to_send()
            if out:
                wire.append((fc, out))
                peer.receive_data(out)
    c.send_application_data(C2S)
    wire.append((True, c.data_to_send()))
    s.send_application_data(S2C)
    wire.append((False, s.data_to_send()))
    return wire, c.keylog_lines()


@pytest.fixture(scope="module")
def decoded(
    tmp_path_factory: pytest.TempPathFactory, tshark: str
) -> dict[int, tuple[tuple[bytes, bytes], tuple[bytes, bytes]]]:
    tmp = tmp_path_factory.mktemp("engine_tshark")
    conns = []
    keylog: list[str] = []
    for i, case in enumerate(CASES):
        wire, lines = _session(*case)
        conns.append((6000 + i, wire))
        keylog += lines if case[1] == TLS13 else []
    cap = tmp / "engine.pcap"
    write_tcp_pcap(cap, conns, seg=1400)
    (tmp / "k.log").write_text("".join(x + "\n" for x in keylog))
    cmd = [
        tshark,
        "-r",
        str(cap),
        "-q",
        "-o",
        f"tls.psk:{PSK.hex()}",
        "-o",
        f"tls.keylog_file:{tmp / 'k.log'}",
    ]
    for port, _ in conns:
        cmd += ["-d", f"tcp.port=={port},tls"]
    for i in range(len(conns)):
        cmd += ["-z", f"follow,tls,raw,{i}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True).stdout
    follow = follow_tls(out)
    ours = {
        c.server.port - 6000: (c.plaintext(True), c.plaintext(False))
        for c in decrypt_capture([cap], [PskCandidate(PSK, "tek")])
    }
    result = {}
    for i in range(len(conns)):
        node0, a, b = follow.get(i, ("", b"", b""))
        theirs = (a, b) if node0.endswith(f":{40000 + i}") else (b, a)
        result[i] = (theirs, ours.get(i, (b"", b"")))
    return result


@pytest.mark.parametrize(
    ("index", "case"),
    list(enumerate(CASES)),
    ids=[f"{c:04x}-{v:04x}-{'ems' if e else 'noems'}" for c, v, e, _ in CASES],
)
def test_tshark_decrypts_engine_traffic(
    decoded: dict[int, tuple[tuple[bytes, bytes], tuple[bytes, bytes]]],
    index: int,
    case: tuple[int, int, bool, bool],
) -> None:
    theirs, ours = decoded[index]
    assert theirs == (C2S, S2C)
    assert ours == (C2S, S2C)
