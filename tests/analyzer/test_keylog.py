"""mikeyshark.keylog: NSS key log lines, compared with OpenSSL's own key logs (the pcapng
with secrets and the plaintext re-emission, read by tshark: tests/interop/test_keylog_tools.py)."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest

from mikeyshark.decrypt import decrypt_capture
from mikeyshark.keylog import (
    PcapngWriter,
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
    # each line once, in the order of the session's lines
    labels = [ln.split()[0] for ln in out.read_text().splitlines()]
    assert labels == [ln.split()[0] for ln in keylog_lines(conn.info)]
    assert len(set(labels)) == 5


def test_no_key_no_lines(vectors: Path) -> None:
    (conn,) = decrypt_capture([vectors / "tls_psk" / "psk_aes128_gcm_sha256.pcap"], [])
    assert keylog_lines(conn.info) == [] and keylog_text([conn.info]) == ""


@pytest.mark.parametrize("stem", ["psk_aes128_cbc_sha", "psk_aes128_gcm_sha256"])
def test_tls12_keylog_equals_openssl(vectors: Path, stem: str) -> None:
    (conn,) = decrypt_capture([vectors / "tls_psk" / f"{stem}.pcap"], [TEK])
    openssl = (vectors / "tls_psk" / f"{stem}.keylog").read_text().splitlines()[1:]
    assert keylog_lines(conn.info) == openssl


def test_pcapng_writer_keeps_out_of_range_times_and_lengths_in_their_fields() -> None:
    """A damaged capture's frame may claim a time past 2^64 ns, before 1970 (a negative
    if_tsoffset) or a wire length past 2^32: each is written at the nearest value its EPB field
    holds (pcapng 4.3: 64-bit timestamp, 32-bit original length), not a struct.error that
    lost the export (exit 3, found by the fuzz campaign on a mutated pcapng)."""
    buf = io.BytesIO()
    w = PcapngWriter(buf)
    for ts, wirelen in ((1 << 70, 1 << 40), (-5, 1)):
        w.write(1, ts, b"abcd", wirelen)
    data, pos, fields = buf.getvalue(), 0, []
    while pos < len(data):  # block type, total length (pcapng 3.1)
        block_type, length = struct.unpack_from("<II", data, pos)
        if block_type == 6:  # Enhanced Packet Block
            fields.append(struct.unpack_from("<5I", data, pos + 8))
        pos += length
    assert fields == [
        (0, 0xFFFFFFFF, 0xFFFFFFFF, 4, 0xFFFFFFFF),  # the latest time, the longest packet
        (0, 0, 0, 4, 4),  # 1970, and never shorter than the bytes captured
    ]
