"""mikeyshark.keylog read by tshark: the pcapng with a Decryption Secrets Block decrypts with no
options, and the plaintext re-emission is dissected as MSRP."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mikeyshark.capture import read_all
from mikeyshark.decrypt import decrypt_capture
from mikeyshark.keylog import write_pcapng_with_secrets
from mikeyshark.plaintext_pcap import write_plaintext_pcap
from tests.support.tls_live import follow_tls
from tests.support.vectors import TEK

pytestmark = pytest.mark.tshark

STEMS = ["psk_aes128_cbc_sha", "psk_aes128_gcm_sha256", "tls13_psk_ke_aes128gcm"]


def _expected(vectors: Path, stem: str) -> tuple[bytes, bytes]:
    v = json.loads((vectors / "tls_psk" / f"{stem}.json").read_text())
    return tuple(  # type: ignore[return-value]
        b"".join(bytes.fromhex(x) for t, x in v[k] if t == 23)
        for k in ("decrypted_c2s", "decrypted_s2c")
    )


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
    out = tmp_path / "plain.pcapng"
    n = write_plaintext_pcap([tls, other], out, conns)
    frames, _ = read_all([tls, other])
    assert n == len(frames)  # frame for frame
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
