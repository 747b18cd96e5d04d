"""--tls-keylog opens the calls' media too, not only SIP over TLS: the synthesizer's own key
log (written by its TLS engines, ``synth --keylog``) decrypts every MSRP and BFCP connection
of the conference with no key file, to the same messages the TEKs give; --sip-keylog is the
same option under its former name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mikeyshark.cli import main


def _media(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[Any]:
    out = tmp_path / "r.json"
    assert main(["analyze", str(tmp_path / "c.pcap"), *args, "--json", str(out), "--quiet"]) in (
        0,
        1,
    )
    capsys.readouterr()
    doc: dict[str, Any] = json.loads(out.read_text())
    return [m for c in doc["calls"] for m in c["media"]]


def test_the_key_log_decrypts_the_media_of_every_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pcap, keylog = tmp_path / "c.pcap", tmp_path / "c.keylog"
    assert (
        main(["synth", "conference", "-o", str(pcap), "--seed", "3", "--keylog", str(keylog)]) == 0
    )
    with_keys = _media(tmp_path, capsys, "--keys", str(pcap.with_suffix(".toml")))
    for option in ("--tls-keylog", "--sip-keylog"):
        with_log = _media(tmp_path, capsys, option, str(keylog))
        assert len(with_log) == 6
        assert all(m["tls"]["decrypted"] for m in with_log)
        # no key file: the TEK itself stays unknown, the plaintext does not
        assert not any(m["key"]["recovered"] for m in with_log)
        assert [m["messages"] for m in with_log] == [m["messages"] for m in with_keys]
    assert sum(len(m["messages"]) for m in with_keys) == 60  # 42 MSRP + 18 BFCP (tshark)
