"""Media without signalling, from real peers: OpenSSL's s_server and s_client exchange MSRP
over every PSK suite the live tests record, TLS 1.3 psk_ke (our client against s_server)
and TLS 1.3 psk_dhe_ke (two OpenSSL peers, which log their secrets with -keylogfile), half
of them on the SIP/TLS port 5061, captured by tcpdump with no SIP at all. ``analyze`` then
reports every connection with its plaintext: opened by ``--psk`` where the PSK is enough,
by ``--tls-keylog`` for psk_dhe_ke, whose PSK the binder still proves."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mikeyshark.capture import CaptureReader
from mikeyshark.cli import main
from mikeyshark.dissectors.tls.constants import CIPHER_SUITES
from mikeyshark.dissectors.tls.engine import PskConfig
from tests.support.paths import VECTORS
from tests.support.tls_live import (
    OPENSSL_PSK_PAIRS,
    engine_client_vs_openssl,
    free_port,
    openssl_pair,
    tcpdump_capture,
)

pytestmark = [pytest.mark.live, pytest.mark.timeout(300)]

_v = json.loads((VECTORS / "tls_psk" / "psk_aes128_gcm_sha256.json").read_text())
PSK_HEX = _v["psk_hex"]
PSK = bytes.fromhex(PSK_HEX)
IDENTITY = b"mikey:0badf00d:01"
# what the vector's peers exchanged (an MSRP SEND and its 200 OK, each followed by BFCP)
C2S = next(bytes.fromhex(x) for t, x in _v["decrypted_c2s"] if t == 23)
S2C = next(bytes.fromhex(x) for t, x in _v["decrypted_s2c"] if t == 23)
SEND_BODY = "Hello Bob, this is MSRP over TLS-PSK."
NET = "127.77.0.0/16"  # loopback addresses of this test alone
SIP_TLS_PORT = 5061


@dataclass
class Peer:
    name: str
    suite: str  # IANA name, as the report shows it
    version: str
    host: str
    port: int
    mode: str | None = None  # TLS 1.3 psk_ke / psk_dhe_ke


@dataclass
class Live:
    pcap: Path
    keylog: Path
    peers: list[Peer]


def _suite(code: int) -> str:
    return CIPHER_SUITES[code].name


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, openssl: str, tcpdump: str) -> Live:
    tmp = tmp_path_factory.mktemp("unbound")
    pcap, keylog = tmp / "media.pcap", tmp / "keys.log"
    plan: list[tuple[str, int, str, list[str] | None, str | None]] = [
        (
            p.name,
            p.code,
            {"-tls1": "TLS 1.0", "-tls1_1": "TLS 1.1"}.get(p.version_flag, "TLS 1.2"),
            p.args,
            None,
        )
        for p in OPENSSL_PSK_PAIRS
    ]
    plan += [("tls13-psk-ke", 0x1301, "TLS 1.3", None, "psk_ke")]
    tls13 = ["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"]
    plan += [("tls13-psk-dhe-ke", 0x1301, "TLS 1.3", tls13, "psk_dhe_ke")]
    peers = [
        Peer(
            name,
            _suite(code),
            version,
            f"127.77.0.{i + 1}",
            SIP_TLS_PORT if i % 2 else free_port(),
            mode,
        )
        for i, (name, code, version, _, mode) in enumerate(plan)
    ]
    kl = ["-keylogfile", str(keylog)]
    with tcpdump_capture(tcpdump, pcap, [p.port for p in peers], net=NET):
        for peer, (_, _, _, args, _) in zip(peers, plan, strict=True):
            if args is None:  # psk_ke: our client offers it alone, OpenSSL accepts it
                config = PskConfig(PSK, IDENTITY, versions=(0x0304,), cipher_suites=(0x1301,))
                got = engine_client_vs_openssl(
                    openssl,
                    peer.port,
                    config,
                    ["-tls1_3", "-allow_no_dhe_kex", *kl],
                    C2S,
                    S2C,
                    peer.host,
                )[:2]
            else:
                got = openssl_pair(
                    openssl, peer.port, PSK, IDENTITY, args + kl, args, C2S, S2C, peer.host
                )
            assert got == (C2S, S2C), peer.name  # the peers themselves got it all
        _wait_for_fins(pcap, peers[-1].host)
    return Live(pcap, keylog, peers)


def _wait_for_fins(pcap: Path, host: str) -> None:
    """Until tcpdump has written both FINs of the last connection (a loaded machine may
    take longer than the capture helper's quiet period to hand it the last frames)."""
    addr = socket.inet_aton(host)
    end = time.monotonic() + 20
    while time.monotonic() < end:
        fins = 0
        for f in CaptureReader(pcap):
            ip = f.data[14:]  # Ethernet (tcpdump on lo), IPv4, TCP
            if len(ip) >= 40 and addr in (ip[12:16], ip[16:20]) and ip[20 + 13] & 0x01:
                fins += 1
        if fins >= 2:
            return
        time.sleep(0.3)


def _analyze(live: Live, tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "r.json"
    assert main(["analyze", str(live.pcap), *args, "--json", str(out), "--quiet"]) == 0
    doc: dict[str, Any] = json.loads(out.read_text())
    assert doc["calls"] == []  # no SIP: port 5061 is not taken for SIP over TLS
    return doc


def _by_server(doc: dict[str, Any], live: Live) -> dict[str, dict[str, Any]]:
    got = {u["server"]: u for u in doc["unbound_media"]}
    assert sorted(got) == sorted(f"{p.host}:{p.port}" for p in live.peers)
    return {p.name: got[f"{p.host}:{p.port}"] for p in live.peers}


def _plaintext_ok(u: dict[str, Any]) -> None:
    assert u["protocol"] == "msrp"
    assert [(m.get("method") or m.get("status"), m["transaction_id"]) for m in u["messages"]] == [
        ("SEND", "a786hjs2"),
        (200, "a786hjs2"),
    ]
    assert u["messages"][0]["body"] == SEND_BODY


def test_every_connection_opened_by_the_given_psk(live: Live, tmp_path: Path) -> None:
    found = _by_server(_analyze(live, tmp_path, "--psk", PSK_HEX), live)
    for p in live.peers:
        u = found[p.name]
        assert (u["tls"]["version"], u["tls"]["cipher_suite"]) == (p.version, p.suite), p.name
        assert u["key"]["psk_verified"] is True, p.name
        if p.mode == "psk_dhe_ke":
            # the binder proves the PSK; the records need the (EC)DHE secret
            assert (u["tls"]["tls13_mode"], u["key"]["oracle"]) == ("psk_dhe_ke", "binder")
            assert u["key"]["opened_by"] is None and u["messages"] == []
            assert "psk_dhe_ke" in u["not_opened"]
            continue
        assert u["key"]["opened_by"] == "psk", p.name
        # TLS 1.2: the client Finished verifies; TLS 1.3: the binder
        assert u["key"]["oracle"] == ("binder" if p.mode else "finished"), p.name
        _plaintext_ok(u)


def test_the_key_log_opens_psk_dhe_ke_and_the_binder_still_proves_the_psk(
    live: Live, tmp_path: Path
) -> None:
    found = _by_server(
        _analyze(live, tmp_path, "--psk", PSK_HEX, "--tls-keylog", str(live.keylog)), live
    )
    dhe = found["tls13-psk-dhe-ke"]
    assert (dhe["key"]["opened_by"], dhe["key"]["oracle"], dhe["key"]["psk_verified"]) == (
        "key log",
        "binder",
        True,
    )
    for p in live.peers:
        u = found[p.name]
        assert u["tls"]["decrypted"] is True, p.name
        _plaintext_ok(u)


def test_without_keys_every_connection_is_still_listed(live: Live, tmp_path: Path) -> None:
    found = _by_server(_analyze(live, tmp_path), live)
    for p in live.peers:
        u = found[p.name]
        assert (u["tls"]["decrypted"], u["key"]["opened_by"], u["not_opened"]) == (
            False,
            None,
            "TLS 1.3 psk_dhe_ke: traffic keys depend on an ephemeral (EC)DHE secret"
            if p.mode == "psk_dhe_ke"
            else "no key",
        ), p.name
