"""Real peers: openssl s_server / s_client (and our engine against them) on loopback,
captured with tcpdump, decrypted by mikeyshark.decrypt through the real capture and flow
layers, and compared with what the peers sent, with OpenSSL's own key log and with tshark."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mikeyshark.decrypt import DecodedConnection, PskCandidate, decrypt_capture
from mikeyshark.dissectors.tls.constants import TLS10, TLS11, TLS12, TLS13
from mikeyshark.dissectors.tls.engine import PskConfig
from mikeyshark.keylog import write_keylog
from tests.support.paths import VECTORS
from tests.support.tls_live import (
    OPENSSL_PSK_PAIRS,
    engine_client_vs_openssl,
    follow_tls,
    free_port,
    openssl_client_vs_engine,
    openssl_pair,
    tcpdump_capture,
)

pytestmark = [pytest.mark.tshark, pytest.mark.live, pytest.mark.timeout(240)]

VEC = VECTORS / "tls_psk" / "psk_aes128_gcm_sha256.json"
_v = json.loads(VEC.read_text())
PSK = bytes.fromhex(_v["psk_hex"])
IDENTITY = b"mikey:12345678:01"
# What the vectors' peers exchanged: MSRP SEND + BFCP Hello, MSRP 200 OK + BFCP HelloAck.
C2S = next(bytes.fromhex(x) for t, x in _v["decrypted_c2s"] if t == 23)
S2C = next(bytes.fromhex(x) for t, x in _v["decrypted_s2c"] if t == 23)
WRONG = PskCandidate(bytes(16), "other-tek")


@dataclass
class Case:
    name: str
    kind: str  # "pair" | "our-client" | "our-server"
    version: int
    suite: int
    args: list[str] = field(default_factory=list)
    config: PskConfig | None = None
    etm: bool = False
    ems: bool = True
    decryptable: bool = True


def _pair(
    name: str,
    cipher: str,
    code: int,
    ver: str = "-tls1_2",
    etm: bool = False,
    extra: list[str] | None = None,
) -> Case:
    version = {"-tls1": TLS10, "-tls1_1": TLS11, "-tls1_2": TLS12}[ver]
    return Case(
        name,
        "pair",
        version,
        code,
        [ver, "-cipher", f"{cipher}:@SECLEVEL=0", *(extra or [])],
        etm=etm,
    )


CASES = [
    *(
        _pair(p.name, p.cipher, p.code, p.version_flag, p.etm, list(p.extra))
        for p in OPENSSL_PSK_PAIRS
    ),
    Case("tls13-psk-dhe-ke", "pair", TLS13, 0x1301, ["-tls1_3"], ems=False, decryptable=False),
    Case(
        "tls13-psk-ke-our-client",
        "our-client",
        TLS13,
        0x1301,
        ["-tls1_3", "-allow_no_dhe_kex"],
        PskConfig(PSK, IDENTITY, versions=(TLS13,), cipher_suites=(0x1301,)),
        ems=False,
    ),
    Case(
        "tls13-psk-dhe-ke-our-client",
        "our-client",
        TLS13,
        0x1301,
        ["-tls1_3"],
        PskConfig(PSK, IDENTITY, versions=(TLS13,), cipher_suites=(0x1301,), tls13_modes=(1,)),
        ems=False,
        decryptable=False,
    ),
    Case(
        "our-client-gcm-no-ems",
        "our-client",
        TLS12,
        0x00A8,
        ["-tls1_2", "-cipher", "PSK-AES128-GCM-SHA256"],
        PskConfig(PSK, IDENTITY, cipher_suites=(0x00A8,), ems=False),
        ems=False,
    ),
    Case(
        "our-client-cbc-etm",
        "our-client",
        TLS12,
        0x008C,
        ["-tls1_2", "-cipher", "PSK-AES128-CBC-SHA"],
        PskConfig(PSK, IDENTITY, cipher_suites=(0x008C,)),
        etm=True,
    ),
    Case(
        "our-server-gcm",
        "our-server",
        TLS12,
        0x00A8,
        ["-tls1_2", "-cipher", "PSK-AES128-GCM-SHA256"],
        PskConfig(PSK, IDENTITY, cipher_suites=(0x00A8,)),
    ),
    Case(
        "our-server-cbc-sha384",
        "our-server",
        TLS12,
        0x00AF,
        ["-tls1_2", "-cipher", "PSK-AES256-CBC-SHA384"],
        PskConfig(PSK, IDENTITY, cipher_suites=(0x00AF,)),
        etm=True,
    ),
    Case(
        "our-server-tls13",
        "our-server",
        TLS13,
        0x1301,
        ["-tls1_3"],
        PskConfig(PSK, IDENTITY, versions=(TLS13,), cipher_suites=(0x1301,), tls13_modes=(0, 1)),
        ems=False,
        decryptable=False,
    ),
]


@dataclass
class Run:
    case: Case
    port: int
    server_got: bytes = b""
    client_got: bytes = b""
    error: str | None = None
    conn: DecodedConnection | None = None
    openssl_keylog: str = ""
    tshark_keylog: tuple[bytes, bytes] | None = None
    tshark_psk: tuple[bytes, bytes] | None = None


def _run(case: Case, port: int, openssl: str, keylog: Path) -> Run:
    run = Run(case, port)
    kl = ["-keylogfile", str(keylog)]
    try:
        if case.kind == "pair":
            run.server_got, run.client_got = openssl_pair(
                openssl, port, PSK, IDENTITY, case.args + kl, case.args, C2S, S2C
            )
        elif case.kind == "our-client":
            assert case.config is not None
            run.server_got, run.client_got, _ = engine_client_vs_openssl(
                openssl, port, case.config, case.args + kl, C2S, S2C
            )
        else:
            assert case.config is not None
            run.server_got, run.client_got, _ = openssl_client_vs_engine(
                openssl, port, case.config, case.args + kl, C2S, S2C
            )
    except Exception as e:  # reported by the case's own test, not by the fixture
        run.error = f"{type(e).__name__}: {e}"
    if keylog.exists():
        run.openssl_keylog = keylog.read_text()
    return run


def _tshark_follow(
    tshark: str, cap: Path, streams: int, opts: list[str]
) -> dict[int, tuple[str, bytes, bytes]]:
    cmd = [tshark, "-r", str(cap), "-q", *opts]
    for i in range(streams):
        cmd += ["-z", f"follow,tls,raw,{i}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    return follow_tls(out)


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, openssl: str, tcpdump: str, tshark: str
) -> dict[str, Run]:
    tmp = tmp_path_factory.mktemp("tls_live")
    cap = tmp / "live.pcap"
    ports = [free_port() for _ in CASES]
    while len(set(ports)) != len(ports):
        ports = [free_port() for _ in CASES]
    results: dict[str, Run] = {}
    with tcpdump_capture(tcpdump, cap, ports):
        for case, port in zip(CASES, ports, strict=True):
            results[case.name] = _run(case, port, openssl, tmp / f"{case.name}.keylog")
    conns = decrypt_capture([cap], [WRONG, PskCandidate(PSK, "tek")], ports=set(ports))
    by_port = {c.server.port: c for c in conns}
    for r in results.values():
        r.conn = by_port.get(r.port)
    keylog = tmp / "ours.keylog"
    write_keylog(keylog, [c.info for c in conns])
    # tcp.stream index -> server port, from the SYNs
    syn = subprocess.run(
        [
            tshark,
            "-r",
            str(cap),
            "-Y",
            "tcp.flags.syn==1 && tcp.flags.ack==0",
            "-T",
            "fields",
            "-e",
            "tcp.stream",
            "-e",
            "tcp.dstport",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split("\n")
    stream_port = {int(a): int(b) for a, b in (line.split("\t") for line in syn if "\t" in line)}
    n = max(stream_port, default=-1) + 1
    via_keylog = _tshark_follow(tshark, cap, n, ["-o", f"tls.keylog_file:{keylog}"])
    via_psk = _tshark_follow(tshark, cap, n, ["-o", f"tls.psk:{PSK.hex()}"])
    port_run = {r.port: r for r in results.values()}
    for stream, port in stream_port.items():
        run = port_run.get(port)
        if run is None:
            continue
        for follow, attr in ((via_keylog, "tshark_keylog"), (via_psk, "tshark_psk")):
            if stream in follow:
                node0, a, b = follow[stream]
                c2s, s2c = (b, a) if node0.endswith(f":{port}") else (a, b)
                setattr(run, attr, (c2s, s2c))
    return results


def _ok(run: Run) -> DecodedConnection:
    assert run.error is None, run.error
    assert C2S in run.server_got and S2C in run.client_got  # the peers really talked
    assert run.conn is not None, "connection not found in the capture"
    return run.conn


def _openssl_master_secret(keylog: str) -> bytes | None:
    for line in keylog.splitlines():
        if line.startswith("CLIENT_RANDOM "):
            return bytes.fromhex(line.split()[2])
    return None


@pytest.mark.parametrize("name", [c.name for c in CASES if c.decryptable])
def test_live_decrypt_equals_sent(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    conn = _ok(run)
    info = conn.info
    case = run.case
    assert info.version == case.version
    assert info.cipher_suite == case.suite
    assert info.client_hello_from_client is True
    assert info.psk_identity == IDENTITY
    assert info.psk == PSK and info.psk_label == "tek"
    assert info.records_failed == []
    assert conn.plaintext(True) == C2S
    assert conn.plaintext(False) == S2C
    if case.version == TLS13:
        assert info.tls13_mode == "psk_ke"
        assert info.oracle == "binder" and info.binder_ok is True
    else:
        assert info.oracle == "finished"
        assert info.ems is case.ems
        assert info.etm is case.etm
        # OpenSSL's own key log is the independent value of our PRF / EMS computation.
        assert info.master_secret == _openssl_master_secret(run.openssl_keylog)


@pytest.mark.parametrize("name", [c.name for c in CASES if c.decryptable])
def test_live_tshark_agrees_with_our_keylog(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    conn = _ok(run)
    assert run.tshark_keylog == (conn.plaintext(True), conn.plaintext(False))


@pytest.mark.parametrize("name", [c.name for c in CASES if c.decryptable and c.version < TLS13])
def test_live_tshark_psk_agrees(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    conn = _ok(run)
    assert run.tshark_psk == (C2S, S2C)
    assert run.tshark_psk == (conn.plaintext(True), conn.plaintext(False))


@pytest.mark.parametrize("name", [c.name for c in CASES if not c.decryptable])
def test_live_tls13_psk_dhe_ke_binder_only(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    info = _ok(run).info
    assert info.version == TLS13
    assert info.tls13_mode == "psk_dhe_ke"
    assert info.oracle == "binder" and info.binder_ok is True
    assert info.psk == PSK and info.psk_identity == IDENTITY
    assert info.decryptable is False
    assert "psk_dhe_ke" in (info.undecryptable_reason or "")
    assert info.records_ok == 0 and info.app_bytes == {True: 0, False: 0}
