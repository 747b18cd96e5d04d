"""``mikeyshark dissect`` on live TLS between real OpenSSL peers on loopback, captured by
tcpdump, compared row by row with tshark 4.0 on the same capture."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mikeyshark.cli import main
from tests.support.tls_live import (
    TIMEOUT,
    _read_until,
    _stop,
    free_port,
    openssl_pair,
    tcpdump_capture,
    wait_listening,
    write_tcp_pcap,
)

pytestmark = [pytest.mark.tshark, pytest.mark.live]

PSK = bytes.fromhex("0f9264c2a5b3d4e5f60718293a4b5c6d")
IDENTITY = b"mikey:live"
SEND = (
    b"MSRP k2x7 SEND\r\nTo-Path: msrps://127.0.0.1:2855/s1;tcp\r\n"
    b"From-Path: msrps://127.0.0.1:40000/c1;tcp\r\nMessage-ID: mid00001\r\nByte-Range: 1-5/5\r\n"
    b"Content-Type: text/plain\r\n\r\nhello\r\n-------k2x7$\r\n"
)
OK = (
    b"MSRP k2x7 200 OK\r\nTo-Path: msrps://127.0.0.1:40000/c1;tcp\r\n"
    b"From-Path: msrps://127.0.0.1:2855/s1;tcp\r\n-------k2x7$\r\n"
)


def ours(
    pcap: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[list[tuple[str, str]], str]:
    rc = main(["dissect", str(pcap), "--json", *args])
    out, err = capsys.readouterr()
    assert rc == 0
    return [(r["protocol"], r["info"]) for r in map(json.loads, out.splitlines())], err


def same_rows(ours: list[tuple[str, str]], theirs: list[tuple[str, str]]) -> None:
    """Equal, except rows tshark's TCP analysis flags (a retransmission on a loaded
    loopback, a window update): the TCP sequence analysis is not part of this view."""
    assert len(ours) == len(theirs)
    for i, (o, t) in enumerate(zip(ours, theirs, strict=True)):
        if t[1].startswith("[TCP ") and not t[1].startswith("[TCP segment of"):
            continue
        assert o == t, i


def theirs(tshark: str, pcap: Path, *opts: str) -> list[tuple[str, str]]:
    cmd = [tshark, "-r", str(pcap), *opts, "-T", "fields", "-E", "separator=/t"]
    cmd += ["-e", "_ws.col.Protocol", "-e", "_ws.col.Info"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    return [(p, i.rstrip()) for p, i in (ln.split("\t") for ln in out.splitlines())]


def test_live_tls12_psk_session(
    tshark: str, tcpdump: str, openssl: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    pcap = tmp_path / "live.pcap"
    with tcpdump_capture(tcpdump, pcap, [port]):
        args = ["-tls1_2", "-cipher", "PSK-AES128-GCM-SHA256"]
        openssl_pair(openssl, port, PSK, IDENTITY, args, args, SEND, OK)
    rows, err = ours(pcap, capsys, "--psk", PSK.hex())
    assert err == ""
    tls = theirs(tshark, pcap, "-d", f"tcp.port=={port},tls", "-o", f"tls.psk:{PSK.hex()}")
    assert len(rows) == len(tls)
    app = [i for i, (p, _) in enumerate(rows) if p == "MSRP"]
    assert len(app) == 2
    for i, (o, t) in enumerate(zip(rows, tls, strict=True)):
        if i in app:
            # tshark decrypted it but has no MSRP under TLS
            assert t[0] == "TLSv1.2" and t[1].startswith("Application Data"), t
        else:
            same_rows([o], [t])
    assert ("TLSv1", "Client Hello") in tls
    assert any(t[1].endswith("Change Cipher Spec, Finished") for t in tls)
    # The messages as tshark shows them over plain TCP.
    plain = tmp_path / "plain.pcap"
    write_tcp_pcap(plain, [(port, [(True, SEND), (False, OK)])])
    msrp = [t for t in theirs(tshark, plain, "-d", f"tcp.port=={port},msrp") if t[0] == "MSRP"]
    assert [rows[i] for i in app] == msrp
    assert msrp[0] == ("MSRP", "Request: SEND Transaction ID: k2x7 (text/plain)")


def test_live_tls13_psk_dhe_session_stays_encrypted(
    tshark: str, tcpdump: str, openssl: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """OpenSSL's TLS 1.3 PSK handshake is psk_dhe_ke: the PSK alone cannot decrypt it. Rows
    stay as tshark shows them without keys, the PSK is still confirmed by the binder and
    nothing waits for a better key."""
    port = free_port()
    pcap = tmp_path / "live13.pcap"
    with tcpdump_capture(tcpdump, pcap, [port]):
        args = ["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"]
        openssl_pair(openssl, port, PSK, IDENTITY, args, args, SEND, OK)
    rows, err = ours(pcap, capsys, "--psk", f"{PSK.hex()}:{IDENTITY.decode()}")
    same_rows(rows, theirs(tshark, pcap, "-d", f"tcp.port=={port},tls"))
    assert rows[3] == ("TLSv1", "Client Hello")
    assert err == ""
    rc = main(["dissect", str(pcap), "-V", "--psk", PSK.hex()])
    detail = capsys.readouterr().out
    assert rc == 0
    assert "confirmed by: binder]" in detail
    assert "PSK Key Exchange Mode: PSK with (EC)DHE key establishment (psk_dhe_ke) (1)" in detail


def test_live_tls13_psk_dhe_session_opened_by_the_key_log(
    tshark: str, tcpdump: str, openssl: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the client's key log (openssl -keylogfile) the psk_dhe_ke session opens: the
    MSRP inside shows as it does over plain TCP, the other rows as tshark's with the same
    key log, and the PSK is still confirmed by the binder."""
    port = free_port()
    pcap, keylog = tmp_path / "live13.pcap", tmp_path / "keys.log"
    with tcpdump_capture(tcpdump, pcap, [port]):
        args = ["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"]
        client = [*args, "-keylogfile", str(keylog)]
        openssl_pair(openssl, port, PSK, IDENTITY, args, client, SEND, OK)
    psk = f"{PSK.hex()}:{IDENTITY.decode()}"
    rows, err = ours(pcap, capsys, "--psk", psk, "--tls-keylog", str(keylog))
    assert err == ""
    tls = theirs(tshark, pcap, "-d", f"tcp.port=={port},tls", "-o", f"tls.keylog_file:{keylog}")
    app = [i for i, (p, _) in enumerate(rows) if p == "MSRP"]
    assert len(app) == 2
    for i, (o, t) in enumerate(zip(rows, tls, strict=True)):
        if i in app:
            # tshark decrypted it but has no MSRP under TLS
            assert t[0] == "TLSv1.3" and t[1].startswith("Application Data"), t
        else:
            same_rows([o], [t])
    assert any("Encrypted Extensions" in t[1] for t in tls)  # tshark opened the handshake too
    plain = tmp_path / "plain.pcap"
    write_tcp_pcap(plain, [(port, [(True, SEND), (False, OK)])])
    msrp = [t for t in theirs(tshark, plain, "-d", f"tcp.port=={port},msrp") if t[0] == "MSRP"]
    assert [rows[i] for i in app] == msrp
    rc = main(["dissect", str(pcap), "-V", "--psk", psk, "--tls-keylog", str(keylog)])
    detail = capsys.readouterr().out
    assert rc == 0
    assert "confirmed by: binder]" in detail
    # without the key log the same session stays encrypted
    rows, _ = ours(pcap, capsys, "--psk", psk)
    assert not [r for r in rows if r[0] == "MSRP"]


@pytest.fixture
def cert(openssl: str, tmp_path: Path) -> tuple[Path, Path]:
    key, crt = tmp_path / "key.pem", tmp_path / "cert.pem"
    req = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    req += ["-nodes", "-keyout", str(key), "-out", str(crt), "-subj", "/CN=mikeyshark"]
    subprocess.run([*req, "-days", "1"], check=True, capture_output=True, timeout=60)
    return key, crt


def _cert_session(openssl: str, port: int, key: Path, crt: Path, version: str) -> None:
    server = [openssl, "s_server", "-accept", f"127.0.0.1:{port}", "-naccept", "1", "-quiet"]
    srv = subprocess.Popen(
        [*server, "-cert", str(crt), "-key", str(key), version],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    cli: subprocess.Popen[bytes] | None = None
    try:
        wait_listening(port, srv)
        client = [openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-quiet"]
        cli = subprocess.Popen(
            [*client, "-no_ign_eof", "-nocommands", version],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert cli.stdin is not None and srv.stdin is not None
        cli.stdin.write(SEND)
        cli.stdin.flush()
        _read_until(srv, SEND)
        srv.stdin.write(OK)
        srv.stdin.flush()
        _read_until(cli, OK)
        cli.stdin.close()
        cli.wait(timeout=TIMEOUT)
        srv.wait(timeout=TIMEOUT)
    finally:
        if cli is not None:
            _stop(cli)
        _stop(srv)


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_live_certificate_session_rows_equal_tshark(
    tshark: str,
    tcpdump: str,
    openssl: str,
    cert: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    version: str,
) -> None:
    """Any TLS (here ECDHE with a certificate, which keys from MIKEY cannot open) is shown
    as tshark shows it; with keys given, a located problem says why it stays encrypted."""
    port = free_port()
    pcap = tmp_path / "cert.pcap"
    with tcpdump_capture(tcpdump, pcap, [port]):
        _cert_session(openssl, port, *cert, version)
    expected = theirs(tshark, pcap, "-d", f"tcp.port=={port},tls")
    rows, err = ours(pcap, capsys)
    assert err == ""
    same_rows(rows, expected)
    if version == "-tls1_2":
        assert any("Certificate" in i and "Server Key Exchange" in i for _, i in rows)
    rows_k, err_k = ours(pcap, capsys, "--psk", PSK.hex())
    same_rows(rows_k, expected)
    assert f"{pcap}, frame " in err_k and "the key could not be confirmed" in err_k
