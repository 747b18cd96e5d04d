"""The report names the GTP-U tunnel of each call; tshark reads the same TEID for the frame
of the INVITE."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from mikeyshark.report import json_report
from mikeyshark.synth import synthesize
from mikeyshark.synth.net import write_frames
from tests.support.cli import run_cli
from tests.support.tunnels import (
    DL_TEID,
    QFI,
    UES,
    tunnelled_for,
)

pytestmark = pytest.mark.tshark


def test_report_names_the_tunnel_of_each_call(tmp_path: Path, tshark: str) -> None:
    r = synthesize("bfcp-dial-out", seed=4)
    gnb, upf = "2001:db8::1", "2001:db8::2"
    n3 = tmp_path / "n3.pcap"
    write_frames(tunnelled_for(r.frames, UES, gnb=gnb, upf=upf), n3)
    keys = tmp_path / "k.toml"
    keys.write_text(r.keyfile_text, encoding="utf-8")
    html = tmp_path / "r.html"
    out = run_cli("analyze", str(n3), "--keys", str(keys), "--json", "-", "--html", str(html))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    jsonschema.validate(doc, json_report.schema())
    (call,) = doc["calls"]
    # Dial-out: the focus's INVITE reaches UE-B downlink, from the UPF to the gNB.
    assert call["tunnel"] == {"teid": DL_TEID, "outer_src": upf, "outer_dst": gnb, "qfi": QFI}
    assert call["verdict"] == "pass"
    # tshark: the INVITE's frame has that TEID and those outer addresses.
    rows = subprocess.run(
        [
            tshark,
            "-r",
            str(n3),
            "-Y",
            f"frame.number == {call['invite_frame']}",
            "-T",
            "fields",
            "-E",
            "occurrence=f",
            "-e",
            "gtp.teid",
            "-e",
            "ipv6.src",
            "-e",
            "ipv6.dst",
            "-e",
            "sip.Method",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert rows == [f"0x{DL_TEID:08x}", upf, gnb, "INVITE"]
    term = run_cli("analyze", str(n3), "--keys", str(keys))
    assert term.returncode == 0, term.stderr
    line = f"TUNNEL {call['call_id']}: SIP in GTP-U TEID 0x{DL_TEID:08x} {upf} -> {gnb} QFI {QFI}"
    assert line in " ".join(term.stdout.split())  # rich wraps lines at the terminal width
    assert f"<p>SIP signalling in GTP-U TEID 0x{DL_TEID:08x} {upf} -&gt; {gnb} QFI {QFI}</p>" in (
        html.read_text(encoding="utf-8")
    )
