"""The replay endpoints' socket code (TlsPipe over asyncio streams, our TLS-PSK engine)
against OpenSSL: our client with `openssl s_server -psk`, our server with `openssl s_client
-psk`, an MSRP SEND one way and its 200 OK back, for TLS 1.2 GCM and CBC and TLS 1.3 psk_ke."""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import time

import pytest

from mikeyshark.dissectors import msrp
from mikeyshark.dissectors.tls.constants import PSK_KE, TLS12, TLS13
from mikeyshark.dissectors.tls.engine import TlsPskEngine
from mikeyshark.replay import TlsPipe
from mikeyshark.synth.media import engine_config
from tests.support.tls_live import free_port, wait_listening

pytestmark = [pytest.mark.live, pytest.mark.timeout(60)]

TEK = bytes.fromhex("657bf44e8247bee72094eafe0283ab2f")  # tests/vectors/README.md
IDENTITY = "mikey:12345678:01"
UE = msrp.MsrpUri.parse("msrps://127.0.0.1:50000/ue7s2k;tcp")
MRFP = msrp.MsrpUri.parse("msrps://127.0.0.1:5061/mrfp91x;tcp")
SEND = msrp.build_message(msrp.send("a786hjs2", [MRFP], [UE], "87652491", b"Hello from the UE"))
OK = msrp.build_message(msrp.response(msrp.parse_message(SEND)))

# (our version, suite, openssl's arguments)
CASES = [
    pytest.param("1.2", 0x00A8, ["-tls1_2", "-cipher", "PSK-AES128-GCM-SHA256"], id="tls12-gcm"),
    pytest.param("1.2", 0x008C, ["-tls1_2", "-cipher", "PSK-AES128-CBC-SHA"], id="tls12-cbc"),
    pytest.param("1.3", 0x1301, ["-tls1_3", "-allow_no_dhe_kex"], id="tls13-psk_ke"),
]


def _read_until(proc: subprocess.Popen[bytes], want: bytes, timeout: float = 10.0) -> bytes:
    assert proc.stdout is not None
    got = b""
    end = time.monotonic() + timeout
    while want not in got:
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"waited for {want[:30]!r}, got {got[-200:]!r}")
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"openssl exited; got {got[-200:]!r}")
            got += chunk
    return got


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    for f in (proc.stdin, proc.stdout, proc.stderr):
        if f is not None:
            f.close()


def _check_engine(engine: TlsPskEngine, version: str, suite: int) -> None:
    assert engine.version == (TLS13 if version == "1.3" else TLS12)
    assert engine.suite is not None and engine.suite.code == suite
    if version == "1.3":
        assert engine.tls13_mode == PSK_KE


@pytest.mark.parametrize(("version", "suite", "args"), CASES)
def test_our_client_with_s_server(openssl: str, version: str, suite: int, args: list[str]) -> None:
    port = free_port()
    cmd = [
        openssl,
        "s_server",
        "-nocert",
        "-accept",
        f"127.0.0.1:{port}",
        "-naccept",
        "1",
        "-quiet",
    ]
    cmd += ["-psk", TEK.hex(), "-psk_identity", IDENTITY, *args]
    srv = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_listening(port, srv)

        async def client() -> tuple[bytes, bytes, TlsPskEngine]:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            engine = TlsPskEngine(engine_config(TEK, IDENTITY, version, suite), True)
            pipe = TlsPipe(reader, writer, engine)
            await pipe.handshake()
            await pipe.send(SEND)
            loop = asyncio.get_running_loop()
            printed = await loop.run_in_executor(None, _read_until, srv, SEND)
            assert srv.stdin is not None
            srv.stdin.write(OK)
            srv.stdin.flush()
            got = b""
            while OK not in got:
                data = await pipe.recv()
                assert data, "s_server closed before the 200 OK"
                got += data
            await pipe.close()
            return printed, got, engine

        printed, got, engine = asyncio.run(client())
    finally:
        _stop(srv)
    _check_engine(engine, version, suite)
    assert msrp.parse_message(printed[printed.index(b"MSRP ") :]).method == "SEND"
    answer = msrp.parse_message(got)
    assert (answer.status, answer.transaction_id) == (200, "a786hjs2")


@pytest.mark.parametrize(("version", "suite", "args"), CASES)
def test_our_server_with_s_client(openssl: str, version: str, suite: int, args: list[str]) -> None:
    port = free_port()
    result: dict[str, object] = {}

    async def server() -> None:
        done = asyncio.Event()

        async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            engine = TlsPskEngine(engine_config(TEK, IDENTITY, version, suite), False)
            pipe = TlsPipe(reader, writer, engine)
            try:
                await pipe.handshake()
                got = b""
                while b"-------a786hjs2$\r\n" not in got:
                    data = await pipe.recv()
                    assert data, "s_client closed before its SEND"
                    got += data
                req = msrp.parse_message(got)
                await pipe.send(msrp.build_message(msrp.response(req)))
                result["got"], result["engine"] = got, engine
            finally:
                done.set()

        srv = await asyncio.start_server(on_conn, "127.0.0.1", port)
        cmd = [openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-quiet", "-nocommands"]
        cmd += ["-psk", TEK.hex(), "-psk_identity", IDENTITY, *args]
        cli = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert cli.stdin is not None
            cli.stdin.write(SEND)
            cli.stdin.flush()
            await asyncio.wait_for(done.wait(), 20)
            loop = asyncio.get_running_loop()
            result["printed"] = await loop.run_in_executor(None, _read_until, cli, OK)
        finally:
            _stop(cli)
            srv.close()
            await srv.wait_closed()

    asyncio.run(server())
    engine = result["engine"]
    assert isinstance(engine, TlsPskEngine)
    _check_engine(engine, version, suite)
    assert engine.peer_identity == IDENTITY.encode()
    got, printed = result["got"], result["printed"]
    assert isinstance(got, bytes) and isinstance(printed, bytes)
    assert got == SEND
    answer = msrp.parse_message(printed[printed.index(b"MSRP ") :])
    assert (answer.status, answer.transaction_id) == (200, "a786hjs2")
