"""The four scenarios played live on loopback by `mikeyshark replay`, captured with tcpdump,
and judged by `mikeyshark analyze`: real sockets, real TCP stacks, every rule passes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.analyze import clean_ue_statuses

pytestmark = pytest.mark.live

SCENARIOS = ("msrp-dial-in", "msrp-dial-out", "bfcp-dial-in", "bfcp-dial-out")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_live_replay_passes(tcpdump: str, scenario: str, tmp_path: Path) -> None:
    pcap, keys, out = tmp_path / "live.pcap", tmp_path / "live.toml", tmp_path / "r.json"
    cli = [sys.executable, "-m", "mikeyshark"]
    replay = [*cli, "replay", scenario, "--seed", "3", "--capture", str(pcap)]
    for _attempt in range(3):
        run = subprocess.run(
            [*replay, "--key-out", str(keys)], capture_output=True, text=True, timeout=120
        )
        # Loopback addresses are shared: another live test may hold them for a moment.
        if run.returncode == 0 or "Address already in use" not in run.stderr:
            break
        time.sleep(2)
    assert run.returncode == 0, run.stderr
    # "<call-id>: <scenario> <from> -> <to>: ..." names our call among any other traffic
    call_id = next(
        line.split(": ", 1)[0] for line in run.stdout.splitlines() if f": {scenario} " in line
    )
    done = subprocess.run(
        [*cli, "analyze", str(pcap), "--keys", str(keys), "--json", str(out), "--quiet"],
        capture_output=True,
        timeout=120,
    )
    doc = json.loads(out.read_text())
    (call,) = [c for c in doc["calls"] if c["call_id"] == call_id]
    assert call["scenario"] == scenario
    want = clean_ue_statuses({scenario.split("-")[0]})
    for check in call["checks"]:
        assert check["status"] == want[check["rule"]], check
    media = call["media"][0]
    assert media["tcp"]["client"].startswith("127.0.0.")
    assert media["tls"]["decrypted"] is True
    # Who speaks first: in MSRP the side that opened the TCP connection, with a SEND that
    # binds it to the session (RFC 4975); in BFCP the floor control client with Hello,
    # answered by the server's HelloAck (RFC 8855), whichever side opened the connection.
    first, second = media["messages"][:2]
    if scenario.startswith("msrp"):
        assert (first["method"], first["from"]) == ("SEND", media["tcp"]["client"])
    else:
        assert (first["primitive"], second["primitive"]) == ("Hello", "HelloAck")
        assert (second["from"], second["to"]) == (first["to"], first["from"])
    if len(doc["calls"]) == 1:  # nothing else was on loopback meanwhile
        assert done.returncode == 0
