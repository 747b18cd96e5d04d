"""TLS 1.3 KeyUpdate (RFC 8446 4.6.3) between real peers: openssl s_server sends one asking
for an update (its interactive command ``K``); the client - openssl s_client, or the
project's engine - answers with its own. Captured with tcpdump and decrypted by
mikeyshark.decrypt: the application data written after the updates must read back as
written, so the decoder's traffic secrets follow both updates (with OpenSSL's key log for
its psk_dhe_ke session, with the PSK alone for the engine's psk_ke one), and the engine's,
or OpenSSL could not read what it sent afterwards."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from mikeyshark.capture import CaptureReader
from mikeyshark.decrypt import (
    AppData,
    PskCandidate,
    RecordEvent,
    RecordOpened,
    TlsConnectionDecoder,
)
from mikeyshark.dissectors.tls.constants import HT_KEY_UPDATE, PSK_KE, TLS13
from mikeyshark.dissectors.tls.engine import ApplicationData, PskConfig, TlsPskEngine
from mikeyshark.flows import FlowTable, NullHandler, TcpConnection
from mikeyshark.keylog import KeyLog
from mikeyshark.model import StreamChunk
from tests.support.tls_live import (
    TIMEOUT,
    _read_until,
    _s_client,
    _stop,
    free_port,
    tcpdump_capture,
    wait_listening,
)

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]

PSK = bytes.fromhex("657bf44e8247bee72094eafe0283ab2f")
IDENTITY = b"key-update-test"
BEFORE = b"written before the update\n"
FROM_SERVER = b"written by the server after its update\n"
FROM_CLIENT = b"written by the client after its update\n"
# KeyUpdate's one-byte body (RFC 8446 4.6.3): update_not_requested(0), update_requested(1)
REQUESTED, NOT_REQUESTED = b"\x01", b"\x00"


def _server(openssl: str, port: int, *args: str) -> subprocess.Popen[bytes]:
    """s_server without -quiet: a line "K" on its input then sends a KeyUpdate that asks the
    peer to update too."""
    cmd = [openssl, "s_server", "-nocert", "-accept", f"127.0.0.1:{port}", "-naccept", "1"]
    cmd += ["-tls1_3", "-psk", PSK.hex(), "-psk_identity", IDENTITY.decode(), *args]
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    wait_listening(port, proc)
    return proc


def _send(proc: subprocess.Popen[bytes], data: bytes) -> None:
    assert proc.stdin is not None
    proc.stdin.write(data)
    proc.stdin.flush()


def _update(srv: subprocess.Popen[bytes]) -> None:
    """The command line "K" alone: s_server takes a read of more than two bytes as data."""
    _send(srv, b"K\n")
    time.sleep(0.5)


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise RuntimeError("s_server closed the connection")
    return data


class _Feed(NullHandler):
    def __init__(self, dec: TlsConnectionDecoder) -> None:
        self.dec = dec

    def on_tcp_data(self, conn: TcpConnection, from_client: bool, chunk: StreamChunk) -> None:
        self.dec.feed(from_client, chunk)


def _decode(
    pcap: Path, dec_args: dict[str, object]
) -> tuple[TlsConnectionDecoder, dict[bool, bytes], list[RecordEvent]]:
    data = {True: b"", False: b""}
    events: list[RecordEvent] = []

    def on_data(a: AppData) -> None:
        data[a.from_client] += a.data

    dec = TlsConnectionDecoder(on_data=on_data, on_record=events.append, **dec_args)  # type: ignore[arg-type]
    table = FlowTable(_Feed(dec))
    table.feed_all(CaptureReader(pcap))
    dec.finish()
    return dec, data, events


def _key_updates(events: list[RecordEvent], from_client: bool) -> list[bytes]:
    return [
        body
        for e in events
        if isinstance(e, RecordOpened) and e.from_client == from_client
        for t, body in e.content.messages
        if t == HT_KEY_UPDATE
    ]


def test_openssl_both_ways_with_its_key_log(openssl: str, tcpdump: str, tmp_path: Path) -> None:
    port = free_port()
    pcap, keylog = tmp_path / "ku.pcap", tmp_path / "ku.keylog"
    with tcpdump_capture(tcpdump, pcap, [port]):
        srv = _server(openssl, port)
        cli = None
        try:
            cli = _s_client(openssl, port, PSK, IDENTITY, ["-tls1_3", "-keylogfile", str(keylog)])
            _send(cli, BEFORE)
            _read_until(srv, BEFORE)
            _update(srv)
            _send(srv, FROM_SERVER)
            _read_until(cli, FROM_SERVER)
            _send(cli, FROM_CLIENT)
            _read_until(srv, FROM_CLIENT)
            assert cli.stdin is not None
            cli.stdin.close()
            cli.wait(timeout=TIMEOUT)
        finally:
            if cli is not None:
                _stop(cli)
            _stop(srv)
    dec, data, events = _decode(pcap, {"candidates": [], "secrets": KeyLog.load(keylog)})
    assert dec.info.version == TLS13 and dec.info.from_key_log
    assert dec.info.records_failed == []
    assert data[True] == BEFORE + FROM_CLIENT
    assert data[False] == FROM_SERVER
    assert _key_updates(events, from_client=False) == [REQUESTED]
    assert _key_updates(events, from_client=True) == [NOT_REQUESTED]


def test_engine_answers_openssl_and_is_followed_with_the_psk(
    openssl: str, tcpdump: str, tmp_path: Path
) -> None:
    port = free_port()
    pcap = tmp_path / "ku-engine.pcap"
    config = PskConfig(
        PSK, IDENTITY, versions=(TLS13,), cipher_suites=(0x1301,), tls13_modes=(PSK_KE,)
    )
    with tcpdump_capture(tcpdump, pcap, [port]):
        srv = _server(openssl, port, "-allow_no_dhe_kex")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
                sock.settimeout(TIMEOUT)
                eng = TlsPskEngine(config, is_client=True)
                eng.start()
                while not eng.handshake_complete:
                    sock.sendall(eng.data_to_send())
                    eng.receive_data(_recv(sock))
                eng.send_application_data(BEFORE)
                sock.sendall(eng.data_to_send())
                _read_until(srv, BEFORE)
                _update(srv)
                _send(srv, FROM_SERVER)
                got = b""
                while FROM_SERVER not in got:
                    for ev in eng.receive_data(_recv(sock)):
                        if isinstance(ev, ApplicationData):
                            got += ev.data
                eng.send_application_data(FROM_CLIENT)  # after the engine's own update
                sock.sendall(eng.data_to_send())
                _read_until(srv, FROM_CLIENT)
                eng.close()
                sock.sendall(eng.data_to_send())
        finally:
            _stop(srv)
    dec, data, events = _decode(pcap, {"candidates": [PskCandidate(PSK, "psk")]})
    assert dec.info.tls13_mode == "psk_ke" and dec.info.oracle == "binder"
    assert dec.info.records_failed == []
    assert data[True] == BEFORE + FROM_CLIENT
    assert data[False] == FROM_SERVER
    assert _key_updates(events, from_client=False) == [REQUESTED]
    assert _key_updates(events, from_client=True) == [NOT_REQUESTED]
