"""Correlation checked against tshark: the SYN and the ClientHello each m-line is bound to are
the ones tshark sees on that connection, and the plaintext we parsed, exported with
--decrypted-pcap, holds for tshark as many MSRP and BFCP messages as we report."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mikeyshark.cli import main
from mikeyshark.judge import analyze
from mikeyshark.synth import synthesize, write_capture

pytestmark = pytest.mark.tshark


def _fields(
    tshark: str, pcap: Path, flt: str, *fields: str, opts: tuple[str, ...] = ()
) -> list[list[str]]:
    cmd = [tshark, "-r", str(pcap), *opts, "-Y", flt, "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    return [line.split("\t") for line in run.stdout.splitlines() if line]


def test_bindings_agree_with_tshark(tshark: str, tmp_path: Path) -> None:
    result = synthesize("conference", seed=3)
    pcap, keys = tmp_path / "conf.pcap", tmp_path / "conf.toml"
    write_capture(result, pcap)
    keys.write_text(result.keyfile_text)
    report = analyze(pcap, keys=keys)
    syns = {
        (int(n), f"{s}:{sp}", f"{d}:{dp}")
        for n, s, sp, d, dp in _fields(
            tshark,
            pcap,
            "tcp.flags.syn==1 && tcp.flags.ack==0",
            "frame.number",
            "ip.src",
            "tcp.srcport",
            "ip.dst",
            "tcp.dstport",
        )
    }
    hellos = {
        (int(n), f"{s}:{sp}")
        for n, s, sp in _fields(
            tshark, pcap, "tls.handshake.type==1", "frame.number", "ip.src", "tcp.srcport"
        )
    }
    bound = 0
    for call in report.calls:
        for m in call.media:
            assert m.tcp is not None and m.tls is not None
            assert (m.tcp.syn_frame, str(m.tcp.client), str(m.tcp.server)) in syns
            assert (m.tls.client_hello_frame, str(m.tls.client)) in hellos
            bound += 1
    assert bound == 6  # three calls, MSRP and BFCP each
    assert len(syns) >= bound  # the audio is RTP: every TCP connection is one of ours

    # The plaintext we parsed, exported as a capture, parsed again by tshark: the same
    # number of MSRP and BFCP messages.
    dec = tmp_path / "dec.pcap"
    assert (
        main(["analyze", str(pcap), "--keys", str(keys), "--decrypted-pcap", str(dec), "--quiet"])
        == 0
    )
    media = [m for c in report.calls for m in c.media]
    bfcp_ports: tuple[str, ...] = ()
    for m in media:
        if m.protocol.value == "bfcp" and m.tcp is not None:
            bfcp_ports += ("-d", f"tcp.port=={m.tcp.server.port},bfcp")
    msrp_lines = _fields(
        tshark,
        dec,
        "msrp",
        "msrp.request.line",
        "msrp.response.line",
        opts=("-E", "occurrence=a", "-E", "aggregator=|"),
    )
    bfcp_prims = _fields(
        tshark,
        dec,
        "bfcp",
        "bfcp.primitive",
        opts=(*bfcp_ports, "-E", "occurrence=a", "-E", "aggregator=|"),
    )

    def count(rows: list[list[str]]) -> int:
        return sum(len([x for x in "|".join(r).split("|") if x]) for r in rows)

    ours_msrp = sum(len(m.messages) for m in media if m.protocol.value == "msrp")
    ours_bfcp = sum(len(m.messages) for m in media if m.protocol.value == "bfcp")
    assert ours_msrp > 0 and ours_bfcp > 0
    assert count(msrp_lines) == ours_msrp
    assert count(bfcp_prims) == ours_bfcp
