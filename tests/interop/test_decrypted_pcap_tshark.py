"""--decrypted-pcap read by tshark: the same frames at the same times as the capture, and with
each media port decoded as its protocol, every MSRP and BFCP message the report lists, in
the plain, GTP-U, ESP-NULL, IPv6 and TLS 1.3 forms of the conference."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mikeyshark.cli import main
from tests.support.forms import FORMS, write_form

pytestmark = pytest.mark.tshark


def _tshark(tshark: str, pcap: Path, *args: str) -> list[str]:
    out = subprocess.run(
        [tshark, "-n", "-r", str(pcap), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return out.splitlines()


def _values(tshark: str, pcap: Path, opts: list[str], flt: str, *fields: str) -> list[str]:
    """Every occurrence of ``fields`` in the frames matching ``flt``."""
    args = [*opts, "-Y", flt, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=\x1f"]
    for f in fields:
        args += ["-e", f]
    return [
        v
        for line in _tshark(tshark, pcap, *args)
        for v in line.split("\t")
        for v in v.split("\x1f")
        if v
    ]


@pytest.mark.parametrize("form", FORMS)
def test_tshark_sees_every_frame_and_every_message(tmp_path: Path, tshark: str, form: str) -> None:
    pcap, keys = write_form(form, tmp_path)
    dec, js = tmp_path / "dec.pcapng", tmp_path / "r.json"
    args = ["analyze", str(pcap), "--keys", str(keys), "--decrypted-pcap", str(dec)]
    assert main([*args, "--json", str(js), "--quiet"]) == 0
    doc: dict[str, Any] = json.loads(js.read_text())
    media = [m for c in doc["calls"] for m in c["media"]]
    assert len(media) == 6  # three calls with MSRP and BFCP each
    versions = {m["tls"]["version"] for m in media}
    assert versions == {"TLS 1.3" if form == "tls13" else "TLS 1.2"}
    times = ["-T", "fields", "-e", "frame.time_epoch"]
    assert _tshark(tshark, dec, *times) == _tshark(tshark, pcap, *times)
    opts = []
    for m in media:
        opts += ["-d", f"tcp.port=={m['tcp']['server'].rsplit(':', 1)[1]},{m['protocol']}"]
    msrp = _values(tshark, dec, opts, "msrp", "msrp.request.line", "msrp.response.line")
    bfcp = _values(tshark, dec, opts, "bfcp", "bfcp.primitive")
    ours = {
        p: sum(len(m["messages"]) for m in media if m["protocol"] == p) for p in ("msrp", "bfcp")
    }
    assert (len(msrp), len(bfcp)) == (ours["msrp"], ours["bfcp"])
    assert ours["msrp"] > 0 and ours["bfcp"] > 0
    # the rewritten connections are whole TCP streams for tshark: nothing lost or repeated
    trouble = "tcp.analysis.lost_segment || tcp.analysis.retransmission || _ws.malformed"
    assert _tshark(tshark, dec, "-Y", trouble) == []
