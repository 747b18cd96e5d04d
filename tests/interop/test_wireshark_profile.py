"""analyze --wireshark-profile read by tshark: the profile, installed in a fresh Wireshark
configuration folder, makes ``tshark -C NAME -r CAPTURE`` dissect every MSRP and BFCP
message the report lists, with no other option; the printed ``-o`` line does the same.
The demo conference and the conference in plain, GTP-U, ESP-NULL, IPv6 and TLS 1.3 forms."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mikeyshark.cli import main
from tests.support.forms import FORMS, write_form
from tests.support.paths import DEMO_KEYS, PCAPS

pytestmark = pytest.mark.tshark


def _count(tshark_cmd: list[str], env: dict[str, str]) -> tuple[int, int]:
    """(MSRP messages, BFCP messages) tshark dissects: each request/response line, each
    BFCP primitive, one per message even when a frame carries several."""
    counts = []
    for flt, fields in (
        ("msrp", ("msrp.request.line", "msrp.response.line")),
        ("bfcp", ("bfcp.primitive",)),
    ):
        cmd = [*tshark_cmd, "-n", "-Y", flt, "-T", "fields", "-E", "occurrence=a"]
        cmd += ["-E", "aggregator=\x1f"]
        for f in fields:
            cmd += ["-e", f]
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, check=True, env=env
        ).stdout
        counts.append(
            sum(
                1
                for line in out.splitlines()
                for v in line.replace("\t", "\x1f").split("\x1f")
                if v
            )
        )
    return counts[0], counts[1]


@pytest.mark.parametrize("form", ["demo", *FORMS])
def test_profile_and_printed_line_show_every_message(
    tmp_path: Path, tshark: str, form: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if form == "demo":
        pcap, keys = PCAPS / "conference.pcap", DEMO_KEYS
    else:
        pcap, keys = write_form(form, tmp_path)
    export = tmp_path / "export" / "mikeyshark-demo"
    js = tmp_path / "r.json"
    rc = main(
        [
            "analyze",
            str(pcap),
            "--keys",
            str(keys),
            "--wireshark-profile",
            str(export),
            "--json",
            str(js),
        ]
    )
    assert rc == 0
    printed = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("tshark ")]
    doc: dict[str, Any] = json.loads(js.read_text())
    media = [m for c in doc["calls"] for m in c["media"]]
    want = tuple(
        sum(len(m["messages"]) for m in media if m["protocol"] == p) for p in ("msrp", "bfcp")
    )
    assert want[0] > 0 and want[1] > 0
    # secrets only for the owner
    for name in ("tls-keys.log", "uat-placeholder-rsa.pem"):
        assert stat.S_IMODE((export / name).stat().st_mode) == 0o600
    # installed as Wireshark finds profiles: <config>/wireshark/profiles/NAME
    config = tmp_path / "config"
    (config / "wireshark" / "profiles").mkdir(parents=True)
    (config / "wireshark" / "profiles" / "mikeyshark-demo").symlink_to(export)
    env = {**os.environ, "XDG_CONFIG_HOME": str(config), "HOME": str(tmp_path)}
    plain_env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "none"), "HOME": str(tmp_path)}
    assert _count([tshark, "-r", str(pcap)], plain_env) == (0, 0)  # without: Data only
    assert _count([tshark, "-C", "mikeyshark-demo", "-r", str(pcap)], env) == want
    (line,) = printed
    cmd = shlex.split(line)
    assert cmd[:3] == ["tshark", "-r", str(pcap)]
    assert _count([tshark, *cmd[1:]], plain_env) == want
