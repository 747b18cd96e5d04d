"""mikeyshark replay on loopback, recorded by tcpdump: the capture holds the flow's SIP
dialogs, TCP opened by the side the flow names (docs/rules.md), TLS that tshark decrypts with
the TEK, and `mikeyshark analyze` judges every call compliant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mikeyshark.replay import ReplayError, ReplayOptions, ReplayResult, run_replay

pytestmark = [pytest.mark.tshark, pytest.mark.live, pytest.mark.timeout(120)]

MRFP = "127.0.0.30"


def _replay(tcpdump: str, tmp_path: Path, scenario: str, **kw: bool) -> tuple[ReplayResult, Path]:
    del tcpdump  # the fixture skips locally (fails on CI) when tcpdump is missing
    cap = tmp_path / f"{scenario}.pcap"
    try:
        result = run_replay(ReplayOptions(scenario, seed=3, **kw), cap)  # type: ignore[arg-type]
    except ReplayError as e:
        # CI installs tcpdump and can capture on lo: there a capture failure is a failure
        if "capture did not start" in str(e) and not os.environ.get("CI"):
            pytest.skip(f"tcpdump cannot capture on lo here: {e}")
        raise
    keys = tmp_path / f"{scenario}.toml"
    keys.write_text(result.keyfile_text, encoding="utf-8")
    return result, cap


def _fields(
    tshark: str, path: Path, flt: str, *names: str, extra: tuple[str, ...] = ()
) -> list[list[str]]:
    cmd = [tshark, "-r", str(path), *extra, "-Y", flt, "-T", "fields", "-E", "occurrence=a"]
    for n in names:
        cmd += ["-e", n]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    return [ln.split("\t") for ln in out.stdout.splitlines() if ln]


def _analyze(cap: Path) -> dict[str, object]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mikeyshark",
            "analyze",
            str(cap),
            "--keys",
            str(cap.with_suffix(".toml")),
            "--json",
            "-",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode in (0, 1), out.stderr
    report: dict[str, object] = json.loads(out.stdout)
    return report


@pytest.mark.parametrize(
    ("scenario", "reliable"),
    [
        ("msrp-dial-in", False),
        ("bfcp-dial-in", True),
        ("msrp-dial-out", True),
        ("bfcp-dial-out", False),
    ],
)
def test_replay_capture_is_the_flow(
    tcpdump: str, tshark: str, tmp_path: Path, scenario: str, reliable: bool
) -> None:
    result, cap = _replay(tcpdump, tmp_path, scenario, reliable_183=reliable)
    (call,) = result.calls
    dial_in = scenario.endswith("dial-in")
    # SIP on the UE's access: the dialog's messages, once each
    methods = [r[0] or r[1] for r in _fields(tshark, cap, "sip", "sip.Method", "sip.Status-Code")]
    want = ["INVITE", "100"]
    want += [] if dial_in else ["180"]
    want += ["183", "PRACK", "200", "200"] if reliable else ["200"]
    want += ["ACK", "BYE", "200"]
    assert methods == want
    # TCP from the MRFP in dial-in, from UE-B in dial-out; towards the other's m= port
    syns = _fields(tshark, cap, "tcp.flags.syn==1 && tcp.flags.ack==0", "ip.src", "tcp.dstport")
    (m,) = call.media
    assert m.tcp_client is not None and m.tcp_server is not None
    assert syns == [[m.tcp_client.ip, str(m.tcp_server.port)]]
    assert (m.tcp_client.ip == MRFP) == dial_in
    hello = _fields(tshark, cap, "tls.handshake.type==1", "ip.src")
    assert hello == [[m.tcp_client.ip]]  # the answerer's side starts TLS (steps 8 / 13)
    # tshark decrypts with the TEK the UE put in its ticket (and the focus resolved)
    port = str(m.tcp_server.port)
    text = subprocess.run(
        [
            tshark,
            "-r",
            str(cap),
            "-o",
            f"tls.psk:{m.tek.hex()}",
            "-d",
            f"tcp.port=={port},tls",
            "-q",
            "-z",
            "follow,tls,raw,0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    plain = b"".join(
        bytes.fromhex(ln.strip())
        for ln in text.splitlines()[6:]
        if ln.strip() and not ln.startswith("=")
    )
    if m.protocol == "msrp":
        sends = plain.count(b" SEND\r\n")
        assert plain.count(b" 200 OK\r\n") == sends
        # hello, welcome, thanks and the long text: 4 messages, all but the last chunk "+"
        assert sends - plain.count(b"+\r\n") == 4
    else:
        assert plain[:2] == b"\x20\x0b"  # BFCP version 1, Hello
    # and the analyzer agrees
    report = _analyze(cap)
    calls = report["calls"]
    assert isinstance(calls, list) and len(calls) == 1
    verdict = calls[0]
    assert verdict["call_id"] == call.call_id
    # (captured at the UE's access: the Mp rules are not observed, and do not count)
    failing = [
        c["rule"]
        for c in verdict["checks"]
        if c["status"] not in ("pass", "not-applicable") and not c["rule"].startswith("MP-")
    ]
    assert failing == [] and verdict["verdict"] == "pass"


def test_replay_conference_all_calls_compliant(tcpdump: str, tmp_path: Path) -> None:
    result, cap = _replay(tcpdump, tmp_path, "conference")
    assert len(result.calls) == 3
    report = _analyze(cap)
    calls = report["calls"]
    assert isinstance(calls, list)
    assert sorted(c["call_id"] for c in calls) == sorted(c.call_id for c in result.calls)
    for c in calls:
        assert c["verdict"] == "pass", [x for x in c["checks"] if x["status"] == "fail"]
        assert {m["protocol"] for m in c["media"]} == {"msrp", "bfcp"}
        assert all(m["tls"]["decrypted"] for m in c["media"])
