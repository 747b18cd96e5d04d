"""The all-legs capture of a live replay (tcpdump on loopback) is judged like its
access-only part."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mikeyshark.judge import build_report
from mikeyshark.keyfile import KeyFile
from mikeyshark.pipeline import analyze_capture
from mikeyshark.replay import ReplayError, ReplayOptions, run_replay
from mikeyshark.synth.scenarios import AddressPlan

pytestmark = pytest.mark.live


def _verdicts(cap: Path, keys: Path) -> dict[str, tuple[str, dict[str, str]]]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mikeyshark",
            "analyze",
            str(cap),
            "--keys",
            str(keys),
            "--json",
            "-",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode in (0, 1), out.stderr
    report = json.loads(out.stdout)
    return {
        c["call_id"]: (c["verdict"], {x["rule"]: x["status"] for x in c["checks"]})
        for c in report["calls"]
    }


def _plan(net: int) -> AddressPlan:
    """Loopback addresses of their own: other live runs on the machine use 127.0.0.x."""
    ues = tuple(f"127.0.{net}.{i}" for i in (11, 12, 13, 14, 66))
    return AddressPlan(f"127.0.{net}.10", f"127.0.{net}.20", f"127.0.{net}.30", ues)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("scenario", "reliable", "net"), [("msrp-dial-out", True, 71), ("bfcp-dial-in", False, 72)]
)
def test_all_legs_capture_judged_like_access_capture(
    tcpdump: str, tmp_path: Path, scenario: str, reliable: bool, net: int
) -> None:
    full = tmp_path / "all.pcap"
    plan = _plan(net)
    opts = ReplayOptions(scenario, seed=5, reliable_183=reliable, addr=plan)
    try:
        result = run_replay(opts, full, all_legs=True)
    except ReplayError as e:
        # CI installs tcpdump and can capture on lo: there a capture failure is a failure
        if "capture did not start" in str(e) and not os.environ.get("CI"):
            pytest.skip(f"tcpdump cannot capture on lo here: {e}")
        raise
    keys = tmp_path / "k.toml"
    keys.write_text(result.keyfile_text, encoding="utf-8")
    # The access-only capture of the same run: what a probe at the UEs sees (replay's filter).
    access = tmp_path / "access.pcap"
    flt = " or ".join(f"host {ip}" for ip in plan.ues)
    subprocess.run([tcpdump, "-r", str(full), "-w", str(access), flt], check=True, timeout=60)
    pcscf_mrfc = f"host {plan.pcscf} and host {plan.mrfc} and udp port 5060"
    core = subprocess.run(
        [tcpdump, "-nr", str(full), pcscf_mrfc], capture_output=True, text=True, timeout=60
    )
    assert len(core.stdout.splitlines()) >= 4  # the capture really holds the second hop
    full_v, access_v = _verdicts(full, keys), _verdicts(access, keys)
    assert sorted(full_v) == sorted(c.call_id for c in result.calls)

    def without_mp(v: dict[str, tuple[str, dict[str, str]]]) -> dict[str, object]:
        return {
            c: (verdict, {r: s for r, s in st.items() if r[:3] != "MP-"})
            for c, (verdict, st) in v.items()
        }

    assert without_mp(full_v) == without_mp(access_v)
    assert {v for v, _ in full_v.values()} == {"pass"}
    # The full capture holds the Mp leg the replay's MRFC drove the MRFP with: judged, the
    # PSK in the clear a warning; the access capture has none (not observed).
    mrfp_mp = f"host {plan.mrfc} and host {plan.mrfp} and udp port 2944"
    mp = subprocess.run(
        [tcpdump, "-nr", str(full), mrfp_mp], capture_output=True, text=True, timeout=60
    )
    assert len(mp.stdout.splitlines()) >= 4  # Add (or reserve and Modify), Reply, Subtract, ...
    bfcp_out = scenario == "bfcp-dial-out"
    for _, st in full_v.values():
        mp_rules = {r: s for r, s in st.items() if r[:3] == "MP-"}
        assert mp_rules.pop("MP-CLEARTEXT") == "warning"
        assert mp_rules.pop("MP-BFCP-DIALOUT") == ("info" if bfcp_out else "not-applicable")
        assert set(mp_rules.values()) == {"pass"}, mp_rules
    for _, st in access_v.values():
        assert {s for r, s in st.items() if r[:3] == "MP-"} <= {"not-observed", "not-applicable"}
    # The ladder shows the other hop's INVITE and answer as copies of the first seen.
    kf = KeyFile.parse(result.keyfile_text)
    for c in build_report([analyze_capture(str(full), kf)], kf, reveal=False).calls:
        # the MRFP ran TLS with the PSK the MRFC gave it on Mp: the TEK of the ticket
        for m in c.media:
            assert m.mp is not None and m.key is not None and m.key.recovered
            assert m.mp.psk == m.key.tek
        labels = {e.frame: e.label for e in c.events if e.kind == "sip"}
        assert c.invite_frame is not None and c.answer_frame is not None
        assert labels[c.invite_frame] == "INVITE (offer)"
        assert labels[c.answer_frame].endswith(" (answer)")
        for first in (c.invite_frame, c.answer_frame):
            copies = [f for f, lb in labels.items() if lb.endswith(f"[hop copy of frame {first}]")]
            assert len(copies) == 1 and copies[0] > first
