"""mikeyshark.keylog: NSS key log lines, compared with OpenSSL's own key logs (the pcapng
with secrets and the plaintext re-emission, read by tshark: tests/interop/test_keylog_tools.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mikeyshark.decrypt import decrypt_capture
from mikeyshark.keylog import (
    keylog_lines,
    keylog_text,
    write_keylog,
)
from tests.support.vectors import TEK


def test_tls13_keylog_secrets(vectors: Path, tmp_path: Path) -> None:
    stem = "tls13_psk_ke_aes128gcm"
    v = json.loads((vectors / "tls_psk" / f"{stem}.json").read_text())
    (conn,) = decrypt_capture([vectors / "tls_psk" / f"{stem}.pcap"], [TEK])
    lines = dict((ln.split()[0], ln.split()[2]) for ln in keylog_lines(conn.info))
    assert lines["CLIENT_HANDSHAKE_TRAFFIC_SECRET"] == v["c_hs_traffic"]
    assert lines["SERVER_HANDSHAKE_TRAFFIC_SECRET"] == v["s_hs_traffic"]
    assert lines["CLIENT_TRAFFIC_SECRET_0"] == v["c_ap_traffic"]
    assert lines["SERVER_TRAFFIC_SECRET_0"] == v["s_ap_traffic"]
    out = tmp_path / "k.log"
    assert write_keylog(out, [conn.info, conn.info]) == 5  # no duplicates


def test_no_key_no_lines(vectors: Path) -> None:
    (conn,) = decrypt_capture([vectors / "tls_psk" / "psk_aes128_gcm_sha256.pcap"], [])
    assert keylog_lines(conn.info) == [] and keylog_text([conn.info]) == ""


@pytest.mark.parametrize("stem", ["psk_aes128_cbc_sha", "psk_aes128_gcm_sha256"])
def test_tls12_keylog_equals_openssl(vectors: Path, stem: str) -> None:
    (conn,) = decrypt_capture([vectors / "tls_psk" / f"{stem}.pcap"], [TEK])
    openssl = (vectors / "tls_psk" / f"{stem}.keylog").read_text().splitlines()[1:]
    assert keylog_lines(conn.info) == openssl
