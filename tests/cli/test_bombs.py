"""The resource bombs of the reliability review, at sizes that run in seconds: each runs the
command line in a child process whose peak memory (the sharp ceiling) and wall time (a
generous one: the machine is shared) are checked. Before the budgets, the same inputs took
1 GB (one record claiming 1 GiB on the wire; a 4 GiB claim was a MemoryError traceback),
846 MB (200 far MSRP chunks) and 240 MB with a 68 MB JSON (1,000 nested BFCP requests)."""

from __future__ import annotations

import json
from pathlib import Path

from mikeyshark.synth import write_capture
from tests.support.hostile import (
    NESTED_FLOOR_REQUEST_ATTRIBUTES,
    claimed_length_pcap,
    far_chunks_call,
    measured,
    nested_bfcp_call,
)

MEMORY_MIB = 150  # the tool on an ordinary call peaks at about 50 MiB
SECONDS = 60


def test_claimed_wire_length_is_not_allocated(tmp_path: Path) -> None:
    pcap = tmp_path / "claims.pcap"
    pcap.write_bytes(claimed_length_pcap(0xFFFFFFFF, records=20))
    for verb in ("analyze", "dissect"):
        run = measured(verb, str(pcap), cwd=tmp_path)
        assert run.rc == 0, run.stderr
        assert run.peak_mib < MEMORY_MIB and run.seconds < SECONDS, (verb, run)
        # every record is the same malformed packet (IHL 15 in a 29-byte datagram)
        assert "total length 29 is below header length 60" in run.stderr + run.stdout


def test_far_msrp_chunks_cost_their_own_bytes(tmp_path: Path) -> None:
    result = far_chunks_call(200)
    pcap, keys = tmp_path / "far.pcap", tmp_path / "far.toml"
    write_capture(result, pcap)
    keys.write_text(result.keyfile_text)
    report = tmp_path / "far.json"
    run = measured("analyze", str(pcap), "--keys", str(keys), "--json", str(report), cwd=tmp_path)
    assert run.rc in (0, 1), run.stderr
    assert run.peak_mib < MEMORY_MIB and run.seconds < SECONDS, run
    errors = [e["reason"] for e in json.loads(report.read_text())["captures"][0]["errors"]]
    # 200 messages open at once, 32 allowed: the first 168 are given up as they are passed
    given_up = [r for r in errors if "given up: more than 32 messages open at once" in r]
    assert len(given_up) == 200 - 32
    assert "Message-ID mid00000000: given up" in given_up[0]


def test_nested_bfcp_attributes_are_summarised(tmp_path: Path) -> None:
    result = nested_bfcp_call(1000)
    pcap, keys = tmp_path / "bfcp.pcap", tmp_path / "bfcp.toml"
    write_capture(result, pcap)
    keys.write_text(result.keyfile_text)
    report = tmp_path / "bfcp.json"
    run = measured("analyze", str(pcap), "--keys", str(keys), "--json", str(report), cwd=tmp_path)
    assert run.rc in (0, 1), run.stderr
    assert run.peak_mib < MEMORY_MIB and run.seconds < SECONDS, run
    # the JSON grows with the capture, not with the nesting (it was 155 times the capture)
    assert report.stat().st_size < 8 * pcap.stat().st_size
    (media,) = json.loads(report.read_text())["calls"][0]["media"]
    nested = [m for m in media["messages"] if m.get("attributes_omitted")]
    assert len(nested) == 1000
    # 4 levels listed, the other 59 of the 63 counted at the top
    assert nested[0]["attributes_omitted"] == NESTED_FLOOR_REQUEST_ATTRIBUTES - 4
