"""`mikeyshark analyze`'s key log and exports, read by tshark: the key log decrypts the
capture and the decrypted export holds the MSRP."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mikeyshark.cli import main
from tests.support.analyze import synth_capture

pytestmark = pytest.mark.tshark


def test_keylog_and_exports_decrypt_in_tshark(tshark: str, tmp_path: Path) -> None:
    pcap, keys = synth_capture(tmp_path, "msrp-dial-out")
    log, dec, inj = tmp_path / "k.log", tmp_path / "dec.pcap", tmp_path / "inj.pcapng"
    args = ["analyze", str(pcap), "--keys", str(keys), "--keylog", str(log)]
    args += ["--decrypted-pcap", str(dec), "--inject-secrets", str(inj), "--quiet"]
    assert main(args) == 0
    assert log.read_text().startswith("CLIENT_RANDOM ")

    def decrypted(*extra: str) -> int:
        run = subprocess.run(
            [tshark, *extra, "-x"], capture_output=True, text=True, timeout=60, check=True
        )
        return run.stdout.count("Decrypted TLS")

    plain = decrypted("-r", str(pcap))
    with_log = decrypted("-r", str(pcap), "-o", f"tls.keylog_file:{log}")
    assert plain == 0
    assert with_log > 0
    assert decrypted("-r", str(inj)) == with_log
    sends = subprocess.run(
        [tshark, "-r", str(dec), "-Y", 'msrp.method == "SEND"'],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert sends.stdout.count("SEND") >= 4
