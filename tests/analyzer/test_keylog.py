"""mikeyshark.keylog: NSS key log lines (compared with OpenSSL's own key logs), a pcapng with a
Decryption Secrets Block that tshark decrypts with no options, and the plaintext re-emission
that tshark dissects as MSRP."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mikeyshark.capture import read_all
from mikeyshark.decrypt import PskCandidate, decrypt_capture
from mikeyshark.keylog import (
    keylog_lines,
    keylog_text,
    write_decrypted_pcap,
    write_keylog,
    write_pcapng_with_secrets,
)
from tests.support.tls_live import follow_tls

TEK = PskCandidate(bytes.fromhex("657bf44e8247bee72094eafe0283ab2f"), "tek")
STEMS = ["psk_aes128_cbc_sha", "psk_aes128_gcm_sha256", "tls13_psk_ke_aes128gcm"]


def _expected(vectors: Path, stem: str) -> tuple[bytes, bytes]:
    v = json.loads((vectors / "tls_psk" / f"{stem}.json").read_text())
    return tuple(  # type: ignore[return-value]
        b"".join(bytes.fromhex(x) for t, x in v[k] if t == 23)
        for k in ("decrypted_c2s", "decrypted_s2c")
    )


@pytest.mark.parametrize("stem", ["psk_aes128_cbc_sha", "psk_aes128_gcm_sha256"])
def test_tls12_keylog_equals_openssl(vectors: Path, stem: str) -> None:
    (conn,) = decrypt_capture([vectors / "tls_psk" / f"{stem}.pcap"], [TEK])
    openssl = (vectors / "tls_psk" / f"{stem}.keylog").read_text().splitlines()[1:]
    assert keylog_lines(conn.info) == openssl


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


@pytest.mark.parametrize("stem", STEMS)
def test_inject_secrets_tshark_decrypts_without_options(
    vectors: Path, tmp_path: Path, tshark: str, stem: str
) -> None:
    cap = vectors / "tls_psk" / f"{stem}.pcap"
    conns = decrypt_capture([cap], [TEK])
    out = tmp_path / "with-secrets.pcapng"
    frames, _ = read_all([cap])
    assert write_pcapng_with_secrets([cap], out, [c.info for c in conns]) == len(frames)
    text = subprocess.run(
        [tshark, "-r", str(out), "-q", "-z", "follow,tls,raw,0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    ((node0, a, b),) = follow_tls(text).values()
    c2s, s2c = _expected(vectors, stem)
    assert (a, b) == ((c2s, s2c) if node0.endswith(":50000") else (s2c, c2s))


def test_decrypted_pcap_is_plain_msrp_for_tshark(
    vectors: Path, tmp_path: Path, tshark: str
) -> None:
    tls = vectors / "tls_psk" / "psk_aes128_gcm_sha256.pcap"
    other = vectors / "app" / "plain_bfcp.pcap"
    conns = decrypt_capture([tls, other], [TEK])
    out = tmp_path / "plain.pcap"
    n = write_decrypted_pcap([tls, other], out, conns)
    bfcp_frames, _ = read_all([other])
    assert n == len(bfcp_frames) + 8  # 3-way handshake, 2 data segments, 3 closing segments
    lines = subprocess.run(
        [tshark, "-r", str(out), "-d", "tcp.port==5061,msrp", "-Y", "msrp", "-T", "fields",
         "-e", "msrp.request.line", "-e", "msrp.response.line"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert lines == ["MSRP a786hjs2 SEND\t", "\tMSRP a786hjs2 200 OK"]
    text = subprocess.run(
        [tshark, "-r", str(out), "-q", "-z", "follow,tcp,raw,0", "-z", "follow,tcp,raw,1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    text = text.replace("Follow: tcp,raw", "Follow: tls,raw")
    streams = follow_tls(text)
    assert sorted(streams) == [0, 1]
    ((a, b),) = [(a, b) for node0, a, b in streams.values() if node0.endswith(":50000")]
    assert (a, b) == _expected(vectors, "psk_aes128_gcm_sha256")
    # the plain BFCP connection is still there, untouched
    bfcp = subprocess.run(
        [tshark, "-r", str(out), "-Y", "tcp.port==5070 && tcp.len>0",
         "-T", "fields", "-e", "tcp.len"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()  # fmt: skip
    assert sum(map(int, bfcp)) == 28 + 48
